"""``queue_log`` lines to contract event dicts: pure (no I/O, no clock), state in, events out.

The state is what the lines before need to be remembered: each open call (its call id, queue,
enter time, agent) by ``uniqueid``, the recently closed calls (a ``RINGCANCELED`` can follow the
``CONNECT`` or the ``ABANDON``), and each agent's queues, pauses, current call and wrap-up. It
is ``stream.connectors.asterisk.call_state.State``, which the transport stores with its
checkpoint, so a restart translates a ``CONNECT`` of a call queued before it.

Agent states come from the calls as well as from the member events, because ``queue_log`` has
no line for "the agent is talking" or "wrap-up is over": ``CONNECT`` makes the agent ``busy``,
``COMPLETE*`` / a transfer ``after_call_work`` for the queue's ``wrapuptime`` (as Asterisk
itself holds the member back), after which the call's ``call.wrapup_completed`` and the agent's
next state are due. Nothing in the log marks that moment, so it is a timer in the state, fired
by the first later line (``translate``) or by the transport's clock (``advance``), with the
event time of the moment itself, never of when it fired. A new call for an agent still in
wrap-up ends the wrap-up then. Precedence of an agent's state: ``offline`` (logged off, or in no
queue) > ``busy`` > ``after_call_work`` > ``away`` (paused in every queue of theirs; the pause
reason rides along) > ``available``.

``event_id`` is ``asterisk:<uniqueid>:<event>:<epoch>`` (plus the queue and agent where one line
can yield several), so a re-read line makes the same ids and the worker drops the copies.
"""

from __future__ import annotations

import hashlib
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from stream.connectors.asterisk.call_state import Agent, Call, State, Wrapup
from stream.connectors.asterisk.queue_log import Line, Malformed
from stream.connectors.asterisk.settings import AsteriskConfig

__all__ = [
    "IGNORED_EVENTS",
    "TRANSLATED_EVENTS",
    "Outcome",
    "Translator",
]

Event = dict[str, object]

IGNORED_EVENTS: Final = frozenset(
    {
        "QUEUESTART",  # logger start
        "CONFIGRELOAD",  # logger reload
        "WITHDRAW",  # QueueWithdrawCaller: the contract has no reason for it (yet)
        "AGENTDUMP",  # the agent hung up while being connected: the ring continues
        "SYSCOMPAT",  # codec failure, followed by the caller's next attempt
        "OUTCALL",  # outbound calls (not queued)
        "PENALTY",
        "RINGINUSE",
        "DID",  # FreePBX: the DID the call came in on
        "INFO",  # QueueMetrics / dialplan notes
        "AGENTCALLED",  # Asterisk < 1.6: the ring of an agent
        "HOLD",  # not written by app_queue; some dialplans do, without the call's timing
        "UNHOLD",
    }
)
"""Events Asterisk (or FreePBX's dialplan) writes that carry no KPI: counted, not translated."""
TRANSLATED_EVENTS: Final = frozenset(
    {
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETECALLER",
        "COMPLETEAGENT",
        "ABANDON",
        "EXITWITHTIMEOUT",
        "EXITEMPTY",
        "EXITWITHKEY",
        "RINGNOANSWER",
        "RINGCANCELED",
        "TRANSFER",
        "BLINDTRANSFER",
        "ATTENDEDTRANSFER",
        "AGENTLOGIN",
        "AGENTLOGOFF",
        "AGENTCALLBACKLOGIN",
        "AGENTCALLBACKLOGOFF",
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSE",
        "UNPAUSE",
        "PAUSEALL",
        "UNPAUSEALL",
    }
)
_MIN_DATA: Final = {
    "CONNECT": 1,
    "COMPLETECALLER": 2,
    "COMPLETEAGENT": 2,
    "ABANDON": 1,
    "EXITWITHTIMEOUT": 1,
    "EXITEMPTY": 1,
    "EXITWITHKEY": 1,
    "RINGNOANSWER": 1,
    "RINGCANCELED": 1,
    "TRANSFER": 2,
    "BLINDTRANSFER": 2,
}
_ENDED_BY: Final = {"COMPLETECALLER": "customer", "COMPLETEAGENT": "agent"}
"""Who hung up, as app_queue says: the caller or the member (``call.ended.ended_by``)."""

_EXIT_REASONS: Final = {"EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "empty", "EXITWITHKEY": "key"}
_MISSED_REASONS: Final = {"RINGNOANSWER": "no_answer", "RINGCANCELED": "canceled"}
_CLOSED_KEPT: Final = 4096
_MAX_ID: Final = 128
_MAX_TEXT: Final = 64


@dataclass(slots=True)
class Outcome:
    """What one line gave: events, or an ignored kind, or a rejection."""

    events: list[Event] = field(default_factory=list)
    ignored: str | None = None
    rejected: Malformed | None = None


def _occurred_at(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _event_id(*parts: object) -> str:
    text = "asterisk:" + ":".join(str(p) for p in parts)
    if len(text) <= _MAX_ID:
        return text
    return "asterisk:sha1:" + hashlib.sha1(text.encode()).hexdigest()


def _int(text: str) -> int | None:
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def _cut(text: str) -> str:
    return text[:_MAX_TEXT]


class Translator:
    """Translates lines with a ``State`` it owns (``state``); config gives renames and wrap-up."""

    def __init__(self, config: AsteriskConfig, state: State | None = None) -> None:
        self.config = config
        self.state = state if state is not None else State()
        self._handlers: dict[str, Callable[[Line, Outcome], None]] = {
            "ENTERQUEUE": self._enter,
            "CONNECT": self._connect,
            "COMPLETECALLER": self._complete,
            "COMPLETEAGENT": self._complete,
            "TRANSFER": self._complete,
            "BLINDTRANSFER": self._complete,
            "ATTENDEDTRANSFER": self._complete,
            "ABANDON": self._leave,
            "EXITWITHTIMEOUT": self._leave,
            "EXITEMPTY": self._leave,
            "EXITWITHKEY": self._leave,
            "RINGNOANSWER": self._missed,
            "RINGCANCELED": self._missed,
            "AGENTLOGIN": self._login,
            "AGENTCALLBACKLOGIN": self._login,
            "AGENTLOGOFF": self._login,
            "AGENTCALLBACKLOGOFF": self._login,
            "ADDMEMBER": self._member,
            "REMOVEMEMBER": self._member,
            "PAUSE": self._pause,
            "UNPAUSE": self._pause,
            "PAUSEALL": self._pause,
            "UNPAUSEALL": self._pause,
        }

    # -- entry points -----------------------------------------------------------------------

    def translate(self, line: Line) -> Outcome:
        """The events of one line (wrap-ups due before it first). Never raises."""
        out = Outcome()
        handler = self._handlers.get(line.event)
        if handler is None:
            if line.event in IGNORED_EVENTS:
                out.ignored = line.event
            else:
                out.rejected = Malformed("unknown_event", f"app_queue writes no {line.event}")
            out.events.extend(self.advance(line.epoch))
            return out
        need = _MIN_DATA.get(line.event, 0)
        if len(line.data) < need:
            out.rejected = Malformed(
                "field_count", f"{line.event} has {need}+ data fields, got {len(line.data)}"
            )
            return out
        out.events.extend(self.advance(line.epoch))
        ended = None
        if line.agent != "NONE":
            ended = self._due(self.config.agent(line.agent), line.epoch, out.events)
        handler(line, out)  # a handler that rejects the line changes no state
        if ended is not None:  # the state after the wrap-up, unless the line already said it
            agent_id, due, uniqueid = ended
            agent = self.state.agents[agent_id]
            self._emit_state(agent_id, agent, (uniqueid, "WRAPUP", due), due, out.events)
        return out

    def advance(self, until: int, *, inclusive: bool = False) -> list[Event]:
        """Events of the wrap-ups that end before ``until`` (epoch seconds; or at it)."""
        events: list[Event] = []
        timers = self.state.timers
        while timers:
            due, agent_id = int(timers[0][0]), str(timers[0][1])  # type: ignore[call-overload]
            if due > until or (due == until and not inclusive):
                break
            heapq.heappop(timers)
            agent = self.state.agents.get(agent_id)
            if agent is not None and agent.wrapup is not None and agent.wrapup.due == due:
                self._end_wrapup(agent_id, agent, due, events)
        return events

    # -- calls ------------------------------------------------------------------------------

    def _enter(self, line: Line, out: Outcome) -> None:
        s = self.state
        if line.uniqueid in s.calls:
            out.rejected = Malformed("call_already_queued", f"{line.uniqueid} is still queued")
            return
        call_id = line.uniqueid
        if call_id in s.closed:  # the same channel queued again (e.g. after a timeout)
            call_id = f"{line.uniqueid}@{line.epoch}"
        queue = self.config.queue(line.queue)
        s.calls[line.uniqueid] = Call(
            call_id=call_id, queue=queue, asterisk_queue=line.queue, entered=line.epoch
        )
        out.events.append(
            {
                "type": "call.queued",
                "event_id": _event_id(line.uniqueid, line.event, line.epoch),
                "occurred_at": _occurred_at(line.epoch),
                "call_id": call_id,
                "queue": queue,
                "channel": "phone",
            }
        )

    def _open(self, line: Line, out: Outcome, *, talking: bool) -> Call | None:
        call = self.state.calls.get(line.uniqueid)
        if call is None:
            out.rejected = Malformed(
                "unknown_call", f"{line.event} for {line.uniqueid}, which was never queued"
            )
            return None
        if call.talking != talking:
            phase = "talking" if call.talking else "waiting"
            out.rejected = Malformed(
                "invalid_transition", f"{line.event} for {line.uniqueid} while {phase}"
            )
            return None
        return call

    def _close(self, uniqueid: str, call: Call) -> None:
        s = self.state
        del s.calls[uniqueid]
        s.closed[uniqueid] = call.call_id
        while len(s.closed) > _CLOSED_KEPT:
            del s.closed[next(iter(s.closed))]

    def _connect(self, line: Line, out: Outcome) -> None:
        call = self._open(line, out, talking=False)
        if call is None:
            return
        agent_id = self.config.agent(line.agent)
        agent = self._agent(agent_id)
        if call.queue not in agent.queues:  # a static member (queues.conf) logs no ADDMEMBER
            agent.queues.append(call.queue)
        if agent.wrapup is not None:  # a new call ends the wrap-up now
            self._end_wrapup(agent_id, agent, line.epoch, out.events, show=False)
        call.talking, call.agent = True, agent_id
        agent.call = line.uniqueid
        out.events.append(
            {
                "type": "call.answered",
                "event_id": _event_id(line.uniqueid, line.event, line.epoch),
                "occurred_at": _occurred_at(line.epoch),
                "call_id": call.call_id,
                "agent_id": agent_id,
            }
        )
        self._show(agent_id, agent, line, out.events)

    def _complete(self, line: Line, out: Outcome) -> None:
        call = self._open(line, out, talking=True)
        if call is None:
            return
        agent_id = call.agent if call.agent is not None else self.config.agent(line.agent)
        event: Event = {
            "type": "call.ended",
            "event_id": _event_id(line.uniqueid, line.event, line.epoch),
            "occurred_at": _occurred_at(line.epoch),
            "call_id": call.call_id,
        }
        if line.event in _ENDED_BY:
            event["ended_by"] = _ENDED_BY[line.event]
        if line.event.endswith("TRANSFER"):
            event["type"] = "call.transferred"
            event["agent_id"] = agent_id
            if line.event == "ATTENDEDTRANSFER":
                event["kind"] = "attended"
                target = _attended_target(line.data)
            else:
                event["kind"] = "blind"
                target = f"{line.data[0]}@{line.data[1]}" if line.data[1] else line.data[0]
            if target:
                event["to"] = _cut(target)
        out.events.append(event)
        self._close(line.uniqueid, call)
        agent = self._agent(agent_id)
        agent.call = None
        wrapup = self.config.wrapup_seconds(call.asterisk_queue)
        if wrapup == 0:
            out.events.append(self._wrapup_event(line.uniqueid, call.call_id, line.epoch))
        else:
            agent.wrapup = Wrapup(
                due=line.epoch + wrapup, uniqueid=line.uniqueid, call_id=call.call_id
            )
            heapq.heappush(self.state.timers, [line.epoch + wrapup, agent_id])
        self._show(agent_id, agent, line, out.events)

    def _leave(self, line: Line, out: Outcome) -> None:
        call = self._open(line, out, talking=False)
        if call is None:
            return
        base: Event = {
            "event_id": _event_id(line.uniqueid, line.event, line.epoch),
            "occurred_at": _occurred_at(line.epoch),
            "call_id": call.call_id,
        }
        if line.event == "ABANDON":
            base["type"] = "call.abandoned"
        else:
            base["type"] = "call.exited"
            base["reason"] = _EXIT_REASONS[line.event]
            data = line.data
            if line.event == "EXITWITHKEY":
                key, data = data[0], data[1:]
                if key:
                    base["key"] = _cut(key)
            position = _int(data[0]) if data else None
            if position is not None and position >= 1:
                base["position"] = position
        out.events.append(base)
        self._close(line.uniqueid, call)

    def _missed(self, line: Line, out: Outcome) -> None:
        call = self.state.calls.get(line.uniqueid)
        call_id = call.call_id if call is not None else self.state.closed.get(line.uniqueid)
        if call_id is None:
            out.rejected = Malformed(
                "unknown_call", f"{line.event} for {line.uniqueid}, which was never queued"
            )
            return
        ring_ms = _int(line.data[0])
        if ring_ms is None or ring_ms < 0:
            out.rejected = Malformed("bad_data", f"ring time is not milliseconds: {line.data[0]!r}")
            return
        agent_id = self.config.agent(line.agent)
        out.events.append(
            {
                "type": "call.offer_missed",
                "event_id": _event_id(line.uniqueid, line.event, line.epoch, agent_id),
                "occurred_at": _occurred_at(line.epoch),
                "call_id": call_id,
                "agent_id": agent_id,
                "reason": _MISSED_REASONS[line.event],
                "ring_seconds": ring_ms / 1000,
            }
        )

    # -- agents -----------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> Agent:
        agent = self.state.agents.get(agent_id)
        if agent is None:
            agent = self.state.agents[agent_id] = Agent()
        return agent

    def _login(self, line: Line, out: Outcome) -> None:
        agent_id = self.config.agent(line.agent)
        agent = self._agent(agent_id)
        agent.logged_off = "LOGOFF" in line.event
        self._show(agent_id, agent, line, out.events)

    def _member(self, line: Line, out: Outcome) -> None:
        agent_id = self.config.agent(line.agent)
        agent = self._agent(agent_id)
        queue = self.config.queue(line.queue)
        if line.event == "ADDMEMBER":
            if queue not in agent.queues:
                agent.queues.append(queue)
            if line.data[:1] == ("PAUSED",) and queue not in agent.paused:
                agent.paused.append(queue)
        else:
            if queue in agent.queues:
                agent.queues.remove(queue)
            if queue in agent.paused:
                agent.paused.remove(queue)
        self._show(agent_id, agent, line, out.events)

    def _pause(self, line: Line, out: Outcome) -> None:
        agent_id = self.config.agent(line.agent)
        agent = self._agent(agent_id)
        reason = line.data[0].strip() if line.data else ""
        if line.event in ("PAUSE", "UNPAUSE"):
            queue = self.config.queue(line.queue)
            if queue not in agent.queues:  # a static member's pause names its queue
                agent.queues.append(queue)
            if line.event == "PAUSE":
                if queue not in agent.paused:
                    agent.paused.append(queue)
            elif queue in agent.paused:
                agent.paused.remove(queue)
        elif line.event == "PAUSEALL":
            agent.paused = list(agent.queues)
        else:
            agent.paused = []
        if line.event.startswith("PAUSE"):
            agent.reason = _cut(reason) if reason else None
        elif not agent.paused:
            agent.reason = None
        self._show(agent_id, agent, line, out.events)

    def _end_wrapup(
        self, agent_id: str, agent: Agent, at: int, events: list[Event], *, show: bool = True
    ) -> None:
        wrapup = agent.wrapup
        assert wrapup is not None
        agent.wrapup = None
        events.append(self._wrapup_event(wrapup.uniqueid, wrapup.call_id, at))
        if show:
            self._emit_state(agent_id, agent, (wrapup.uniqueid, "WRAPUP", at), at, events)

    def _due(self, agent_id: str, epoch: int, events: list[Event]) -> tuple[str, int, str] | None:
        """The line's own agent: a wrap-up ending in this very second ends before the line
        (e.g. a ``PAUSE`` at the end of wrap-up: the agent goes from wrap-up to away)."""
        agent = self.state.agents.get(agent_id)
        if agent is None or agent.wrapup is None or agent.wrapup.due > epoch:
            return None
        wrapup = agent.wrapup
        self._end_wrapup(agent_id, agent, wrapup.due, events, show=False)
        return agent_id, wrapup.due, wrapup.uniqueid

    @staticmethod
    def _wrapup_event(uniqueid: str, call_id: str, at: int) -> Event:
        return {
            "type": "call.wrapup_completed",
            "event_id": _event_id(uniqueid, "WRAPUP", at),
            "occurred_at": _occurred_at(at),
            "call_id": call_id,
        }

    def _show(self, agent_id: str, agent: Agent, line: Line, events: list[Event]) -> None:
        where = (line.uniqueid, line.event, line.epoch, line.queue)
        self._emit_state(agent_id, agent, where, line.epoch, events)

    @staticmethod
    def _emit_state(
        agent_id: str, agent: Agent, where: tuple[object, ...], at: int, events: list[Event]
    ) -> None:
        if agent.logged_off or not agent.queues:
            state = "offline"
        elif agent.call is not None:
            state = "busy"
        elif agent.wrapup is not None:
            state = "after_call_work"
        elif all(q in agent.paused for q in agent.queues):
            state = "away"
        else:
            state = "available"
        reason = agent.reason if state == "away" else None
        shown: list[object] = [state, list(agent.queues), reason]
        if agent.shown == shown:
            return
        agent.shown = shown
        event: Event = {
            "type": "agent.state_changed",
            "event_id": _event_id(*where, agent_id, "state"),
            "occurred_at": _occurred_at(at),
            "agent_id": agent_id,
            "state": state,
            "queues": list(agent.queues),
        }
        if reason is not None:
            event["reason"] = reason
        events.append(event)


def _attended_target(data: tuple[str, ...]) -> str:
    """The target of an ``ATTENDEDTRANSFER``: ``APP|app``, ``LINK|chan1|chan2`` or
    ``BRIDGE|id``, then ``holdtime|calltime|origpos`` (app_queue.c, log_attended_transfer)."""
    head = data[:-3] if len(data) > 3 else data[:1]
    if len(head) >= 2 and head[0] == "APP":
        return head[1]
    if len(head) >= 3 and head[0] == "LINK":
        return head[2]
    return ""

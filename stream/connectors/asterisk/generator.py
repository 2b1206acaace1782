"""A ``queue_log`` for the simulator's contact centre, written the way app_queue writes it.

``QueueLogWriter`` turns the simulator's call and agent events (``stream.dev.simulate``) into the
lines Asterisk would log for the same traffic: ``ADDMEMBER`` when an agent starts,
``ENTERQUEUE`` / ``CONNECT`` / ``COMPLETECALLER`` or ``COMPLETEAGENT`` / ``ABANDON`` with
app_queue's data fields (positions, waits, talk times), ``RINGNOANSWER`` for a missed ring,
``PAUSE`` (with the away reason) / ``UNPAUSE`` for breaks.
What app_queue does not log is not written: holds and the start of a ring (no line: the
reference leaves ``call.offered`` out), an agent going busy or into
wrap-up (implied by ``CONNECT`` / ``COMPLETE*``) and the end of wrap-up (the queue's
``wrapuptime``). The same seed gives the same lines.

Asterisk's profile of a queue (``asterisk_profiles``) is the simulator's with phone calls only
and a fixed after-call work of whole seconds (Asterisk's ``wrapuptime``), and
``reference_event`` is a simulator event as the log can tell it (whole seconds): so the
simulator's own events and the connector's translation of these lines give the same KPIs,
which the integration test checks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from stream.contract.decoder import encode
from stream.contract.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOfferMissed,
    CallQueued,
    CallWrapupCompleted,
)
from stream.dev.simulate import DEFAULT_QUEUES, QueueProfile, SimEvent, Simulation

__all__ = [
    "QueueLogWriter",
    "asterisk_profiles",
    "config_yaml",
    "generate",
    "reference_event",
    "write_live",
]

_NOT_LOGGED: Final = frozenset({"call.hold_started", "call.hold_ended", "call.offered"})
"""What app_queue writes no line for: holds, and the start of a ring (its end, when missed, is
``RINGNOANSWER``). Without rings the log gives no ringing calls and no agent answer rate: the
reference leaves ``call.offered`` out, so both paths agree on that too."""

_COMPLETE: Final = {"customer": "COMPLETECALLER", "agent": "COMPLETEAGENT"}
"""The ``COMPLETE*`` line of a ``call.ended`` that says who hung up (else either, by call)."""
BREAK_REASON: Final = "Break"


def asterisk_profiles(queues: Sequence[QueueProfile] = DEFAULT_QUEUES) -> tuple[QueueProfile, ...]:
    """The queues as an Asterisk contact centre runs them: phone only, fixed wrap-up."""
    return tuple(
        dataclasses.replace(
            q,
            phone_only=True,
            fixed_after_call_work=True,
            after_call_work_seconds=float(max(5, round(q.after_call_work_seconds))),
            tickets_per_hour=0.0,
        )
        for q in queues
    )


def interfaces(queues: Sequence[QueueProfile], rate_multiplier: float = 1.0) -> dict[str, str]:
    """Agent id (as the simulator names them) -> the PJSIP interface it logs in on."""
    ids: list[str] = []
    for q in queues:
        staff = max(1, round(q.agents * rate_multiplier))
        ids.extend(f"agent-{q.name}-{n:02d}" for n in range(1, staff + 1))
    return {agent: f"PJSIP/{201 + i}" for i, agent in enumerate(ids)}


def config_yaml(queues: Sequence[QueueProfile], rate_multiplier: float = 1.0) -> str:
    """The connector config for these queues: each queue's wrapuptime, interfaces -> agents."""
    lines = ["# wrapuptime of each queue (queues.conf) and who logs in on which interface", ""]
    lines.append("queues:")
    for q in queues:
        lines.append(f"  {q.name}: {{wrapuptime: {int(q.after_call_work_seconds)}}}")
    lines.append("agents:")
    for agent, interface in interfaces(queues, rate_multiplier).items():
        lines.append(f"  {interface}: {agent}")
    return "\n".join(lines) + "\n"


def reference_event(item: SimEvent) -> dict[str, Any] | None:
    """A call or agent event as the log tells it (whole seconds); None if the log has none."""
    if item.kind not in ("calls", "agents"):
        return None
    document: dict[str, Any] = msgspec.json.decode(encode(item.event))
    if document["type"] in _NOT_LOGGED:
        return None
    document["occurred_at"] = _iso(math.floor(item.at))
    if document["type"] == "call.offer_missed":  # RINGNOANSWER tells whole milliseconds
        document["ring_seconds"] = round(document.get("ring_seconds", 0.0) * 1000) / 1000
        document["reason"] = "no_answer"  # a declined ring is a RINGNOANSWER in the log too
    if document["type"] == "agent.state_changed" and document["state"] == "away":
        document.setdefault("reason", BREAK_REASON)  # PAUSE always names one here
    return document


def _iso(epoch: int) -> str:
    from time import gmtime, strftime

    return strftime("%Y-%m-%dT%H:%M:%SZ", gmtime(epoch))


@dataclass(slots=True)
class _Call:
    uniqueid: str
    queue: str
    entered: int
    answered: int = 0
    agent: str = ""


@dataclass(slots=True)
class QueueLogWriter:
    """Simulator events in, queue_log lines out (stateful: calls, positions, agent states)."""

    agents: dict[str, str]
    """Agent id -> interface (``interfaces``)."""
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _calls: dict[str, _Call] = field(default_factory=dict)
    _waiting: dict[str, list[str]] = field(default_factory=dict)
    _states: dict[str, str] = field(default_factory=dict)

    def lines(self, item: SimEvent) -> list[str]:
        e = item.event
        epoch = math.floor(item.at)
        if isinstance(e, AgentStateChanged):
            return self._agent(epoch, e.agent_id, e.state, e.queues or (), e.reason)
        if isinstance(e, CallOfferMissed):
            call = self._calls[e.call_id]
            interface = self.agents[e.agent_id]
            ring_ms = round((e.ring_seconds or 0.0) * 1000)
            return [f"{epoch}|{call.uniqueid}|{call.queue}|{interface}|RINGNOANSWER|{ring_ms}"]
        if isinstance(e, CallQueued):
            n = next(self._numbers)
            call = _Call(f"{epoch}.{n}", e.queue, epoch)
            self._calls[e.call_id] = call
            waiting = self._waiting.setdefault(call.queue, [])
            waiting.append(e.call_id)
            caller = f"06{n % 100_000_000:08d}"
            return [
                f"{epoch}|{call.uniqueid}|{call.queue}|NONE|ENTERQUEUE||{caller}|{len(waiting)}"
            ]
        if not isinstance(e, CallAnswered | CallEnded | CallAbandoned | CallWrapupCompleted):
            return []  # holds: app_queue writes no line; tickets and the rest: not a PBX's
        call = self._calls[e.call_id]
        if isinstance(e, CallAnswered):
            self._waiting[call.queue].remove(e.call_id)
            call.answered, call.agent = epoch, self.agents[e.agent_id]
            wait = epoch - call.entered
            peer = f"{epoch}.{next(self._numbers)}"
            return [f"{epoch}|{call.uniqueid}|{call.queue}|{call.agent}|CONNECT|{wait}|{peer}|3"]
        if isinstance(e, CallEnded):
            odd = int(call.uniqueid.rpartition(".")[2]) % 2
            event = _COMPLETE.get(e.ended_by or "", "COMPLETECALLER" if odd else "COMPLETEAGENT")
            wait, talk = call.answered - call.entered, epoch - call.answered
            return [f"{epoch}|{call.uniqueid}|{call.queue}|{call.agent}|{event}|{wait}|{talk}|1"]
        if isinstance(e, CallAbandoned):
            waiting = self._waiting[call.queue]
            position = waiting.index(e.call_id) + 1
            waiting.remove(e.call_id)
            del self._calls[e.call_id]
            wait = epoch - call.entered
            return [f"{epoch}|{call.uniqueid}|{call.queue}|NONE|ABANDON|{position}|1|{wait}"]
        del self._calls[e.call_id]  # the end of wrap-up: app_queue writes no line
        return []

    def _agent(
        self, epoch: int, agent_id: str, state: str, queues: Sequence[str], reason: str | None
    ) -> list[str]:
        before = self._states.get(agent_id)
        self._states[agent_id] = state
        interface = self.agents[agent_id]
        queue = queues[0] if queues else "NONE"
        if before is None:
            return [f"{epoch}|MANAGER|{queue}|{interface}|ADDMEMBER|"]
        if state == "away":
            return [f"{epoch}|NONE|{queue}|{interface}|PAUSE|{reason or BREAK_REASON}"]
        if before == "away" and state == "available":
            return [f"{epoch}|NONE|{queue}|{interface}|UNPAUSE|"]
        return []  # busy, after_call_work, available after wrap-up: implied by the calls


@dataclass(slots=True)
class Generated:
    lines: list[str]
    reference: list[dict[str, Any]]
    """The simulator's call and agent events as the log tells them (``reference_event``)."""


def generate(
    seed: int,
    start: datetime,
    duration_seconds: int,
    *,
    queues: Sequence[QueueProfile] | None = None,
    rate_multiplier: float = 1.0,
) -> Generated:
    """The lines of ``duration_seconds`` of traffic from ``start`` (whole seconds), and the
    simulator's own events of the same span up to the log's last second."""
    profiles = tuple(queues) if queues is not None else asterisk_profiles()
    # Without call flows: the writer tells no callbacks, transfers, priorities or hang-ups on hold.
    sim = Simulation(
        seed=seed, start=start, queues=profiles, rate_multiplier=rate_multiplier, flows=False
    )
    writer = QueueLogWriter(interfaces(profiles, rate_multiplier))
    lines: list[str] = []
    items: list[SimEvent] = []
    for item in sim.events(until=sim.start + duration_seconds):
        lines.extend(writer.lines(item))
        items.append(item)
    last = int(lines[-1].partition("|")[0]) if lines else 0
    reference = [
        ref
        for item in items
        if math.floor(item.at) <= last and (ref := reference_event(item)) is not None
    ]
    return Generated(lines, reference)


async def write_live(
    path: Path,
    *,
    seed: int,
    queues: Sequence[QueueProfile] | None = None,
    rate_multiplier: float = 1.0,
    written: Callable[[int], None] | None = None,
) -> None:
    """Append the lines of live simulated traffic to ``path`` as the wall clock reaches them
    (like Asterisk: one write and flush per line); runs until cancelled. ``written`` is told
    how many lines each simulated event wrote."""
    from datetime import UTC

    profiles = tuple(queues) if queues is not None else asterisk_profiles()
    start = datetime.now(UTC)
    # Without call flows: the writer tells no callbacks, transfers, priorities or hang-ups on hold.
    sim = Simulation(
        seed=seed, start=start, queues=profiles, rate_multiplier=rate_multiplier, flows=False
    )
    writer = QueueLogWriter(interfaces(profiles, rate_multiplier))
    loop = asyncio.get_running_loop()
    clock0 = loop.time()
    with path.open("a", encoding="utf-8") as fh:
        for item in sim.events():
            delay = clock0 + (item.at - sim.start) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lines = writer.lines(item)
            for line in lines:
                fh.write(line + "\n")
                fh.flush()
            if written is not None:
                written(len(lines))

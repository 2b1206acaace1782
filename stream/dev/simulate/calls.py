"""Calls and agents: an M/M/c queue with abandonment per queue (Poisson arrivals, exponential
patience, talk, holds and after-call work), rings and missed rings, agents' states and breaks,
and the call flows interleaved with them (priorities, callbacks instead of abandons, transfers
to another queue, hang-ups on hold), drawn from the flow stream so ``flows=False`` leaves every
other event as it was."""

from __future__ import annotations

import functools
from datetime import datetime

from stream.contract.events import (
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallbackOutcome,
    CallCallbackCompleted,
    CallCallbackRequested,
    CallEnded,
    CallHoldEnded,
    CallHoldStarted,
    CallOffered,
    CallOfferMissed,
    CallQueued,
    CallTransferred,
    CallWrapupCompleted,
    Channel,
    MissReason,
    TransferKind,
)
from stream.dev.simulate.base import Agent, Call, QueueState
from stream.dev.simulate.customers import SimulationCustomers
from stream.dev.simulate.profiles import (
    AWAY_REASONS,
    BREAK_PROBABILITY,
    BREAK_SECONDS,
    CALL_CHANNELS,
    CALL_SURVEY_PROBABILITY,
    CALLBACK_OUTCOMES,
    CALLBACK_PROBABILITY,
    CALLBACK_SECONDS,
    HOLD_HANG_UP_PROBABILITY,
    HOUR,
    MINUTE,
    MISSED_RING_PROBABILITY,
    PHONE_ONLY,
    PRIORITIES,
    TRANSFER_KINDS,
    TRANSFER_PROBABILITY,
)


class SimulationCalls(SimulationCustomers):
    """Calls, agents and call flows."""

    def _agent_state(self, agent: Agent, state: AgentState, reason: str | None = None) -> None:
        queues = (agent.queue.name,)
        self._emit(
            "agents",
            agent.agent_id,
            lambda eid, at: AgentStateChanged(
                event_id=eid,
                occurred_at=at,
                agent_id=agent.agent_id,
                state=state,
                queues=queues,
                reason=reason,
            ),
        )

    # -- calls: M/M/c with abandonment ----------------------------------------------------
    def _call_arrives(self, state: QueueState) -> None:
        profile = state.profile
        self._at(
            self._exp(HOUR / (profile.calls_per_hour * self._rate)),
            lambda: self._call_arrives(state),
        )
        call = Call(self._new_id("call"), profile, self._customer(), self._now)
        channel: Channel = self._pick(PHONE_ONLY if profile.phone_only else CALL_CHANNELS)
        call.channel = channel
        if self._flows:
            values, weights = zip(*PRIORITIES, strict=True)
            call.priority = self._flow_rng.choices(values, weights)[0]
        self._emit("calls", call.call_id, functools.partial(self._queued, call, channel))
        self._at(self._exp(profile.patience_seconds), lambda: self._call_gives_up(call))
        self._enqueue(state, call)

    def _queued(self, call: Call, channel: Channel, eid: str, at: datetime) -> CallQueued:
        return CallQueued(
            event_id=eid,
            occurred_at=at,
            call_id=call.call_id,
            queue=call.queue.name,
            channel=channel,
            priority=call.priority,
            transferred_from=call.transferred_from,
        )

    def _enqueue(self, state: QueueState, call: Call) -> None:
        if state.free:
            self._connect(state.free.popleft(), call)
        else:
            state.waiting.append(call)

    def _call_gives_up(self, call: Call) -> None:
        if call.state != "waiting":
            return
        call.state = "abandoned"  # left in the waiting deque; skipped when dequeued
        if self._flows and self._flow_rng.random() < CALLBACK_PROBABILITY:
            # Asks to be called back instead of hanging up (the same draws of the main stream).
            self._emit(
                "calls",
                call.call_id,
                lambda eid, at: CallCallbackRequested(
                    event_id=eid, occurred_at=at, call_id=call.call_id
                ),
            )
            delay = self._flow_rng.expovariate(1.0 / CALLBACK_SECONDS)
            self._at(delay, lambda: self._callback_made(call))
        else:
            self._emit(
                "calls",
                call.call_id,
                lambda eid, at: CallAbandoned(event_id=eid, occurred_at=at, call_id=call.call_id),
            )
        if self._rng.random() < 0.1:
            self._after_contact(call.queue, call.customer_id, unhappy=True)

    def _callback_made(self, call: Call) -> None:
        values, weights = zip(*CALLBACK_OUTCOMES, strict=True)
        outcome: CallbackOutcome = self._flow_rng.choices(values, weights)[0]
        agent = self._flow_rng.choice(self._state_of(call.queue).agents).agent_id
        self._emit_flow(
            call.call_id,
            lambda eid, at: CallCallbackCompleted(
                event_id=eid, occurred_at=at, call_id=call.call_id, outcome=outcome, agent_id=agent
            ),
        )

    def _connect(self, agent: Agent, call: Call) -> None:
        # Ringing the agent's phone takes a moment; the caller cannot abandon during it.
        call.state = "connecting"
        ring = self._rng.uniform(1.0, 5.0)
        self._offer(agent, call)
        if self._ring_rng.random() < MISSED_RING_PROBABILITY:
            # The agent lets the first ring go (or declines it) and the call rings them again.
            reason: MissReason = self._ring_rng.choice(("no_answer", "rejected"))
            self._at(ring / 2, lambda: self._missed(agent, call, reason, round(ring / 2, 3)))
        self._at(ring, lambda: self._call_answered(agent, call))

    def _offer(self, agent: Agent, call: Call) -> None:
        self._emit_ring(
            call.call_id,
            lambda eid, at: CallOffered(
                event_id=eid, occurred_at=at, call_id=call.call_id, agent_id=agent.agent_id
            ),
        )

    def _missed(self, agent: Agent, call: Call, reason: MissReason, ring: float) -> None:
        self._emit_ring(
            call.call_id,
            lambda eid, at: CallOfferMissed(
                event_id=eid,
                occurred_at=at,
                call_id=call.call_id,
                agent_id=agent.agent_id,
                reason=reason,
                ring_seconds=ring,
            ),
        )
        self._offer(agent, call)

    def _call_answered(self, agent: Agent, call: Call) -> None:
        call.state = "connected"
        wait = self._now - call.queued_at
        self._emit(
            "calls",
            call.call_id,
            lambda eid, at: CallAnswered(
                event_id=eid, occurred_at=at, call_id=call.call_id, agent_id=agent.agent_id
            ),
        )
        self._agent_state(agent, "busy")
        profile = call.queue
        talk = max(15.0, self._exp(profile.talk_seconds))
        hold = 0.0
        if self._rng.random() < profile.hold_probability:
            hold = max(5.0, self._exp(profile.hold_seconds))
            hold_at = talk * self._rng.uniform(0.2, 0.7)
            self._at(hold_at, lambda: self._call_simple(call, CallHoldStarted))
            if self._flows and self._flow_rng.random() < HOLD_HANG_UP_PROBABILITY:
                # The caller hangs up half-way through the hold: an abandon on hold.
                self._at(hold_at + hold / 2, lambda: self._call_ended(agent, call, wait, True))
                return
            self._at(hold_at + hold, lambda: self._call_simple(call, CallHoldEnded))
        self._at(talk + hold, lambda: self._call_ended(agent, call, wait))

    def _call_simple(
        self, call: Call, cls: type[CallHoldStarted] | type[CallHoldEnded] | type[CallEnded]
    ) -> None:
        self._emit(
            "calls",
            call.call_id,
            lambda eid, at: cls(event_id=eid, occurred_at=at, call_id=call.call_id),
        )

    def _call_ended(self, agent: Agent, call: Call, wait: float, on_hold: bool = False) -> None:
        others = [q for q in self._queues if q.profile is not call.queue]
        if on_hold:
            self._emit(
                "calls",
                call.call_id,
                lambda eid, at: CallEnded(
                    event_id=eid, occurred_at=at, call_id=call.call_id, ended_by="customer"
                ),
            )
        elif (
            self._flows
            and others
            and call.transferred_from is None  # a transferred leg is not transferred again
            and self._flow_rng.random() < TRANSFER_PROBABILITY
        ):
            self._transfer(agent, call, self._flow_rng.choice(others))
        else:
            self._call_simple(call, CallEnded)
        self._agent_state(agent, "after_call_work")
        acw = max(5.0, self._exp(call.queue.after_call_work_seconds))
        if call.queue.fixed_after_call_work:  # drawn all the same: the same seed, same traffic
            acw = call.queue.after_call_work_seconds
        self._at(acw, lambda: self._call_wrapped_up(agent, call, wait))

    def _transfer(self, agent: Agent, call: Call, target: QueueState) -> None:
        """The agent transfers the call to ``target``: out of this queue (``call.transferred``,
        in place of the ``call.ended``) and in to the target (a new leg queued there)."""
        kind: TransferKind = self._flow_rng.choice(TRANSFER_KINDS)
        to = target.profile.name
        self._emit(
            "calls",
            call.call_id,
            lambda eid, at: CallTransferred(
                event_id=eid,
                occurred_at=at,
                call_id=call.call_id,
                kind=kind,
                to=to,
                agent_id=agent.agent_id,
            ),
        )
        leg = Call(f"{call.call_id}.t", target.profile, call.customer_id, self._now)
        leg.priority, leg.transferred_from = call.priority, call.queue.name
        self._emit_flow(leg.call_id, functools.partial(self._queued, leg, call.channel))
        patience = self._flow_rng.expovariate(1.0 / target.profile.patience_seconds)
        self._at(patience, lambda: self._call_gives_up(leg))
        self._enqueue(target, leg)

    def _call_wrapped_up(self, agent: Agent, call: Call, wait: float) -> None:
        self._emit(
            "calls",
            call.call_id,
            lambda eid, at: CallWrapupCompleted(event_id=eid, occurred_at=at, call_id=call.call_id),
        )
        unhappy = wait > 60.0 or self._rng.random() < 0.1
        if self._rng.random() < CALL_SURVEY_PROBABILITY:
            self._at(
                self._rng.uniform(30.0, 10 * MINUTE),
                lambda: self._survey("call", call.call_id, call.queue, unhappy),
            )
        self._after_contact(call.queue, call.customer_id, unhappy=unhappy)
        if self._rng.random() < BREAK_PROBABILITY:
            self._agent_state(agent, "away", self._ring_rng.choice(AWAY_REASONS))
            self._at(self._exp(BREAK_SECONDS), lambda: self._agent_free(agent))
        else:
            self._agent_free(agent)

    def _agent_free(self, agent: Agent) -> None:
        self._agent_state(agent, "available")
        state = self._state_of(agent.queue)
        while state.waiting:
            call = state.waiting.popleft()
            if call.state == "waiting":
                self._connect(agent, call)
                return
        state.free.append(agent)

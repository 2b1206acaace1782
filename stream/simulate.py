"""The traffic generator: a seeded queueing model of a contact centre, and its publishers.

`Simulation` is pure and deterministic: given a seed and a start time it advances its own
simulated clock (never the wall clock) and yields contract events in event-time order:

* calls per queue form an M/M/c queue with abandonment: Poisson arrivals, ``agents`` servers,
  exponential patience (the customer hangs up while waiting), exponential talk time, occasional
  holds, exponential after-call work ending in ``call.wrapup_completed``; agents report
  ``agent.state_changed`` (available, busy, after_call_work, away for short breaks);
* tickets per queue arrive on chat, email, web and social with bot replies, customer replies,
  private notes, a first public agent response after a channel-dependent delay (a few are left
  waiting for days), pending/on-hold/solved/closed status changes, occasional reopens and
  escalations;
* call flows (``flows=True``, the default; from a random stream of their own): calls carry a
  priority; some callers who would hang up ask for a callback instead, made later by an agent
  (connected, not answered, canceled); some talks end in a transfer to another queue, whose new
  leg queues there with ``transferred_from``; some callers hang up while on hold;
* CSAT/NPS surveys follow some solves and calls (worse after long waits); some customers then
  place orders or churn.

`publish` sends a simulation to the contract topics with aiokafka, paced to the wall clock
(``occurred_at`` ~ now) or at full speed over a recent time span; with ``dirty_ratio`` it adds
malformed JSON, unknown types, missing fields and exact duplicates (see `Contaminator`).
`write_ndjson` records events to a file and `replay` publishes such a file again.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import math
import random
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

import msgspec

from stream.events import (
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
    CustomerChurned,
    Event,
    MissReason,
    OrderPlaced,
    Priority,
    Rejection,
    SurveyResponded,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatus,
    TicketStatusChanged,
    TopicKind,
    TransferKind,
    decode,
    encode,
    epoch_seconds,
)

if TYPE_CHECKING:
    from stream.config import Settings

__all__ = [
    "DEFAULT_QUEUES",
    "Contaminator",
    "DirtyMessage",
    "PublishStats",
    "QueueProfile",
    "ReplayStats",
    "SimEvent",
    "Simulation",
    "count_lines",
    "publish",
    "replay",
    "route",
    "topic_name",
    "write_ndjson",
]

log = logging.getLogger(__name__)

_MINUTE: Final = 60.0
_HOUR: Final = 3600.0
_DAY: Final = 86400.0


# --------------------------------------------------------------------------------------------
# The model's parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueProfile:
    """One queue: its staffing, its arrival rates and the shape of its contacts.

    Times are means of exponential distributions, in seconds.
    """

    name: str
    agents: int
    calls_per_hour: float
    tickets_per_hour: float
    talk_seconds: float = 240.0
    patience_seconds: float = 120.0
    after_call_work_seconds: float = 45.0
    fixed_after_call_work: bool = False
    """After-call work lasts exactly ``after_call_work_seconds`` (a PBX's fixed wrap-up time,
    e.g. Asterisk's ``wrapuptime``) instead of an exponential time with that mean."""
    phone_only: bool = False
    """Every call is a phone call (a PBX's queue), not 10 % chat."""
    hold_probability: float = 0.2
    hold_seconds: float = 45.0
    order_probability: float = 0.03
    categories: tuple[str, ...] = ("question", "complaint")
    ticket_channels: tuple[tuple[Channel, float], ...] = (
        ("email", 0.4),
        ("chat", 0.3),
        ("web", 0.2),
        ("social", 0.1),
    )


DEFAULT_QUEUES: Final[tuple[QueueProfile, ...]] = (
    # Offered call load is 60-85 % of the agents, so queues form and calls are abandoned.
    QueueProfile(
        name="billing",
        agents=6,
        calls_per_hour=60,
        tickets_per_hour=40,
        talk_seconds=240,
        categories=("invoice", "refund", "payment_failed", "complaint"),
    ),
    QueueProfile(
        name="tech-support",
        agents=8,
        calls_per_hour=55,
        tickets_per_hour=60,
        talk_seconds=360,
        after_call_work_seconds=60,
        hold_probability=0.35,
        categories=("login", "outage", "bug", "how_to", "complaint"),
        ticket_channels=(("email", 0.35), ("web", 0.3), ("chat", 0.25), ("social", 0.1)),
    ),
    QueueProfile(
        name="sales",
        agents=5,
        calls_per_hour=50,
        tickets_per_hour=20,
        talk_seconds=180,
        patience_seconds=60,
        after_call_work_seconds=30,
        hold_probability=0.1,
        order_probability=0.3,
        categories=("pricing", "upgrade", "demo_request"),
        ticket_channels=(("chat", 0.5), ("web", 0.3), ("email", 0.15), ("social", 0.05)),
    ),
    QueueProfile(
        name="returns",
        agents=3,
        calls_per_hour=30,
        tickets_per_hour=30,
        talk_seconds=200,
        after_call_work_seconds=40,
        categories=("return_label", "damaged_item", "refund_status", "complaint"),
        ticket_channels=(("email", 0.5), ("web", 0.3), ("social", 0.1), ("chat", 0.1)),
    ),
)
"""Four queues, about 200 calls and 150 tickets an hour in all: about 0.6 events/s."""

# Mean time to the first public agent response, by ticket channel.
_FIRST_RESPONSE_SECONDS: Final[dict[str, float]] = {
    "chat": 90.0,
    "sms": 10 * _MINUTE,
    "social": 20 * _MINUTE,
    "web": 45 * _MINUTE,
    "email": 2 * _HOUR,
}
_NEGLECTED_PROBABILITY: Final = 0.06  # tickets whose first response takes days
_PRIORITIES: Final[tuple[tuple[Priority, float], ...]] = (
    ("low", 0.15),
    ("normal", 0.6),
    ("high", 0.2),
    ("urgent", 0.05),
)
_CALL_CHANNELS: Final[tuple[tuple[Channel, float], ...]] = (("phone", 0.9), ("chat", 0.1))
_PHONE_ONLY: Final[tuple[tuple[Channel, float], ...]] = (("phone", 1.0),)
_BREAK_PROBABILITY: Final = 0.04  # an agent takes a break after a call
_BREAK_SECONDS: Final = 5 * _MINUTE
AWAY_REASONS: Final = ("break", "lunch", "training")
"""Why simulated agents go away (``agent.state_changed.reason``); the demo lists them."""
_MISSED_RING_PROBABILITY: Final = 0.08  # the first ring of a call is missed
_CALL_SURVEY_PROBABILITY: Final = 0.25
# Call flows (stream.kpis.flows), drawn from their own random stream (``_flow_rng``).
_CALLBACK_PROBABILITY: Final = 0.3  # a caller about to hang up asks for a callback instead
_CALLBACK_SECONDS: Final = 10 * _MINUTE  # mean time until the callback is made
_CALLBACK_OUTCOMES: Final[tuple[tuple[CallbackOutcome, float], ...]] = (
    ("connected", 0.8),
    ("no_answer", 0.15),
    ("canceled", 0.05),
)
_TRANSFER_PROBABILITY: Final = 0.06  # a talk ends in a transfer to another queue
_HOLD_HANG_UP_PROBABILITY: Final = 0.1  # the caller hangs up while on hold
_TRANSFER_KINDS: Final[tuple[TransferKind, ...]] = ("blind", "attended")
_TICKET_SURVEY_PROBABILITY: Final = 0.3
_CHURN_PROBABILITY: Final = 0.01
_UNHAPPY_CHURN_PROBABILITY: Final = 0.08
_CSAT_WEIGHTS: Final = {"happy": (3, 4, 10, 35, 48), "unhappy": (25, 25, 25, 15, 10)}
_NPS_WEIGHTS: Final = {
    "happy": (1, 1, 1, 1, 2, 3, 4, 10, 17, 25, 35),
    "unhappy": (12, 10, 12, 12, 12, 12, 10, 8, 6, 4, 2),
}


class SimEvent(NamedTuple):
    """One generated event with its routing: topic kind, key (the contact id), event time."""

    kind: TopicKind
    key: str
    event: Event
    at: float
    """``occurred_at`` as epoch seconds (milliseconds precision)."""


# --------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Agent:
    agent_id: str
    queue: QueueProfile


@dataclass(slots=True)
class _Call:
    call_id: str
    queue: QueueProfile
    customer_id: str
    queued_at: float
    state: Literal["waiting", "connecting", "connected", "abandoned"] = "waiting"
    channel: Channel = "phone"
    priority: Priority | None = None
    transferred_from: str | None = None  # the new leg of a transfer from this queue


@dataclass(slots=True)
class _QueueState:
    profile: QueueProfile
    agents: list[_Agent]
    free: deque[_Agent] = field(default_factory=deque)
    waiting: deque[_Call] = field(default_factory=deque)


class Simulation:
    """A deterministic discrete-event simulation producing contract events in time order.

    The same ``seed``, ``start``, ``queues`` and ``rate_multiplier`` give the same events,
    ids included. ``rate_multiplier`` scales arrivals and staffing alike, so queues stay as busy.
    ``flows=False`` leaves out priorities, callbacks, transfers and hang-ups on hold (the
    traffic of earlier versions, event for event: what the connectors' generators tell their
    vendor's way). Iterate once: the simulation is its own state.
    """

    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
        rate_multiplier: float = 1.0,
        customers: int = 20_000,
        flows: bool = True,
    ) -> None:
        if rate_multiplier <= 0 or not math.isfinite(rate_multiplier):
            raise ValueError(f"rate_multiplier must be a positive number, got {rate_multiplier}")
        if not queues:
            raise ValueError("at least one queue is needed")
        self._rng = random.Random(seed)
        # Rings, missed rings and away reasons draw from a stream of their own (ids included),
        # so adding them left every other event of a seed as it was.
        self._ring_rng = random.Random(f"rings-{seed}")
        # Call flows likewise (priorities, callbacks, transfers, hang-ups on hold).
        self._flows = flows
        self._flow_rng = random.Random(f"flows-{seed}")
        self._start = epoch_seconds(start)
        self._now = self._start
        self._rate = rate_multiplier
        self._customers = customers
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._out: deque[SimEvent] = deque()
        # Contact ids: a seed-derived run tag plus a counter, unique within and across runs.
        self._run_tag = f"{self._rng.getrandbits(32):08x}"
        self._ids = itertools.count(1)
        self._queues: list[_QueueState] = []
        self._by_name: dict[str, _QueueState] = {}
        for profile in queues:
            staff = max(1, round(profile.agents * rate_multiplier))
            agents = [_Agent(f"agent-{profile.name}-{n:02d}", profile) for n in range(1, staff + 1)]
            self._queues.append(_QueueState(profile, agents))
            self._by_name[profile.name] = self._queues[-1]
        for state in self._queues:
            self._at(0.0, functools.partial(self._open_queue, state))

    @property
    def start(self) -> float:
        """Start of the simulated time, epoch seconds."""
        return self._start

    @property
    def now(self) -> float:
        """The simulated clock, epoch seconds."""
        return self._now

    def __iter__(self) -> Iterator[SimEvent]:
        return self.events()

    def events(self, until: float | None = None) -> Iterator[SimEvent]:
        """Events in non-decreasing ``at`` order; endless unless ``until`` (epoch seconds)."""
        while True:
            while self._out:
                yield self._out.popleft()
            if not self._heap or (until is not None and self._heap[0][0] >= until):
                return
            when, _, action = heapq.heappop(self._heap)
            self._now = when
            action()

    def take(self, n: int) -> list[SimEvent]:
        """The next ``n`` events."""
        return list(itertools.islice(self.events(), n))

    # -- scheduling and emitting ----------------------------------------------------------
    def _at(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (self._now + max(0.0, delay), next(self._seq), action))

    def _emit(self, kind: TopicKind, key: str, build: Callable[[str, datetime], Event]) -> None:
        at = round(self._now, 3)
        occurred_at = datetime.fromtimestamp(at, UTC)
        event_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._out.append(SimEvent(kind, key, build(event_id, occurred_at), at))

    def _emit_ring(self, key: str, build: Callable[[str, datetime], Event]) -> None:
        """Emit a ring event (``call.offered``, ``call.offer_missed``) with an id of the ring
        stream (``_ring_rng``)."""
        at = round(self._now, 3)
        occurred_at = datetime.fromtimestamp(at, UTC)
        event_id = str(uuid.UUID(int=self._ring_rng.getrandbits(128), version=4))
        self._out.append(SimEvent("calls", key, build(event_id, occurred_at), at))

    def _emit_flow(self, key: str, build: Callable[[str, datetime], Event]) -> None:
        """Emit a call-flow event with an id of the flow stream (``_flow_rng``)."""
        at = round(self._now, 3)
        occurred_at = datetime.fromtimestamp(at, UTC)
        event_id = str(uuid.UUID(int=self._flow_rng.getrandbits(128), version=4))
        self._out.append(SimEvent("calls", key, build(event_id, occurred_at), at))

    def _exp(self, mean: float) -> float:
        return self._rng.expovariate(1.0 / mean)

    def _pick(self, weighted: Sequence[tuple[Any, float]]) -> Any:
        values = [v for v, _ in weighted]
        weights = [w for _, w in weighted]
        return self._rng.choices(values, weights)[0]

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{self._run_tag}-{next(self._ids):07d}"

    def _customer(self) -> str:
        return f"cust-{self._rng.randrange(self._customers):06d}"

    def _open_queue(self, state: _QueueState) -> None:
        for agent in state.agents:
            self._agent_state(agent, "available")
            state.free.append(agent)
        profile = state.profile
        if profile.calls_per_hour > 0:
            self._at(
                self._exp(_HOUR / (profile.calls_per_hour * self._rate)),
                lambda: self._call_arrives(state),
            )
        if profile.tickets_per_hour > 0:
            self._at(
                self._exp(_HOUR / (profile.tickets_per_hour * self._rate)),
                lambda: self._ticket_arrives(state),
            )

    def _agent_state(self, agent: _Agent, state: AgentState, reason: str | None = None) -> None:
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
    def _call_arrives(self, state: _QueueState) -> None:
        profile = state.profile
        self._at(
            self._exp(_HOUR / (profile.calls_per_hour * self._rate)),
            lambda: self._call_arrives(state),
        )
        call = _Call(self._new_id("call"), profile, self._customer(), self._now)
        channel: Channel = self._pick(_PHONE_ONLY if profile.phone_only else _CALL_CHANNELS)
        call.channel = channel
        if self._flows:
            values, weights = zip(*_PRIORITIES, strict=True)
            call.priority = self._flow_rng.choices(values, weights)[0]
        self._emit("calls", call.call_id, functools.partial(self._queued, call, channel))
        self._at(self._exp(profile.patience_seconds), lambda: self._call_gives_up(call))
        self._enqueue(state, call)

    def _queued(self, call: _Call, channel: Channel, eid: str, at: datetime) -> CallQueued:
        return CallQueued(
            event_id=eid,
            occurred_at=at,
            call_id=call.call_id,
            queue=call.queue.name,
            channel=channel,
            priority=call.priority,
            transferred_from=call.transferred_from,
        )

    def _enqueue(self, state: _QueueState, call: _Call) -> None:
        if state.free:
            self._connect(state.free.popleft(), call)
        else:
            state.waiting.append(call)

    def _call_gives_up(self, call: _Call) -> None:
        if call.state != "waiting":
            return
        call.state = "abandoned"  # left in the waiting deque; skipped when dequeued
        if self._flows and self._flow_rng.random() < _CALLBACK_PROBABILITY:
            # Asks to be called back instead of hanging up (the same draws of the main stream).
            self._emit(
                "calls",
                call.call_id,
                lambda eid, at: CallCallbackRequested(
                    event_id=eid, occurred_at=at, call_id=call.call_id
                ),
            )
            delay = self._flow_rng.expovariate(1.0 / _CALLBACK_SECONDS)
            self._at(delay, lambda: self._callback_made(call))
        else:
            self._emit(
                "calls",
                call.call_id,
                lambda eid, at: CallAbandoned(event_id=eid, occurred_at=at, call_id=call.call_id),
            )
        if self._rng.random() < 0.1:
            self._after_contact(call.queue, call.customer_id, unhappy=True)

    def _callback_made(self, call: _Call) -> None:
        values, weights = zip(*_CALLBACK_OUTCOMES, strict=True)
        outcome: CallbackOutcome = self._flow_rng.choices(values, weights)[0]
        agent = self._flow_rng.choice(self._state_of(call.queue).agents).agent_id
        self._emit_flow(
            call.call_id,
            lambda eid, at: CallCallbackCompleted(
                event_id=eid, occurred_at=at, call_id=call.call_id, outcome=outcome, agent_id=agent
            ),
        )

    def _connect(self, agent: _Agent, call: _Call) -> None:
        # Ringing the agent's phone takes a moment; the caller cannot abandon during it.
        call.state = "connecting"
        ring = self._rng.uniform(1.0, 5.0)
        self._offer(agent, call)
        if self._ring_rng.random() < _MISSED_RING_PROBABILITY:
            # The agent lets the first ring go (or declines it) and the call rings them again.
            reason: MissReason = self._ring_rng.choice(("no_answer", "rejected"))
            self._at(ring / 2, lambda: self._missed(agent, call, reason, round(ring / 2, 3)))
        self._at(ring, lambda: self._call_answered(agent, call))

    def _offer(self, agent: _Agent, call: _Call) -> None:
        self._emit_ring(
            call.call_id,
            lambda eid, at: CallOffered(
                event_id=eid, occurred_at=at, call_id=call.call_id, agent_id=agent.agent_id
            ),
        )

    def _missed(self, agent: _Agent, call: _Call, reason: MissReason, ring: float) -> None:
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

    def _call_answered(self, agent: _Agent, call: _Call) -> None:
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
            if self._flows and self._flow_rng.random() < _HOLD_HANG_UP_PROBABILITY:
                # The caller hangs up half-way through the hold: an abandon on hold.
                self._at(hold_at + hold / 2, lambda: self._call_ended(agent, call, wait, True))
                return
            self._at(hold_at + hold, lambda: self._call_simple(call, CallHoldEnded))
        self._at(talk + hold, lambda: self._call_ended(agent, call, wait))

    def _call_simple(
        self, call: _Call, cls: type[CallHoldStarted] | type[CallHoldEnded] | type[CallEnded]
    ) -> None:
        self._emit(
            "calls",
            call.call_id,
            lambda eid, at: cls(event_id=eid, occurred_at=at, call_id=call.call_id),
        )

    def _call_ended(self, agent: _Agent, call: _Call, wait: float, on_hold: bool = False) -> None:
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
            and self._flow_rng.random() < _TRANSFER_PROBABILITY
        ):
            self._transfer(agent, call, self._flow_rng.choice(others))
        else:
            self._call_simple(call, CallEnded)
        self._agent_state(agent, "after_call_work")
        acw = max(5.0, self._exp(call.queue.after_call_work_seconds))
        if call.queue.fixed_after_call_work:  # drawn all the same: the same seed, same traffic
            acw = call.queue.after_call_work_seconds
        self._at(acw, lambda: self._call_wrapped_up(agent, call, wait))

    def _transfer(self, agent: _Agent, call: _Call, target: _QueueState) -> None:
        """The agent transfers the call to ``target``: out of this queue (``call.transferred``,
        in place of the ``call.ended``) and in to the target (a new leg queued there)."""
        kind: TransferKind = self._flow_rng.choice(_TRANSFER_KINDS)
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
        leg = _Call(f"{call.call_id}.t", target.profile, call.customer_id, self._now)
        leg.priority, leg.transferred_from = call.priority, call.queue.name
        self._emit_flow(leg.call_id, functools.partial(self._queued, leg, call.channel))
        patience = self._flow_rng.expovariate(1.0 / target.profile.patience_seconds)
        self._at(patience, lambda: self._call_gives_up(leg))
        self._enqueue(target, leg)

    def _call_wrapped_up(self, agent: _Agent, call: _Call, wait: float) -> None:
        self._emit(
            "calls",
            call.call_id,
            lambda eid, at: CallWrapupCompleted(event_id=eid, occurred_at=at, call_id=call.call_id),
        )
        unhappy = wait > 60.0 or self._rng.random() < 0.1
        if self._rng.random() < _CALL_SURVEY_PROBABILITY:
            self._at(
                self._rng.uniform(30.0, 10 * _MINUTE),
                lambda: self._survey("call", call.call_id, call.queue, unhappy),
            )
        self._after_contact(call.queue, call.customer_id, unhappy=unhappy)
        if self._rng.random() < _BREAK_PROBABILITY:
            self._agent_state(agent, "away", self._ring_rng.choice(AWAY_REASONS))
            self._at(self._exp(_BREAK_SECONDS), lambda: self._agent_free(agent))
        else:
            self._agent_free(agent)

    def _agent_free(self, agent: _Agent) -> None:
        self._agent_state(agent, "available")
        state = self._state_of(agent.queue)
        while state.waiting:
            call = state.waiting.popleft()
            if call.state == "waiting":
                self._connect(agent, call)
                return
        state.free.append(agent)

    def _state_of(self, profile: QueueProfile) -> _QueueState:
        return self._by_name[profile.name]

    # -- surveys and customers ------------------------------------------------------------
    def _survey(
        self,
        about: Literal["call", "ticket"],
        contact_id: str,
        profile: QueueProfile,
        unhappy: bool,
    ) -> None:
        mood = "unhappy" if unhappy else "happy"
        kind: Literal["csat", "nps"]
        if self._rng.random() < 0.7:
            kind, score = "csat", self._rng.choices(range(1, 6), _CSAT_WEIGHTS[mood])[0]
        else:
            kind, score = "nps", self._rng.choices(range(11), _NPS_WEIGHTS[mood])[0]
        ticket_id = contact_id if about == "ticket" else None
        call_id = contact_id if about == "call" else None
        # The queue rides along: the survey travels on the tickets topic even for a call.
        self._emit(
            "tickets",
            contact_id,
            lambda eid, at: SurveyResponded(
                event_id=eid,
                occurred_at=at,
                queue=profile.name,
                kind=kind,
                score=score,
                ticket_id=ticket_id,
                call_id=call_id,
            ),
        )

    def _after_contact(self, profile: QueueProfile, customer_id: str, *, unhappy: bool) -> None:
        """Schedule what a customer may do after a contact: buy, or leave."""
        if self._rng.random() < profile.order_probability:
            value = round(self._rng.lognormvariate(4.0, 0.8), 2)
            self._at(
                self._exp(30 * _MINUTE),
                lambda: self._emit(
                    "customers",
                    customer_id,
                    lambda eid, at: OrderPlaced(
                        event_id=eid, occurred_at=at, customer_id=customer_id, value=value
                    ),
                ),
            )
        churn = _UNHAPPY_CHURN_PROBABILITY if unhappy else _CHURN_PROBABILITY
        if self._rng.random() < churn:
            reason = self._rng.choice(("price", "service", "moved", "competitor"))
            self._at(
                self._exp(_HOUR),
                lambda: self._emit(
                    "customers",
                    customer_id,
                    lambda eid, at: CustomerChurned(
                        event_id=eid, occurred_at=at, customer_id=customer_id, reason=reason
                    ),
                ),
            )

    # -- tickets: a scripted lifecycle ----------------------------------------------------
    def _ticket_arrives(self, state: _QueueState) -> None:
        """Create a ticket and schedule its whole, time-ordered lifecycle at once."""
        profile = state.profile
        self._at(
            self._exp(_HOUR / (profile.tickets_per_hour * self._rate)),
            lambda: self._ticket_arrives(state),
        )
        rng = self._rng
        ticket_id = self._new_id("ticket")
        channel: Channel = self._pick(profile.ticket_channels)
        priority: Priority = self._pick(_PRIORITIES)
        customer_id = self._customer()
        category = rng.choice(profile.categories)
        agent = rng.choice(state.agents).agent_id
        self._emit(
            "tickets",
            ticket_id,
            lambda eid, at: TicketCreated(
                event_id=eid,
                occurred_at=at,
                ticket_id=ticket_id,
                queue=profile.name,
                channel=channel,
                priority=priority,
                customer_id=customer_id,
                category=category,
            ),
        )
        first_response = self._exp(_FIRST_RESPONSE_SECONDS[channel])
        if rng.random() < _NEGLECTED_PROBABILITY:
            first_response = 2 * _DAY + self._exp(2 * _DAY)
        # Before the first response, in order: a bot greeting, maybe a customer nudge, the
        # assignment, maybe a private note. None of them delays the first response.
        step = _TicketScript(self, ticket_id)
        if channel in ("chat", "web") and rng.random() < 0.7:
            step.at_least(min(self._exp(8.0), first_response * 0.05)).message("bot")
        if rng.random() < 0.25:
            step.at_least(first_response * rng.uniform(0.05, 0.4)).message("customer")
        step.at_least(first_response * rng.uniform(0.1, 0.5)).assigned(agent)
        if rng.random() < 0.25:
            step.at_least(first_response * rng.uniform(0.5, 0.95)).message(
                "agent", agent, public=False
            )
        step.at_least(first_response).message("agent", agent)
        unhappy = first_response > 2 * _FIRST_RESPONSE_SECONDS[channel]
        if rng.random() < 0.06:
            step.after(self._exp(20 * _MINUTE)).escalated(rng.choice((2, 2, 3)))
            unhappy = True
        if rng.random() < 0.5:
            # Waiting for the customer, who answers, after which the agent replies.
            step.after(self._exp(_MINUTE)).status("pending")
            step.after(self._exp(45 * _MINUTE)).message("customer")
            step.after(1.0).status("open")
            step.after(self._exp(20 * _MINUTE)).message("agent", agent)
        if rng.random() < 0.05:
            step.after(self._exp(5 * _MINUTE)).status("on_hold")
            step.after(self._exp(2 * _HOUR)).status("open")
        step.after(self._exp(30 * _MINUTE)).status("solved")
        if rng.random() < 0.08:
            unhappy = True
            step.after(self._exp(3 * _HOUR)).message("customer")
            step.after(1.0).status("open")  # a reopen
            step.after(self._exp(30 * _MINUTE)).message("agent", agent)
            step.after(self._exp(_HOUR)).status("solved")
        if rng.random() < _TICKET_SURVEY_PROBABILITY:
            step.after(self._exp(_HOUR)).survey(profile, unhappy)
        if rng.random() < 0.5:
            step.after(self._exp(8 * _HOUR)).status("closed")
        self._after_contact(profile, customer_id, unhappy=unhappy)


class _TicketScript:
    """Builds one ticket's lifecycle as scheduled emissions with a monotone cursor."""

    __slots__ = ("_offset", "_sim", "_ticket_id")

    def __init__(self, sim: Simulation, ticket_id: str) -> None:
        self._sim = sim
        self._ticket_id = ticket_id
        self._offset = 0.0

    def after(self, delay: float) -> _TicketScript:
        self._offset += max(0.0, delay)
        return self

    def at_least(self, offset: float) -> _TicketScript:
        self._offset = max(self._offset, offset)
        return self

    def _schedule(self, build: Callable[[str, datetime], Event]) -> None:
        sim, ticket_id = self._sim, self._ticket_id
        sim._at(self._offset, lambda: sim._emit("tickets", ticket_id, build))

    def message(
        self,
        author: Literal["agent", "customer", "bot"],
        agent_id: str | None = None,
        *,
        public: bool = True,
    ) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketMessageAdded(
                event_id=eid,
                occurred_at=at,
                ticket_id=ticket_id,
                author=author,
                public=public,
                agent_id=agent_id,
            )
        )

    def assigned(self, agent_id: str) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketAssigned(
                event_id=eid, occurred_at=at, ticket_id=ticket_id, agent_id=agent_id
            )
        )

    def status(self, status: TicketStatus) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketStatusChanged(
                event_id=eid, occurred_at=at, ticket_id=ticket_id, status=status
            )
        )

    def escalated(self, level: int) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketEscalated(
                event_id=eid, occurred_at=at, ticket_id=ticket_id, level=level
            )
        )

    def survey(self, profile: QueueProfile, unhappy: bool) -> None:
        sim, ticket_id = self._sim, self._ticket_id
        sim._at(self._offset, lambda: sim._survey("ticket", ticket_id, profile, unhappy))


# --------------------------------------------------------------------------------------------
# Dirty input
# --------------------------------------------------------------------------------------------

DirtyLabel = Literal["duplicate", "invalid_json", "unknown_type", "missing_field"]
_DIRTY_KINDS: Final[tuple[tuple[DirtyLabel, float], ...]] = (
    ("duplicate", 0.4),
    ("invalid_json", 0.2),
    ("unknown_type", 0.2),
    ("missing_field", 0.2),
)
_UNKNOWN_TYPES: Final[dict[str, str]] = {
    "calls": "call.teleported",
    "tickets": "ticket.merged",
    "agents": "agent.logged_in",
    "customers": "customer.upgraded",
}


class DirtyMessage(NamedTuple):
    """A message to send after a clean one: same topic and key, ``value`` bytes."""

    label: DirtyLabel
    value: bytes


class Contaminator:
    """Adds realistic bad input after a fraction of clean messages (deterministic per seed).

    ``duplicate`` resends the exact bytes (same ``event_id``); the others are rejects:
    a truncated document, an unknown ``type`` and a missing ``occurred_at``, each with a fresh
    ``event_id`` so that they never collide with a real event.
    """

    def __init__(self, ratio: float, seed: int) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"dirty ratio must be within 0..1, got {ratio}")
        self._ratio = ratio
        self._rng = random.Random(seed)

    def after(self, kind: TopicKind, value: bytes) -> list[DirtyMessage]:
        """Bad messages to send right after ``value`` (usually none)."""
        if self._ratio <= 0.0 or self._rng.random() >= self._ratio:
            return []
        label: DirtyLabel = self._rng.choices(
            [k for k, _ in _DIRTY_KINDS], [w for _, w in _DIRTY_KINDS]
        )[0]
        if label == "duplicate":
            return [DirtyMessage(label, value)]
        if label == "invalid_json":
            return [DirtyMessage(label, value[: max(1, len(value) // 2)])]
        document: dict[str, Any] = msgspec.json.decode(value)
        document["event_id"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        if label == "unknown_type":
            document["type"] = _UNKNOWN_TYPES[kind]
        else:
            document.pop("occurred_at", None)
        return [DirtyMessage(label, msgspec.json.encode(document))]


# --------------------------------------------------------------------------------------------
# Routing, publishing, recording, replaying
# --------------------------------------------------------------------------------------------

_KIND_BY_TYPE_PREFIX: Final[dict[str, TopicKind]] = {
    "call": "calls",
    "ticket": "tickets",
    "survey": "tickets",
    "agent": "agents",
    "customer": "customers",
    "order": "customers",
}
_KEY_FIELDS: Final[dict[TopicKind, tuple[str, ...]]] = {
    "calls": ("call_id",),
    "tickets": ("ticket_id", "call_id"),
    "agents": ("agent_id",),
    "customers": ("customer_id",),
}


def topic_name(settings: Settings, kind: TopicKind) -> str:
    """The configured topic for a topic kind."""
    topics: dict[TopicKind, str] = {
        "calls": settings.topic_calls,
        "tickets": settings.topic_tickets,
        "agents": settings.topic_agents,
        "customers": settings.topic_customers,
    }
    return topics[kind]


def route(raw: bytes) -> tuple[TopicKind, str, float | None] | None:
    """Topic kind, key and event time (epoch s) of one recorded message; None if unroutable.

    Valid events route by their type; invalid ones (recorded dirty input) by the type's prefix
    and the contact id field, so that they still reach the processor and its dead-letter topic.
    """
    event = decode(raw)
    if not isinstance(event, Rejection):
        return event.topic_kind, event.contact_id, epoch_seconds(event.occurred_at)
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    if not isinstance(document, dict):
        return None
    kind = _KIND_BY_TYPE_PREFIX.get(str(document.get("type", "")).partition(".")[0])
    if kind is None:
        return None
    key = next((str(document[f]) for f in _KEY_FIELDS[kind] if document.get(f)), None)
    if key is None:
        return None
    at: float | None = None
    occurred_at = document.get("occurred_at")
    if isinstance(occurred_at, str):
        try:
            at = epoch_seconds(datetime.fromisoformat(occurred_at))
        except ValueError:
            at = None
    return kind, key, at


@dataclass(slots=True)
class PublishStats:
    """What a publisher has sent so far (updated live; safe to read from the same loop)."""

    events: int = 0
    """Clean contract events."""
    dirty: int = 0
    """Bad messages (rejects) added."""
    duplicates: int = 0
    """Exact resends of a clean event."""
    failed: int = 0
    """Messages the broker did not acknowledge."""
    last_at: float | None = None
    """Event time of the last clean event, epoch seconds."""

    @property
    def messages(self) -> int:
        return self.events + self.dirty + self.duplicates


class _Sender:
    """An aiokafka producer that counts acknowledgements without awaiting each send."""

    def __init__(self, settings: Settings, stats: PublishStats, *, fast: bool) -> None:
        from aiokafka import AIOKafkaProducer

        from stream.security import aiokafka_options

        self._settings = settings
        self._stats = stats
        self._error: BaseException | None = None
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id="stream-simulator",
            **aiokafka_options(settings),
            linger_ms=20 if fast else 0,
            max_batch_size=262_144 if fast else 16_384,
        )

    async def __aenter__(self) -> _Sender:
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._producer.flush()
        finally:
            await self._producer.stop()
        self._raise_failure()

    async def send(self, kind: TopicKind, key: str, value: bytes) -> None:
        self._raise_failure()
        future = await self._producer.send(
            topic_name(self._settings, kind), value, key=key.encode()
        )
        future.add_done_callback(self._acknowledged)

    def _acknowledged(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._stats.failed += 1
            if self._error is None:
                self._error = error

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the broker refused a message: {self._error!r}") from self._error


async def publish(
    settings: Settings,
    *,
    rate_multiplier: float = 1.0,
    duration: float | None = None,
    realtime: bool = True,
    dirty_ratio: float = 0.0,
    seed: int | None = None,
    queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
    stats: PublishStats | None = None,
    keep: Callable[[SimEvent], bool] | None = None,
) -> PublishStats:
    """Publish simulated traffic to the contract topics; returns what was sent.

    Realtime: the simulation starts now and each event is sent when the wall clock reaches its
    ``occurred_at``; runs for ``duration`` seconds, or until cancelled when None.
    Not realtime: simulates ``duration`` seconds (default one hour) ending now and sends them as
    fast as the broker takes them, so event times are recent but not in the future.
    ``seed`` None picks a random seed (logged). Pass ``stats`` to watch progress while it runs.
    ``keep``: only the events it is true of are sent (and counted); e.g. the helpdesk demo
    leaves the tickets to its webhook deliveries.
    """
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if seed is None:
        seed = secrets.randbits(32)
    stats = stats if stats is not None else PublishStats()
    wall_now = datetime.now(UTC)
    if realtime:
        start = wall_now
    else:
        duration = duration if duration is not None else _HOUR
        start = wall_now - timedelta(seconds=duration)
    simulation = Simulation(seed=seed, start=start, queues=queues, rate_multiplier=rate_multiplier)
    until = simulation.start + duration if duration is not None else None
    contaminator = Contaminator(dirty_ratio, seed ^ 0x5EED)
    log.info(
        "publishing simulated traffic (seed %d, rate x%g, %s)",
        seed,
        rate_multiplier,
        "real time" if realtime else "full speed",
        extra={
            "seed": seed,
            "realtime": realtime,
            "rate_multiplier": rate_multiplier,
            "duration_seconds": duration,
            "dirty_ratio": dirty_ratio,
            "broker_url": settings.broker_url,
        },
    )
    loop = asyncio.get_running_loop()
    clock0 = loop.time()
    async with _Sender(settings, stats, fast=not realtime) as sender:
        for item in simulation.events(until):
            if keep is not None and not keep(item):
                continue
            if realtime:
                delay = clock0 + (item.at - simulation.start) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            value = encode(item.event)
            await sender.send(item.kind, item.key, value)
            stats.events += 1
            stats.last_at = item.at
            for dirty in contaminator.after(item.kind, value):
                await sender.send(item.kind, item.key, dirty.value)
                if dirty.label == "duplicate":
                    stats.duplicates += 1
                else:
                    stats.dirty += 1
            if not realtime and stats.events % 1000 == 0:
                await asyncio.sleep(0)  # let acknowledgements and other tasks run
    log.info(
        "simulated traffic published: %d events, %d bad, %d duplicates",
        stats.events,
        stats.dirty,
        stats.duplicates,
        extra={"events": stats.events, "dirty": stats.dirty, "duplicates": stats.duplicates},
    )
    return stats


def write_ndjson(
    path: str | Path,
    n_events: int,
    seed: int,
    start: datetime,
    *,
    queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
    rate_multiplier: float = 1.0,
) -> int:
    """Record the first ``n_events`` events of a simulation as NDJSON; returns the count.

    One contract JSON object per line, in event-time order, exactly as `publish` sends them.
    """
    simulation = Simulation(seed=seed, start=start, queues=queues, rate_multiplier=rate_multiplier)
    written = 0
    with Path(path).open("wb") as fh:
        for item in itertools.islice(simulation.events(), n_events):
            fh.write(encode(item.event))
            fh.write(b"\n")
            written += 1
    return written


def start_ending_at(
    end: datetime,
    n_events: int,
    seed: int,
    *,
    queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
    rate_multiplier: float = 1.0,
) -> datetime:
    """The start at which the first ``n_events`` of a simulation end at ``end``.

    The model has no time of day (its rates are constant), so the same seed from a shifted
    start gives the same events shifted: a recording made with this start is recent history,
    not events from the future (which a worker rejects beyond ``STREAM_FUTURE_SKEW_SECONDS``).
    """
    simulation = Simulation(seed=seed, start=end, queues=queues, rate_multiplier=rate_multiplier)
    last = simulation.start
    for item in itertools.islice(simulation.events(), n_events):
        last = item.at
    return end - timedelta(seconds=last - simulation.start)


@dataclass(slots=True)
class ReplayStats:
    """What a replay has sent."""

    sent: int = 0
    skipped: int = 0
    """Lines with no recognisable type or contact id: not sent."""
    failed: int = 0


def _ndjson_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield line


async def replay(
    settings: Settings,
    path: str | Path,
    *,
    speed: float = 1.0,
    on_progress: Callable[[int], None] | None = None,
) -> ReplayStats:
    """Publish a recorded NDJSON file to the contract topics, each line's bytes unchanged.

    The topic follows the event type, the key is the contact id. ``speed`` 0 sends as fast as
    possible; otherwise the recorded gaps between ``occurred_at`` are kept, divided by
    ``speed``. ``on_progress(n)`` is called with the number of lines just handled.
    """
    if speed < 0 or not math.isfinite(speed):
        raise ValueError(f"speed must be >= 0, got {speed}")
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no such file: {source}")
    result = ReplayStats()
    stats = PublishStats()
    loop = asyncio.get_running_loop()
    clock0 = loop.time()
    first_at: float | None = None
    pending_progress = 0
    last_progress = time.monotonic()
    async with _Sender(settings, stats, fast=speed == 0) as sender:
        for line in _ndjson_lines(source):
            routing = route(line)
            if routing is None:
                result.skipped += 1
            else:
                kind, key, at = routing
                if speed > 0 and at is not None:
                    if first_at is None:
                        first_at = at
                    delay = clock0 + (at - first_at) / speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await sender.send(kind, key, line)
                result.sent += 1
            pending_progress += 1
            if on_progress is not None and (
                pending_progress >= 1000 or time.monotonic() - last_progress > 0.2
            ):
                on_progress(pending_progress)
                pending_progress, last_progress = 0, time.monotonic()
            if speed == 0 and result.sent % 1000 == 0:
                await asyncio.sleep(0)
    if on_progress is not None and pending_progress:
        on_progress(pending_progress)
    result.failed = stats.failed
    return result


def count_lines(path: str | Path) -> int:
    """Non-empty lines of a file (the total for a progress bar)."""
    return sum(1 for _ in _ndjson_lines(Path(path)))

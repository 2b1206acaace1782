"""Per-contact lifecycle: calls and tickets as pure transitions that yield KPI facts.

A call moves ``queued → talking ⇄ hold → wrap-up → done`` (``call.ended`` or ``call.transferred``
ends the talk), ``queued → abandoned`` or ``queued → exited`` (left the queue unanswered without
hanging up: not an abandon); ``call.offered`` and ``call.offer_missed`` change no phase (they open
and close a ring: ``CallRecord.rings``, ended by the answer or the call leaving), and ``queued →
callback → called back`` (the caller asked to be called back: ``call.callback_requested``, then
``call.callback_completed``). A ticket is created ``open`` and then changes status, gets messages,
escalations and surveys. Each accepted event returns the updated record and the *facts* it produces
(what the queue's KPIs book); an impossible event returns a ``Rejection``. Records also tell what
they contribute to the live gauges (waiting since, backlog status, awaiting first response since).

Time is always an argument (``t``, the event's ``occurred_at`` in epoch seconds).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final, Protocol, get_args

from stream.contract.decoder import Rejection
from stream.contract.events import (
    CallAbandoned,
    CallAnswered,
    CallCallbackCompleted,
    CallCallbackRequested,
    CallEnded,
    CallExited,
    CallHoldEnded,
    CallHoldStarted,
    CallOffered,
    CallOfferMissed,
    CallQueued,
    CallTransferred,
    CallWrapupCompleted,
    Priority,
    SurveyResponded,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatusChanged,
)
from stream.core.kpis.calls import answered_within_target, is_short_abandon
from stream.core.kpis.tickets import FCR_REOPEN_SECONDS, is_one_touch

# Call phases (ints keep records small).
QUEUED: Final = 0
TALKING: Final = 1
HOLD: Final = 2
WRAPUP: Final = 3
DONE: Final = 4
ABANDONED: Final = 5
EXITED: Final = 6  # left the queue unanswered (timeout, no agent, a key): not an abandon
CALLBACK: Final = 7  # left the queue for a callback that has not been made yet
CALLED_BACK: Final = 8  # the callback was made (connected, not answered or canceled)
PHASE_NAMES: Final = (
    "queued", "talking", "hold", "wrapup", "done", "abandoned", "exited", "callback", "called_back"
)  # fmt: skip

BACKLOG_STATUSES: Final = ("open", "pending", "on_hold")
# TicketRecord.flags
ONE_TOUCH: Final = 1  # the last solve counts as a first-contact resolution (not yet reopened)
FULL_RESOLUTION_BOOKED: Final = 2  # created → last solved was observed (at the first close)
PRIORITY_SHIFT: Final = 2  # flags >> 2: 1 + the index of the priority in TICKET_PRIORITIES; 0: none
TICKET_PRIORITIES: Final[tuple[str, ...]] = get_args(Priority)
_TERMINAL_TICKET: Final = frozenset({"solved", "closed"})

# A fact: (kind, channel-or-survey-kind, seconds-or-score, flag).
Fact = tuple[str, str, float, bool]


class TargetsLike(Protocol):
    """The targets a transition needs (``stream.config.Targets`` satisfies it)."""

    @property
    def answer_target_seconds(self) -> float: ...
    @property
    def short_abandon_seconds(self) -> float: ...
    @property
    def first_response_seconds(self) -> float: ...
    @property
    def resolution_seconds(self) -> float: ...
    @property
    def handle_time_seconds(self) -> float: ...


@dataclass(slots=True)
class CallRecord:
    """What the processor remembers of one call."""

    queue: str
    channel: str
    queued_at: float
    phase: int = QUEUED
    answered_at: float | None = None
    ended_at: float | None = None  # the talk ended; in a callback: the callback was requested
    hold_started_at: float | None = None
    hold_seconds: float = 0.0
    updated_at: float = 0.0
    seen: bytes = b""  # 16 bytes per applied event: event-id hash, source coordinates
    rings: int = 0  # offers ringing an agent now (call.offered not yet answered or missed)
    priority: str | None = None  # call.queued's priority (stream.core.kpis.flows: by priority)


@dataclass(slots=True)
class TicketRecord:
    """What the processor remembers of one ticket."""

    queue: str
    channel: str
    created_at: float
    status: str = "open"
    first_response_at: float | None = None
    first_solved_at: float | None = None
    public_agent_messages: int = 0
    escalated: bool = False
    reopened: int = 0
    category: str | None = None
    updated_at: float = 0.0
    seen: bytes = b""
    last_solved_at: float | None = None
    flags: int = 0  # ONE_TOUCH | FULL_RESOLUTION_BOOKED | priority << PRIORITY_SHIFT

    @property
    def priority(self) -> str | None:
        """``ticket.created``'s priority, kept in ``flags`` (a field would make every stored
        ticket a byte longer)."""
        index = self.flags >> PRIORITY_SHIFT
        return TICKET_PRIORITIES[index - 1] if index else None


ContactRecord = CallRecord | TicketRecord


def _reject(detail: str) -> Rejection:
    return Rejection("invalid_transition", detail)


def apply_call(
    rec: CallRecord | None, ev: object, t: float, queue: str, channel: str, targets: TargetsLike
) -> tuple[CallRecord, list[Fact]] | Rejection:
    """Apply one call event to its record; returns the new record and its facts, or why not."""
    if isinstance(ev, CallQueued):
        if rec is not None:
            return _reject(f"call already queued at {rec.queued_at}")
        priority = None if ev.priority is None else sys.intern(ev.priority)
        # Interned: records keep queue and channel, one string each rather than one per contact.
        queue, channel = sys.intern(queue), sys.intern(channel)
        new = CallRecord(queue, channel, t, updated_at=t, priority=priority)
        if ev.transferred_from is not None:  # the new leg of a transfer: in to this queue
            return new, [("offered", channel, 0.0, False), ("transferred_in", channel, 0.0, False)]
        return new, [("offered", channel, 0.0, False)]
    if rec is None:
        return Rejection("unknown_contact", "no call.queued seen for this call")
    phase = rec.phase
    ch = rec.channel
    if isinstance(ev, (CallAnswered, CallAbandoned)):
        if phase != QUEUED:
            return _reject(f"{type(ev).__name__} in phase {PHASE_NAMES[phase]}")
        wait = max(0.0, t - rec.queued_at)
        rec.updated_at = t
        rang, rec.rings = rec.rings, 0  # the call leaves the queue: no agent rings any more
        if isinstance(ev, CallAnswered):
            rec.phase, rec.answered_at = TALKING, t
            within = answered_within_target(wait, targets.answer_target_seconds)
            if rang:  # the answer of a ring (call.offered): the agent answer rate's numerator
                return rec, [("answered", ch, wait, within), ("offer_answered", ch, 0.0, False)]
            return rec, [("answered", ch, wait, within)]
        rec.phase = ABANDONED
        return rec, [("abandoned", ch, wait, is_short_abandon(wait, targets.short_abandon_seconds))]
    if isinstance(ev, CallExited):
        if phase != QUEUED:
            return _reject(f"call exited in phase {PHASE_NAMES[phase]}")
        rec.phase, rec.updated_at, rec.rings = EXITED, t, 0
        return rec, [(f"exited:{ev.reason}", ch, max(0.0, t - rec.queued_at), False)]
    if isinstance(ev, (CallCallbackRequested, CallCallbackCompleted)):
        return _callback(rec, ev, t)
    if isinstance(ev, CallOffered):
        rec.updated_at = max(rec.updated_at, t)
        if phase != QUEUED:
            return rec, []  # a ring that raced the answer or the caller's leaving: no offer
        rec.rings += 1
        return rec, [("offer", ch, 0.0, False)]
    if isinstance(ev, CallOfferMissed):
        rec.updated_at = max(rec.updated_at, t)
        rec.rings = max(0, rec.rings - 1)
        return rec, [(f"offer_missed:{ev.reason}", ch, ev.ring_seconds or 0.0, False)]
    if isinstance(ev, CallHoldStarted):
        if phase != TALKING:
            return _reject(f"hold started in phase {PHASE_NAMES[phase]}")
        rec.phase, rec.hold_started_at, rec.updated_at = HOLD, t, t
        return rec, []
    if isinstance(ev, CallHoldEnded):
        if phase != HOLD or rec.hold_started_at is None:
            return _reject(f"hold ended in phase {PHASE_NAMES[phase]}")
        rec.hold_seconds += max(0.0, t - rec.hold_started_at)
        rec.phase, rec.hold_started_at, rec.updated_at = TALKING, None, t
        return rec, []
    if isinstance(ev, (CallEnded, CallTransferred)):
        what = "ended" if isinstance(ev, CallEnded) else "transferred"
        if phase not in (TALKING, HOLD):
            return _reject(f"call {what} in phase {PHASE_NAMES[phase]}")
        if phase == HOLD and rec.hold_started_at is not None:
            rec.hold_seconds += max(0.0, t - rec.hold_started_at)
            rec.hold_started_at = None
        rec.phase, rec.ended_at, rec.updated_at = WRAPUP, t, t
        if isinstance(ev, CallTransferred):
            return rec, [(f"transferred:{ev.kind}", ch, 0.0, False)]
        if phase == HOLD and ev.ended_by == "customer":  # the caller hung up while on hold
            return rec, [("abandoned_on_hold", ch, 0.0, False)]
        return rec, []
    if isinstance(ev, CallWrapupCompleted):
        if phase != WRAPUP or rec.answered_at is None:
            return _reject(f"wrap-up completed in phase {PHASE_NAMES[phase]}")
        rec.phase, rec.updated_at = DONE, t
        # talk + hold + ACW = (ended − answered) + (wrapped − ended); flag: within the target
        handle = max(0.0, t - rec.answered_at)
        return rec, [("handled", ch, handle, handle <= targets.handle_time_seconds)]
    return Rejection("wrong_topic", f"{type(ev).__name__} is not a call event")


def _callback(
    rec: CallRecord, ev: CallCallbackRequested | CallCallbackCompleted, t: float
) -> tuple[CallRecord, list[Fact]] | Rejection:
    """A callback requested by a waiting caller (the call leaves the queue: value = its wait),
    or made (value = requested → made, the callback's wait)."""
    if isinstance(ev, CallCallbackRequested):
        if rec.phase != QUEUED:
            return _reject(f"callback requested in phase {PHASE_NAMES[rec.phase]}")
        rec.phase, rec.ended_at, rec.updated_at, rec.rings = CALLBACK, t, t, 0
        return rec, [("callback_requested", rec.channel, max(0.0, t - rec.queued_at), False)]
    if rec.phase != CALLBACK or rec.ended_at is None:
        return _reject(f"callback completed in phase {PHASE_NAMES[rec.phase]}")
    rec.phase, rec.updated_at = CALLED_BACK, t
    return rec, [(f"callback_completed:{ev.outcome}", rec.channel, max(0.0, t - rec.ended_at),
                  False)]  # fmt: skip


def apply_ticket(
    rec: TicketRecord | None, ev: object, t: float, queue: str, channel: str, targets: TargetsLike
) -> tuple[TicketRecord, list[Fact]] | Rejection:
    """Apply one ticket event to its record; returns the new record and its facts, or why not."""
    if isinstance(ev, TicketCreated):
        if rec is not None:
            return _reject(f"ticket already created at {rec.created_at}")
        category = None if ev.category is None else sys.intern(ev.category)
        flags = (
            0
            if ev.priority is None
            else (1 + TICKET_PRIORITIES.index(ev.priority)) << PRIORITY_SHIFT
        )
        queue, channel = sys.intern(queue), sys.intern(channel)  # one string each, as for calls
        new = TicketRecord(queue, channel, t, category=category, updated_at=t, flags=flags)
        return new, [("created", channel, 0.0, ev.category == "complaint")]
    if rec is None:
        return Rejection("unknown_contact", "no ticket.created seen for this ticket")
    ch = rec.channel
    rec.updated_at = max(rec.updated_at, t)
    if isinstance(ev, TicketMessageAdded):
        if ev.author != "agent" or not ev.public:
            return rec, []
        rec.public_agent_messages += 1
        if rec.first_response_at is not None:
            return rec, []
        rec.first_response_at = t
        frt = max(0.0, t - rec.created_at)
        return rec, [("first_response", ch, frt, frt <= targets.first_response_seconds)]
    if isinstance(ev, TicketStatusChanged):
        return _change_status(rec, ev.status, t, targets)
    if isinstance(ev, TicketEscalated):
        if rec.escalated:
            return rec, []
        rec.escalated = True
        return rec, [("escalated", ch, 0.0, False)]
    if isinstance(ev, TicketAssigned):
        return rec, []
    return Rejection("wrong_topic", f"{type(ev).__name__} is not a ticket event")


def _change_status(
    rec: TicketRecord, status: str, t: float, targets: TargetsLike
) -> tuple[TicketRecord, list[Fact]]:
    old = rec.status
    if status == old:
        return rec, []
    facts: list[Fact] = []
    if old in _TERMINAL_TICKET and not (old == "solved" and status == "closed"):
        facts.append(("reopened", rec.channel, 0.0, False))
        solved_at = rec.last_solved_at
        if rec.flags & ONE_TOUCH and solved_at is not None:
            rec.flags &= ~ONE_TOUCH
            if t - solved_at <= FCR_REOPEN_SECONDS:  # value: when the solve was booked
                facts.append(("one_touch_reopened", rec.channel, solved_at, False))
        rec.reopened += 1
    if status == "solved":
        if rec.first_solved_at is None:
            rec.first_solved_at = t
            resolution = max(0.0, t - rec.created_at)
            facts.append(("first_resolution", rec.channel, resolution,
                          resolution <= targets.resolution_seconds))  # fmt: skip
        rec.last_solved_at = t
        one_touch = is_one_touch(rec.public_agent_messages, rec.reopened)
        if one_touch:
            rec.flags |= ONE_TOUCH
        facts.append(("solved", rec.channel, 0.0, one_touch))
    elif (
        status == "closed"
        and rec.last_solved_at is not None
        and not rec.flags & FULL_RESOLUTION_BOOKED
    ):
        # Full resolution (created → last solved) is observed once, when the ticket first
        # closes: a histogram cannot take an observation back if a closed ticket is reopened.
        rec.flags |= FULL_RESOLUTION_BOOKED
        full = max(0.0, rec.last_solved_at - rec.created_at)
        facts.append(("full_resolution", rec.channel, full, False))
    rec.status = status
    return rec, facts


def survey_fact(ev: SurveyResponded) -> Fact:
    """The fact a survey response books: its kind and score."""
    return ("survey", ev.kind, float(ev.score), False)


def waiting_since(rec: ContactRecord) -> float | None:
    """When a call still waiting in queue was queued; ``None`` otherwise."""
    if isinstance(rec, CallRecord) and rec.phase == QUEUED:
        return rec.queued_at
    return None


def backlog_status(rec: ContactRecord) -> str | None:
    """The backlog status of an unsolved ticket; ``None`` for solved/closed tickets and calls."""
    if isinstance(rec, TicketRecord) and rec.status in BACKLOG_STATUSES:
        return rec.status
    return None


def awaiting_first_response_since(rec: ContactRecord) -> float | None:
    """Creation time of an unsolved ticket with no first response yet; ``None`` otherwise."""
    if (
        isinstance(rec, TicketRecord)
        and rec.first_response_at is None
        and rec.status in BACKLOG_STATUSES
    ):
        return rec.created_at
    return None


LiveView = tuple[float | None, str | None, float | None]
NOT_LIVE: Final[LiveView] = (None, None, None)


def live_view(rec: ContactRecord | None) -> LiveView:
    """What a contact adds to the live gauges, in one pass: (waiting since, backlog status,
    awaiting first response since); the three functions above, combined for speed. The instants
    are the record's own float objects, so the live index holds no copies."""
    if rec is None:
        return NOT_LIVE
    if type(rec) is CallRecord:
        return (rec.queued_at, None, None) if rec.phase == QUEUED else NOT_LIVE
    assert type(rec) is TicketRecord
    if rec.status not in BACKLOG_STATUSES:
        return NOT_LIVE
    if rec.first_response_at is None:
        return (None, rec.status, rec.created_at)
    return (None, rec.status, None)


def finished(rec: ContactRecord) -> bool:
    """True once nothing more is expected: a call done, abandoned, exited or called back, a
    ticket closed."""
    if isinstance(rec, CallRecord):
        return rec.phase in (DONE, ABANDONED, EXITED, CALLED_BACK)
    return rec.status == "closed"

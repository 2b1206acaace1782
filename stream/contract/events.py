"""The public event contract: one typed struct per event type.

This module owns the event types of the public contract (``design/contract.md``: calls, tickets,
surveys, agents, customers) as frozen msgspec structs forming one tagged union on ``type``, their
field types and static bounds. Bytes become these structs in ``stream.contract.decoder``.
"""

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Final, Literal, TypeAlias

import msgspec

__all__ = [
    "MIN_OCCURRED_AT",
    "SCORE_RANGES",
    "AgentEvent",
    "AgentState",
    "AgentStateChanged",
    "Author",
    "CallAbandoned",
    "CallAnswered",
    "CallCallbackCompleted",
    "CallCallbackRequested",
    "CallEnded",
    "CallEvent",
    "CallExited",
    "CallHoldEnded",
    "CallHoldStarted",
    "CallOfferMissed",
    "CallOffered",
    "CallQueued",
    "CallTransferred",
    "CallWrapupCompleted",
    "CallbackOutcome",
    "Channel",
    "CustomerChurned",
    "CustomerEvent",
    "EndedBy",
    "Event",
    "ExitReason",
    "MissReason",
    "OrderPlaced",
    "Priority",
    "SurveyKind",
    "SurveyResponded",
    "TicketAssigned",
    "TicketCreated",
    "TicketEscalated",
    "TicketEvent",
    "TicketMessageAdded",
    "TicketStatus",
    "TicketStatusChanged",
    "TopicKind",
    "TransferKind",
    "epoch_seconds",
]

# --- field types -------------------------------------------------------------------------------

EventId: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
ContactId: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
QueueName: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# tz=True makes msgspec reject RFC 3339 strings without an offset (naive timestamps).
OccurredAt: TypeAlias = Annotated[datetime, msgspec.Meta(tz=True)]

Channel: TypeAlias = Literal["phone", "chat", "email", "social", "web", "sms"]
Priority: TypeAlias = Literal["low", "normal", "high", "urgent"]
Author: TypeAlias = Literal["agent", "customer", "bot"]
TicketStatus: TypeAlias = Literal["open", "pending", "on_hold", "solved", "closed"]
SurveyKind: TypeAlias = Literal["csat", "nps"]
AgentState: TypeAlias = Literal["available", "busy", "after_call_work", "away", "offline"]
TopicKind: TypeAlias = Literal["calls", "tickets", "agents", "customers"]
ExitReason: TypeAlias = Literal["timeout", "empty", "key"]
TransferKind: TypeAlias = Literal["blind", "attended"]
MissReason: TypeAlias = Literal["no_answer", "rejected", "canceled"]
EndedBy: TypeAlias = Literal["customer", "agent", "system"]
CallbackOutcome: TypeAlias = Literal["connected", "no_answer", "canceled"]
# A short free-form code (a pause reason, a transfer target, a pressed key).
ShortText: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

# Earliest accepted event time. Static on purpose: the "too far in the future" bound needs a
# clock and is checked by the processor.
MIN_OCCURRED_AT: Final = datetime(2000, 1, 1, tzinfo=UTC)
SCORE_RANGES: Final[dict[str, tuple[int, int]]] = {"csat": (1, 5), "nps": (0, 10)}


# --- the envelope and the event families --------------------------------------------------------
# Subclasses inherit the envelope's struct options. gc=False is safe: fields are strings, numbers,
# datetimes and tuples of strings, which cannot form reference cycles. omit_defaults keeps encoded
# events minimal (no nulls). kw_only is repeated because msgspec applies it per class.


class _Envelope(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, omit_defaults=True, tag_field="type"
):
    """Fields every event carries; ``type`` is the tag and is not a field."""

    event_id: EventId
    occurred_at: OccurredAt
    queue: QueueName | None = None
    channel: Channel | None = None


class CallEvent(_Envelope, frozen=True, kw_only=True):
    """Base of the events on the ``calls`` topic, keyed by ``call_id``."""

    topic_kind: ClassVar[TopicKind] = "calls"
    call_id: ContactId

    @property
    def contact_id(self) -> str:
        return self.call_id


class TicketEvent(_Envelope, frozen=True, kw_only=True):
    """Base of the ticket lifecycle events on the ``tickets`` topic, keyed by ``ticket_id``."""

    topic_kind: ClassVar[TopicKind] = "tickets"
    ticket_id: ContactId

    @property
    def contact_id(self) -> str:
        return self.ticket_id


class AgentEvent(_Envelope, frozen=True, kw_only=True):
    """Base of the events on the ``agents`` topic, keyed by ``agent_id``."""

    topic_kind: ClassVar[TopicKind] = "agents"
    agent_id: ContactId

    @property
    def contact_id(self) -> str:
        return self.agent_id


class CustomerEvent(_Envelope, frozen=True, kw_only=True):
    """Base of the events on the ``customers`` topic, keyed by ``customer_id``."""

    topic_kind: ClassVar[TopicKind] = "customers"
    customer_id: ContactId

    @property
    def contact_id(self) -> str:
        return self.customer_id


# --- calls ----------------------------------------------------------------------------------------


class CallQueued(CallEvent, frozen=True, kw_only=True, tag="call.queued"):
    """The contact enters the queue: it is offered. ``transferred_from`` names the queue of the
    call leg an agent transferred here (a transfer in); ``priority`` is the call's priority."""

    queue: QueueName
    channel: Channel = "phone"
    priority: Priority | None = None
    transferred_from: QueueName | None = None


class CallAnswered(CallEvent, frozen=True, kw_only=True, tag="call.answered"):
    """An agent is connected; wait = answered - queued."""

    agent_id: ContactId


class CallAbandoned(CallEvent, frozen=True, kw_only=True, tag="call.abandoned"):
    """The customer left while queued."""


class CallHoldStarted(CallEvent, frozen=True, kw_only=True, tag="call.hold_started"):
    """The customer is put on hold (hold counts in handle time)."""


class CallHoldEnded(CallEvent, frozen=True, kw_only=True, tag="call.hold_ended"):
    """The customer is taken off hold."""


class CallEnded(CallEvent, frozen=True, kw_only=True, tag="call.ended"):
    """The conversation is over; after-call work starts. ``ended_by`` says who hung up: the
    customer ending a call on hold is an abandon on hold."""

    ended_by: EndedBy | None = None


class CallWrapupCompleted(CallEvent, frozen=True, kw_only=True, tag="call.wrapup_completed"):
    """After-call work is over; handle time = talk + hold + ACW."""


class CallExited(CallEvent, frozen=True, kw_only=True, tag="call.exited"):
    """The caller left the queue unanswered without hanging up (queue timeout, no agent could
    take it, a key pressed); ends a queued call, and is not an abandon."""

    reason: ExitReason
    key: ShortText | None = None
    position: Annotated[int, msgspec.Meta(ge=1)] | None = None


class CallTransferred(CallEvent, frozen=True, kw_only=True, tag="call.transferred"):
    """The agent transferred a connected call; ends the talk like ``call.ended``."""

    kind: TransferKind
    to: ShortText | None = None
    agent_id: ContactId | None = None


class CallOffered(CallEvent, frozen=True, kw_only=True, tag="call.offered"):
    """The call starts ringing an agent (a reservation, an alert); the ring ends with the
    agent's ``call.answered`` or ``call.offer_missed``, or with the call (abandoned, exited).
    Changes no phase."""

    agent_id: ContactId


class CallOfferMissed(CallEvent, frozen=True, kw_only=True, tag="call.offer_missed"):
    """The call rang an agent who did not take it; changes no phase."""

    agent_id: ContactId
    reason: MissReason
    ring_seconds: Annotated[float, msgspec.Meta(ge=0)] | None = None


class CallCallbackRequested(CallEvent, frozen=True, kw_only=True, tag="call.callback_requested"):
    """The waiting caller asked to be called back instead of waiting on the line: the call
    leaves the waiting calls (neither answered nor abandoned) and its callback waits."""


class CallCallbackCompleted(CallEvent, frozen=True, kw_only=True, tag="call.callback_completed"):
    """The requested callback was made (``outcome``): the callback stops waiting and the call
    is finished."""

    outcome: CallbackOutcome = "connected"
    agent_id: ContactId | None = None


# --- tickets --------------------------------------------------------------------------------------


class TicketCreated(TicketEvent, frozen=True, kw_only=True, tag="ticket.created"):
    """A new request; the ticket starts in status ``open``."""

    queue: QueueName
    channel: Channel
    priority: Priority | None = None
    customer_id: ContactId | None = None
    category: str | None = None


class TicketMessageAdded(TicketEvent, frozen=True, kw_only=True, tag="ticket.message_added"):
    """A reply or note; the first public agent message is the first response."""

    author: Author
    public: bool = True
    agent_id: ContactId | None = None


class TicketAssigned(TicketEvent, frozen=True, kw_only=True, tag="ticket.assigned"):
    """The ticket is assigned to an agent."""

    agent_id: ContactId


class TicketStatusChanged(TicketEvent, frozen=True, kw_only=True, tag="ticket.status_changed"):
    """A status change; ``solved`` ends resolution time, leaving solved/closed is a reopen."""

    status: TicketStatus


class TicketEscalated(TicketEvent, frozen=True, kw_only=True, tag="ticket.escalated"):
    """The ticket is escalated, optionally to a ``level`` (publishers send numbers or names)."""

    level: int | str | None = None


class SurveyResponded(_Envelope, frozen=True, kw_only=True, tag="survey.responded"):
    """A CSAT (1..5) or NPS (0..10) rating tied to exactly one ticket or call.

    Surveys travel on the ``tickets`` topic. The score range and the exactly-one-id rule depend
    on several fields, so ``decode`` checks them after msgspec has validated the types.
    """

    topic_kind: ClassVar[TopicKind] = "tickets"
    kind: SurveyKind
    score: int
    ticket_id: ContactId | None = None
    call_id: ContactId | None = None

    @property
    def contact_id(self) -> str:
        if self.ticket_id is not None:
            return self.ticket_id
        return self.call_id if self.call_id is not None else ""


# --- agents and customers -------------------------------------------------------------------------


class AgentStateChanged(AgentEvent, frozen=True, kw_only=True, tag="agent.state_changed"):
    """An agent's state changes; ``queues`` (when present) are the queues the agent serves."""

    state: AgentState
    queues: tuple[QueueName, ...] | None = None
    reason: ShortText | None = None  # why the agent is away (pause code, activity name)


class CustomerChurned(CustomerEvent, frozen=True, kw_only=True, tag="customer.churned"):
    """The customer cancelled (churn)."""

    reason: str | None = None


class OrderPlaced(CustomerEvent, frozen=True, kw_only=True, tag="order.placed"):
    """A purchase: conversion after contact."""

    value: Annotated[float, msgspec.Meta(ge=0)] | None = None


Event: TypeAlias = (
    CallQueued
    | CallAnswered
    | CallAbandoned
    | CallHoldStarted
    | CallHoldEnded
    | CallEnded
    | CallWrapupCompleted
    | CallExited
    | CallTransferred
    | CallOffered
    | CallOfferMissed
    | CallCallbackRequested
    | CallCallbackCompleted
    | TicketCreated
    | TicketMessageAdded
    | TicketAssigned
    | TicketStatusChanged
    | TicketEscalated
    | SurveyResponded
    | AgentStateChanged
    | CustomerChurned
    | OrderPlaced
)


def epoch_seconds(dt: datetime) -> float:
    """Seconds since the Unix epoch of a timezone-aware datetime.

    Naive datetimes are refused: ``datetime.timestamp`` would read them in the local time zone.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: an offset is required")
    return dt.timestamp()

"""Stage 1, pure: decode input messages, resolve each contact's queue, decide what is rejected.

Input topics are keyed by contact id, and only a contact's first event must name its queue; the
router remembers ``contact → (queue, channel)`` per source partition and forwards each accepted
event, tagged with its queue and source coordinates, to the aggregator (stage 2), which owns whole
queues. Rejections carry a reason for the dead-letter topic.

Agent events are keyed by agent, not by contact, and name no single queue: the router keeps each
agent's recent events (``stream.core.kpis.agents``) and forwards every event, seen from each queue
the agent is or was in (``AgentUpdate``), to that queue's partition, so each queue's agent
counts live with the queue's other numbers on one stage-2 partition.

Exactly-once effects under at-least-once delivery: ``RouterStats`` of a source topic-partition
records the last offset already counted; replayed messages at or below it are routed and
forwarded again (downstream records skip what they have) but not counted twice. Routes are
idempotent (set once) and written before the stats.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple, Protocol

import msgspec

from stream.contract.decoder import Rejection, decode
from stream.contract.events import (
    AgentEvent,
    AgentStateChanged,
    CallAbandoned,
    CallCallbackCompleted,
    CallEvent,
    CallExited,
    CallQueued,
    CallWrapupCompleted,
    CustomerChurned,
    CustomerEvent,
    Event,
    OrderPlaced,
    SurveyResponded,
    TicketCreated,
    TicketEvent,
    TicketStatusChanged,
)
from stream.core.dedup import ENTRY, coordinates, event_hash, find_seen
from stream.core.kpis.agents import AgentRecord, tell
from stream.core.kpis.productivity import (
    HistoryEvent,
    QueueEvent,
    contains,
    insert_event,
    seen_from,
)
from stream.core.kpis.reasons import with_reason
from stream.stages.forward import Item, item

log = logging.getLogger(__name__)

UNROUTED_TYPES: Final = frozenset({"agent.state_changed", "customer.churned", "order.placed"})


@dataclass(frozen=True, slots=True)
class Route:
    """Where a contact's events go: its queue and channel; when it finished (for expiry).

    Frozen: the route of an open contact is one object per queue and channel (``open_route``),
    shared by every open contact there; finishing or reopening replaces it."""

    queue: str
    channel: str
    finished_at: float | None = None


_OPEN_ROUTES: dict[tuple[str, str], Route] = {}
_OPEN_ROUTES_MAX: Final = 10_000


def open_route(queue: str, channel: str) -> Route:
    """The route of an open contact of ``queue`` and ``channel``, interned: shared by every
    open contact there (a route of its own is 56 bytes per open contact, tracemalloc). Past
    ``_OPEN_ROUTES_MAX`` pairs (queue names come from the input) a new route each."""
    found = _OPEN_ROUTES.get((queue, channel))
    if found is not None:
        return found
    route = Route(sys.intern(queue), sys.intern(channel))
    if len(_OPEN_ROUTES) < _OPEN_ROUTES_MAX:
        _OPEN_ROUTES[(route.queue, route.channel)] = route
    return route


def finished_route(queue: str, channel: str, finished_at: float) -> Route:
    """The route of a finished contact (expired ``finished_at`` + retention later)."""
    return Route(sys.intern(queue), sys.intern(channel), finished_at)


@dataclass(slots=True)
class RouterStats:
    """Per source topic-partition: last offset applied, rejections and unrouted events."""

    offset: int = -1
    rejected: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0


@dataclass(slots=True)
class SeenIds:
    """The last events of a customer (not forwarded, so de-duplicated here)."""

    seen: bytes = b""


SEEN_KEEP: Final = 64  # entries per customer; publisher retries arrive within these
DUPLICATE: Final = "<duplicate>"


class InputMessage(Protocol):
    """What the router reads of a Kafka message (aiokafka's ConsumerRecord fits as it is)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int | None:
        """The record's Kafka timestamp, ms since the epoch (``stream.core.latency``)."""


class Message(NamedTuple):
    """One input Kafka message as the router sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None = None


class AgentUpdate(NamedTuple):
    """An agent's events seen from one queue, for the queue's owner
    (``stream.core.kpis.agents``)."""

    queue: str
    agent_id: str
    events: list[QueueEvent]
    """The agent's events of the batch, or its whole history."""


class CustomerFact(NamedTuple):
    """A contact, churn or order of a customer, for the customer's stage-2 partition
    (``stream.core.kpis.customers``): kind ``contact`` (ident: hash of ``t:<ticket_id>``), ``churn``
    or ``order`` (ident: hash of the event id)."""

    kind: str
    customer_id: str
    at: float
    ident: bytes
    queue: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message with its reason, for the dead-letter topic."""

    reason: str
    detail: str
    message: InputMessage


@dataclass(slots=True)
class RouterOutput:
    """What one batch of one source partition produced."""

    forwards: list[Item] = field(default_factory=list)
    """Accepted events (``stream.stages.forward.Item``), in the order read."""
    forward_sizes: list[int] = field(default_factory=list)
    """Each forward's record value length (``stream.stages.forward.wire_size``)."""
    dead_letters: list[DeadLetter] = field(default_factory=list)
    route_writes: dict[str, Route | None] = field(default_factory=dict)
    seen_writes: dict[str, SeenIds] = field(default_factory=dict)
    agent_writes: dict[str, AgentRecord] = field(default_factory=dict)
    agent_updates: list[AgentUpdate] = field(default_factory=list)
    agent_events: dict[str, list[HistoryEvent]] = field(default_factory=dict)
    """Agents with an accepted event in this batch, and those events: their slots are sent once,
    at the end."""
    full_history: set[str] = field(default_factory=set)
    """Agents whose whole history goes to their queues (a queue first named, or a replay)."""
    history_writes: dict[tuple[str, float, bytes], HistoryEvent | None] = field(
        default_factory=dict
    )
    """Agents' events stored, or dropped by the prune (None), by (agent id, time, hash)."""
    customer_facts: list[CustomerFact] = field(default_factory=list)
    stats_changed: bool = False
    highs: dict[str, float] = field(default_factory=dict)
    """Per source topic-partition, the newest event time of the batch (``stream.core.progress``):
    every event with a valid time counts, rejected ones too — it is the partition's progress."""


def route_key(kind: str, contact_id: str) -> str:
    """Route table key of a contact: calls and tickets have separate id spaces."""
    return f"{kind}:{contact_id}"


@dataclass(slots=True)
class RouterPartition:
    """The router's state for one partition number (shared by all input topics)."""

    partition: int
    routes: dict[str, Route] = field(default_factory=dict)
    stats: dict[str, RouterStats] = field(default_factory=dict)
    seen: dict[str, SeenIds] = field(default_factory=dict)
    agents: dict[str, AgentRecord] = field(default_factory=dict)  # agent id → its state


class Router:
    """Routes batches of input messages; ``topic_kinds`` maps topic names to contract kinds."""

    def __init__(
        self, topic_kinds: dict[str, str], *, max_event_bytes: int, future_skew_seconds: float
    ) -> None:
        self.topic_kinds = topic_kinds
        self.max_event_bytes = max_event_bytes
        self.future_skew_seconds = future_skew_seconds

    def route(
        self, part: RouterPartition, messages: Sequence[InputMessage], wall_now: float
    ) -> RouterOutput:
        """Route messages of one partition (any input topic), in offset order per topic."""
        out = RouterOutput()
        for msg in messages:
            source = f"{msg.topic}/{msg.partition}"
            stats = part.stats.get(source)
            if stats is None:
                stats = part.stats[source] = RouterStats()
            # A replay (offset already counted) is routed and forwarded again — its forward may
            # have been lost in a crash; the aggregator skips what it already has — but its
            # counts are not added twice. Dead letters are re-sent: at-least-once, identified by
            # their source coordinates.
            replay = msg.offset <= stats.offset
            if not replay:
                stats.offset = msg.offset
                out.stats_changed = True
            try:
                verdict = self._route_one(part, msg, source, wall_now, out, replay)
            except Exception as exc:  # a bug must not stop the worker: the input is kept
                log.exception("routing failed", extra={"source": source, "offset": msg.offset})
                verdict = Rejection("processing_error", f"{type(exc).__name__}: {exc}"[:500])
            if isinstance(verdict, Rejection):
                out.dead_letters.append(DeadLetter(verdict.reason, verdict.detail, msg))
                if not replay:
                    stats.rejected[verdict.reason] = stats.rejected.get(verdict.reason, 0) + 1
            elif verdict == DUPLICATE:
                stats.duplicates += not replay
            elif verdict is not None and not replay:
                stats.accepted[verdict] = stats.accepted.get(verdict, 0) + 1
        # One update per agent and queue per batch, with the batch's events: the queue's owner
        # keeps every event once.
        for agent_id, events in out.agent_events.items():
            rec = part.agents[agent_id]
            if agent_id in out.full_history:
                send = rec.history
            else:
                send = [e for e in events if contains(rec.history, e)]  # not pruned at once
            out.agent_updates.extend(
                AgentUpdate(queue, agent_id, [seen_from(e, queue) for e in send])
                for queue in rec.told
            )
        return out

    def _route_one(
        self,
        part: RouterPartition,
        msg: InputMessage,
        source: str,
        wall_now: float,
        out: RouterOutput,
        replay: bool,
    ) -> Rejection | str | None:
        """Forward one message; returns a Rejection, an unrouted type to count, or None."""
        if msg.value is None:
            return Rejection("invalid_json", "empty message (tombstone)")
        # The key travels with the value in the forward: together they must fit the limit that
        # STREAM_PRODUCER_MAX_REQUEST_BYTES guarantees room for (a 1.2 MB key under a valid
        # event made a forward the producer refused, on every restart).
        if msg.key and (size := len(msg.key) + len(msg.value)) > self.max_event_bytes:
            return Rejection(
                "too_large",
                f"key and value are {size} bytes ({len(msg.key)} of key), "
                f"the limit is {self.max_event_bytes}",
            )
        ev = decode(msg.value, max_bytes=self.max_event_bytes)
        if isinstance(ev, Rejection):
            return ev
        kind = self.topic_kinds.get(msg.topic)
        if kind != ev.topic_kind:
            return Rejection("wrong_topic", f"{_type_of(ev)} does not belong on topic {msg.topic}")
        t = ev.occurred_at.timestamp()
        if t > wall_now + self.future_skew_seconds:
            return Rejection(
                "timestamp_out_of_range",
                f"occurred_at is {t - wall_now:.0f} s ahead of the clock",
            )
        high = out.highs.get(source)
        if high is None or t > high:
            out.highs[source] = t
        if isinstance(ev, AgentStateChanged):
            return self._agent(part, ev, t, out, replay)
        if isinstance(ev, CustomerEvent):
            verdict = self._remember(part, ev, source, msg.offset, out)
            if isinstance(ev, (CustomerChurned, OrderPlaced)) and verdict != DUPLICATE:
                # Replays too: the fact may have died with the worker; its owner skips it then.
                kind = "churn" if isinstance(ev, CustomerChurned) else "order"
                h = event_hash(ev.event_id)
                out.customer_facts.append(CustomerFact(kind, ev.customer_id, t, h, ""))
            return verdict
        target = self._resolve(part, ev, t, out)
        if isinstance(target, Rejection):
            return target
        queue, channel = target
        out.forwards.append(
            item(queue, channel, msg.topic, msg.partition, msg.offset, msg.key, ev, msg.value,
                 msg.timestamp)
        )  # fmt: skip
        out.forward_sizes.append(len(msg.value))
        if isinstance(ev, TicketCreated) and ev.customer_id is not None:
            # Every creation, replays and duplicates too: the owner keeps one per ticket.
            h = event_hash(route_key("t", ev.ticket_id))
            out.customer_facts.append(CustomerFact("contact", ev.customer_id, t, h, queue))
        return None

    @staticmethod
    def _remember(
        part: RouterPartition, ev: CustomerEvent, source: str, offset: int, out: RouterOutput
    ) -> str:
        """Count a customer event once: its type, or ``DUPLICATE``."""
        key = route_key("u", ev.contact_id)
        rec = part.seen.get(key)
        if rec is None:
            rec = part.seen[key] = SeenIds()
        h, coord = event_hash(ev.event_id), coordinates(source, offset)
        found = find_seen(rec.seen, h)
        if found is not None:
            return _type_of(ev) if found == coord else DUPLICATE
        rec.seen = (rec.seen + h + coord)[-SEEN_KEEP * ENTRY :]
        out.seen_writes[key] = rec
        return _type_of(ev)

    @staticmethod
    def _agent(
        part: RouterPartition, ev: AgentStateChanged, t: float, out: RouterOutput, replay: bool
    ) -> str:
        """Keep an agent event (``stream.core.kpis.agents``, ``.productivity``) and send it to every
        queue the agent was ever in; its type, or ``DUPLICATE``.

        The agent's history is its de-duplication memory: an event already in it (same time,
        same event-id hash) is a duplicate — unless it is a replay (same message after a crash),
        which re-sends the whole history, in case a forward died with the worker; the queue's
        owner skips what it has."""
        rec = part.agents.get(ev.agent_id)
        if rec is None:
            rec = part.agents[ev.agent_id] = AgentRecord()
        # An away reason rides in the stored state (``stream.core.kpis.reasons``): kept and restored
        # wherever the state is.
        state = with_reason(ev.state, ev.reason)
        event = (t, event_hash(ev.event_id), state, _queue_list(ev.queues))
        if contains(rec.history, event):
            if not replay:
                return DUPLICATE
        else:
            new, dropped = insert_event(rec.history, event)
            if new:
                out.history_writes[(ev.agent_id, t, event[1])] = event
            for old in dropped:
                out.history_writes[(ev.agent_id, old[0], old[1])] = None
        if tell(rec, ev.queues):
            out.agent_writes[ev.agent_id] = rec
            out.full_history.add(ev.agent_id)  # a new queue needs the agent's past as well
        if replay:
            out.full_history.add(ev.agent_id)
        out.agent_events.setdefault(ev.agent_id, []).append(event)
        return _type_of(ev)

    def _resolve(
        self, part: RouterPartition, ev: Event, t: float, out: RouterOutput
    ) -> tuple[str, str] | Rejection:
        if isinstance(ev, SurveyResponded):
            key = route_key("c" if ev.ticket_id is None else "t", ev.contact_id)
            route = part.routes.get(key)
            if route is not None:
                return route.queue, route.channel
            if ev.queue is not None:
                return ev.queue, ev.channel or "unknown"
            return Rejection("unknown_contact", f"survey for unknown contact {ev.contact_id!r}")
        is_call = isinstance(ev, CallEvent)
        key = route_key("c" if is_call else "t", ev.contact_id)
        route = part.routes.get(key)
        if isinstance(ev, (CallQueued, TicketCreated)):
            if route is None:
                assert ev.queue is not None  # required by the contract, enforced by decode
                channel = ev.channel or "phone"
                # Shared: every open contact of a queue and channel has the same route object
                # (a few hundred thousand open contacts would otherwise hold one each).
                route = part.routes[key] = open_route(ev.queue, channel)
                out.route_writes[key] = route
            # A second creation is forwarded too: the aggregator rejects it with the contact's
            # own history as the reason.
            return route.queue, route.channel
        if route is None:
            return Rejection("unknown_contact", f"{_type_of(ev)} for a contact never created")
        if _finishes(ev):
            if route.finished_at is None:
                route = part.routes[key] = finished_route(route.queue, route.channel, t)
                out.route_writes[key] = route
        elif route.finished_at is not None and isinstance(ev, TicketStatusChanged):
            # Leaving `closed` reopens the ticket: it is no longer finished, so keep its route.
            route = part.routes[key] = open_route(route.queue, route.channel)
            out.route_writes[key] = route
        return route.queue, route.channel

    def expire(self, part: RouterPartition, before: float) -> list[str]:
        """Forget routes of contacts finished before ``before``; returns the removed keys."""
        gone = [
            k
            for k, r in part.routes.items()
            if r.finished_at is not None and r.finished_at < before
        ]
        for k in gone:
            del part.routes[k]
        return gone


_QUEUE_LISTS: dict[tuple[str, ...], list[str]] = {}
_QUEUE_LISTS_MAX: Final = 10_000


def _queue_list(queues: tuple[str, ...] | None) -> list[str] | None:
    """An event's queue list as the history keeps it: sorted, without repeats, interned — and
    shared: agents name the same few lists over and over (never mutated)."""
    if queues is None:
        return None
    found = _QUEUE_LISTS.get(queues)
    if found is None:
        if len(_QUEUE_LISTS) >= _QUEUE_LISTS_MAX:
            _QUEUE_LISTS.clear()
        found = _QUEUE_LISTS[queues] = sorted({sys.intern(q) for q in queues})
    return found


def _finishes(ev: Event) -> bool:
    if isinstance(ev, (CallWrapupCompleted, CallAbandoned, CallExited, CallCallbackCompleted)):
        return True
    return isinstance(ev, TicketStatusChanged) and ev.status == "closed"


def _type_of(ev: Event | AgentEvent | CustomerEvent) -> str:
    """The contract ``type`` string of an event (its msgspec tag)."""
    return _tag(type(ev))


@functools.cache
def _tag(event_type: type[msgspec.Struct]) -> str:
    return str(event_type.__struct_config__.tag)


__all__ = [
    "AgentUpdate",
    "CustomerFact",
    "DeadLetter",
    "Message",
    "Route",
    "Router",
    "RouterOutput",
    "RouterPartition",
    "RouterStats",
    "TicketEvent",
    "route_key",
]

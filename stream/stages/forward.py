"""The internal topic's wire format: one item shape from the router to booking, and its codec.

Owns ``Item``, the one shape an accepted event has from the router's decode to the aggregator's
booking (its queue and channel, its source coordinates topic / partition / offset, the key, the
typed event, and the original value bytes when the dead-letter topic could not get them back
from the event), and the encoding of forwarded batches on ``<app_id>-kpi-by-queue``:

* **version 3** (written here): a msgpack array ``[3, items, agent_events, customers, marks]``
  holding every queue of one partition of the internal topic: the router sends one message per
  destination partition per batch (chunked under a size limit), not one per queue, so a fetch
  touching 400 queues is a handful of produce records, not 400. Each item names its queue (as in
  version 2); each agent entry is ``[queue, agent id, events]``. The partition is the one the
  producer's key hash gave the queue before (``stream.stages.pipeline.queue_partition``), so queues
  stay where their stored state is. Items keep their order (per queue, the order routed).
* **version 2** (read only): ``[2, queue, items, customers, agent_events, marks]``, one queue a
  message (``agent_events`` without their queue: the message's); each item an array (its last
  element, the source record's timestamp, may be missing: decoders ignore trailing elements
  they do not know and default missing ones), its event an array too (``[type number, field,
  ...]``, the
  contract fields in the struct's order, ``occurred_at`` as a msgpack timestamp). The router
  decoded and validated the JSON once; the aggregator books from the decoded ``Item`` without
  parsing JSON again. An item carries the record's value bytes only when re-encoding the event
  (``stream.contract.decoder.encode``) would not give them back byte for byte (another producer's
  spacing
  or key order, unknown fields, a non-UTC offset): the contract's own publishers send exactly
  that encoding, so their events cross the internal topic once, typed. A value over
  ``TYPED_MAX_VALUE_BYTES`` that cannot be reproduced travels as its bytes alone (decoded by the
  aggregator), so a forward stays within the request size an accepted event is promised.
* **version 1** (``ForwardBatch``, read only): the batches of workers before version 2, with
  each event's JSON value.

Versions 1 and 2 are read so that a rolling upgrade loses nothing already on the topic; a worker
before version 3 cannot read version 3 (upgrade every worker before the old ones' messages are
needed again: the format is read-compatible backwards only).

Type numbers (``EVENT_TYPES``) are part of the wire format: append new types, never reorder.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Union

import msgspec

from stream.contract.decoder import decode_trusted, encode
from stream.contract.events import (
    AgentStateChanged,
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
    CustomerChurned,
    Event,
    OrderPlaced,
    SurveyResponded,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatusChanged,
)
from stream.core.kpis.productivity import QueueEvent
from stream.core.progress import Report, source_partition

__all__ = [
    "EVENT_TYPES",
    "TYPED_MAX_VALUE_BYTES",
    "AgentEventsWire",
    "Batch",
    "CustomerFactWire",
    "ForwardBatch",
    "Item",
    "decode_batch",
    "encode_batch",
    "encode_version_2",
    "event_of",
    "item",
    "original_value",
    "type_name",
    "version",
    "wire_size",
]

EVENT_TYPES: Final[tuple[type[Event], ...]] = (
    CallQueued,
    CallAnswered,
    CallAbandoned,
    CallHoldStarted,
    CallHoldEnded,
    CallEnded,
    CallWrapupCompleted,
    CallExited,
    CallTransferred,
    CallOffered,
    CallOfferMissed,
    CallCallbackRequested,
    CallCallbackCompleted,
    TicketCreated,
    TicketMessageAdded,
    TicketAssigned,
    TicketStatusChanged,
    TicketEscalated,
    SurveyResponded,
    AgentStateChanged,
    CustomerChurned,
    OrderPlaced,
)
"""The contract's event types by wire number (their index): append only."""

VERSION: Final = 3
VERSION_2: Final = 2
TYPED_MAX_VALUE_BYTES: Final = 32 * 1024
"""A value at most this long that re-encoding cannot reproduce travels typed and as its bytes
(at most twice its size, within ``stream.config.FORWARD_FRAMING_BYTES`` of room); a longer one
as its bytes alone."""

_NUMBER: Final[dict[type, int]] = {cls: i for i, cls in enumerate(EVENT_TYPES)}
_UTC_OFFSET: Final = timedelta(0)


def _wire_type(number: int, cls: type[Event]) -> type:
    """The array-like twin of a contract type: a subclass (``isinstance`` and the class name
    hold), tagged with its wire number. Used to decode only: the public JSON stays an object."""
    options = {"array_like": True, "frozen": True, "kw_only": True, "tag": number}

    def body(ns: dict[str, Any]) -> None:
        ns["__module__"] = __name__
        ns["__qualname__"] = f"wire.{cls.__name__}"

    return types.new_class(cls.__name__, (cls,), options, body)


_WIRE_TYPES: Final = tuple(_wire_type(i, cls) for i, cls in enumerate(EVENT_TYPES))
_PUBLIC: Final[dict[type, type[Event]]] = {
    **{w: c for w, c in zip(_WIRE_TYPES, EVENT_TYPES, strict=True)},
    **{c: c for c in EVENT_TYPES},
}

_WIRE_NUMBER: Final[dict[type, int]] = {t: _NUMBER[c] for t, c in _PUBLIC.items()}
_TYPE_NAMES: Final[dict[type, str]] = {t: str(c.__struct_config__.tag) for t, c in _PUBLIC.items()}

if TYPE_CHECKING:
    WireEvent = Event
else:
    WireEvent = Union[_WIRE_TYPES]  # noqa: UP007 (a union built at run time)


class Item(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """An accepted event on its way to the queue that owns it, and while it is booked.

    ``event`` is None only for an item read from a version-1 batch or one too large to travel
    typed (``TYPED_MAX_VALUE_BYTES``): ``event_of`` decodes its ``raw`` then. ``raw`` is the
    record's value when ``stream.contract.decoder.encode(event)`` would not reproduce it, else
    None."""

    queue: str
    channel: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    event: WireEvent | None
    raw: bytes | None = None
    published_ms: int | None = None
    """The source record's Kafka timestamp (ms since the epoch: its producer's create time, or
    the broker's append time), for the publish → booked latency (``stream.core.latency``); None in
    items written before it travelled."""

    @property
    def source(self) -> str:
        """The source topic-partition, ``"topic/partition"`` (dedup coordinates, progress)."""
        return _source(self.topic, self.partition)


_SOURCES: dict[tuple[str, int], str] = {}


def _source(topic: str, partition: int) -> str:
    name = _SOURCES.get((topic, partition))
    if name is None:
        if len(_SOURCES) > 100_000:  # topic names come from the settings: never expected
            _SOURCES.clear()
        name = _SOURCES[(topic, partition)] = f"{topic}/{partition}"
    return name


def item(
    queue: str,
    channel: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    event: Event,
    value: bytes,
    published_ms: int | None = None,
) -> Item:
    """The item of an accepted event decoded from ``value``: the bytes kept only when the
    aggregator could not get them back from the event (see the module's docstring)."""
    if event.occurred_at.utcoffset() == _UTC_OFFSET and encode(event) == value:
        return Item(queue, channel, topic, partition, offset, key, event, None, published_ms)
    if len(value) > TYPED_MAX_VALUE_BYTES:
        return Item(queue, channel, topic, partition, offset, key, None, value, published_ms)
    return Item(queue, channel, topic, partition, offset, key, event, value, published_ms)


def event_of(it: Item) -> Event:
    """The item's event (decoded from its bytes when it travelled as bytes alone)."""
    if it.event is not None:
        return it.event
    assert it.raw is not None  # an item has its event, its bytes, or both
    return decode_trusted(it.raw)


def original_value(it: Item) -> bytes:
    """The record's value as it was read from the source topic (dead letters promise it)."""
    if it.raw is not None:
        return it.raw
    assert it.event is not None
    ev = it.event
    public = _PUBLIC[type(ev)]
    if type(ev) is not public:  # the array-like twin: encode the contract's object form
        ev = public(**msgspec.structs.asdict(ev))
    return encode(ev)


def type_name(ev: Event) -> str:
    """The contract ``type`` of an event (the array-like twins' tag is their number)."""
    return _TYPE_NAMES[type(ev)]


def wire_size(it: Item, value_bytes: int) -> int:
    """An upper bound of the item's encoded size (``value_bytes``: the record's value length;
    the typed event is never longer than the JSON it was decoded from)."""
    n = len(it.queue) + len(it.channel) + len(it.topic) + len(it.key or b"") + 40
    if it.event is not None:
        n += value_bytes
    if it.raw is not None:
        n += len(it.raw)
    return n


CustomerFactWire = tuple[str, str, float, bytes, str]
"""A customer fact as a batch carries it (kind, customer id, at, ident, queue)."""


AgentEventsWire = tuple[str, str, list[QueueEvent]]
"""An agent's events as seen from one queue (queue, agent id, events)."""


class Batch(NamedTuple):
    """A forwarded message as read: its queue (versions 1 and 2; ``""`` for version 3, whose
    items and agent entries name theirs), items, customer facts, agents' events with their
    queue, and progress reports (any version)."""

    queue: str
    items: list[Item]
    customers: list[CustomerFactWire]
    agent_events: list[AgentEventsWire]
    marks: list[Report]
    older_agents: bool = False
    """A version-1 batch with agent states of workers before per-event agent records (ignored)."""


class ForwardBatch(msgspec.Struct, array_like=True, gc=False):
    """Version 1 of the internal message (read only): accepted events of one queue as their
    JSON values."""

    queue: str
    items: list[tuple[str, str, int, bytes | None, bytes]]  # channel, source, offset, key, value
    agents: list[Any] = msgspec.field(default_factory=list)
    """Unused: senders before per-event agent records put numbered agent states here."""
    customers: list[CustomerFactWire] = msgspec.field(default_factory=list)
    timelines: list[Any] = msgspec.field(default_factory=list)
    """Unused: senders before per-event agent records put whole timelines here."""
    agent_events: list[tuple[str, list[QueueEvent]]] = msgspec.field(default_factory=list)
    marks: list[Report] = msgspec.field(default_factory=list)


class _Batch2(msgspec.Struct, array_like=True, gc=False, tag=VERSION_2):
    queue: str
    items: list[Item]
    customers: list[CustomerFactWire]
    agent_events: list[tuple[str, list[QueueEvent]]]
    marks: list[Report]


class _Batch3(msgspec.Struct, array_like=True, gc=False, tag=VERSION):
    items: list[Item]
    agent_events: list[AgentEventsWire]
    customers: list[CustomerFactWire]
    marks: list[Report]


_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODER_TAGGED: Final = msgspec.msgpack.Decoder(_Batch2 | _Batch3)
_DECODER_V1: Final = msgspec.msgpack.Decoder(ForwardBatch)
_astuple = msgspec.structs.astuple


def _wire_item(it: Item) -> tuple[Any, ...]:
    ev = it.event
    event = None if ev is None else (_WIRE_NUMBER[type(ev)], *_astuple(ev))
    return (it.queue, it.channel, it.topic, it.partition, it.offset, it.key, event, it.raw,
            it.published_ms)  # fmt: skip


def encode_batch(
    items: Sequence[Item] = (),
    *,
    agent_events: Sequence[AgentEventsWire] = (),
    customers: Sequence[CustomerFactWire] = (),
    marks: Sequence[Report] = (),
) -> bytes:
    """A version-3 forwarded message: items of any queues of one partition, in order."""
    wire = [_wire_item(it) for it in items]
    return _ENCODER.encode((VERSION, wire, agent_events, customers, marks))


def encode_version_2(
    queue: str,
    items: Sequence[Item] = (),
    *,
    customers: Sequence[CustomerFactWire] = (),
    agent_events: Sequence[tuple[str, list[QueueEvent]]] = (),
    marks: Sequence[Report] = (),
) -> bytes:
    """A version-2 forwarded message of one queue, as workers before version 3 wrote it (not
    written by the worker: kept to check that such messages are still read)."""
    wire = [_wire_item(it) for it in items]
    return _ENCODER.encode((VERSION_2, queue, wire, customers, agent_events, marks))


def version(payload: bytes) -> int:
    """A forwarded message's version: 2 or 3 when it is an array whose first element is that
    number, else 1 (version 1 starts with its queue, a string)."""
    fixarray = len(payload) > 1 and 0x90 <= payload[0] <= 0x9F  # the first element follows
    if fixarray and payload[1] in (VERSION_2, VERSION):
        return payload[1]
    return 1


def is_version_2(payload: bytes) -> bool:
    """Whether a forwarded message is version 2."""
    return version(payload) == VERSION_2


def decode_batch(payload: bytes) -> Batch:
    """A forwarded message of any version (``msgspec.DecodeError`` if it is none)."""
    if version(payload) != 1:
        b = _DECODER_TAGGED.decode(payload)
        if isinstance(b, _Batch3):
            return Batch("", b.items, b.customers, b.agent_events, b.marks)
        queue = b.queue
        agents = [(queue, agent_id, evs) for agent_id, evs in b.agent_events]
        return Batch(queue, b.items, b.customers, agents, b.marks)
    b1 = _DECODER_V1.decode(payload)
    queue = b1.queue
    items = [
        Item(queue, channel, source.rpartition("/")[0], source_partition(source), offset, key,
             None, value)
        for channel, source, offset, key, value in b1.items
    ]  # fmt: skip
    older = bool(b1.agents) and not b1.agent_events
    agents = [(queue, agent_id, evs) for agent_id, evs in b1.agent_events]
    return Batch(queue, items, b1.customers, agents, b1.marks, older)

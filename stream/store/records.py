"""Table keys and the binary encoding of every stored record (msgpack via msgspec).

Keys start with the partition number they belong to — ``b"3|q|billing"``, ``b"3|c:call-1"``,
``b"3|r|t:ticket-9"``, ``b"3|o|agent-7"`` (the queues an agent was told, routes table), an
agent's events one record each — ``b"3|h|agent-7|<time>|<hash>"`` (routes table) and
``b"3|e|7:billing|agent-7|<time>|<hash>"`` (seen from a queue, aggregates table), so a new
event writes a few bytes, not the agent's whole history —, ``b"3|u|cust-1"`` and
``b"3|k|customers"`` (a customer's contacts and churns, a partition's churn counts:
``stream.core.kpis.customers``, aggregates table), ``b"3|w|progress"`` (the source partitions'
event-time progress and the watermark: ``stream.core.progress``, aggregates table),
``b"3|x|refusals"`` (events rejected as ``too_many_queues``: ``stream.core.admission``, aggregates
table) — so the table
writes each record to that changelog partition and a worker can tell, after a rebalance, which
records it owns. The kind
after the partition says which type to decode; kinds this version does not know (``g`` and
``a`` of older versions, which kept agents' events inline) are skipped on recovery.

Contact records and routes — one per open contact, so most of the stored bytes — are encoded as
msgpack arrays of their fields in declaration order (a map would repeat every field name in
every record: 191 bytes for a new ticket instead of 64). Records written as maps still decode.
New fields go at the end with a default.
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter
from typing import Any, Final

import msgspec

from stream.core.admission import Refusals
from stream.core.kpis.agents import AgentRecord
from stream.core.kpis.customers import Churn, Contact, CustomerRecord, CustomerTotals, Order
from stream.core.kpis.productivity import HistoryEvent, QueueEvent
from stream.core.lifecycle import CallRecord, TicketRecord
from stream.core.progress import Progress
from stream.stages.aggregate import QueueRecord
from stream.stages.route import Route, RouterStats, SeenIds

Row = CallRecord | TicketRecord | Route | AgentRecord  # stored as arrays
Stored = QueueRecord | RouterStats | SeenIds | CustomerRecord | CustomerTotals | Progress
Record = Row | Stored | Refusals

_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODERS: Final[dict[str, msgspec.msgpack.Decoder[Any]]] = {  # the other kinds: _ROWS
    "q": msgspec.msgpack.Decoder(QueueRecord),
    "s": msgspec.msgpack.Decoder(RouterStats),
    "d": msgspec.msgpack.Decoder(SeenIds),
    "u": msgspec.msgpack.Decoder(
        CustomerRecord
    ),  # a customer (stream.core.kpis.customers), as a map
    "k": msgspec.msgpack.Decoder(CustomerTotals),  # a partition's churn counts
    "w": msgspec.msgpack.Decoder(Progress),  # the sources' progress and the watermark
    "x": msgspec.msgpack.Decoder(Refusals),  # events rejected as too_many_queues
}


_ROWS: Final[dict[str, type[Row]]] = {
    "c": CallRecord,
    "t": TicketRecord,
    "r": Route,
    "o": AgentRecord,
}
_UNSTORED: Final = frozenset({"history"})  # an agent's events: records of their own
_STORED: Final[dict[type, list[str]]] = {
    cls: [f.name for f in dataclasses.fields(cls) if f.name not in _UNSTORED]
    for cls in _ROWS.values()
}
_FIELDS: Final[dict[type, Any]] = {  # record → tuple of its stored fields
    cls: attrgetter(*names) if len(names) > 1 else lambda r, n=names[0]: (getattr(r, n),)
    for cls, names in _STORED.items()
}
_ANY: Final = msgspec.msgpack.Decoder()


def encode(record: Record) -> bytes:
    """The stored bytes of a record."""
    if isinstance(record, CustomerRecord):
        return encode_customer(record)
    fields = _FIELDS.get(type(record))
    return _ENCODER.encode(record if fields is None else fields(record))


def key(partition: int, name: str) -> bytes:
    """Table key of record ``name`` (``"q|<queue>"``, ``"c:<id>"``, ...) in ``partition``."""
    return f"{partition}|{name}".encode()


_CUSTOMER_ROW: Final = msgspec.msgpack.Decoder(
    tuple[str, tuple[Contact, ...], tuple[Churn, ...], tuple[Order, ...]]
)


def encode_customer(rec: CustomerRecord) -> bytes:
    """A customer's stored bytes: an array of its fields (what the worker keeps in memory too:
    a few dozen bytes instead of a record, tuples and their items)."""
    return _ENCODER.encode((rec.customer_id, rec.contacts, rec.churns, rec.orders))


def decode_customer(value: bytes) -> CustomerRecord:
    """A customer from its stored bytes (``encode_customer``, or a map as stored before)."""
    if is_older_customer(value):
        return _DECODERS["u"].decode(value)  # type: ignore[no-any-return]
    return CustomerRecord(*_CUSTOMER_ROW.decode(value))


def is_older_customer(value: bytes) -> bool:
    """Whether a customer's stored bytes are a map, as stored before ``encode_customer``."""
    return 0x80 <= value[0] <= 0x8F or value[0] in (0xDE, 0xDF)  # a msgpack map


def known(name: str) -> bool:
    """Whether this version stores records of the kind of ``name`` (``h`` and ``e`` aside)."""
    return name[0] in _ROWS or name[0] in _DECODERS


def history_name(agent_id: str, at: float, tie: bytes) -> str:
    """Record name of one event in an agent's history (routes table)."""
    return f"h|{agent_id}|{at!r}|{tie.hex()}"


def agent_event_name(queue: str, agent_id: str, at: float, tie: bytes) -> str:
    """Record name of one of an agent's events seen from a queue (aggregates table); the
    queue's length keeps it unambiguous."""
    return f"e|{len(queue)}:{queue}|{agent_id}|{at!r}|{tie.hex()}"


def encode_event(state: str, last: list[str] | bool | None) -> bytes:
    """Stored bytes of an agent's event: its state and queue list (or membership)."""
    return _ENCODER.encode((state, last))


def decode_history(name: str, value: bytes) -> tuple[str, HistoryEvent]:
    """``(agent id, event)`` of a stored history record (``history_name``)."""
    agent_id, at, tie = name[2:].rsplit("|", 2)
    state, queues = _ANY.decode(value)
    return agent_id, (float(at), bytes.fromhex(tie), state, queues)


def decode_agent_event(name: str, value: bytes) -> tuple[str, str, QueueEvent]:
    """``(queue, agent id, event)`` of a stored agent event record (``agent_event_name``)."""
    length, _, rest = name[2:].partition(":")
    queue, rest = rest[: int(length)], rest[int(length) + 1 :]
    agent_id, at, tie = rest.rsplit("|", 2)
    state, member = _ANY.decode(value)
    return queue, agent_id, (float(at), bytes.fromhex(tie), state, member)


def split_key(raw: bytes | str) -> tuple[int, str]:
    """``(partition, name)`` of a table key."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    head, _, name = text.partition("|")
    return int(head), name


def decode(name: str, value: bytes) -> Record:
    """Decode a stored record; its type follows from the key name's kind letter."""
    if name[0] == "u":
        return decode_customer(value)
    row_type = _ROWS.get(name[0])
    if row_type is None:
        return _DECODERS[name[0]].decode(value)  # type: ignore[no-any-return]
    raw = _ANY.decode(value)
    if isinstance(raw, dict):
        return row_type(**{k: v for k, v in raw.items() if k not in _UNSTORED})
    return row_type(*raw)


def partition_of(raw: bytes | str) -> int:
    """Partition number a table key belongs to."""
    return split_key(raw)[0]

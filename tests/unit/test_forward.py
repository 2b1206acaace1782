"""The internal topic's wire format (``stream/stages/forward.py``): events decoded once and carried
typed, their original bytes kept when re-encoding would not give them back, and version-1
batches (JSON values, written by workers before version 2) read with the same results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import msgspec
import pytest

from stream.contract import decoder, events
from stream.contract.events import CallAnswered, CallQueued, Event, TicketCreated
from stream.stages.forward import (
    EVENT_TYPES,
    TYPED_MAX_VALUE_BYTES,
    ForwardBatch,
    Item,
    decode_batch,
    encode_batch,
    encode_version_2,
    event_of,
    is_version_2,
    item,
    original_value,
    type_name,
    version,
)
from tests.pipeline_harness import T0, Harness, Input, call, ticket

AT = datetime.fromtimestamp(T0, UTC)


def one_of_each() -> list[Event]:
    """One event of every contract type, every optional field set where there is one."""
    at = AT
    c: dict[str, Any] = {"event_id": "e", "occurred_at": at, "call_id": "c1"}
    t: dict[str, Any] = {"event_id": "e", "occurred_at": at, "ticket_id": "t1"}
    out: list[Event] = [
        events.CallQueued(**c, queue="billing", channel="chat", priority="high",
                          transferred_from="sales"),
        events.CallAnswered(**c, agent_id="a1"),
        events.CallAbandoned(**c),
        events.CallHoldStarted(**c),
        events.CallHoldEnded(**c),
        events.CallEnded(**c, ended_by="customer"),
        events.CallWrapupCompleted(**c),
        events.CallExited(**c, reason="key", key="9", position=3),
        events.CallTransferred(**c, kind="blind", to="sales", agent_id="a1"),
        events.CallOffered(**c, agent_id="a1"),
        events.CallOfferMissed(**c, agent_id="a1", reason="no_answer", ring_seconds=12.25),
        events.CallCallbackRequested(**c),
        events.CallCallbackCompleted(**c, outcome="no_answer", agent_id="a1"),
        events.TicketCreated(**t, queue="support", channel="email", priority="urgent",
                             customer_id="u1", category="complaint"),
        events.TicketMessageAdded(**t, author="agent", public=False, agent_id="a1"),
        events.TicketAssigned(**t, agent_id="a1"),
        events.TicketStatusChanged(**t, status="solved"),
        events.TicketEscalated(**t, level="tier 2"),
        events.SurveyResponded(event_id="e", occurred_at=at, kind="nps", score=9, call_id="c1"),
        events.AgentStateChanged(event_id="e", occurred_at=at, agent_id="a1", state="away",
                                 queues=("billing", "sales"), reason="lunch"),
        events.CustomerChurned(event_id="e", occurred_at=at, customer_id="u1", reason="price"),
        events.OrderPlaced(event_id="e", occurred_at=at, customer_id="u1", value=19.99),
    ]  # fmt: skip
    return out


def test_every_contract_type_has_one_wire_number() -> None:
    assert sorted(t.__name__ for t in EVENT_TYPES) == sorted(t.__name__ for t in get_args(Event))
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES) == 22
    assert {type(e) for e in one_of_each()} == set(EVENT_TYPES)


def test_events_in_the_contracts_own_encoding_travel_typed_without_their_bytes() -> None:
    sent = one_of_each()
    values = [decoder.encode(e) for e in sent]
    items = [
        item("q", "phone", "calls", 3, i, b"k", e, v)
        for i, (e, v) in enumerate(zip(sent, values, strict=True))
    ]
    assert [it.raw for it in items] == [None] * 22
    payload = encode_batch(items)
    assert version(payload) == 3
    got = decode_batch(payload)
    assert got.queue == ""  # version 3: each item names its queue
    for it, ev, value in zip(got.items, sent, values, strict=True):
        assert isinstance(it.event, type(ev))
        assert type(it.event).__name__ == type(ev).__name__  # rejection details name the type
        assert msgspec.structs.asdict(it.event) == msgspec.structs.asdict(ev)
        assert type_name(it.event) == type_name(ev) == str(type(ev).__struct_config__.tag)
        assert original_value(it) == value  # what a dead letter of it carries
        assert (it.topic, it.partition, it.offset, it.key, it.source) == (
            "calls", 3, it.offset, b"k", "calls/3")  # fmt: skip
    # typed, with their coordinates (and no record timestamp: one byte each), the 22 events take
    # 38 % of their JSON's bytes
    assert len(payload) == 1022
    assert sum(map(len, values)) == 2711


@pytest.mark.parametrize(
    "value",
    [
        b'{"type": "call.answered", "event_id": "e", "occurred_at": "2026-11-22T10:00:00Z",'
        b' "call_id": "c1", "agent_id": "a1"}',  # spaces
        b'{"event_id":"e","type":"call.answered","occurred_at":"2026-11-22T10:00:00Z",'
        b'"call_id":"c1","agent_id":"a1"}',  # another key order
        b'{"type":"call.answered","event_id":"e","occurred_at":"2026-11-22T10:00:00Z",'
        b'"call_id":"c1","agent_id":"a1","note":[1,2]}',  # an unknown field
        b'{"type":"call.answered","event_id":"e","occurred_at":"2026-11-22T11:00:00+01:00",'
        b'"call_id":"c1","agent_id":"a1"}',  # not UTC
        b'{"type":"call.answered","event_id":"e","occurred_at":"2026-11-22T10:00:00+00:00",'
        b'"call_id":"c1","agent_id":"a1"}',  # UTC, written otherwise
        b'{"type":"call.answered","event_id":"e","occurred_at":"2026-11-22T10:00:00.000Z",'
        b'"call_id":"c1","agent_id":"a1"}',  # UTC, written otherwise
    ],
)
def test_bytes_that_re_encoding_would_not_give_back_travel_with_the_event(value: bytes) -> None:
    ev = decoder.decode(value)
    assert isinstance(ev, CallAnswered)
    (got,) = decode_batch(encode_batch([item("q", "phone", "calls", 0, 7, None, ev, value)])).items
    assert got.raw == value
    assert original_value(got) == value
    assert isinstance(got.event, CallAnswered)
    assert got.event.occurred_at.timestamp() == datetime(2026, 11, 22, 10, tzinfo=UTC).timestamp()


def test_a_large_value_re_encoding_would_not_give_back_travels_as_its_bytes_alone() -> None:
    pad = b"x" * TYPED_MAX_VALUE_BYTES
    value = (
        b'{"type":"call.queued","event_id":"e","occurred_at":"2026-11-22T10:00:00Z",'
        b'"call_id":"c1","queue":"q","pad":"' + pad + b'"}'
    )
    ev = decoder.decode(value, max_bytes=2 * TYPED_MAX_VALUE_BYTES)
    assert isinstance(ev, CallQueued)
    it = item("q", "phone", "calls", 0, 7, None, ev, value)
    assert (it.event, it.raw) == (None, value)  # at most its own size on the internal topic
    (got,) = decode_batch(encode_batch([it])).items
    assert (got.event, got.raw) == (None, value)
    assert event_of(got) == ev
    assert original_value(got) == value
    # a value as long that re-encoding gives back still travels typed
    same = events.CallQueued(event_id="e", occurred_at=AT, call_id="c1", queue="q" * 64)
    big = decoder.encode(same)
    assert item("q", "phone", "calls", 0, 8, None, same, big).raw is None


def test_a_version_1_batch_reads_as_items_with_their_json() -> None:
    value = decoder.encode(events.CallAnswered(event_id="e", occurred_at=AT, call_id="c1",
                                              agent_id="a1"))  # fmt: skip
    old = msgspec.msgpack.encode(
        ForwardBatch("billing", [("chat", "calls/5", 42, b"c1", value)], customers=[])
    )
    assert not is_version_2(old)
    batch = decode_batch(old)
    assert batch.queue == "billing"
    assert batch.items == [Item("billing", "chat", "calls", 5, 42, b"c1", None, value)]
    assert event_of(batch.items[0]) == decoder.decode(value)
    assert not is_version_2(msgspec.msgpack.encode(ForwardBatch("", [], marks=[])))
    assert not is_version_2(b"")


def _by_queue(payload: bytes) -> tuple[dict[str, Any], Any]:
    """A version-3 message's items and agents' events per queue (in order), and the message."""
    b = decode_batch(payload)
    queues: dict[str, Any] = {}
    for it in b.items:
        queues.setdefault(it.queue, ([], []))[0].append(it)
    for queue, agent_id, evs in b.agent_events:
        queues.setdefault(queue, ([], []))[1].append((agent_id, evs))
    return queues, b


def _as_version_1(payload: bytes) -> list[bytes]:
    """A forwarded message as workers before version 2 wrote it: one message per queue, the
    customer facts and progress reports in one of their own."""
    queues, b = _by_queue(payload)
    out = [
        msgspec.msgpack.encode(ForwardBatch(queue, [
            (it.channel, it.source, it.offset, it.key, original_value(it)) for it in items
        ], agent_events=agents))
        for queue, (items, agents) in queues.items()
    ]  # fmt: skip
    if b.customers or b.marks:
        out.append(msgspec.msgpack.encode(ForwardBatch("", [], customers=b.customers,
                                                       marks=b.marks)))  # fmt: skip
    return out


def _as_version_2(payload: bytes) -> list[bytes]:
    """A forwarded message as workers before version 3 wrote it (one message per queue)."""
    queues, b = _by_queue(payload)
    out = [
        encode_version_2(queue, items, agent_events=agents)
        for queue, (items, agents) in queues.items()
    ]
    if b.customers or b.marks:
        out.append(encode_version_2("", customers=b.customers, marks=b.marks))
    return out


OLDER = {1: _as_version_1, 2: _as_version_2}


def _canonical(inp: Input) -> Input:
    """The same input in the contract's own encoding (``stream.contract.decoder.encode``)."""
    topic, key, value = inp
    assert value is not None
    ev = decoder.decode(value)
    assert not isinstance(ev, decoder.Rejection)
    return topic, key, decoder.encode(ev)


def scenario() -> list[Input]:
    """Calls and tickets, in the contract's encoding and another one, with rejections the
    aggregator makes (a call queued twice, an answer after the abandon)."""
    inputs = [
        call("e1", "call.queued", 0, "c1", queue="billing", channel="phone"),
        call("e2", "call.answered", 30, "c1", agent_id="a1"),
        call("e3", "call.queued", 40, "c1", queue="billing", channel="phone"),  # twice
        call("e4", "call.queued", 50, "c2", queue="support", channel="phone"),
        call("e5", "call.abandoned", 70, "c2"),
        call("e6", "call.answered", 80, "c2", agent_id="a2"),  # after the abandon
        ticket(
            "e7", "ticket.created", 90, "t1", queue="support", channel="email", customer_id="u1"
        ),
        ticket("e8", "ticket.status_changed", 120, "t1", status="solved"),
        call("e2", "call.answered", 130, "c1", agent_id="a1"),  # a duplicate
    ]
    return inputs + [_canonical(inp) for inp in inputs]  # twice: keyed alike, so same contacts


@pytest.mark.parametrize("older", [1, 2])
def test_an_older_batch_books_and_dead_letters_as_the_same_batch_of_version_3(older: int) -> None:
    new, old = Harness(), Harness()
    inputs = scenario()
    for i in range(0, len(inputs), 3):
        for h, convert in ((new, False), (old, True)):
            forwards = h.route(h.publish(inputs[i : i + 3]))
            assert all(version(payload) == 3 for _, payload in forwards)
            if convert:
                forwards = [(p, x) for p, payload in forwards for x in OLDER[older](payload)]
                assert all(version(payload) == older for _, payload in forwards)
            h.aggregate(forwards)
    assert new.table == old.table
    assert new.samples() == old.samples()
    sent = [value for _, _, value in inputs]
    for h in (new, old):
        dead = [(d.value, dict(d.headers)["reason"]) for d in h.dead_letters]
        # the original bytes, whichever encoding the producer used
        assert dead == [
            (sent[2], b"invalid_transition"),
            (sent[5], b"invalid_transition"),
            (sent[9 + 2], b"invalid_transition"),
            (sent[9 + 5], b"invalid_transition"),
        ]
        assert sent[2] != sent[9 + 2]


def test_ordinary_events_cross_the_internal_topic_typed_only() -> None:
    h = Harness()
    inputs = [_canonical(inp) for inp in scenario()[:9]]
    forwards = h.route(h.publish(inputs))
    items = [it for _, payload in forwards for it in decode_batch(payload).items]
    assert len(items) == 9
    assert [it.raw for it in items] == [None] * 9
    assert [type(it.event).__name__ for it in items[:3]] == [
        "CallQueued",
        "CallAnswered",
        "CallQueued",
    ]
    h.aggregate(forwards)
    assert [dict(d.headers)["reason"] for d in h.dead_letters] == [b"invalid_transition"] * 2
    assert [d.value for d in h.dead_letters] == [inputs[2][2], inputs[5][2]]


@pytest.mark.parametrize("older", [1, 2])
def test_a_worker_restarted_on_older_state_reads_version_3(older: int) -> None:
    h = Harness()
    inputs = scenario()
    h.aggregate([(p, y) for p, x in h.route(h.publish(inputs[:9])) for y in OLDER[older](x)])
    h.restart()
    h.aggregate(h.route(h.publish(inputs[9:])))
    reference = Harness()
    reference.aggregate(reference.route(reference.publish(inputs)))
    assert h.table == reference.table
    assert h.samples() == reference.samples()


def test_a_non_utc_offset_is_kept_in_the_bytes_and_booked_at_the_same_instant() -> None:
    plus_one = timezone(timedelta(hours=1))
    ev = TicketCreated(event_id="e", occurred_at=AT.astimezone(plus_one), ticket_id="t1",
                       queue="support", channel="email")  # fmt: skip
    value = decoder.encode(ev)
    assert b"+01:00" in value
    (got,) = decode_batch(encode_batch([item("support", "email", "tickets", 0, 0,
                                                         None, ev, value)])).items  # fmt: skip
    assert got.raw == value
    assert got.event is not None
    assert got.event.occurred_at.timestamp() == T0

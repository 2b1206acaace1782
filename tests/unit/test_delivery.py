"""Every message the pipeline builds fits the producer's request; what replaces a refused one.

Sizes are measured the way aiokafka decides ``MessageSizeTooLargeError``
(``DefaultRecordBatchBuilder.estimate_size_in_bytes`` against ``max_request_size``).
"""

from __future__ import annotations

import json

from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faust.exceptions import ProducerSendError

from stream.config import TargetBook
from stream.stages.forward import decode_batch
from stream.stages.pipeline import Outgoing, Pipeline
from stream.stages.route import Message
from stream.worker.delivery import per_record

REQUEST = 1_000_000  # the smallest STREAM_PRODUCER_MAX_REQUEST_BYTES allowed
LIMIT = REQUEST - 64 * 1024  # the largest STREAM_MAX_EVENT_BYTES it allows
TOPIC_KINDS = {"calls": "calls", "tickets": "tickets", "agents": "agents", "customers": "customers"}
NOW = 1795000000.0  # 2026-11-17


def pipeline(partitions: int = 4) -> Pipeline:
    p = Pipeline.create(
        topic_kinds=TOPIC_KINDS,
        targets=TargetBook.default(),
        clock=lambda: NOW,
        grace_seconds=60.0,
        idle_seconds=30.0,
        retention_seconds=86400.0,
        max_event_bytes=LIMIT,
        future_skew_seconds=300.0,
        forward_partitions=partitions,
    )
    p.load(set(range(partitions)), [], [])
    return p


def size(out: Outgoing) -> int:
    headers = list(out.headers)
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(out.key, out.value, headers))


def queued(call_id: str, padding: int = 0, **fields: object) -> bytes:
    doc = {"type": "call.queued", "event_id": f"e-{call_id}", "call_id": call_id,
           "occurred_at": "2026-11-17T08:00:00Z", "queue": "billing", **fields}  # fmt: skip
    if padding:
        doc["padding"] = "x" * padding
    return json.dumps(doc).encode()


def test_an_event_at_the_limit_with_its_key_is_forwarded_in_one_message_that_fits() -> None:
    key = b"k" * 1000
    raw = queued("c1")
    raw = queued("c1", padding=LIMIT - len(key) - len(raw) - len(', "padding": ""'))
    assert len(key) + len(raw) == LIMIT
    effects = pipeline().route([Message("calls", 0, 0, key, raw)])
    (forward,) = effects.messages
    assert forward.role == "forward"
    assert REQUEST - 64 * 1024 < size(forward) <= REQUEST


def test_large_keys_count_when_events_are_grouped_into_forwards() -> None:
    """Before, only values counted: two events with 600 kB keys went into one 1.2 MB forward."""
    key = b"k" * 600_000
    messages = [Message("calls", 0, i, key, queued(f"c{i}")) for i in range(2)]
    effects = pipeline().route(messages)
    assert [m.role for m in effects.messages] == ["forward", "forward"]
    assert all(size(m) < 700_000 for m in effects.messages)


def test_customer_facts_of_a_large_batch_are_split_to_fit() -> None:
    """5,000 tickets naming customers with 128-character ids, one forward partition: before,
    one 1.2 MB message of facts. The facts share the partition's messages with the tickets
    (the last ticket message's room first)."""
    messages = [
        Message("tickets", 0, i, None, json.dumps({
            "type": "ticket.created", "event_id": f"e{i}", "ticket_id": f"t{i}",
            "occurred_at": "2026-11-17T08:00:00Z", "queue": "q" * 64, "channel": "email",
            "customer_id": f"{i:0128d}"}).encode())
        for i in range(5_000)
    ]  # fmt: skip
    effects = pipeline(partitions=1).route(messages)
    facts = [m for m in effects.messages if decode_batch(m.value)
             .customers]  # fmt: skip
    assert (len(effects.messages), len(facts)) == (21, 6)
    assert sum(len(decode_batch(m.value).customers)
               for m in facts) == 5_000  # fmt: skip
    assert max(size(m) for m in effects.messages) < 300 * 1024


def test_a_dead_letter_of_a_huge_key_and_value_fits_and_says_what_was_cut() -> None:
    key, value = b"k" * 3_000_000, queued("c1", padding=5_000_000)
    effects = pipeline().route([Message("calls", 2, 7, key, value)])
    (dead,) = effects.messages
    headers = dict(dead.headers)
    assert headers["reason"] == b"too_large"
    assert headers["detail"].startswith(b"key and value are ")
    assert headers["truncated_from_bytes"] == str(len(value)).encode()
    assert headers["key_truncated_from_bytes"] == b"3000000"
    assert (dead.key, dead.value) == (key[:1024], value[: 512 * 1024])
    assert size(dead) < 530 * 1024


def test_a_refused_forward_becomes_a_dead_letter_per_event() -> None:
    p = pipeline()
    messages = [Message("calls", 1, 10 + i, f"c{i}".encode(), queued(f"c{i}")) for i in range(3)]
    (forward,) = p.route(messages).messages
    out = p.refused("forward", "app-kpi-by-queue", forward, "MessageSizeTooLargeError: big")
    assert [(m.role, m.key, m.value) for m in out] == [
        ("dead_letter", m.key, m.value) for m in messages
    ]
    assert [dict(m.headers) for m in out] == [
        {
            "reason": b"produce_failed",
            "detail": b"MessageSizeTooLargeError: big",
            "source_topic": b"calls",
            "source_partition": b"1",
            "source_offset": str(m.offset).encode(),
        }
        for m in messages
    ]
    assert p.produce_failures == {"forward": 1}


def test_a_refused_dead_letter_is_sent_as_its_headers_once() -> None:
    p = pipeline()
    (dead,) = p.route([Message("calls", 0, 5, b"c1", b"{not json")]).messages
    (copy,) = p.refused("dead_letter", "kpi-dead-letter", dead, "CorruptRecordException: x")
    assert (copy.key, copy.value) == (None, b"")
    assert copy.headers == (
        *dead.headers,
        ("truncated_from_bytes", b"9"),
        ("produce_failed", b"CorruptRecordException: x"),
    )
    assert p.refused("dead_letter", "kpi-dead-letter", copy, "again") == []  # no loop
    assert p.produce_failures == {"dead_letter": 2}


def test_a_refused_window_and_changelog_record() -> None:
    p = pipeline()
    window = Outgoing("window", b"billing|15m|0", b'{"queue": "billing"}')
    (dead,) = p.refused("window", "kpi-windows", window, "InvalidTimestampError: t")
    assert (dead.role, dead.key, dead.value) == ("dead_letter", window.key, window.value)
    assert dict(dead.headers)["source_topic"] == b"kpi-windows"
    assert dict(dead.headers)["reason"] == b"produce_failed"
    changelog = Outgoing("changelog", b"0|x|0|1", b"segment")
    assert p.refused("changelog", "app-aggregates-changelog", changelog, "e") == []
    assert p.produce_failures == {"window": 1, "changelog": 1}


def test_only_errors_about_the_record_itself_are_per_record() -> None:
    too_large = MessageSizeTooLargeError("big")
    wrapped = ProducerSendError("Error while sending")
    wrapped.__cause__ = too_large
    assert per_record(wrapped) is too_large
    assert per_record(too_large) is too_large
    down = ProducerSendError("Error while sending")
    down.__cause__ = KafkaConnectionError()
    assert per_record(down) is None
    assert per_record(None) is None

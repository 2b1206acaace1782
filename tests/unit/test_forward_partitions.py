"""Forwards per destination partition (``stream.stages.pipeline.Pipeline.route``,
``stream.stages.forward``
version 3): one message per partition of the internal topic per batch, not one per queue; each
queue on the partition the producer's key hash gave it before; per-queue order kept, also
across the chunks of a large batch."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from aiokafka.partitioner import DefaultPartitioner

from stream.config import TargetBook
from stream.stages.forward import decode_batch, version
from stream.stages.pipeline import FORWARD_CHUNK_BYTES, Pipeline, queue_partition
from stream.stages.route import Message

PARTITIONS = 8
NOW = 1795000000.0
TOPIC_KINDS = {"calls": "calls", "tickets": "tickets", "agents": "agents", "customers": "customers"}


def pipeline() -> Pipeline:
    p = Pipeline.create(
        topic_kinds=TOPIC_KINDS,
        targets=TargetBook.default(),
        clock=lambda: NOW,
        grace_seconds=60.0,
        idle_seconds=30.0,
        retention_seconds=86400.0,
        max_event_bytes=65536,
        future_skew_seconds=300.0,
        forward_partitions=PARTITIONS,
    )
    p.load(set(range(PARTITIONS)), [], [])
    return p


def queued(i: int, queue: str, pad: int = 0) -> Message:
    doc = {
        "type": "call.queued",
        "event_id": f"e{i}",
        "call_id": f"c{i}",
        "occurred_at": datetime.fromtimestamp(NOW - 600 + i / 1000, UTC).isoformat(),
        "queue": queue,
        "channel": "phone",
    }
    if pad:
        doc["caller"] = "x" * pad  # an unknown field: the item carries its bytes too
    return Message("calls", i % 3, i // 3, f"c{i}".encode(), msgspec.json.encode(doc))


def agent(i: int, agent_id: str, queues: list[str]) -> Message:
    doc = {
        "type": "agent.state_changed",
        "event_id": f"a{i}",
        "agent_id": agent_id,
        "state": "available",
        "queues": queues,
        "occurred_at": datetime.fromtimestamp(NOW - 600 + i / 1000, UTC).isoformat(),
    }
    return Message("agents", 0, i, agent_id.encode(), msgspec.json.encode(doc))


def test_a_queue_stays_on_the_partition_the_producers_key_hash_gave_it() -> None:
    """Forwards were keyed by queue and placed by aiokafka's default partitioner: the stored
    state of a queue is on that partition, so the explicit partition must be the same."""
    hashed = DefaultPartitioner()
    partitions = list(range(PARTITIONS))
    for i in range(2000):
        name = f"queue-{i}"
        assert queue_partition(name, PARTITIONS) == hashed(name.encode(), partitions, partitions)
    assert [queue_partition(q, PARTITIONS) for q in ("billing", "support", "sales")] == [1, 0, 0]


def test_a_batch_of_400_queues_is_one_message_per_partition_in_order() -> None:
    queues = [f"q{n:03d}" for n in range(400)]
    messages = [queued(i, queues[(i * 7) % 400]) for i in range(4000)]
    effects = pipeline().route(messages)
    forwards = [m for m in effects.messages if m.role == "forward"]
    assert len(forwards) == PARTITIONS  # before: 400, one per queue
    assert sorted(m.partition for m in forwards if m.partition is not None) == list(
        range(PARTITIONS)
    )
    seen: dict[str, list[int]] = {}
    for m in forwards:
        assert (m.key, version(m.value)) == (None, 3)
        batch = decode_batch(m.value)
        assert {queue_partition(it.queue, PARTITIONS) for it in batch.items} == {m.partition}
        for it in batch.items:
            seen.setdefault(it.queue, []).append(it.offset * 3 + it.partition)
    expected: dict[str, list[int]] = {}
    for i in sorted(range(4000), key=lambda i: (i % 3, i)):  # input partition by partition
        expected.setdefault(queues[(i * 7) % 400], []).append(i)
    assert seen == expected  # every event once, each queue's in the order routed


def test_a_large_partition_is_chunked_and_its_queues_keep_their_order() -> None:
    on_p0 = [q for q in (f"q{n}" for n in range(200)) if queue_partition(q, PARTITIONS) == 0][:3]
    messages = [queued(i, on_p0[i % 3], pad=2000) for i in range(600)]
    effects = pipeline().route(messages)
    forwards = [m for m in effects.messages if m.role == "forward"]
    assert {m.partition for m in forwards} == {0}
    # 600 items of ~2.4 kB (an unknown field: the event typed and its bytes, ~4.6 kB on the
    # wire estimate) in messages of at most 256 KiB
    assert len(forwards) == 10
    assert all(len(m.value) <= FORWARD_CHUNK_BYTES for m in forwards)
    order = [
        (it.queue, it.offset * 3 + it.partition)
        for m in forwards
        for it in decode_batch(m.value).items
    ]
    routed = sorted(range(600), key=lambda i: (i % 3, i))  # input partition by partition
    assert order == [(on_p0[i % 3], i) for i in routed]


def test_agents_events_travel_with_their_queue_to_each_queues_partition() -> None:
    billing, support = (
        queue_partition("billing", PARTITIONS),
        queue_partition("support", PARTITIONS),
    )
    assert billing != support
    p = pipeline()
    effects = p.route([agent(0, "a1", ["billing", "support"]), agent(1, "a2", ["billing"])])
    got = {
        m.partition: sorted((q, a) for q, a, _ in decode_batch(m.value).agent_events)
        for m in effects.messages
        if m.role == "forward"
    }
    assert got == {billing: [("billing", "a1"), ("billing", "a2")], support: [("support", "a1")]}
    for m in effects.messages:
        assert m.partition is not None
        p.aggregate(m.partition, [m.value])
    assert sorted(p.agg_parts[billing].agents["billing"]) == ["a1", "a2"]
    assert sorted(p.agg_parts[support].agents["support"]) == ["a1"]

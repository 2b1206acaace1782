"""The embedded broker: start, topics with the asked partition count, exact round trip, stop."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream.broker import create_topics
from stream.config import Settings
from stream.contract.decoder import Rejection, decode
from stream.contract.events import TopicKind
from stream.dev.broker import BrokerStartError, EmbeddedBroker
from stream.dev.simulate import PublishStats, publish, replay, write_ndjson

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def unique_topic() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def process_gone(pid: int) -> bool:
    """True when no process (not even a zombie) has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described}


async def produce(bootstrap: str, topic: str, messages: list[tuple[int, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, key, value in messages:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


async def consume_all(
    bootstrap: str, topics: dict[str, int], expected: int, timeout: float = 15.0
) -> list[tuple[str, int, bytes | None, bytes | None]]:
    """(topic, partition, key, value) of every message, read until ``expected`` arrived.

    ``topics`` maps each topic to its partition count. One more poll after that makes sure
    nothing beyond ``expected`` was there.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    got: list[tuple[str, int, bytes | None, bytes | None]] = []

    def take(batches: dict[TopicPartition, list[Any]]) -> None:
        for tp, records in batches.items():
            got.extend((tp.topic, tp.partition, r.key, r.value) for r in records)

    try:
        consumer.assign([TopicPartition(t, p) for t, n in topics.items() for p in range(n)])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(got) < expected and loop.time() < deadline:
            take(await consumer.getmany(timeout_ms=200))
        take(await consumer.getmany(timeout_ms=300))
    finally:
        await consumer.stop()
    return got


async def consume(
    bootstrap: str, topic: str, partitions: int, expected: int
) -> list[tuple[int, bytes | None, bytes | None]]:
    records = await consume_all(bootstrap, {topic: partitions}, expected)
    return [(partition, key, value) for _, partition, key, value in records]


def test_round_trip_on_four_partitions(broker: EmbeddedBroker) -> None:
    topic = unique_topic()
    messages = [
        (i % 4, f"key-{i}".encode(), f'{{"n":{i},"text":"caf\\u00e9 {i}"}}'.encode())
        for i in range(40)
    ]

    async def scenario() -> tuple[dict[str, int], list[tuple[int, bytes | None, bytes | None]]]:
        await create_topics(broker.bootstrap, [topic], partitions=4)
        counts = await partition_counts(broker.bootstrap, [topic])
        await produce(broker.bootstrap, topic, messages)
        return counts, await consume(broker.bootstrap, topic, 4, expected=len(messages))

    counts, got = asyncio.run(scenario())

    assert counts == {topic: 4}
    assert sorted(got) == sorted(messages)
    for partition in range(4):  # order within a partition is the order of production
        assert [m for m in got if m[0] == partition] == [m for m in messages if m[0] == partition]


KINDS: tuple[TopicKind, ...] = ("calls", "tickets", "agents", "customers")


def settings_with_fresh_topics(broker: EmbeddedBroker) -> tuple[Settings, dict[str, TopicKind]]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        broker_url=broker.url,
        topic_calls=f"calls-{tag}",
        topic_tickets=f"tickets-{tag}",
        topic_agents=f"agents-{tag}",
        topic_customers=f"customers-{tag}",
        partitions=3,
    )
    kinds: dict[str, TopicKind] = {
        settings.topic_calls: "calls",
        settings.topic_tickets: "tickets",
        settings.topic_agents: "agents",
        settings.topic_customers: "customers",
    }
    return settings, kinds


async def consume_topics(
    settings: Settings, topics: list[str], expected: int
) -> list[tuple[str, bytes | None, bytes | None]]:
    partitions = dict.fromkeys(topics, settings.partitions)
    records = await consume_all(settings.bootstrap_servers, partitions, expected)
    assert len(records) == expected
    return [(topic, key, value) for topic, _, key, value in records]


def test_simulator_publishes_routed_events_and_the_asked_dirt(broker: EmbeddedBroker) -> None:
    settings, kinds = settings_with_fresh_topics(broker)

    async def scenario() -> tuple[PublishStats, list[tuple[str, bytes | None, bytes | None]]]:
        await create_topics(broker.bootstrap, list(kinds), settings.partitions)
        stats = await publish(
            settings, realtime=False, duration=900, rate_multiplier=3, dirty_ratio=0.1, seed=11
        )
        return stats, await consume_topics(settings, list(kinds), stats.messages)

    stats, got = asyncio.run(scenario())

    assert stats.events > 500 and stats.dirty > 10 and stats.duplicates > 10
    assert stats.failed == 0
    valid, rejected = 0, 0
    seen: dict[str, int] = {}
    for topic, key, value in got:
        assert key is not None and value is not None
        event = decode(value)
        if isinstance(event, Rejection):
            rejected += 1
            continue
        valid += 1
        assert event.topic_kind == kinds[topic]
        assert key.decode() == event.contact_id
        seen[event.event_id] = seen.get(event.event_id, 0) + 1
    assert rejected == stats.dirty
    assert valid == stats.events + stats.duplicates
    assert sum(n - 1 for n in seen.values()) == stats.duplicates


def test_replay_sends_each_recorded_line_to_its_topic(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    settings, kinds = settings_with_fresh_topics(broker)
    path = tmp_path / "events.ndjson"
    write_ndjson(path, 800, seed=4, start=datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    with path.open("ab") as out:
        out.write(b'{"type": "ticket.created", "ticket_id": "t-broken"}\n')  # invalid, routable
        out.write(b"not json at all\n")  # unroutable: skipped
    progress: list[int] = []

    async def scenario() -> list[tuple[str, bytes | None, bytes | None]]:
        await create_topics(broker.bootstrap, list(kinds), settings.partitions)
        result = await replay(settings, path, speed=0, on_progress=progress.append)
        assert (result.sent, result.skipped, result.failed) == (801, 1, 0)
        return await consume_topics(settings, list(kinds), 801)

    got = asyncio.run(scenario())

    assert sum(progress) == 802
    lines = path.read_bytes().splitlines()[:801]
    assert sorted(value for _, _, value in got if value is not None) == sorted(lines)
    for topic, key, value in got:
        assert key is not None and value is not None
        event = decode(value)
        if isinstance(event, Rejection):
            assert (topic, key) == (settings.topic_tickets, b"t-broken")
        else:
            assert (kinds[topic], key.decode()) == (event.topic_kind, event.contact_id)


def test_create_topics_is_idempotent_and_keeps_existing(broker: EmbeddedBroker) -> None:
    first, second = unique_topic(), unique_topic()

    async def scenario() -> dict[str, int]:
        await create_topics(broker.bootstrap, [first], partitions=3)
        # Again, with a different count and a new topic: the existing one is left alone.
        await create_topics(broker.bootstrap, [first, second], partitions=2)
        return await partition_counts(broker.bootstrap, [first, second])

    assert asyncio.run(scenario()) == {first: 3, second: 2}


@pytest.mark.parametrize(
    ("names", "partitions"), [(["ok-topic"], 0), (["bad name"], 1), ([".."], 1)]
)
def test_create_topics_validates_what_tansu_accepts(
    broker: EmbeddedBroker, names: list[str], partitions: int
) -> None:
    with pytest.raises(ValueError):
        asyncio.run(create_topics(broker.bootstrap, names, partitions))


def test_stop_terminates_and_reaps_the_process() -> None:
    broker = EmbeddedBroker()
    broker.start()
    pid, port = broker.pid, broker.port
    assert pid is not None and broker.is_running()
    assert broker.url == f"kafka://127.0.0.1:{port}"
    assert broker.bootstrap == f"127.0.0.1:{port}"
    log_path = broker.log_path
    assert log_path is not None and log_path.exists()

    broker.stop()

    assert process_gone(pid)
    assert not broker.is_running() and broker.pid is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not log_path.exists()  # our temporary log is removed
    broker.stop()  # a second stop is a no-op


def test_explicit_port_and_log_file(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_file = tmp_path / "broker.log"
    with EmbeddedBroker(port, log_path=log_file) as broker:
        assert broker.port == port
    assert f"127.0.0.1:{port}" in log_file.read_text(encoding="utf-8")


def test_start_fails_clearly_when_the_port_is_taken() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = EmbeddedBroker(port)
        with pytest.raises(BrokerStartError, match="in use"):
            broker.start()
        assert not broker.is_running()


def test_start_reports_a_process_that_exits(tmp_path: Path) -> None:
    script = tmp_path / "fake-broker"
    script.write_text("#!/bin/sh\necho 'fake broker: cannot start' >&2\nexit 3\n")
    script.chmod(0o755)
    broker = EmbeddedBroker(binary=str(script))
    with pytest.raises(BrokerStartError, match=r"status 3(.|\n)*fake broker: cannot start"):
        broker.start()
    assert not broker.is_running()


def test_start_gives_up_on_a_process_that_never_answers(tmp_path: Path) -> None:
    script = tmp_path / "silent-broker"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    broker = EmbeddedBroker(binary=str(script), startup_timeout=0.5)
    with pytest.raises(BrokerStartError, match="did not answer"):
        broker.start()
    assert not broker.is_running()

"""Exact windows when a backlog is read: after an outage, a backfill, a killed worker.

The subject reads contract topics of 4 partitions, keyed by contact as publishers key them, so
each queue's events arrive from every partition at once and a fetch can hold hours of one
partition's event time. The reference reads the same events from topics of one partition in
event-time order, where no watermark rule can be outrun. Both must publish exactly the same
closed windows on their ``kpi-windows`` topics and export exactly the same samples, with nothing
counted late — unless an event really arrives after its window closed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from stream.broker import create_topics
from stream.contract.decoder import encode
from stream.dev.broker import EmbeddedBroker
from stream.dev.simulate import Simulation
from tests.integration.conftest import INPUT_TOPICS, WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    WorkerProcess,
    accounted,
    isolated,
    kpis,
    publish,
    renamed,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
HOURS = 4
END = START + timedelta(hours=HOURS)
FROZEN = (END + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
LATE = "contact_centre_events_late_total"
WATERMARK = "contact_centre_watermark_timestamp_seconds"
GRACE = 60.0


def recorded(seed: int = 7, rate: float = 3.0) -> list[tuple[float, Publishable]]:
    """Four hours of the simulator's contact centre (~26k events), in event-time order."""
    sim = Simulation(seed=seed, start=START, rate_multiplier=rate)
    return [
        (item.at, (item.kind, item.key, encode(item.event)))
        for item in sim.events(until=END.timestamp())
    ]


def one_partition(bootstrap: str, name: str) -> dict[str, str]:
    """Settings of a reference pipeline whose topics have one partition: events in order."""
    topics = [f"{name}-{t}" for t in INPUT_TOPICS]
    asyncio.run(create_topics(bootstrap, topics, 1))
    env = isolated(bootstrap, name, ())  # app id, dead-letter and windows topics
    env.update({f"STREAM_TOPIC_{t.upper()}": f"{name}-{t}" for t in INPUT_TOPICS})
    env["STREAM_PARTITIONS"] = "1"
    return env


def read_windows(bootstrap: str, topic: str, settle: float = 3.0) -> dict[str, Any]:
    """Every closed window on ``topic``, by key; read until nothing new came for ``settle`` s."""

    async def run() -> dict[str, Any]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        got: dict[str, Any] = {}
        keys: collections.Counter[str] = collections.Counter()
        try:
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < settle:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        key = (r.key or b"").decode()
                        keys[key] += 1
                        got[key] = json.loads(r.value)
                        quiet_since = time.monotonic()
        finally:
            await consumer.stop()
        twice = [k for k, n in keys.items() if n > 1]
        assert not twice, f"windows published more than once: {twice[:5]}"
        return got

    return asyncio.run(run())


def final_watermark(events: Iterable[tuple[float, Publishable]]) -> float:
    return max(t for t, _ in events) - GRACE


def counted(w: WorkerProcess) -> float:
    """Events the worker accounted for; -1 while it does not serve yet."""
    return -1.0 if w.ready() is None else accounted(w.scrape())


def settled(w: WorkerProcess, n: int, mark: float) -> bool:
    """Every event accounted for and the watermark at the newest event minus the grace."""
    if w.ready() is None:  # not serving yet
        return False
    samples = w.scrape()
    return accounted(samples) == n and value(samples, WATERMARK) == mark


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal windows: sums of durations may differ in the last bit (another order of adding)."""
    head = ("queue", "window", "start", "end")
    return [a[k] for k in head] == [b[k] for k in head] and a["totals"] == pytest.approx(
        b["totals"], rel=1e-12
    )


def assert_same_windows(bootstrap: str, subject: str, reference: str) -> dict[str, Any]:
    expected = read_windows(bootstrap, reference)
    got = read_windows(bootstrap, subject)
    assert set(got) == set(expected)
    wrong = [k for k in expected if not same(got[k], expected[k])]
    examples = {
        k: {f: (got[k]["totals"][f], v) for f, v in expected[k]["totals"].items()
            if got[k]["totals"][f] != v}
        for k in wrong[:3]
    }  # fmt: skip
    assert not wrong, f"{len(wrong)} of {len(expected)} closed windows differ: {examples}"
    return got


def assert_same_samples(a: Samples, b: Samples) -> None:
    assert kpis(a) == pytest.approx(kpis(b), rel=1e-9)


def assert_exact(
    bootstrap: str,
    subject: WorkerProcess,
    reference: WorkerProcess,
    events: list[tuple[float, Publishable]],
    total: int,
) -> dict[str, Any]:
    """Both settled at the final watermark, the same closed windows and samples, 0 late."""
    mark = final_watermark(events)
    wait_until(
        lambda: settled(subject, total, mark) and settled(reference, total, mark), 240, "settled"
    )
    windows = assert_same_windows(bootstrap, "kpi-windows", "ref-windows")
    a, b = subject.scrape(), reference.scrape()
    assert value(a, LATE) == 0 and value(b, LATE) == 0
    assert_same_samples(a, b)
    return windows


def started(workers: WorkerFactory, **env: str) -> WorkerProcess:
    w = workers(frozen_time=FROZEN, STREAM_GRACE_SECONDS=str(GRACE), **env)
    return w


@pytest.mark.parametrize("alignment", ["600", "60", "0"])
def test_a_backlog_published_before_the_worker_starts_gives_exact_windows(
    broker: EmbeddedBroker, workers: WorkerFactory, alignment: str
) -> None:
    """Default alignment, a tight one (partitions are paused and resumed), and none."""
    events = recorded()
    stream = [m for _, m in events]
    ref_env = one_partition(broker.bootstrap, "ref")
    n = publish(broker.bootstrap, stream)
    assert publish(broker.bootstrap, renamed(stream, "ref")) == n
    # Both read everything as a backlog: started after the events were published.
    subject = started(workers, STREAM_ALIGNMENT_SECONDS=alignment)
    reference = started(workers, **ref_env)
    windows = assert_exact(broker.bootstrap, subject, reference, events, n)
    per_kind = collections.Counter(doc["window"] for doc in windows.values())
    assert per_kind["15m"] >= 4 * HOURS * 4 - 4  # every quarter hour of every queue but the last
    assert per_kind["1h"] >= 4 * (HOURS - 1)
    paused = "paused to align event time" in subject.log_path.read_text()
    if alignment != "600":  # 600 s pauses or not, as the fetches fall
        assert paused == (alignment == "60"), "60 s of alignment pauses partitions; 0 never"


def test_an_outage_then_a_restart_gives_the_windows_of_live_traffic(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    events = recorded(seed=11)
    half = len(events) // 2
    before, during = [m for _, m in events[:half]], [m for _, m in events[half:]]
    ref_env = one_partition(broker.bootstrap, "ref")
    reference = started(workers, **ref_env)
    subject = started(workers)
    n = publish(broker.bootstrap, before)
    assert publish(broker.bootstrap, renamed(before, "ref")) == n
    wait_until(lambda: counted(subject) == n, 120, "the first half counted")
    subject.stop()  # SIGTERM: an outage while the second half is published
    total = n + publish(broker.bootstrap, during)
    publish(broker.bootstrap, renamed(during, "ref"))
    subject = started(workers)
    assert_exact(broker.bootstrap, subject, reference, events, total)


def test_two_workers_one_killed_while_the_backlog_grows(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    events = recorded(seed=13, rate=2.0)
    half = len(events) // 2
    before, during = [m for _, m in events[:half]], [m for _, m in events[half:]]
    ref_env = one_partition(broker.bootstrap, "ref")
    reference = started(workers, **ref_env)
    first, second = started(workers), started(workers)
    wait_until(
        lambda: (
            (first.partitions() or set()) | (second.partitions() or set()) == {0, 1, 2, 3}
            and bool(first.partitions())
            and bool(second.partitions())
        ),
        120,
        "two workers sharing the partitions",
    )
    n = publish(broker.bootstrap, before)
    publish(broker.bootstrap, renamed(before, "ref"))
    wait_until(lambda: counted(first) + counted(second) == n, 120, "half")
    second.kill()
    total = n + publish(broker.bootstrap, during)
    publish(broker.bootstrap, renamed(during, "ref"))
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 120, "the survivor owning everything")
    assert_exact(broker.bootstrap, first, reference, events, total)


def test_idle_partitions_do_not_hold_windows_open(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    """Calls only, all on partition 0: every other partition of every topic stays empty."""
    t0 = START.timestamp()
    stream: list[Publishable] = []
    for i in range(40):  # a call every 90 s for an hour, in one partition
        at = t0 + 90 * i
        doc = {"call_id": f"c{i}", "queue": "billing"}
        stream.append(("calls", None, _event("call.queued", f"q{i}", at, **doc)))
        stream.append(("calls", None, _event("call.answered", f"a{i}", at + 10, call_id=f"c{i}",
                                             agent_id="a1")))  # fmt: skip
    w = started(workers)
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 120, "the worker owning everything")
    assert _publish_to_partition(broker.bootstrap, stream, 0) == len(stream)
    mark = t0 + 90 * 39 + 10 - GRACE
    wait_until(lambda: settled(w, len(stream), mark), 120, "settled")
    windows = read_windows(broker.bootstrap, "kpi-windows")
    closed_15m = sorted(doc["start"] for doc in windows.values() if doc["window"] == "15m")
    assert closed_15m == [t0, t0 + 900, t0 + 1800]  # 06:45–07:00 ends after the watermark
    assert [windows[f"billing|15m|{int(t0)}"]["totals"][k] for k in ("offered", "answered")] == [
        10,
        10,
    ]
    assert value(w.scrape(), LATE) == 0


def test_a_truly_late_event_is_late_and_changes_no_closed_window(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    t0 = START.timestamp()
    stream: list[Publishable] = [
        ("calls", f"c{i}", _event("call.queued", f"q{i}", t0 + 300 * i, call_id=f"c{i}",
                                  queue="billing"))
        for i in range(8)
    ]  # fmt: skip
    w = started(workers)
    publish(broker.bootstrap, stream)
    mark = t0 + 300 * 7 - GRACE
    wait_until(lambda: settled(w, len(stream), mark), 120, "settled")
    before = read_windows(broker.bootstrap, "kpi-windows")
    assert f"billing|15m|{int(t0)}" in before
    # A device that was offline: its call at 06:05 arrives after 06:00–06:15 closed.
    late = ("calls", "late", _event("call.queued", "late-q", t0 + 300, call_id="late",
                                    queue="billing"))  # fmt: skip
    publish(broker.bootstrap, [late])
    wait_until(lambda: counted(w) == len(stream) + 1, 60, "the late event counted")
    after = w.scrape()
    assert value(after, LATE) == 1
    offered = value(after, "contact_centre_calls_offered_total", queue="billing", channel="phone")
    assert offered == len(stream) + 1  # the all-time counter has it
    assert read_windows(broker.bootstrap, "kpi-windows") == before  # nothing republished


def _event(type_: str, event_id: str, at: float, **fields: Any) -> bytes:
    occurred = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    doc = {"type": type_, "event_id": event_id, "occurred_at": occurred, **fields}
    return json.dumps(doc).encode()


def _publish_to_partition(bootstrap: str, messages: list[Publishable], partition: int) -> int:
    from aiokafka import AIOKafkaProducer

    async def run() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for topic, key, payload in messages:
                assert isinstance(payload, bytes)
                await producer.send(topic, value=payload, partition=partition,
                                    key=None if key is None else key.encode())  # fmt: skip
            await producer.flush()
        finally:
            await producer.stop()
        return len(messages)

    return asyncio.run(run())


def test_input_topics_that_do_not_exist_hold_nothing(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    """A centre with calls only: no tickets, agents or customers topic was ever created."""
    name = "calls-only"
    asyncio.run(create_topics(broker.bootstrap, [f"{name}-calls"], 4))
    env = {f"STREAM_TOPIC_{t.upper()}": f"{name}-{t}" for t in INPUT_TOPICS}
    env.update(
        STREAM_APP_ID=f"{name}-app",
        STREAM_TOPIC_DEAD_LETTER=f"{name}-dead-letter",
        STREAM_TOPIC_WINDOWS=f"{name}-windows",
    )
    t0 = START.timestamp()
    stream: list[Publishable] = [
        (f"{name}-calls", f"c{i}", _event("call.queued", f"q{i}", t0 + 300 * i, call_id=f"c{i}",
                                          queue="billing"))
        for i in range(8)
    ]  # fmt: skip
    w = started(workers, **env)
    publish(broker.bootstrap, stream)
    wait_until(lambda: settled(w, len(stream), t0 + 300 * 7 - GRACE), 120, "settled")
    windows = read_windows(broker.bootstrap, f"{name}-windows")
    assert windows[f"billing|15m|{int(t0)}"]["totals"]["offered"] == 3

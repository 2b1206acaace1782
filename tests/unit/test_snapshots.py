"""Wallboard snapshots without Redis: the pure builder equals /metrics, colours, encoding, throttle.

A small in-memory wiring feeds events through ``Pipeline.route`` and ``Pipeline.aggregate`` (no
broker, no Faust); the snapshot of each queue is compared with the samples ``KpiCollector``
exports for the same state and clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from stream.config import TargetBook, parse_targets
from stream.export.metrics import KpiCollector, SnapshotErrorsCollector
from stream.export.queue_snapshot import QueueSnapshot, build_snapshots, statuses
from stream.export.snapshots import SnapshotPublisher, decode_hash, encode_hash
from stream.read import ReadView
from stream.stages.pipeline import Pipeline
from stream.stages.route import Message

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
NOW = T0 + 600  # 10:10:00
TARGETS = parse_targets(
    """
queues:
  billing: {team: Front office, answer_target_seconds: 30, service_level_goal: 0.9}
  support: {team: Tech}
""",
    source="targets.yaml",
)


class Wiring:
    """Router → forwards → aggregator in memory; one input partition, queues on 0 and 1."""

    def __init__(self, targets: TargetBook = TARGETS) -> None:
        self.pipeline = Pipeline.create(
            topic_kinds={"calls": "calls", "tickets": "tickets", "agents": "agents"},
            targets=targets,
            clock=lambda: NOW,
            grace_seconds=3600.0,
            idle_seconds=30.0,
            retention_seconds=86400.0,
            max_event_bytes=65536,
            future_skew_seconds=300.0,
            forward_partitions=2,
            placement=lambda queue, _: 0 if queue == "billing" else 1,
        )
        self.offsets: dict[str, int] = {}
        self.ids = 0

    def send(self, topic: str, key: str, type_: str, seconds: float, **fields: Any) -> None:
        self.ids += 1
        doc = {
            "event_id": f"e{self.ids}",
            "type": type_,
            "occurred_at": datetime.fromtimestamp(T0 + seconds, UTC).isoformat(),
            **fields,
        }
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        message = Message(topic, 0, offset, key.encode(), msgspec.json.encode(doc))
        effects = self.pipeline.route([message])
        for out in effects.messages:
            if out.role == "forward":
                assert out.partition is not None
                self.pipeline.aggregate(out.partition, [out.value])

    def call(self, call_id: str, *steps: tuple[str, float], **first: Any) -> None:
        for i, (type_, seconds) in enumerate(steps):
            extra = first if i == 0 else ({"agent_id": "a1"} if type_ == "call.answered" else {})
            self.send("calls", call_id, type_, seconds, call_id=call_id, **extra)


def scenario() -> Wiring:
    w = Wiring()
    w.call("c1", ("call.queued", 0), ("call.answered", 10), queue="billing")
    w.call("c2", ("call.queued", 60), ("call.answered", 105), queue="billing")
    w.call("c3", ("call.queued", 120), ("call.abandoned", 150), queue="billing")
    w.call("c4", ("call.queued", 480), queue="billing")  # waiting 120 s at NOW
    w.send("tickets", "t1", "ticket.created", 30, ticket_id="t1", queue="support", channel="chat")
    w.send("tickets", "t2", "ticket.created", 40, ticket_id="t2", queue="support", channel="email")
    w.send("tickets", "t2", "ticket.message_added", 70, ticket_id="t2", author="agent", public=True)
    w.send("tickets", "t3", "ticket.created", 50, ticket_id="t3", queue="support", channel="web")
    w.send("tickets", "t3", "ticket.status_changed", 55, ticket_id="t3", status="pending")
    w.send("agents", "a1", "agent.state_changed", 5, agent_id="a1", state="available")
    return w


def samples(pipeline: Pipeline) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry()
    registry.register(KpiCollector(ReadView(pipeline), lambda: NOW))
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in registry.collect()
        for s in family.samples
    }


def metric(m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> Any:
    return m.get((f"contact_centre_{name}", frozenset(labels.items())))


def test_snapshot_values_equal_the_exported_metrics() -> None:
    w = scenario()
    snaps = {s.queue: s for s in build_snapshots(ReadView(w.pipeline), TARGETS, NOW)}
    m = samples(w.pipeline)
    assert sorted(snaps) == ["billing", "support"]
    for name, s in snaps.items():
        assert s.calls_waiting == metric(m, "calls_waiting", queue=name)
        assert s.oldest_call_waiting_seconds == metric(m, "oldest_call_waiting_seconds", queue=name)
        today = {"queue": name, "window": "today"}
        assert s.service_level_today == metric(m, "service_level_ratio", **today)
        assert s.average_speed_of_answer_today_seconds == metric(
            m, "average_speed_of_answer_seconds", **today
        )
        assert s.abandon_rate_today == metric(m, "abandon_rate_ratio", **today)
        assert s.first_response_within_target_today == metric(
            m, "first_response_within_target_ratio", **today
        )
        assert s.backlog == sum(
            metric(m, "tickets_open", queue=name, status=st)
            for st in ("open", "pending", "on_hold")
        )
        assert s.tickets_awaiting_first_response == metric(
            m, "tickets_awaiting_first_response", queue=name
        )
    # And the hand-computed values, so that the comparison above cannot pass vacuously.
    b, s = snaps["billing"], snaps["support"]
    assert (b.calls_waiting, b.oldest_call_waiting_seconds) == (1, 120.0)
    assert b.service_level_today == 1 / 3  # c1 within 30 s; c2 45 s; c3 abandoned after 30 s
    assert b.average_speed_of_answer_today_seconds == 27.5
    assert b.abandon_rate_today == 0.25
    assert b.first_response_within_target_today is None
    assert (s.calls_waiting, s.oldest_call_waiting_seconds) == (0, 0.0)
    assert s.backlog == 3
    assert s.tickets_awaiting_first_response == 2
    # t1 (chat, 60 s target) breached at 10:01:30; t2 answered in 30 s.
    assert s.first_response_within_target_today == 0.5
    assert s.service_level_today is None


def test_snapshot_carries_team_targets_clock_and_version() -> None:
    w = scenario()
    b, s = build_snapshots(ReadView(w.pipeline), TARGETS, NOW)
    assert (b.queue, b.team, s.team) == ("billing", "Front office", "Tech")
    assert (b.answer_target_seconds, b.service_level_goal) == (30.0, 0.9)
    assert (s.answer_target_seconds, s.service_level_goal) == (20.0, 0.8)
    assert b.at == s.at == NOW
    # Agent states are not aggregated per queue yet: the tile shows "—".
    assert b.agents_available is None and s.agents_available is None
    before = b.version
    w.call("c5", ("call.queued", 590), queue="billing")
    after = build_snapshots(ReadView(w.pipeline), TARGETS, NOW)[0]
    assert after.version > before
    assert after.calls_waiting == 2


def test_a_queue_without_a_team_and_no_data() -> None:
    w = Wiring(TargetBook.default())
    w.send("tickets", "t1", "ticket.created", 0, ticket_id="t1", queue="x", channel="email")
    (snap,) = build_snapshots(ReadView(w.pipeline), TargetBook.default(), NOW)
    assert snap.team is None
    assert snap.service_level_today is None
    assert snap.status["service_level_today"] == "none"
    assert snap.status["oldest_call_waiting_seconds"] == "good"  # 0 s: nobody waits


def test_no_partitions_no_snapshots() -> None:
    assert build_snapshots(ReadView(Wiring().pipeline), TARGETS, NOW) == []


def snapshot(**values: Any) -> QueueSnapshot:
    base: dict[str, Any] = {
        "queue": "q",
        "team": None,
        "at": NOW,
        "version": 1,
        "calls_waiting": 0,
        "oldest_call_waiting_seconds": 0.0,
        "service_level_today": None,
        "average_speed_of_answer_today_seconds": None,
        "abandon_rate_today": None,
        "first_response_within_target_today": None,
        "backlog": 0,
        "tickets_awaiting_first_response": 0,
        "agents_available": None,
        "answer_target_seconds": 20.0,
        "service_level_goal": 0.8,
    }
    base.update(values)
    return QueueSnapshot(**base)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("service_level_today", None, "none"),
        ("service_level_today", 0.8, "good"),
        ("service_level_today", 0.95, "good"),
        ("service_level_today", 0.7, "warn"),
        ("service_level_today", 0.69, "bad"),
        ("first_response_within_target_today", 0.75, "warn"),
        ("first_response_within_target_today", 0.5, "bad"),
        ("average_speed_of_answer_today_seconds", 20.0, "good"),
        ("average_speed_of_answer_today_seconds", 40.0, "warn"),
        ("average_speed_of_answer_today_seconds", 40.5, "bad"),
        ("oldest_call_waiting_seconds", 0.0, "good"),
        ("oldest_call_waiting_seconds", 21.0, "warn"),
        ("oldest_call_waiting_seconds", 300.0, "bad"),
        ("abandon_rate_today", 0.05, "good"),
        ("abandon_rate_today", 0.1, "warn"),
        ("abandon_rate_today", 0.11, "bad"),
        ("calls_waiting", 50, "none"),
        ("backlog", 500, "none"),
        ("agents_available", None, "none"),
    ],
)
def test_colours_follow_the_targets(field: str, value: Any, expected: str) -> None:
    assert statuses(snapshot(**{field: value}))[field] == expected


def test_hash_round_trip() -> None:
    snap = snapshot(team="Tech", service_level_today=1 / 3, status={"backlog": "none"})
    fields = encode_hash(snap, updated_at=NOW + 0.25, worker="host:1")
    assert all(isinstance(v, str) for v in fields.values())
    raw = {k.encode(): v.encode() for k, v in fields.items()}
    doc = decode_hash(raw)
    assert doc == {**dataclasses.asdict(snap), "updated_at": NOW + 0.25, "worker": "host:1"}
    assert decode_hash({}) is None
    assert decode_hash({b"queue": b"{not json"}) is None
    assert decode_hash({b"queue": b'"q"'}) is None  # no updated_at: not a snapshot


class FakeScript:
    """Stands in for the Lua script: records each write, answers ``stored``."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[Any]]] = []
        self.stored = 1

    async def __call__(self, keys: list[str], args: list[Any]) -> int:
        self.calls.append((keys, args))
        return self.stored


class Wall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_publisher_writes_changes_at_once_and_unchanged_snapshots_as_heartbeats() -> None:
    async def run() -> None:
        wall = Wall()
        publisher = SnapshotPublisher(
            "redis://127.0.0.1:1/0", prefix="app:wallboard", worker="w1", wall=wall
        )
        script = FakeScript()
        publisher._script = script  # type: ignore[assignment]
        a, b = snapshot(queue="a"), snapshot(queue="b")
        assert await publisher.publish([a, b]) == 2
        keys, args = script.calls[0]
        assert keys == ["app:wallboard:queue:a", "app:wallboard:queues"]
        assert args[:4] == ["app:wallboard:updates", "a", 1, "1000.0"]
        message = json.loads(args[6])
        assert message["queue"] == "a" and message["updated_at"] == 1000.0
        pairs = dict(zip(args[7::2], args[8::2], strict=True))
        assert json.loads(pairs["worker"]) == "w1"
        # Only the clock moved: nothing to write until the heartbeat is due.
        wall.now += 0.5
        assert await publisher.publish([dataclasses.replace(a, at=NOW + 1), b]) == 0
        # A changed value goes out at once.
        assert await publisher.publish([dataclasses.replace(a, calls_waiting=3), b]) == 1
        wall.now += 2.0
        assert await publisher.publish([dataclasses.replace(a, calls_waiting=3), b]) == 2
        # Refused by the version guard: counted, not an error.
        script.stored = 0
        wall.now += 2.0
        assert await publisher.publish([a]) == 0
        assert publisher.refused == 1
        await publisher.close()

    asyncio.run(run())


def test_publisher_tick_survives_redis_being_down() -> None:
    async def run() -> None:
        publisher = SnapshotPublisher("redis://127.0.0.1:1/0", prefix="p", worker="w")
        await publisher.tick([snapshot()])
        await publisher.tick([snapshot()])
        assert publisher.errors == 2
        registry = CollectorRegistry()
        registry.register(SnapshotErrorsCollector(lambda: publisher.errors))
        assert registry.get_sample_value("contact_centre_snapshot_errors_total") == 2
        await publisher.close()

    asyncio.run(run())

"""The pipeline end to end in memory: router → forwarded batches → aggregator → table → metrics.

No broker and no Faust: ``Harness`` plays the wiring of ``stream/worker/app.py``. It numbers
offsets per
input topic-partition, sends forwarded batches to the partition that owns their queue, keeps every
table write in a dict (the changelog), and collects dead letters and closed windows. Metrics are
read through ``KpiCollector`` in a fresh ``CollectorRegistry`` with a frozen clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry

from stream.config import TargetBook
from stream.core.segments import SegmentLog
from stream.export.metrics import KpiCollector
from stream.read import ReadView
from stream.stages.aggregate import QueueRecord
from stream.stages.pipeline import Effects, Outgoing, Pipeline
from stream.stages.route import Message
from stream.store import records

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()  # a Sunday, 10:00 UTC
MIDNIGHT = datetime(2026, 11, 22, tzinfo=UTC).timestamp()
NOW = T0 + 870  # the frozen wall clock of the scenario: 10:14:30, inside the 15m window 10:00
TOPIC_KINDS = {"calls": "calls", "tickets": "tickets", "agents": "agents", "customers": "customers"}
QUEUE_PARTITION = {"billing": 0, "support": 1}  # any fixed queue → partition mapping works
PARTITIONS = {0, 1}

# --- inputs --------------------------------------------------------------------------------------

Input = tuple[str, bytes | None, bytes | None]  # topic, key, value


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat().replace("+00:00", "Z")


def body(eid: str, type_: str, seconds: float, **fields_: Any) -> bytes:
    doc: dict[str, Any] = {"event_id": eid, "type": type_, "occurred_at": iso(seconds)}
    doc.update(fields_)
    return msgspec.json.encode(doc)


def call(eid: str, type_: str, seconds: float, call_id: str, **fields_: Any) -> Input:
    return ("calls", call_id.encode(), body(eid, type_, seconds, call_id=call_id, **fields_))


def ticket(eid: str, type_: str, seconds: float, ticket_id: str, **fields_: Any) -> Input:
    value = body(eid, type_, seconds, ticket_id=ticket_id, **fields_)
    return ("tickets", ticket_id.encode(), value)


def status(eid: str, seconds: float, ticket_id: str, new_status: str) -> Input:
    return ticket(eid, "ticket.status_changed", seconds, ticket_id, status=new_status)


def survey(eid: str, seconds: float, kind: str, score: int, **contact: str) -> Input:
    (contact_id,) = contact.values()
    value = body(eid, "survey.responded", seconds, kind=kind, score=score, **contact)
    return ("tickets", contact_id.encode(), value)


def input_partition(key: bytes | None) -> int:
    """Input topics are keyed by contact id: the same id lands on the same partition number."""
    return zlib.crc32(key or b"") % 2


def queue_placement(queue: str, partitions: int) -> int:
    """The forward partition of a queue: fixed for the named ones (``QUEUE_PARTITION``)."""
    return QUEUE_PARTITION.get(queue, input_partition(queue.encode()))


# --- the harness ---------------------------------------------------------------------------------


class Clock:
    """A frozen wall clock that a test can move."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    clock: Clock = field(default_factory=lambda: Clock(NOW))
    targets: TargetBook = field(default_factory=TargetBook.default)
    grace_seconds: float = 60.0
    idle_seconds: float = 30.0
    retention_seconds: float = 86400.0
    route_store: dict[bytes, bytes] = field(default_factory=dict)  # the "routes" table
    agg_store: dict[bytes, bytes] = field(default_factory=dict)  # the "aggregates" table
    next_offset: dict[tuple[str, int], int] = field(default_factory=dict)
    routed_next: dict[tuple[str, int], int] = field(default_factory=dict)
    dead_letters: list[Outgoing] = field(default_factory=list)
    windows: list[Outgoing] = field(default_factory=list)
    pipeline: Pipeline = field(init=False)

    def __post_init__(self) -> None:
        self.pipeline = self.new_pipeline()

    def new_pipeline(self) -> Pipeline:
        pipeline = Pipeline.create(
            topic_kinds=TOPIC_KINDS,
            targets=self.targets,
            clock=self.clock,
            grace_seconds=self.grace_seconds,
            idle_seconds=self.idle_seconds,
            retention_seconds=self.retention_seconds,
            max_event_bytes=65536,
            future_skew_seconds=300.0,
            forward_partitions=len(PARTITIONS),
            placement=queue_placement,
        )
        pipeline.wall = self.clock  # publish → booked latency on the test's clock
        return pipeline

    def restart(self, partitions: set[int] = PARTITIONS) -> None:
        """A new worker process recovering from the changelog (the table dicts)."""
        self.pipeline = self.new_pipeline()
        self.pipeline.load(partitions, self.route_store.items(), self.agg_store.items())

    @property
    def table(self) -> dict[bytes, bytes]:
        """Every stored record (both tables), read out of the segments: key → bytes."""
        out: dict[bytes, bytes] = {}
        for store in (self.route_store, self.agg_store):
            parts = {records.split_key(k)[0] for k in store}
            for p in parts:
                stored = [(records.split_key(k)[1], v) for k, v in store.items()
                          if records.split_key(k)[0] == p]  # fmt: skip
                for name, value in SegmentLog.recover(p, stored)[1]:
                    if value is None:
                        out.pop(records.key(p, name), None)
                    else:
                        out[records.key(p, name)] = value
        return out

    def publish(self, inputs: Iterable[Input]) -> list[Message]:
        """Messages at the next offsets of their topic-partitions."""
        out = []
        for topic, key, value in inputs:
            tp = (topic, input_partition(key))
            offset = self.next_offset.get(tp, 0)
            self.next_offset[tp] = offset + 1
            out.append(Message(topic, tp[1], offset, key, value, round(self.clock() * 1000)))
        return out

    @staticmethod
    def store(store: dict[bytes, bytes], writes: list[tuple[bytes, bytes | None]]) -> None:
        for key, value in writes:
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value

    def perform(self, effects: Effects) -> list[tuple[int, bytes]]:
        """What app.py does: table writes in order, then messages; returns forwarded batches."""
        self.store(self.route_store, effects.route_writes)
        self.store(self.agg_store, effects.aggregate_writes)
        forwards = []
        for out in effects.messages:
            if out.role == "forward":
                assert out.partition is not None  # the pipeline places every forward
                forwards.append((out.partition, out.value))
            elif out.role == "dead_letter":
                self.dead_letters.append(out)
            else:
                assert out.role == "window"
                self.windows.append(out)
        return forwards

    def route(self, messages: list[Message]) -> list[tuple[int, bytes]]:
        """Route, then report every published partition's progress as the consumer does:
        routed through the offset after the last routed record, out of what is published."""
        forwards = self.perform(self.pipeline.route(messages))
        for m in messages:
            tp = (m.topic, m.partition)
            self.routed_next[tp] = max(self.routed_next.get(tp, 0), m.offset + 1)
        positions = {
            f"{topic}/{partition}": (self.routed_next.get((topic, partition), 0), end)
            for (topic, partition), end in self.next_offset.items()
        }
        return forwards + self.perform(self.pipeline.progress(positions))

    def aggregate(self, forwards: list[tuple[int, bytes]]) -> None:
        by_partition: dict[int, list[bytes]] = {}
        for partition, payload in forwards:
            by_partition.setdefault(partition, []).append(payload)
        for partition, payloads in by_partition.items():
            assert self.perform(self.pipeline.aggregate(partition, payloads)) == []

    def feed(self, messages: list[Message]) -> None:
        self.aggregate(self.route(messages))

    def run(self, inputs: list[Input], batch_size: int = 8) -> list[list[Message]]:
        """Publish and process ``inputs`` in batches; returns the batches (for replays)."""
        batches = [
            self.publish(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)
        ]
        for batch in batches:
            self.feed(batch)
        return batches

    def run_with_redeliveries(self, inputs: list[Input], batch_size: int = 2) -> None:
        """``run``, then every forwarded batch delivered again (each must write nothing), then
        a restart from the stored segments and every input batch replayed: the stored table
        must come out unchanged."""
        forwards = []
        batches = [
            self.publish(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)
        ]
        for batch in batches:
            fwd = self.route(batch)
            self.aggregate(fwd)
            forwards += fwd
        table = self.table
        for partition, payload in forwards:  # the forwarded batches delivered again
            assert self.pipeline.aggregate(partition, [payload]).aggregate_writes == []
        self.restart()
        for batch in batches:  # the input delivered again after the restart: replays
            self.feed(batch)
        assert self.table == table

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        registry.register(KpiCollector(ReadView(self.pipeline), self.clock))
        return registry

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every exported sample: (name, sorted labels) → value; all but the publish → booked
        latency, which observes every arrival of this process (``stream.core.latency``: its
        tests)."""
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in self.registry().collect()
            if family.name != "contact_centre_event_latency_seconds"
            for s in family.samples
        }

    def queue(self, name: str) -> QueueRecord:
        return self.pipeline.agg_parts[QUEUE_PARTITION[name]].queues[name]


# --- expected samples ----------------------------------------------------------------------------

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
P = "contact_centre_"


def sample(name: str, value: float, **labels: str) -> Samples:
    return {(P + name, tuple(sorted(labels.items()))): value}


def histogram(
    name: str, bounds: tuple[float, ...], observed: list[float], **labels: str
) -> Samples:
    """The _bucket/_count/_sum samples of a histogram that observed ``observed``."""
    out: Samples = {}
    for bound in (*bounds, float("inf")):
        le = "+Inf" if bound == float("inf") else repr(bound)
        out |= sample(f"{name}_bucket", sum(v <= bound for v in observed), le=le, **labels)
    out |= sample(f"{name}_count", len(observed), **labels)
    out |= sample(f"{name}_sum", sum(observed), **labels)
    return out


def live_gauges(
    queue: str,
    waiting: list[float],
    backlog: tuple[int, int, int],
    awaiting: list[float],
    now: float = NOW,
) -> Samples:
    """Calls waiting (queued at), backlog (open, pending, on_hold), awaiting (created at)."""
    out = sample("calls_waiting", len(waiting), queue=queue)
    out |= sample(
        "oldest_call_waiting_seconds", max((now - t for t in waiting), default=0.0), queue=queue
    )
    for name, n in zip(("open", "pending", "on_hold"), backlog, strict=True):
        out |= sample("tickets_open", n, queue=queue, status=name)
    out |= sample("tickets_awaiting_first_response", len(awaiting), queue=queue)
    out |= sample(
        "oldest_ticket_awaiting_first_response_seconds",
        max((now - t for t in awaiting), default=0.0),
        queue=queue,
    )
    return out


def window_gauges(queue: str, values: dict[str, float], kinds: Iterable[str]) -> Samples:
    out: Samples = {}
    for kind in kinds:
        for name, value in values.items():
            out |= sample(name, value, queue=queue, window=kind)
    return out


def pipeline_counters(
    events: dict[str, int], rejected: dict[str, int], duplicates: int, late: int
) -> Samples:
    out: Samples = {}
    for type_, n in events.items():
        out |= sample("events_total", n, type=type_)
    for reason, n in rejected.items():
        out |= sample("events_rejected_total", n, reason=reason)
    return out | sample("events_duplicate_total", duplicates) | sample("events_late_total", late)

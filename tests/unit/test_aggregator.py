"""The pipeline end to end in memory: router → forwarded batches → aggregator → table → metrics.

No broker and no Faust: ``Harness`` plays the wiring of ``stream/worker/app.py``. It numbers
offsets per
input topic-partition, sends forwarded batches to the partition that owns their queue, keeps every
table write in a dict (the changelog), and collects dead letters and closed windows. Metrics are
read through ``KpiCollector`` in a fresh ``CollectorRegistry`` with a frozen clock.
"""

from __future__ import annotations

import itertools
import json
import textwrap
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from stream.config import TargetBook, parse_targets
from stream.core import segments
from stream.core.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
    FIRST_RESPONSE_BOUNDS,
    HANDLE_TIME_BOUNDS,
    RESOLUTION_BOUNDS,
)
from stream.core.kpis.totals import WindowTotals
from stream.core.segments import SegmentLog
from stream.export.metrics import KpiCollector, PipelineCollector
from stream.read import ReadView, WorkerAt
from stream.stages.aggregate import QueueRecord
from stream.stages.pipeline import Effects, Outgoing, Pipeline
from stream.stages.route import Message, Route, open_route
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


# --- the hand-computed scenario ------------------------------------------------------------------
# Times are seconds after 10:00:00 UTC. Default targets: answer 20 s, short abandon 5 s, first
# response 60 s (phone/chat) and 24 h (email), resolution 2 days. Every contact's events are in
# order; across contacts and queues they are not.
#
# billing (phone calls, email tickets)           support (chat calls, chat tickets)
# c1 queued 0, answered 15 (wait 15 ≤ 20),       c6 queued 100, answered 110 (wait 10),
#    hold 60–90, ended 200, wrap-up 230:            ended 250, wrap-up 280: handle 170
#    handle 230 − 15 = 215                        c7 queued 500: waiting
# c2 queued 10, abandoned 13: short (3 s < 5)    t4 created 100, agent reply 190 (FRT 90 > 60),
# c3 queued 20, abandoned 50: 30 s                  solved 800 (resolution 700)
# c4 queued 30, answered 75 (45 > 20), ended 300 t5 created 300: no reply, FRT deadline 360 passed
# c5 queued 400: waiting                          surveys: csat 2 (t4), nps 3 (c6)
# t1 created 0 (complaint); customer, bot and private messages; agent reply 120 (FRT 120);
#    pending 150, solved 600 (resolution 600), closed 700 (no reopen)
# t2 created 50, escalated 60 and 70 (once), solved 300 (resolution 250), open 400 (reopen),
#    pending 450: awaiting a first response
# t3 created 200, on_hold 250: awaiting a first response
# surveys: csat 5 (t1), nps 9 (c1)

VALID: list[Input] = [
    ticket(
        "t1-created",
        "ticket.created",
        0,
        "t1",
        queue="billing",
        channel="email",
        category="complaint",
        priority="high",
    ),
    ticket("t4-created", "ticket.created", 100, "t4", queue="support", channel="chat"),
    ticket("t1-m1", "ticket.message_added", 5, "t1", author="customer"),
    ticket("t1-m2", "ticket.message_added", 10, "t1", author="bot"),
    ticket("t1-m3", "ticket.message_added", 20, "t1", author="agent", public=False),
    ticket("t4-reply", "ticket.message_added", 190, "t4", author="agent", agent_id="a3"),
    call("c6-q", "call.queued", 100, "c6", queue="support", channel="chat"),
    call("c1-q", "call.queued", 0, "c1", queue="billing"),
    ticket("t1-reply", "ticket.message_added", 120, "t1", author="agent", agent_id="a1"),
    call("c6-a", "call.answered", 110, "c6", agent_id="a3"),
    call("c1-a", "call.answered", 15, "c1", agent_id="a1"),
    call("c2-q", "call.queued", 10, "c2", queue="billing"),
    call("c3-q", "call.queued", 20, "c3", queue="billing", channel="phone"),
    call("c2-x", "call.abandoned", 13, "c2"),
    call("c4-q", "call.queued", 30, "c4", queue="billing"),
    call("c1-h", "call.hold_started", 60, "c1"),
    call("c3-x", "call.abandoned", 50, "c3"),
    call("c1-u", "call.hold_ended", 90, "c1"),
    call("c4-a", "call.answered", 75, "c4", agent_id="a2"),
    ticket("t2-created", "ticket.created", 50, "t2", queue="billing", channel="email"),
    ticket("t2-e1", "ticket.escalated", 60, "t2", level=2),
    ticket("t2-e2", "ticket.escalated", 70, "t2", level="tier-3"),
    call("c1-e", "call.ended", 200, "c1"),
    call("c6-e", "call.ended", 250, "c6"),
    call("c1-w", "call.wrapup_completed", 230, "c1"),
    call("c6-w", "call.wrapup_completed", 280, "c6"),
    call("c4-e", "call.ended", 300, "c4"),
    status("t1-pending", 150, "t1", "pending"),
    ticket("t3-created", "ticket.created", 200, "t3", queue="billing", channel="email"),
    status("t3-hold", 250, "t3", "on_hold"),
    status("t2-solved", 300, "t2", "solved"),
    ticket("t5-created", "ticket.created", 300, "t5", queue="support", channel="chat"),
    call("c5-q", "call.queued", 400, "c5", queue="billing"),
    status("t2-open", 400, "t2", "open"),
    status("t2-pending", 450, "t2", "pending"),
    call("c7-q", "call.queued", 500, "c7", queue="support", channel="chat"),
    status("t1-solved", 600, "t1", "solved"),
    status("t1-closed", 700, "t1", "closed"),
    status("t4-solved", 800, "t4", "solved"),
    survey("s1", 710, "csat", 5, ticket_id="t1"),
    survey("s2", 810, "csat", 2, ticket_id="t4"),
    survey("s3", 240, "nps", 9, call_id="c1"),
    survey("s4", 290, "nps", 3, call_id="c6"),
]
BAD: list[Input] = [
    ("calls", b"c8", b"{not json"),  # invalid_json (router)
    call("c99-a", "call.answered", 30, "c99", agent_id="a1"),  # unknown_contact (router)
    call("c2-a", "call.answered", 40, "c2", agent_id="a1"),  # invalid_transition (aggregator)
    (
        "calls",
        b"t9",
        body("t9-created", "ticket.created", 0, ticket_id="t9", queue="billing", channel="email"),
    ),  # wrong_topic
    call("c8-q", "call.queued", 870 + 301, "c8", queue="billing"),  # timestamp_out_of_range
]
UNROUTED: list[Input] = [
    ("agents", b"a1", body("ag1", "agent.state_changed", 5, agent_id="a1", state="busy")),
    ("customers", b"u1", body("cu1", "customer.churned", 6, customer_id="u1")),
]
DUPLICATES: list[Input] = [
    call("c1-a", "call.answered", 15, "c1", agent_id="a1"),  # the same bytes again
    ticket("t1-created", "ticket.created", 5, "t1", queue="billing", channel="email"),  # same id
]
SCENARIO = VALID + BAD + UNROUTED + DUPLICATES

BILLING_WINDOW = WindowTotals(
    offered=5,
    answered=2,
    answered_within=1,
    abandoned=2,
    short_abandoned=1,
    wait_seconds=60.0,
    handled=1,
    handle_seconds=215.0,
    tickets_created=3,
    first_responses=1,
    first_responses_within=1,
    first_response_seconds=120.0,
    solved=2,
    solved_within=2,
    reopened=1,
    escalated=1,
    csat_responses=1,
    csat_positive=1,
    csat_score_sum=5,
    nps_responses=1,
    nps_promoters=1,
    nps_detractors=0,
    complaints=1,  # t1
    first_contact_resolved=1,  # t1 (one reply) and t2 (none) solved one-touch, t2 reopened
    first_resolutions=2,
    first_resolution_seconds=850.0,  # 600 + 250, as in the resolution histogram
    handled_within=1,  # 215 s ≤ 360 s
)
SUPPORT_WINDOW = WindowTotals(
    offered=2,
    answered=1,
    answered_within=1,
    abandoned=0,
    short_abandoned=0,
    wait_seconds=10.0,
    handled=1,
    handle_seconds=170.0,
    tickets_created=2,
    first_responses=1,
    first_responses_within=0,
    first_response_seconds=90.0,
    solved=1,
    solved_within=1,
    reopened=0,
    escalated=0,
    csat_responses=1,
    csat_positive=0,
    csat_score_sum=2,
    nps_responses=1,
    nps_promoters=0,
    nps_detractors=1,
    first_contact_resolved=1,  # t4: one reply
    first_resolutions=1,
    first_resolution_seconds=700.0,
    handled_within=1,
)
WINDOW_KEYS = {f"15m@{T0:.0f}", f"1h@{T0:.0f}", f"today@{MIDNIGHT:.0f}"}

SCENARIO_EVENTS = {
    "call.queued": 7,
    "call.answered": 3,
    "call.abandoned": 2,
    "call.hold_started": 1,
    "call.hold_ended": 1,
    "call.ended": 3,
    "call.wrapup_completed": 2,
    "ticket.created": 5,
    "ticket.message_added": 5,
    "ticket.escalated": 2,
    "ticket.status_changed": 8,
    "survey.responded": 4,
    "agent.state_changed": 1,
    "customer.churned": 1,
}
SCENARIO_REJECTED = {
    "invalid_json": 1,
    "unknown_contact": 1,
    "invalid_transition": 1,
    "wrong_topic": 1,
    "timestamp_out_of_range": 1,
}

CHANNELS = ("phone", "chat", "email", "social", "web", "sms")  # the contract's, written out


def zero_started(samples: Samples) -> Samples:
    """``samples`` and, for each family labelled by queue and channel (survey kind), the same
    series of every queue of ``samples`` and every other channel (kind) at 0: a known queue's
    counters exist from the start."""
    queues = {dict(labels)["queue"] for _, labels in samples if "queue" in dict(labels)}
    out: Samples = {}
    for name, labels in samples:
        fields = dict(labels)
        for label, values in (("channel", CHANNELS), ("kind", ("csat", "nps"))):
            if label in fields and name.startswith((P + "calls_", P + "tickets_", P + "first_",
                                                    P + "answer_", P + "handle_", P + "resol",
                                                    P + "survey_")):  # fmt: skip
                for queue, v in itertools.product(queues, values):
                    out[(name, tuple(sorted({**fields, "queue": queue, label: v}.items())))] = 0
    return out | samples


EXPECTED: Samples = zero_started(
    # billing: phone calls
    sample("calls_offered_total", 5, queue="billing", channel="phone")
    | sample("calls_answered_total", 2, queue="billing", channel="phone")
    | sample("calls_abandoned_total", 2, queue="billing", channel="phone")
    | sample("calls_short_abandoned_total", 1, queue="billing", channel="phone")
    | sample("calls_answered_within_target_total", 1, queue="billing", channel="phone")
    | histogram(
        "answer_wait_seconds", ANSWER_WAIT_BOUNDS, [15, 45], queue="billing", channel="phone"
    )
    | histogram("handle_time_seconds", HANDLE_TIME_BOUNDS, [215], queue="billing", channel="phone")
    | sample("calls_handled_within_target_total", 1, queue="billing", channel="phone")  # ≤ 360 s
    # billing: email tickets
    | sample("tickets_created_total", 3, queue="billing", channel="email")
    | sample("first_responses_within_target_total", 1, queue="billing", channel="email")
    | sample("tickets_solved_total", 2, queue="billing", channel="email")
    | sample("tickets_resolved_within_target_total", 2, queue="billing", channel="email")
    | sample("tickets_reopened_total", 1, queue="billing", channel="email")
    | sample("tickets_escalated_total", 1, queue="billing", channel="email")
    | histogram(
        "first_response_seconds", FIRST_RESPONSE_BOUNDS, [120], queue="billing", channel="email"
    )
    | histogram(
        "resolution_seconds", RESOLUTION_BOUNDS, [600, 250], queue="billing", channel="email"
    )
    | sample("survey_responses_total", 1, queue="billing", kind="csat")
    | sample("survey_responses_total", 1, queue="billing", kind="nps")
    | live_gauges("billing", [T0 + 400], (0, 1, 1), [T0 + 50, T0 + 200])
    | window_gauges(
        "billing",
        {
            "service_level_ratio": 1 / 3,  # 1 within ÷ (2 answered + 2 abandoned − 1 short)
            "abandon_rate_ratio": 0.4,
            "average_speed_of_answer_seconds": 30.0,
            "average_handle_time_seconds": 215.0,
            "handle_time_within_target_ratio": 1.0,
            "first_response_within_target_ratio": 1.0,
            "average_first_response_seconds": 120.0,
            "average_resolution_seconds": 425.0,  # (600 + 250) ÷ 2 first resolutions
            "csat_ratio": 1.0,
            "nps_score": 100.0,
        },
        ("15m", "1h", "today"),
    )
    # support: chat calls and tickets
    | sample("calls_offered_total", 2, queue="support", channel="chat")
    | sample("calls_answered_total", 1, queue="support", channel="chat")
    | sample("calls_answered_within_target_total", 1, queue="support", channel="chat")
    | histogram("answer_wait_seconds", ANSWER_WAIT_BOUNDS, [10], queue="support", channel="chat")
    | histogram("handle_time_seconds", HANDLE_TIME_BOUNDS, [170], queue="support", channel="chat")
    | sample("calls_handled_within_target_total", 1, queue="support", channel="chat")
    | sample("tickets_created_total", 2, queue="support", channel="chat")
    | sample("tickets_solved_total", 1, queue="support", channel="chat")
    | sample("tickets_resolved_within_target_total", 1, queue="support", channel="chat")
    | histogram(
        "first_response_seconds", FIRST_RESPONSE_BOUNDS, [90], queue="support", channel="chat"
    )
    | histogram("resolution_seconds", RESOLUTION_BOUNDS, [700], queue="support", channel="chat")
    | sample("survey_responses_total", 1, queue="support", kind="csat")
    | sample("survey_responses_total", 1, queue="support", kind="nps")
    | live_gauges("support", [T0 + 500], (1, 0, 0), [T0 + 300])
    | window_gauges(
        "support",
        {
            "service_level_ratio": 1.0,
            "abandon_rate_ratio": 0.0,
            "average_speed_of_answer_seconds": 10.0,
            "average_handle_time_seconds": 170.0,
            "handle_time_within_target_ratio": 1.0,
            # 0 within ÷ (1 response + t5, past its 60 s target without one)
            "first_response_within_target_ratio": 0.0,
            "average_first_response_seconds": 90.0,
            "average_resolution_seconds": 700.0,
            "csat_ratio": 0.0,
            "nps_score": -100.0,
        },
        ("15m", "1h", "today"),
    )
    | pipeline_counters(SCENARIO_EVENTS, SCENARIO_REJECTED, duplicates=2, late=0)
)


KNOWN_NAMES = {name for name, _ in EXPECTED}


def contract_samples(h: Harness) -> Samples:
    """The samples of the families the scenario checks (others may be added freely)."""
    return {k: v for k, v in h.samples().items() if k[0] in KNOWN_NAMES}


@pytest.mark.parametrize("batch_size", [1, 8, len(SCENARIO)])
def test_hand_computed_scenario(batch_size: int) -> None:
    h = Harness()
    h.run(SCENARIO, batch_size)

    registry = h.registry()
    for (name, labels), value in EXPECTED.items():
        assert registry.get_sample_value(name, dict(labels)) == value, (name, labels)
    assert contract_samples(h) == EXPECTED  # and no other series of these families

    billing, support = h.queue("billing"), h.queue("support")
    assert set(billing.windows) == set(support.windows) == WINDOW_KEYS
    assert all(w == BILLING_WINDOW for w in billing.windows.values())
    assert all(w == SUPPORT_WINDOW for w in support.windows.values())
    assert (billing.duplicates, billing.late, billing.rejected) == (2, 0, {"invalid_transition": 1})
    assert (support.duplicates, support.late, support.rejected) == (0, 0, {})
    assert (billing.max_event_time, support.max_event_time) == (T0 + 710, T0 + 810)

    live = h.pipeline.agg_parts[0].live["billing"]
    assert live.waiting == {"c:c5": T0 + 400}
    assert {k: v for k, v in live.backlog.items() if v} == {"pending": 1, "on_hold": 1}
    assert live.awaiting == {"t:t2": T0 + 50, "t:t3": T0 + 200}
    live = h.pipeline.agg_parts[1].live["support"]
    assert live.waiting == {"c:c7": T0 + 500}
    assert {k: v for k, v in live.backlog.items() if v} == {"open": 1}
    assert live.awaiting == {"t:t5": T0 + 300}

    # one dead letter per rejected input, with the original bytes and coordinates
    dead = sorted(
        (dict(d.headers)["reason"].decode(), dict(d.headers)["source_topic"].decode(), d.value)
        for d in h.dead_letters
    )
    assert dead == sorted(
        [
            ("invalid_json", "calls", b"{not json"),
            ("unknown_contact", "calls", BAD[1][2] or b""),
            ("invalid_transition", "calls", BAD[2][2] or b""),
            ("wrong_topic", "calls", BAD[3][2] or b""),
            ("timestamp_out_of_range", "calls", BAD[4][2] or b""),
        ]
    )
    assert h.windows == []  # every window is still open at 10:14:30 (grace 60 s)


def test_scenario_gauges_follow_the_scrape_clock() -> None:
    h = Harness()
    h.run(SCENARIO)
    h.clock.now = NOW + 100  # 100 s later every age has grown by 100 s
    registry = h.registry()
    assert registry.get_sample_value(P + "oldest_call_waiting_seconds", {"queue": "billing"}) == (
        570.0
    )
    assert registry.get_sample_value(
        P + "oldest_ticket_awaiting_first_response_seconds", {"queue": "support"}
    ) == (670.0)
    # At 10:16:10 the current 15-minute window (10:15) has no events: no 15m gauge at all ...
    assert (
        registry.get_sample_value(P + "service_level_ratio", {"queue": "billing", "window": "15m"})
        is None
    )
    # ... except where a first-response deadline fell inside it (none here) ...
    assert (
        registry.get_sample_value(
            P + "first_response_within_target_ratio", {"queue": "support", "window": "15m"}
        )
        is None
    )
    # ... while 1h and today still hold everything.
    assert (
        registry.get_sample_value(P + "service_level_ratio", {"queue": "billing", "window": "1h"})
        == 1 / 3
    )


# --- duplicates ----------------------------------------------------------------------------------

Q1 = call("d-q", "call.queued", 0, "d1", queue="billing")
A1 = call("d-a", "call.answered", 12, "d1", agent_id="a1")
CR = ticket("d-c", "ticket.created", 0, "dt", queue="billing", channel="web")
SV = survey("d-s", 30, "csat", 4, ticket_id="dt")

# (batches of inputs, expected samples, expected duplicates)
DUPLICATE_CASES: list[tuple[str, list[list[Input]], Samples, int]] = [
    (
        "call.queued twice in one batch",
        [[Q1, Q1]],
        sample("calls_offered_total", 1, queue="billing", channel="phone"),
        1,
    ),
    (
        "call.queued twice in two batches",
        [[Q1], [Q1]],
        sample("calls_offered_total", 1, queue="billing", channel="phone"),
        1,
    ),
    (
        "same event_id, different body",
        [[Q1], [call("d-q", "call.queued", 5, "d1", queue="billing", channel="chat")]],
        sample("calls_offered_total", 1, queue="billing", channel="phone"),
        1,
    ),
    (
        "a duplicated answer after later events",
        [[Q1, A1, call("d-e", "call.ended", 40, "d1")], [A1, A1]],
        sample("calls_answered_total", 1, queue="billing", channel="phone")
        | histogram(
            "answer_wait_seconds", ANSWER_WAIT_BOUNDS, [12], queue="billing", channel="phone"
        ),
        2,
    ),
    (
        "ticket.created twice",
        [[CR], [CR]],
        sample("tickets_created_total", 1, queue="billing", channel="web"),
        1,
    ),
    (
        "a survey twice",
        [[CR, SV], [SV]],
        sample("survey_responses_total", 1, queue="billing", kind="csat"),
        1,
    ),
]


@pytest.mark.parametrize(
    ("batches", "expected", "duplicates"),
    [pytest.param(*row[1:], id=row[0]) for row in DUPLICATE_CASES],
)
def test_duplicates_are_counted_once(
    batches: list[list[Input]], expected: Samples, duplicates: int
) -> None:
    h = Harness()
    for inputs in batches:
        h.feed(h.publish(inputs))
    got = h.samples()
    assert {k: got.get(k) for k in expected} == expected
    assert got[(P + "events_duplicate_total", ())] == duplicates
    assert h.dead_letters == []


def test_publishing_the_whole_stream_twice_changes_only_the_duplicate_counter() -> None:
    h = Harness()
    h.run(VALID + DUPLICATES)
    once = h.samples()
    h.run(VALID + DUPLICATES, batch_size=5)
    twice = h.samples()
    duplicates = (P + "events_duplicate_total", ())
    assert twice[duplicates] == once[duplicates] + len(VALID + DUPLICATES)
    assert {k: v for k, v in twice.items() if k != duplicates} == {
        k: v for k, v in once.items() if k != duplicates
    }
    assert h.dead_letters == []


# --- replays (crash before the offsets were committed) --------------------------------------------


def test_feeding_the_same_batches_again_changes_nothing() -> None:
    h = Harness()
    batches = h.run(SCENARIO)
    before, table, dead = h.samples(), h.table, list(h.dead_letters)
    for batch in batches:
        # A replay is forwarded again (its first forward may have died with the worker) ...
        h.feed(batch)
    # ... and changes no number and no stored record; dead letters are re-sent, not re-counted.
    assert h.samples() == before
    assert h.table == table
    assert sorted(d.headers for d in h.dead_letters) == sorted(d.headers for d in dead * 2)


def test_forwarded_batches_delivered_again_change_nothing() -> None:
    h = Harness()
    forwards = []
    for batch in [h.publish(SCENARIO[i : i + 8]) for i in range(0, len(SCENARIO), 8)]:
        fwd = h.route(batch)
        h.aggregate(fwd)
        forwards += fwd
    before, table = h.samples(), h.table
    for partition, payload in forwards:
        effects = h.pipeline.aggregate(partition, [payload])
        assert effects.aggregate_writes == []
        # Only dead letters come out again (re-sent at-least-once; counted once).
        assert {m.role for m in effects.messages} <= {"dead_letter"}
    assert h.samples() == before
    assert h.table == table


CRASHES = [
    "redelivered after a clean restart",  # everything stored, offsets not committed
    "router writes lost",  # forwards sent and applied, routes and router offsets not stored
    "nothing stored",  # forwards sent, then the worker died before storing anything
    "contact writes lost",  # queue records of the batch stored, contact records not
]


def only_queue_records(delta: bytes | None) -> bytes | None:
    assert delta is not None
    writes = segments.unpack(delta)
    return msgspec.msgpack.encode([(n, v) for n, v in writes if n.startswith("q|")])  # plain


def record_writes(writes: list[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    """The record writes inside delta segments, as (record key, value)."""
    out = []
    for key, value in writes:
        partition, name = records.split_key(key)
        assert name.startswith("x|") and value is not None
        for rname, rvalue in segments.unpack(value):
            out.append((records.key(partition, rname), rvalue))
    return out


@pytest.mark.parametrize("crash", CRASHES)
def test_crash_and_replay_of_the_last_batch_is_exact(crash: str) -> None:
    reference = Harness()
    reference.run(SCENARIO)

    h = Harness()
    h.run(SCENARIO[:-12])
    last = h.publish(SCENARIO[-12:])
    routes_before, aggs_before = dict(h.route_store), dict(h.agg_store)
    effects = h.pipeline.route(last)
    forwards = h.perform(effects)
    if crash == "router writes lost":
        h.aggregate(forwards)
        h.route_store = routes_before
    elif crash == "nothing stored":
        h.route_store, h.agg_store = routes_before, aggs_before
    elif crash == "contact writes lost":
        # Only possible across the chunks of one large delta: the queue records come first.
        by_partition: dict[int, list[bytes]] = {}
        for partition, payload in forwards:
            by_partition.setdefault(partition, []).append(payload)
        for partition, payloads in by_partition.items():
            agg = h.pipeline.aggregate(partition, payloads)
            h.store(h.agg_store, [(k, only_queue_records(v)) for k, v in agg.aggregate_writes])
    else:
        h.aggregate(forwards)

    h.restart()
    # Kafka redelivers what was not committed: the input batch, and any forwards it produced.
    h.aggregate(forwards)
    h.feed(last)
    assert h.samples() == reference.samples()
    for name in QUEUE_PARTITION:
        assert h.queue(name) == reference.queue(name)


# --- late events ---------------------------------------------------------------------------------

LATE_CLOCK = T0 + 2100


def offered_windows(h: Harness) -> dict[str, int]:
    return {k: w.offered for k, w in h.queue("billing").windows.items()}


# (events as (call id, seconds after 10:00), late count, offered per open window)
LATE_CASES: list[tuple[str, list[tuple[str, float]], int, dict[str, int]]] = [
    (
        "the watermark reaches the window end: late",
        [("a", 1860), ("b", 1795)],  # mark 10:30:00 = end of the 15m window 10:15
        1,
        {f"15m@{T0 + 1800:.0f}": 1, f"1h@{T0:.0f}": 2, f"today@{MIDNIGHT:.0f}": 2},
    ),
    (
        "just inside the grace period",
        [("a", 1850), ("b", 1795)],  # mark 10:29:50 < 10:30: the 15m window 10:15 is open
        0,
        {
            f"15m@{T0 + 900:.0f}": 1,
            f"15m@{T0 + 1800:.0f}": 1,
            f"1h@{T0:.0f}": 2,
            f"today@{MIDNIGHT:.0f}": 2,
        },
    ),
    (
        "late for its 15m window only: booked to 1h and today",
        [("a", 2000), ("b", 100)],
        1,
        {f"15m@{T0 + 1800:.0f}": 1, f"1h@{T0:.0f}": 2, f"today@{MIDNIGHT:.0f}": 2},
    ),
    (
        "late for every window (yesterday): all-time counters only",
        [("a", 2000), ("b", -36600)],
        1,
        {f"15m@{T0 + 1800:.0f}": 1, f"1h@{T0:.0f}": 1, f"today@{MIDNIGHT:.0f}": 1},
    ),
    (
        "two late events and one in order",
        [("a", 2000), ("b", 100), ("c", -36600), ("d", 1950)],
        2,
        {f"15m@{T0 + 1800:.0f}": 2, f"1h@{T0:.0f}": 3, f"today@{MIDNIGHT:.0f}": 3},
    ),
]


@pytest.mark.parametrize(
    ("events", "late", "windows"), [pytest.param(*row[1:], id=row[0]) for row in LATE_CASES]
)
def test_late_events(events: list[tuple[str, float]], late: int, windows: dict[str, int]) -> None:
    h = Harness(clock=Clock(LATE_CLOCK))
    for cid, seconds in events:  # one batch each: arrival order is the list order
        h.feed(h.publish([call(f"{cid}-q", "call.queued", seconds, cid, queue="billing")]))
    assert offered_windows(h) == windows
    registry = h.registry()
    assert registry.get_sample_value(P + "events_late_total") == late
    assert registry.get_sample_value(
        P + "calls_offered_total", {"queue": "billing", "channel": "phone"}
    ) == len(events)


# --- windows closing -----------------------------------------------------------------------------


def window_message(queue: str, kind: str, start: float, end: float, **counts: float) -> Outgoing:
    totals = {f.name: 0 for f in fields(WindowTotals)} | counts
    doc = {"queue": queue, "window": kind, "start": start, "end": end, "totals": totals}
    return Outgoing("window", f"{queue}|{kind}|{start:.0f}".encode(), json.dumps(doc).encode())


def published(h: Harness) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Window messages published since the last call, by key."""
    out = expected(*h.windows)
    h.windows.clear()
    return out


def expected(*messages: Outgoing) -> list[tuple[bytes | None, dict[str, Any]]]:
    return sorted(((o.key, json.loads(o.value)) for o in messages), key=lambda m: m[0] or b"")


def test_windows_close_on_event_time_and_are_published_once() -> None:
    h = Harness(clock=Clock(T0 + 4000))

    def feed(*inputs: Input) -> None:
        h.feed(h.publish(inputs))

    feed(call("w1-q", "call.queued", 300, "w1", queue="billing"))
    feed(call("w1-a", "call.answered", 600, "w1", agent_id="a1"))  # waited 300 s
    feed(call("w2-q", "call.queued", 959, "w2", queue="billing"))  # mark 10:14:59
    assert published(h) == []
    feed(call("w3-q", "call.queued", 960, "w3", queue="billing"))  # mark 10:15:00 = the end
    assert published(h) == expected(
        window_message("billing", "15m", T0, T0 + 900, offered=1, answered=1, wait_seconds=300.0)
    )
    feed(call("w4-q", "call.queued", 990, "w4", queue="billing"))
    assert published(h) == []  # once
    # an event for the closed window is late: booked to 1h and today, never republished
    feed(call("w5-q", "call.queued", 890, "w5", queue="billing"))
    assert published(h) == []
    assert h.queue("billing").late == 1
    assert h.queue("billing").closed_through == {"15m": T0 + 900}
    # crossing the hour closes the 15m window 10:15 and the hour 10:00
    feed(call("w6-q", "call.queued", 3660, "w6", queue="billing"))
    assert published(h) == expected(
        window_message("billing", "15m", T0 + 900, T0 + 1800, offered=3),
        window_message("billing", "1h", T0, T0 + 3600, offered=5, answered=1, wait_seconds=300.0),
    )
    assert set(h.queue("billing").windows) == {
        f"15m@{T0 + 3600:.0f}",
        f"1h@{T0 + 3600:.0f}",
        f"today@{MIDNIGHT:.0f}",
    }
    # a restarted worker does not publish them again
    h.restart()
    h.perform(h.pipeline.tick())
    feed(call("w7-q", "call.queued", 3670, "w7", queue="billing"))
    assert published(h) == []


def test_an_idle_partition_closes_windows_with_the_wall_clock() -> None:
    h = Harness(clock=Clock(T0 + 310))
    h.feed(h.publish([call("i1-q", "call.queued", 300, "i1", queue="billing")]))
    h.clock.now = T0 + 339  # 29 s quiet: still event time
    h.perform(h.pipeline.tick())
    h.clock.now = T0 + 959  # idle: stream time is the wall clock, mark 10:14:59
    h.perform(h.pipeline.tick())
    assert published(h) == []
    h.clock.now = T0 + 960
    h.perform(h.pipeline.tick())
    assert published(h) == expected(window_message("billing", "15m", T0, T0 + 900, offered=1))
    h.perform(h.pipeline.tick())
    assert published(h) == []
    # an event after the wall clock closed the window is late for it
    h.feed(h.publish([call("i2-q", "call.queued", 400, "i2", queue="billing")]))
    assert h.queue("billing").late == 1


def test_windows_close_after_a_restart_with_no_traffic() -> None:
    h = Harness(clock=Clock(T0 + 310))
    h.feed(h.publish([call("i1-q", "call.queued", 300, "i1", queue="billing")]))
    h.clock.now = T0 + 320
    h.restart()  # the worker restarts at night; no event arrives any more
    h.clock.now = T0 + 2000
    h.perform(h.pipeline.tick())
    assert published(h) == expected(window_message("billing", "15m", T0, T0 + 900, offered=1))


# --- recovery ------------------------------------------------------------------------------------


def test_load_from_the_table_gives_identical_state_and_metrics() -> None:
    h = Harness()
    h.run(SCENARIO)
    before = h.samples()
    old = h.pipeline
    h.restart()
    assert h.samples() == before
    for p in PARTITIONS:
        new_ps, old_ps = h.pipeline.agg_parts[p], old.agg_parts[p]
        assert new_ps.queues == old_ps.queues
        assert new_ps.contacts == old_ps.contacts
        for name, live in new_ps.live.items():
            other = old_ps.live[name]
            assert (live.waiting, live.awaiting) == (other.waiting, other.awaiting)
            assert {k: v for k, v in live.backlog.items() if v} == {
                k: v for k, v in other.backlog.items() if v
            }
        assert h.pipeline.router_parts[p].routes == old.router_parts[p].routes
        assert h.pipeline.router_parts[p].stats == old.router_parts[p].stats


def test_counters_continue_after_a_restart() -> None:
    reference = Harness()
    reference.run(SCENARIO)
    h = Harness()
    h.run(SCENARIO[:20])
    h.restart()
    h.run(SCENARIO[20:])
    assert h.samples() == reference.samples()


def test_a_worker_exports_only_the_partitions_it_loaded() -> None:
    h = Harness()
    h.run(SCENARIO)
    everything = h.samples()
    h.restart({0})
    billing_only = h.samples()
    # the queues of partition 1 leave with it; router counters of partition 1 too
    assert not any(("queue", "support") in labels for _, labels in billing_only)
    assert {k: v for k, v in everything.items() if ("queue", "billing") in k[1]} == {
        k: v for k, v in billing_only.items() if ("queue", "billing") in k[1]
    }
    h.pipeline.revoke({0})
    assert h.pipeline.agg_parts == {} and h.pipeline.router_parts == {}
    assert contract_samples(h) == (
        sample("events_duplicate_total", 0) | sample("events_late_total", 0)
    )


def test_record_keys_name_their_partition_and_kind() -> None:
    h = Harness()
    h.run(SCENARIO)
    kinds = {records.split_key(k)[1][0] for k in h.table}
    # h: an event of an agent's history (a1 names no queues: no "o" record, no "e" events),
    # d: a customer's event memory, u/k: its churns, the partition's churn counts
    # (stream.core.kpis.customers), w: the sources' progress and the watermark
    # (stream.core.progress)
    assert kinds == {"q", "c", "t", "r", "s", "d", "h", "u", "k", "w"}
    assert {records.split_key(k) for k in h.table if b"|q|" in k} == {
        (0, "q|billing"),
        (1, "q|support"),
    }
    route = records.decode("r|c:c1", h.table[records.key(input_partition(b"c1"), "r|c:c1")])
    assert route == Route("billing", "phone", finished_at=T0 + 230)


def test_recovered_open_routes_are_shared_and_finished_ones_kept() -> None:
    h = Harness()
    h.run([
        ticket("e1", "ticket.created", 0, "t1", queue="support", channel="email"),
        ticket("e2", "ticket.created", 1, "t2", queue="support", channel="email"),
        ticket("e3", "ticket.created", 2, "t3", queue="support", channel="email"),
        status("e4", 5, "t3", "closed"),
    ])  # fmt: skip
    h.restart()
    routes = {k: r for p in h.pipeline.router_parts.values() for k, r in p.routes.items()}
    assert routes["t:t1"] is routes["t:t2"] is open_route("support", "email")
    assert routes["t:t3"] == Route("support", "email", finished_at=T0 + 5)


# --- targets -------------------------------------------------------------------------------------


def test_per_queue_targets_from_the_targets_file() -> None:
    targets = parse_targets(
        textwrap.dedent(
            """
            queues:
              billing:
                answer_target_seconds: 30
                short_abandon_seconds: 10
                channels:
                  email: {first_response_seconds: 100}
            """
        )
    )
    h = Harness(targets=targets)
    h.run(VALID)
    registry = h.registry()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(P + name, labels)

    # c4 waited 45 s (> 30), c1 15 s; c2 abandoned at 3 s and c3 at 30 s (short < 10 s: c2 only)
    assert value("calls_answered_within_target_total", queue="billing", channel="phone") == 1
    assert value("calls_short_abandoned_total", queue="billing", channel="phone") == 1
    # t1 answered after 120 s: outside the 100 s email target of billing
    # (at 0 from the start: every channel of a known queue has its counters)
    assert value("first_responses_within_target_total", queue="billing", channel="email") == 0
    # support keeps the defaults
    assert value("calls_answered_within_target_total", queue="support", channel="chat") == 1


# --- expiry --------------------------------------------------------------------------------------

EXPIRY: list[Input] = [
    call("x1-q", "call.queued", 0, "x1", queue="billing"),
    call("x1-a", "call.answered", 10, "x1", agent_id="a1"),
    call("x1-e", "call.ended", 100, "x1"),
    call("x1-w", "call.wrapup_completed", 130, "x1"),  # finished at 130
    call("x2-q", "call.queued", 50, "x2", queue="billing"),
    call("x2-x", "call.abandoned", 60, "x2"),  # finished at 60
    call("x3-q", "call.queued", 70, "x3", queue="billing"),  # still waiting
    ticket("y1-c", "ticket.created", 0, "y1", queue="billing", channel="email"),
    status("y1-s", 100, "y1", "solved"),
    status("y1-x", 200, "y1", "closed"),  # finished at 200
    ticket("y2-c", "ticket.created", 0, "y2", queue="billing", channel="email"),
    status("y2-x", 100, "y2", "closed"),
    status("y2-o", 150, "y2", "open"),  # reopened: not finished
    ticket("y3-c", "ticket.created", 0, "y3", queue="billing", channel="email"),
    status("y3-s", 300, "y3", "solved"),  # solved is not finished
]


def contacts(h: Harness) -> set[str]:
    return set(h.pipeline.agg_parts[0].contacts)


def routes(h: Harness) -> set[str]:
    return {k for part in h.pipeline.router_parts.values() for k in part.routes}


def test_finished_contacts_expire_after_the_retention() -> None:
    h = Harness(clock=Clock(T0 + 4000), retention_seconds=3600.0)
    h.run(EXPIRY)
    everything = {"c:x1", "c:x2", "c:x3", "t:y1", "t:y2", "t:y3"}
    assert contacts(h) == routes(h) == everything
    h.perform(h.pipeline.expire())
    assert contacts(h) == routes(h) == everything  # newest event 300: horizon −3300

    h.run([call("x9-q", "call.queued", 3750, "x9", queue="billing")])  # horizon 150
    before = h.samples()
    effects = h.pipeline.expire()
    assert sorted(record_writes(effects.aggregate_writes)) == [
        (b"0|c:x1", None),
        (b"0|c:x2", None),
    ]
    assert sorted(record_writes(effects.route_writes)) == sorted(
        [
            (records.key(input_partition(b"x1"), "r|c:x1"), None),
            (records.key(input_partition(b"x2"), "r|c:x2"), None),
        ]
    )
    h.perform(effects)
    assert contacts(h) == routes(h) == everything - {"c:x1", "c:x2"} | {"c:x9"}
    assert h.samples() == before  # forgetting contacts changes no metric
    assert not any(b"x1" in k or b"x2" in k for k in h.table)

    h.run([call("x10-q", "call.queued", 3850, "x10", queue="billing")])  # horizon 250
    h.perform(h.pipeline.expire())
    assert contacts(h) == routes(h) == {"c:x3", "t:y2", "t:y3", "c:x9", "c:x10"}

    # Events of forgotten contacts are unknown; the reopened ticket still routes.
    h.run(
        [
            call("x1-late", "call.ended", 3900, "x1"),
            ticket("y2-reply", "ticket.message_added", 3900, "y2", author="agent"),
        ]
    )
    assert [dict(d.headers)["reason"] for d in h.dead_letters] == [b"unknown_contact"]
    registry = h.registry()
    email = {"queue": "billing", "channel": "email"}
    assert registry.get_sample_value(P + "first_response_seconds_count", email) == 1
    assert registry.get_sample_value(P + "first_response_seconds_sum", email) == 3900.0
    assert registry.get_sample_value(P + "first_responses_within_target_total", email) == 1


def test_expired_contacts_survive_a_restart_as_forgotten() -> None:
    h = Harness(clock=Clock(T0 + 4000), retention_seconds=3600.0)
    h.run([*EXPIRY, call("x9-q", "call.queued", 3850, "x9", queue="billing")])
    h.perform(h.pipeline.expire())
    remaining, before = contacts(h), contract_samples(h)
    h.restart()
    assert contacts(h) == remaining == routes(h)
    assert contract_samples(h) == before


def test_split_collectors_export_the_same_and_serve_restricted_scrapes() -> None:
    """The worker registers the KPIs and the pipeline counters as two described collectors, so
    ``/metrics?name[]=...`` runs only the collector it needs; together they export exactly
    what the single collector does."""
    h = Harness()
    h.run(SCENARIO)
    split = CollectorRegistry(auto_describe=False)
    kpis = KpiCollector(ReadView(h.pipeline), h.clock, with_pipeline=False)
    split.register(kpis)
    split.register(PipelineCollector(ReadView(h.pipeline)))
    assert generate_latest(split) == generate_latest(h.registry())

    calls: list[int] = []
    original = kpis.view.at

    def counting(now: float) -> WorkerAt:
        calls.append(1)
        return original(now)

    kpis.view.at = counting  # type: ignore[method-assign]
    names = ["contact_centre_events_total", "contact_centre_events_duplicate_total"]
    text = generate_latest(split.restricted_registry(names)).decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples and all(line.startswith(tuple(names)) for line in samples)
    assert calls == []  # the KPI families were not built
    assert 'contact_centre_calls_offered_total{channel="phone",queue="billing"}' in (
        generate_latest(split.restricted_registry(["contact_centre_calls_offered_total"])).decode()
    )
    assert calls == [1]


def test_a_rebalance_keeps_the_state_of_partitions_still_owned_and_loads_the_new_ones() -> None:
    """``Pipeline.load(..., keep=...)``: a partition this worker kept through a rebalance (and
    nobody else wrote to) keeps its state objects; the others are rebuilt from the tables, and
    the numbers go on exactly as without the rebalance."""
    reference = Harness()
    reference.run(SCENARIO)
    h = Harness()
    h.run(SCENARIO[:20])
    router_0, agg_0, agg_1 = (
        h.pipeline.router_parts[0],
        h.pipeline.agg_parts[0],
        h.pipeline.agg_parts[1],
    )
    h.pipeline.load(set(PARTITIONS), h.route_store.items(), h.agg_store.items(), keep={0})
    assert h.pipeline.router_parts[0] is router_0 and h.pipeline.agg_parts[0] is agg_0
    assert h.pipeline.agg_parts[1] is not agg_1
    h.run(SCENARIO[20:])
    assert h.samples() == reference.samples()


def test_keeping_a_partition_not_loaded_yet_loads_it() -> None:
    """A taken-over partition is new to the pipeline: ``keep`` cannot skip loading it."""
    h = Harness()
    h.run(SCENARIO)
    before = h.samples()
    h.restart({0})
    h.pipeline.load(set(PARTITIONS), h.route_store.items(), h.agg_store.items(), keep=PARTITIONS)
    assert h.samples() == before

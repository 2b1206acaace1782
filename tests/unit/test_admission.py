"""Bounded queue names (``stream.core.admission``) and zero-start counters, on the real pipeline.

The pipeline runs as in ``test_aggregator`` (stored tables as dicts, restarts from them), with
forwards placed on the partition the producer's partitioner gives a queue (``queue_partition``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from stream.config import parse_targets
from stream.core.admission import Admission, Refusals, share
from stream.export.metrics import KpiCollector, ProgressCollector, SnapshotErrorsCollector, render
from stream.read import ReadView
from stream.stages.pipeline import Effects, Pipeline, queue_partition
from tests.pipeline_harness import (
    PARTITIONS,
    TOPIC_KINDS,
    Harness,
    Input,
    body,
    call,
)
from tests.pipeline_scenario import CHANNELS

MAX_QUEUES = 4  # two partitions: a share of 2 each
LISTED = ("vip", "billing")  # the targets file's queues


def queues_of(partition: int, n: int, prefix: str = "q") -> list[str]:
    """The first ``n`` names ``<prefix><i>`` that the partitioner puts on ``partition``."""
    names = (f"{prefix}{i}" for i in itertools.count())
    return list(itertools.islice((q for q in names if queue_partition(q, 2) == partition), n))


@dataclass
class Bounded(Harness):
    """The test harness with ``STREAM_MAX_QUEUES`` and a targets file."""

    max_queues: int = MAX_QUEUES

    def new_pipeline(self) -> Pipeline:
        return Pipeline.create(
            topic_kinds=TOPIC_KINDS,
            targets=self.targets,
            clock=self.clock,
            grace_seconds=self.grace_seconds,
            idle_seconds=self.idle_seconds,
            retention_seconds=self.retention_seconds,
            max_event_bytes=65536,
            future_skew_seconds=300.0,
            forward_partitions=len(PARTITIONS),
            max_queues=self.max_queues,
            listed_queues=self.targets.queues(),
        )

    def perform(self, effects: Effects) -> list[tuple[int, bytes]]:
        forwards = []
        self.store(self.route_store, effects.route_writes)
        self.store(self.agg_store, effects.aggregate_writes)
        for out in effects.messages:
            if out.role == "forward":
                partition = out.partition
                if partition is None:
                    assert out.key is not None
                    partition = queue_partition(out.key.decode(), len(PARTITIONS))
                forwards.append((partition, out.value))
            elif out.role == "dead_letter":
                self.dead_letters.append(out)
            else:
                self.windows.append(out)
        return forwards

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry().get_sample_value("contact_centre_" + name, labels)

    def too_many(self) -> float | None:
        return self.value("events_rejected_total", reason="too_many_queues")


def bounded() -> Bounded:
    targets = parse_targets("queues: {vip: {answer_target_seconds: 10}, billing: {}}")
    assert tuple(targets.queues()) == LISTED
    return Bounded(targets=targets)


def queued(queue: str, n: int, offset: int = 0) -> list[Input]:
    """``n`` calls queued in ``queue`` (call ids unique per queue)."""
    return [
        call(f"{queue}-{offset + i}", "call.queued", offset + i, f"{queue}-c{offset + i}",
             queue=queue)
        for i in range(n)
    ]  # fmt: skip


# Six queues per partition, three calls each, interleaved; both listed queues after them all.
P0, P1 = queues_of(0, 6), queues_of(1, 6)
ORDER = [q for pair in zip(P0, P1, strict=True) for q in pair]
INPUTS = [ev for i in range(3) for q in ORDER for ev in queued(q, 1, offset=10 * i)] + [
    ev for q in LISTED for ev in queued(q, 2, offset=40)
]


def test_the_shares_add_up_to_the_limit() -> None:
    assert [share(10, 4, p) for p in range(4)] == [3, 3, 2, 2]
    assert [share(4, 2, p) for p in range(2)] == [2, 2]
    assert [share(3, 8, p) for p in range(8)] == [1, 1, 1, 0, 0, 0, 0, 0]
    for limit, parts in itertools.product((1, 7, 200, 1000), (1, 3, 8, 12)):
        assert sum(share(limit, parts, p) for p in range(parts)) == limit


def test_admission_counts_only_queues_outside_the_targets_file() -> None:
    rule = Admission({0: frozenset({"vip"})}, max_queues=2, partitions=2)  # share 1 each
    assert rule.admits(0, set(), "a")
    assert not rule.admits(0, {"a"}, "b")
    assert rule.admits(0, {"a"}, "a")  # known stays known
    assert rule.admits(0, {"a"}, "vip")  # listed: no quota
    assert not rule.admits(0, {"a", "vip"}, "b")
    assert rule.admits(1, set(), "b")  # another partition, its own share
    refusals = Refusals()
    assert refusals.count_once("calls/0", 5) and not refusals.count_once("calls/0", 5)
    assert refusals.count_once("calls/0", 3)  # grouped by queue: offsets come in any order
    assert refusals.settle("calls/0", 5) and refusals.pending == {"calls/0": [5]}
    assert not refusals.count_once("calls/0", 4) and not refusals.count_once("calls/0", 5)
    assert not refusals.settle("calls/1", 9)  # nothing pending there: nothing to store
    assert refusals.count == 2


@pytest.mark.parametrize("batch_size", [1, 7, len(INPUTS)])
def test_queues_beyond_the_share_are_dead_lettered_and_counted(batch_size: int) -> None:
    h = bounded()
    h.run(INPUTS, batch_size)
    admitted: set[str] = set()
    for p, names in ((0, P0), (1, P1)):
        held = set(h.pipeline.agg_parts[p].queues)
        assert held >= {q for q in LISTED if queue_partition(q, 2) == p}
        assert len(held - set(LISTED)) == 2  # the share, whatever the batches
        admitted |= held - set(LISTED)
        if batch_size == 1:  # one event per batch: the input order is the partition's log order
            assert held - set(LISTED) == set(names[:2])
    for q in admitted:
        assert h.value("calls_offered_total", queue=q, channel="phone") == 3
    for q in LISTED:
        assert h.value("calls_offered_total", queue=q, channel="phone") == 2
    refused = 8 * 3  # eight queues beyond the shares, three calls each
    assert h.too_many() == refused
    reasons = [dict(d.headers)["reason"] for d in h.dead_letters]
    assert reasons == [b"too_many_queues"] * refused
    assert h.value("calls_offered_total", queue=next(iter(set(P0) - admitted))) is None
    assert h.value("events_total", type="call.queued") == 3 * 4 + 2 * 2


def test_the_decision_and_the_count_survive_redelivery_and_restart() -> None:
    h = bounded()
    h.run_with_redeliveries(INPUTS)  # the table comes out unchanged, refusals counted once
    assert h.too_many() == 24
    h.restart()
    assert h.too_many() == 24
    # After the restart: an admitted queue takes more, a refused or new queue still does not.
    (new,) = queues_of(0, 1, prefix="new")
    h.run(queued(P0[0], 1, offset=100) + queued(P0[3], 1, offset=100) + queued(new, 1, 100))
    assert h.value("calls_offered_total", queue=P0[0], channel="phone") == 4
    assert h.too_many() == 26


def test_a_new_queue_after_a_restart_is_refused_when_its_partition_is_full() -> None:
    h = bounded()
    h.run(INPUTS)
    h.restart()
    (extra0,) = queues_of(0, 1, prefix="late")
    (extra1,) = queues_of(1, 1, prefix="late")
    h.run(queued(extra0, 1, offset=200) + queued(extra1, 1, offset=200))
    assert h.too_many() == 24 + 2
    assert extra0 not in h.pipeline.agg_parts[0].queues


def test_agents_do_not_admit_queues_beyond_the_share() -> None:
    h = bounded()
    h.run(INPUTS)
    agent_queues = [P0[0], P0[4], "vip"]
    value = body("ag-1", "agent.state_changed", 50, agent_id="a1", state="available",
                 queues=agent_queues)  # fmt: skip
    h.run([("agents", b"a1", value)])
    assert h.value("agents", queue=P0[0], state="available") == 1
    assert h.value("agents", queue="vip", state="available") == 1
    assert P0[4] not in h.pipeline.agg_parts[queue_partition(P0[4], 2)].queues
    assert h.value("agents", queue=P0[4], state="available") is None
    assert h.too_many() == 24  # the agent event itself was accepted


COUNTER_FAMILIES = (
    "calls_offered_total",
    "calls_answered_total",
    "tickets_created_total",
    "tickets_escalated_total",
    "first_response_seconds_count",
    "first_response_seconds_bucket",
)


def test_known_queues_have_every_counter_at_zero_from_the_start_and_after_a_restart() -> None:
    h = bounded()
    h.restart()  # the partitions assigned, nothing stored yet
    for when in ("before any event", "after a restart"):
        for q in LISTED:
            for family, channel in itertools.product(COUNTER_FAMILIES, CHANNELS):
                labels = {"queue": q, "channel": channel}
                if family.endswith("_bucket"):
                    labels["le"] = "+Inf"
                assert h.value(family, **labels) == 0, (when, family, labels)
            assert h.value("survey_responses_total", queue=q, kind="nps") == 0
        h.run(queued(P0[0], 1))
        h.restart()
    # The admitted queue is remembered: its other channels exist at 0 after the restart.
    assert h.value("calls_offered_total", queue=P0[0], channel="phone") == 1
    assert h.value("tickets_escalated_total", queue=P0[0], channel="email") == 0
    assert h.value("calls_offered_total", queue=P0[1], channel="phone") is None  # never seen


def test_render_gives_the_bytes_of_generate_latest() -> None:
    h = Bounded(targets=bounded().targets, max_queues=100)
    h.run(INPUTS)
    weird = 'a "quoted" \\ back\nslash'  # label values come from the input: escaped alike
    h.run([*queued(weird, 1, offset=300), INPUTS[0]])  # and a duplicate
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KpiCollector(ReadView(h.pipeline), h.clock))
    registry.register(ProgressCollector(ReadView(h.pipeline), lambda: 0))
    registry.register(SnapshotErrorsCollector(lambda: 3))
    body = render(registry)
    assert body == generate_latest(registry)
    assert b'queue="a \\"quoted\\" \\\\ back\\nslash"' in body
    assert b"contact_centre_events_duplicate_total 1.0\n" in body


@pytest.mark.parametrize("v", [0, 1, 4095, 4096, -0.0, 0.25, 1234567.0, 1e22, -3.5, 1e-7,
                               float("inf"), float("-inf"), float("nan"), 86400.0])  # fmt: skip
def test_values_print_as_prometheus_client_prints_them(v: float) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotErrorsCollector(lambda: v))  # type: ignore[arg-type, return-value]
    assert render(registry) == generate_latest(registry)

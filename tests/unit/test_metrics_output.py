"""The whole /metrics text and every wallboard snapshot of a fixed, rich state, byte for byte.

Two hours of seeded simulator traffic (every queue, calls with rings, transfers and callbacks,
tickets, surveys, agents with away reasons, customers) go through the in-memory pipeline of
``test_aggregator``; a targets file lists one queue that gets no traffic (zero-started series)
and two away reasons. At a frozen clock the exposition of every collector a worker registers
(``stream.export.metrics.render``), the family names ``describe`` announces and the snapshots
(``stream.export.queue_snapshot.build_snapshots``) must equal the files under ``tests/unit/data/``,
written
from the code before the exporters were generated from one family table. Regenerate them only
for an intended change of output: ``STREAM_WRITE_GOLDEN=1 pytest`` on this file.
"""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from stream.config import TargetBook, parse_targets
from stream.contract.decoder import encode
from stream.core.admission import UNLIMITED, Admission
from stream.dev.simulate import Simulation
from stream.export.metrics import (
    KpiCollector,
    PipelineCollector,
    ProgressCollector,
    SnapshotErrorsCollector,
    render,
)
from stream.export.queue_snapshot import build_snapshots
from stream.read import ReadView
from stream.stages.pipeline import queue_partition
from tests.pipeline_harness import PARTITIONS, Clock, Harness, Input

DATA = Path(__file__).parent / "data"
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 10, 7, 30, tzinfo=UTC).timestamp()  # mid 15m window, after 10:00
TARGETS = parse_targets(
    """
agent_reasons: [break, lunch]
queues:
  billing: {team: Front office, answer_target_seconds: 30, service_level_goal: 0.9}
  tech-support: {team: Tech}
  collections: {team: Back office}
""",
    source="targets.yaml",
)


def harness() -> Harness:
    h = Harness(clock=Clock(NOW), targets=TARGETS)
    # A queue listed where it would be owned, that gets no traffic: its series start at zero.
    where = queue_partition("collections", len(PARTITIONS))
    h.pipeline.aggregator.admission = Admission(
        {where: frozenset({"collections"})}, max_queues=UNLIMITED, partitions=len(PARTITIONS)
    )
    sim = Simulation(seed=14, start=START, rate_multiplier=0.5)
    inputs: list[Input] = [
        (item.kind, item.key.encode(), encode(item.event))
        for item in itertools.takewhile(lambda e: e.at <= NOW, sim.events())
    ]
    h.run(inputs, batch_size=64)
    return h


def registry(h: Harness) -> CollectorRegistry:
    """Every collector ``stream.worker.app`` registers, as it registers them."""
    reg = CollectorRegistry(auto_describe=True)
    reg.register(KpiCollector(ReadView(h.pipeline), h.clock, with_pipeline=False))
    reg.register(PipelineCollector(ReadView(h.pipeline)))
    reg.register(ProgressCollector(ReadView(h.pipeline), lambda: 1))
    reg.register(SnapshotErrorsCollector(lambda: 2))
    return reg


def check(name: str, text: str) -> None:
    path = DATA / name
    if os.environ.get("STREAM_WRITE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from the stored output"


@pytest.fixture(scope="module")
def state() -> Harness:
    return harness()


def test_metrics_text_is_unchanged(state: Harness) -> None:
    check("metrics_output.prom", render(registry(state)).decode())


def test_described_families_are_unchanged(state: Harness) -> None:
    described = [
        f"{m.type} {m.name} {m.documentation}"
        for c in (
            KpiCollector(ReadView(state.pipeline), state.clock, with_pipeline=False),
            PipelineCollector(ReadView(state.pipeline)),
            ProgressCollector(ReadView(state.pipeline), lambda: 1),
        )
        for m in c.describe()
    ]
    check("metrics_described.txt", "\n".join(described) + "\n")


def test_snapshots_are_unchanged(state: Harness) -> None:
    snaps = [s.to_json() for s in build_snapshots(ReadView(state.pipeline), TARGETS, NOW)]
    check("snapshots_output.json", json.dumps(snaps, indent=1, sort_keys=True) + "\n")


def test_the_state_is_rich() -> None:
    """The stored output covers what it must: every queue, agents by reason, customers."""
    text = (DATA / "metrics_output.prom").read_text()
    for needle in (
        'contact_centre_calls_offered_total{channel="phone",queue="collections"} 0',
        'reason="break"',
        'reason="other"',
        "contact_centre_customers_churned_total ",
        "contact_centre_occupancy_ratio{",
        "contact_centre_ewt_seconds{",
        "contact_centre_callbacks_waiting{",
        "contact_centre_calls_transferred_in_window{",
    ):
        assert needle in text, needle
    assert isinstance(TargetBook.default(), TargetBook)

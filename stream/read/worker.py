"""The worker's own counts, read from the partition store: events accepted, rejected,
duplicate and late, partitions owned, producer refusals, and event-time progress.

Cheap (no KPI is computed): ``/metrics?name[]=`` asks for them on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stream.core.kpis.histogram import Histogram
from stream.stages.pipeline import Pipeline


@dataclass(frozen=True, slots=True)
class PipelineCounts:
    events: dict[str, int] = field(default_factory=dict)
    """Accepted events by type, by type name."""
    rejected: dict[str, int] = field(default_factory=dict)
    """Events dead-lettered by reason, by reason."""
    duplicates: int = 0
    late: int = 0
    partitions: int = 0
    produce_failures: dict[str, int] = field(default_factory=dict)
    """Messages the producer refused, by role, by role name."""
    latency: Histogram = field(default_factory=Histogram)
    """Publish → booked latency of the items applied here (``stream.core.latency``)."""


@dataclass(frozen=True, slots=True)
class ProgressReading:
    watermark: float | None = None
    """The lowest watermark of the partitions here; None before any has one."""
    behind: int = 0
    """Source partitions last reported behind their end offset."""
    paused: int = 0
    """Source partitions this worker holds back to align event time."""
    windows_open: int = 0


def pipeline_counts(pipeline: Pipeline) -> PipelineCounts:
    """The stage counters summed over the partitions here (the router's and the aggregator's)."""
    events: dict[str, int] = {}
    rejected: dict[str, int] = {}
    duplicates = 0
    late = 0
    for ps in pipeline.agg_parts.values():
        for q in ps.queues.values():
            _add(events, q.events)
            _add(rejected, q.rejected)
            duplicates += q.duplicates
            late += q.late
        if ps.refusals.count:
            _add(rejected, {"too_many_queues": ps.refusals.count})
    for part in pipeline.router_parts.values():
        for stats in part.stats.values():
            _add(events, stats.accepted)
            _add(rejected, stats.rejected)
            duplicates += stats.duplicates
    return PipelineCounts(
        events=dict(sorted(events.items())),
        rejected=dict(sorted(rejected.items())),
        duplicates=duplicates,
        late=late,
        partitions=len(pipeline.agg_parts),
        produce_failures=dict(sorted(pipeline.produce_failures.items())),
        latency=Histogram(list(pipeline.latency.counts), pipeline.latency.total,
                          pipeline.latency.count),  # a copy: the pipeline goes on observing
    )  # fmt: skip


def _add(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def progress_reading(pipeline: Pipeline, paused: int) -> ProgressReading:
    """Event-time progress of the partitions here (``stream.core.progress``)."""
    parts = pipeline.agg_parts.values()
    marks = [ps.progress.watermark for ps in parts if ps.progress.watermark is not None]
    behind = {
        name for ps in parts for name, mark in ps.progress.sources.items() if not mark.caught_up
    }
    windows = sum(len(q.windows) for ps in parts for q in ps.queues.values())
    return ProgressReading(min(marks, default=None), len(behind), paused, windows)

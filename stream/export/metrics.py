"""The Prometheus collectors: every ``contact_centre_*`` family, built at scrape time from the
read view (``stream.read``) after the one family table (``stream.export.families``).

Nothing is counted in prometheus_client objects: each scrape reads the partitions this worker
owns right now, so series of a partition that moved to another worker leave with it, and
counters continue from stored state after a restart instead of resetting. This module only
turns declared families into the client's families (``build``) and renders the text; which
families exist, their help and labels, and where each value comes from are the table's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeVar, cast

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from stream.export.families import (
    KPI_FAMILIES,
    PIPELINE_FAMILIES,
    PREFIX,
    PROGRESS_FAMILIES,
    SNAPSHOT_FAMILIES,
)
from stream.export.family import Buckets, Family
from stream.export.totals import CHANNELS
from stream.read import ReadView

__all__ = [
    "CHANNELS",
    "KpiCollector",
    "PipelineCollector",
    "ProgressCollector",
    "SnapshotErrorsCollector",
    "build",
    "render",
]

R = TypeVar("R")


def build(family: Family[R], reading: R | None) -> Metric:
    """The client's family of a declared ``family`` with the samples it reads from ``reading``
    (none when ``reading`` is None: what ``describe`` announces)."""
    name, labels = PREFIX + family.name, list(family.labels)
    metric: Metric
    if family.kind == "counter":
        metric, sample_name = CounterMetricFamily(name, family.help, labels=labels), name + "_total"
    elif family.kind == "gauge":
        metric, sample_name = GaugeMetricFamily(name, family.help, labels=labels), name
    else:
        metric, sample_name = HistogramMetricFamily(name, family.help, labels=labels), name
    if reading is None:
        return metric
    for values, value in family.read(reading):
        if isinstance(value, Buckets):
            present = [v for v in values if v is not None]
            assert isinstance(metric, HistogramMetricFamily)
            metric.add_metric(present, value.buckets, None if value.explicit else value.total)
            if value.explicit:
                named = dict(zip(labels, present, strict=True))
                metric.add_sample(name + "_count", named, value.count)
                metric.add_sample(name + "_sum", named, value.total)
        else:
            if None in values:  # a label this sample has not (reason off away)
                named = {k: v for k, v in zip(labels, values, strict=True) if v is not None}
            else:
                named = dict(zip(labels, cast(tuple[str, ...], values), strict=True))
            metric.add_sample(sample_name, named, value)
    return metric


def _families(families: Iterable[Family[R]], reading: R | None) -> Iterator[Metric]:
    for family in families:
        yield build(family, reading)


class KpiCollector(Collector):
    """Builds every KPI family from the read view at scrape time.

    ``with_pipeline=False`` leaves the pipeline's own counters to a `PipelineCollector`: both
    then have ``describe``, so a scrape restricted by name (``/metrics?name[]=...``) runs only
    the collector it needs — the event counters cost microseconds, the KPIs of many queues
    tens of milliseconds.
    """

    def __init__(
        self, view: ReadView, clock: Callable[[], float], *, with_pipeline: bool = True
    ) -> None:
        self.view = view
        self.clock = clock
        self.with_pipeline = with_pipeline

    def collect(self) -> Iterator[Metric]:
        yield from _families(KPI_FAMILIES, self.view.at(self.clock()))
        if self.with_pipeline:
            yield from PipelineCollector(self.view).collect()

    def describe(self) -> Iterator[Metric]:
        """The families, without samples (what a restricted registry matches names against)."""
        yield from _families(KPI_FAMILIES, None)
        if self.with_pipeline:
            yield from PipelineCollector(self.view).describe()


class PipelineCollector(Collector):
    """The pipeline's own families: events accepted, rejected, duplicate and late; partitions."""

    def __init__(self, view: ReadView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        yield from _families(PIPELINE_FAMILIES, self.view.counts())

    def describe(self) -> Iterator[Metric]:
        yield from _families(PIPELINE_FAMILIES, None)


class SnapshotErrorsCollector(Collector):
    """``contact_centre_snapshot_errors_total``: wallboard publishing ticks that failed.

    Registered only when the worker publishes snapshots (``STREAM_REDIS_URL`` is set).
    """

    def __init__(self, errors: Callable[[], int]) -> None:
        self.errors = errors

    def collect(self) -> Iterator[Metric]:
        yield from _families(SNAPSHOT_FAMILIES, self.errors())


class ProgressCollector(Collector):
    """Event-time progress (``stream.core.progress``): why windows close when they do.

    ``contact_centre_watermark_timestamp_seconds``: the lowest watermark of the partitions here
    (absent before any has one); ``contact_centre_source_partitions_behind``: source
    partitions the partitions here last heard to be behind their end offset (a backlog being
    read); ``contact_centre_source_partitions_paused``: source partitions this worker holds back
    to align event time (``STREAM_ALIGNMENT_SECONDS``); ``contact_centre_windows_open``: windows
    not yet final (what a backlog read keeps in memory).
    """

    def __init__(self, view: ReadView, paused: Callable[[], int]) -> None:
        self.view = view
        self.paused = paused

    def describe(self) -> Iterator[Metric]:
        """The families by name, so ``/metrics?name[]=`` can ask for them."""
        yield from _families(PROGRESS_FAMILIES, None)

    def collect(self) -> Iterator[Metric]:
        yield from _families(PROGRESS_FAMILIES, self.view.progress(self.paused()))


def render(registry: Collector) -> bytes:
    """The Prometheus text exposition of ``registry``: the bytes of prometheus_client's
    ``generate_latest`` (the unit tests compare them), in about a third of the time.

    Known queues have a few hundred series each (``CHANNELS``); ``generate_latest`` validates
    and escapes every label name and metric name of every sample, which costs more than
    building the families. The names here are the code's own (valid by construction); label
    values — queue names from the input — are escaped as it does.
    """
    out: list[str] = []
    append = out.append
    for metric in registry.collect():
        name, kind = metric.name, metric.type
        if kind not in _RENDERED_TYPES:
            raise ValueError(f"{name}: type {kind} is not rendered here")
        shown = name + "_total" if kind == "counter" else name
        doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {shown} {doc}\n# TYPE {shown} {_RENDERED_TYPES[kind]}\n")
        late: dict[str, list[str]] = {}
        suffixed = {name + suffix: suffix for suffix in _OPENMETRICS_SUFFIXES}
        for sample in metric.samples:
            labels = sample.labels
            if labels:
                pairs = sorted(labels.items()) if len(labels) > 1 else labels.items()
                text = ",".join(f'{k}="{_label_value(v)}"' for k, v in pairs)
                head = f"{sample.name}{{{text}}} "
            else:
                head = sample.name + " "
            v = sample.value
            value = _SMALL[v] if type(v) is int and 0 <= v < _SMALL_INTS else _go_float(v)
            stamp = "" if sample.timestamp is None else f" {int(float(sample.timestamp) * 1000):d}"
            line = f"{head}{value}{stamp}\n"
            suffix = suffixed.get(sample.name)
            if suffix is None:
                append(line)
            else:  # as generate_latest: OpenMetrics-only samples as a gauge after the family
                late.setdefault(suffix, []).append(line)
        for suffix, lines in sorted(late.items()):
            append(f"# HELP {name}{suffix} {doc}\n# TYPE {name}{suffix} gauge\n")
            out.extend(lines)
    return "".join(out).encode()


_RENDERED_TYPES: Final = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "unknown": "untyped",
}
_OPENMETRICS_SUFFIXES: Final = ("_created", "_gsum", "_gcount")
_SMALL_INTS: Final = 4096


def _go_float(value: float) -> str:
    """A sample value as Go prints it (prometheus_client's ``floatToGoString``)."""
    d = float(value)
    if math.isinf(d):
        return "+Inf" if d > 0 else "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def _label_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


_SMALL: Final = [_go_float(i) for i in range(_SMALL_INTS)]  # most counts are small ints

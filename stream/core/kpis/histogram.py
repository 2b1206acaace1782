"""Cumulative-bucket histograms of durations (seconds), mergeable across windows and partitions.

Bucket bounds include the default targets of kpis.md (20 s answer, 60 s chat/phone first
response, 6 min handle time, 24 h first response, 2 days resolution), so "share within target"
can also be read from the exported histogram with PromQL.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

ANSWER_WAIT_BOUNDS: Final[tuple[float, ...]] = (
    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
)  # fmt: skip
HANDLE_TIME_BOUNDS: Final[tuple[float, ...]] = (
    30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
)  # fmt: skip
FIRST_RESPONSE_BOUNDS: Final[tuple[float, ...]] = (
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 604800.0,
)  # fmt: skip
RESOLUTION_BOUNDS: Final[tuple[float, ...]] = (
    3600.0, 14400.0, 28800.0, 86400.0, 172800.0, 345600.0, 604800.0, 1209600.0, 2592000.0,
)  # fmt: skip


@dataclass(slots=True)
class Histogram:
    """Observation counts per bucket (non-cumulative; the last slot is +Inf), sum and count."""

    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0


def observe(hist: Histogram, bounds: tuple[float, ...], value: float) -> None:
    """Add one observation; a value equal to a bound falls in that bucket (``le``)."""
    if not hist.counts:
        hist.counts = [0] * (len(bounds) + 1)
    hist.counts[bisect_left(bounds, value)] += 1
    hist.total += value
    hist.count += 1


def merge(a: Histogram, b: Histogram) -> Histogram:
    """A histogram holding the observations of both (same bounds)."""
    if not a.counts:
        return Histogram(list(b.counts), b.total, b.count)
    if not b.counts:
        return Histogram(list(a.counts), a.total, a.count)
    return Histogram([x + y for x, y in zip(a.counts, b.counts, strict=True)], a.total + b.total,
                     a.count + b.count)  # fmt: skip


def cumulative(hist: Histogram, bounds: tuple[float, ...]) -> list[tuple[float, int]]:
    """``(le, cumulative count)`` pairs ending with ``(inf, count)``, as Prometheus exposes them."""
    counts = hist.counts or [0] * (len(bounds) + 1)
    running = 0
    out: list[tuple[float, int]] = []
    for bound, n in zip((*bounds, float("inf")), counts, strict=True):
        running += n
        out.append((bound, running))
    return out


def mean(hist: Histogram) -> float | None:
    """Mean observation in seconds; ``None`` for an empty histogram."""
    return hist.total / hist.count if hist.count else None

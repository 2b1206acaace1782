"""The worker's own publish → booked latency (``contact_centre_event_latency_seconds``, see
``stream.core.latency``) read from a scrape: its count and quantiles as PromQL's
``histogram_quantile`` gives them (linear within the bucket), and the bound of the highest
bucket that holds an observation (the max is at most that)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

FAMILY = "contact_centre_event_latency_seconds"


@dataclass(frozen=True, slots=True)
class Booked:
    count: int
    p50: float
    p99: float
    max_bound: float
    """The upper bound of the highest non-empty bucket (``inf`` when beyond the last)."""


def buckets(text: str) -> list[tuple[float, float]]:
    """``(le, cumulative count)`` of the family in a scrape, ascending (empty when absent)."""
    out: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(text):
        if family.name == FAMILY:
            for s in family.samples:
                if s.name == FAMILY + "_bucket":
                    out.append((float(s.labels["le"]), s.value))
    return sorted(out)


def quantile(cumulative: list[tuple[float, float]], q: float) -> float:
    """PromQL's ``histogram_quantile``: linear within the bucket the rank falls in (the lowest
    bucket from 0); the highest finite bound when the rank is in ``+Inf``."""
    total = cumulative[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            share = (rank - lower_count) / width if width else 0.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def difference(
    after: list[tuple[float, float]], before: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The observations between two scrapes of the same worker, bucket by bucket."""
    was = dict(before)
    return [(bound, count - was.get(bound, 0.0)) for bound, count in after]


def summarise(cumulative: list[tuple[float, float]]) -> Booked:
    """Count, p50, p99 and the max's bucket bound of a histogram's buckets."""
    if not cumulative or cumulative[-1][1] == 0:
        return Booked(0, math.nan, math.nan, math.nan)
    total = cumulative[-1][1]
    top = next(bound for bound, count in cumulative if count >= total)
    return Booked(int(total), quantile(cumulative, 0.5), quantile(cumulative, 0.99), top)

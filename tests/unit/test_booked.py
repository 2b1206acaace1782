"""Reading the worker's publish → booked histogram in the benchmarks (``benchmarks.booked``):
quantiles as PromQL's histogram_quantile computes them."""

from __future__ import annotations

import math

import pytest

from benchmarks.booked import buckets, difference, quantile, summarise

SCRAPE = """# HELP contact_centre_event_latency_seconds x
# TYPE contact_centre_event_latency_seconds histogram
contact_centre_event_latency_seconds_bucket{le="0.05"} 10.0
contact_centre_event_latency_seconds_bucket{le="0.1"} 90.0
contact_centre_event_latency_seconds_bucket{le="0.25"} 99.0
contact_centre_event_latency_seconds_bucket{le="1.0"} 100.0
contact_centre_event_latency_seconds_bucket{le="+Inf"} 100.0
contact_centre_event_latency_seconds_count 100.0
contact_centre_event_latency_seconds_sum 9.0
"""


def test_quantiles_interpolate_within_their_bucket() -> None:
    got = buckets(SCRAPE)
    assert got[0] == (0.05, 10.0) and got[-1] == (math.inf, 100.0)
    # rank 50 of 100: 40 of the 80 in (0.05, 0.1] → 0.05 + 0.05 · 40/80
    assert quantile(got, 0.5) == pytest.approx(0.075, rel=1e-12)
    # rank 99: the whole of (0.1, 0.25]
    assert quantile(got, 0.99) == 0.25
    booked = summarise(got)
    assert (booked.count, booked.max_bound) == (100, 1.0)


def test_the_difference_of_two_scrapes_is_the_observations_between() -> None:
    before = [(0.05, 5.0), (0.1, 5.0), (math.inf, 5.0)]
    after = [(0.05, 5.0), (0.1, 15.0), (math.inf, 15.0)]
    assert difference(after, before) == [(0.05, 0.0), (0.1, 10.0), (math.inf, 10.0)]
    assert summarise(difference(after, before)).p50 == pytest.approx(0.075, rel=1e-12)


def test_a_rank_beyond_the_last_bound_gives_the_last_finite_bound() -> None:
    assert quantile([(1.0, 1.0), (math.inf, 10.0)], 0.5) == 1.0
    assert math.isnan(summarise([]).p50)

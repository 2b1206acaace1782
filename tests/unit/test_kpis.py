"""Table-driven tests of the KPI math (stream/core/kpis): every formula, and that every state
merges."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.kpis import calls, surveys, tickets
from stream.core.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
    FIRST_RESPONSE_BOUNDS,
    HANDLE_TIME_BOUNDS,
    RESOLUTION_BOUNDS,
    Histogram,
    cumulative,
    mean,
    merge,
    observe,
)
from stream.core.kpis.totals import (
    COUNTERS,
    HISTOGRAMS,
    QueueTotals,
    WindowTotals,
    merge_totals,
    merge_windows,
)

INF = float("inf")

# --- calls ---------------------------------------------------------------------------------------

# (answered within, answered, abandoned, short abandoned) → service level
SERVICE_LEVEL: list[tuple[tuple[int, int, int, int], float | None]] = [
    ((0, 0, 0, 0), None),  # empty window
    ((0, 0, 3, 3), None),  # only short abandons: zero denominator, not 0 %
    ((8, 10, 0, 0), 0.8),
    ((8, 8, 2, 0), 0.8),
    ((8, 8, 4, 2), 0.8),  # short abandons leave the denominator
    ((0, 0, 2, 0), 0.0),  # abandons only: a real 0 %
    ((5, 5, 0, 0), 1.0),
]


@pytest.mark.parametrize(("counts", "expected"), SERVICE_LEVEL)
def test_service_level(counts: tuple[int, int, int, int], expected: float | None) -> None:
    assert calls.service_level(*counts) == expected


@pytest.mark.parametrize(
    ("abandoned", "offered", "expected"),
    [(0, 0, None), (0, 4, 0.0), (1, 4, 0.25), (4, 4, 1.0)],
)
def test_abandon_rate(abandoned: int, offered: int, expected: float | None) -> None:
    assert calls.abandon_rate(abandoned, offered) == expected


@pytest.mark.parametrize(
    ("wait_sum", "answered", "expected"),
    [(0.0, 0, None), (0.0, 2, 0.0), (45.0, 3, 15.0), (7.5, 1, 7.5)],
)
def test_average_speed_of_answer(wait_sum: float, answered: int, expected: float | None) -> None:
    assert calls.average_speed_of_answer(wait_sum, answered) == expected


@pytest.mark.parametrize(
    ("handle_sum", "completed", "expected"),
    [(0.0, 0, None), (600.0, 2, 300.0), (215.0, 1, 215.0)],
)
def test_average_handle_time(handle_sum: float, completed: int, expected: float | None) -> None:
    assert calls.average_handle_time(handle_sum, completed) == expected


@pytest.mark.parametrize(
    ("wait", "threshold", "expected"),
    [(0.0, 5.0, True), (4.999, 5.0, True), (5.0, 5.0, False), (30.0, 5.0, False)],
)
def test_is_short_abandon(wait: float, threshold: float, expected: bool) -> None:
    assert calls.is_short_abandon(wait, threshold) is expected


@pytest.mark.parametrize(
    ("wait", "target", "expected"),
    [(0.0, 20.0, True), (20.0, 20.0, True), (20.001, 20.0, False), (45.0, 20.0, False)],
)
def test_answered_within_target(wait: float, target: float, expected: bool) -> None:
    assert calls.answered_within_target(wait, target) is expected


# --- tickets -------------------------------------------------------------------------------------

# (responded within, responded, breached awaiting) → % first response within target
FIRST_RESPONSE: list[tuple[tuple[int, int, int], float | None]] = [
    ((0, 0, 0), None),
    ((0, 0, 2), 0.0),  # nobody answered yet, two already late: 0 %, not "no data"
    ((3, 4, 0), 0.75),
    ((3, 4, 2), 0.5),
    ((4, 4, 0), 1.0),
]


@pytest.mark.parametrize(("counts", "expected"), FIRST_RESPONSE)
def test_first_response_within_target(counts: tuple[int, int, int], expected: float | None) -> None:
    assert tickets.first_response_within_target(*counts) == expected


@pytest.mark.parametrize(
    ("within", "solved", "expected"), [(0, 0, None), (0, 3, 0.0), (3, 4, 0.75), (2, 2, 1.0)]
)
def test_resolved_within_target(within: int, solved: int, expected: float | None) -> None:
    assert tickets.resolved_within_target(within, solved) == expected


@pytest.mark.parametrize(
    ("reopened", "solved", "expected"), [(0, 0, None), (1, 0, None), (0, 5, 0.0), (1, 4, 0.25)]
)
def test_reopen_rate(reopened: int, solved: int, expected: float | None) -> None:
    assert tickets.reopen_rate(reopened, solved) == expected


@pytest.mark.parametrize(
    ("escalated", "created", "expected"), [(0, 0, None), (0, 8, 0.0), (2, 8, 0.25), (1, 1, 1.0)]
)
def test_escalation_rate(escalated: int, created: int, expected: float | None) -> None:
    assert tickets.escalation_rate(escalated, created) == expected


# --- surveys -------------------------------------------------------------------------------------


def csat_of(scores: list[int]) -> float | None:
    positive = sum(surveys.is_csat_positive(s) for s in scores)
    return surveys.csat(positive, len(scores))


def nps_of(scores: list[int]) -> float | None:
    classes = [surveys.nps_class(s) for s in scores]
    return surveys.nps(classes.count(1), classes.count(-1), len(scores))


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], None),
        ([1, 2, 3], 0.0),
        ([4], 1.0),
        ([5, 4, 3, 2], 0.5),
        ([5, 5, 5, 1], 0.75),
    ],
)
def test_csat(scores: list[int], expected: float | None) -> None:
    assert csat_of(scores) == expected


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], None),
        ([7, 8], 0.0),  # passives only
        ([9, 10], 100.0),
        ([0, 6], -100.0),
        ([10, 9, 8, 6], 25.0),  # 2 promoters, 1 passive, 1 detractor of 4
        ([10, 0], 0.0),
    ],
)
def test_nps(scores: list[int], expected: float | None) -> None:
    assert nps_of(scores) == expected


@pytest.mark.parametrize(
    ("score", "positive"), [(1, False), (2, False), (3, False), (4, True), (5, True)]
)
def test_is_csat_positive(score: int, positive: bool) -> None:
    assert surveys.is_csat_positive(score) is positive


@pytest.mark.parametrize(
    ("score", "cls"),
    [(0, -1), (5, -1), (6, -1), (7, 0), (8, 0), (9, 1), (10, 1)],
)
def test_nps_class(score: int, cls: int) -> None:
    assert surveys.nps_class(score) == cls


# --- histograms ----------------------------------------------------------------------------------

BOUNDS = (10.0, 20.0, 60.0)

# (observations, non-cumulative counts with +Inf last, cumulative (le, count), mean)
HISTOGRAM_CASES: list[tuple[list[float], list[int], list[tuple[float, int]], float | None]] = [
    ([], [], [(10.0, 0), (20.0, 0), (60.0, 0), (INF, 0)], None),
    ([10.0], [1, 0, 0, 0], [(10.0, 1), (20.0, 1), (60.0, 1), (INF, 1)], 10.0),  # le: inclusive
    ([10.5, 20.0], [0, 2, 0, 0], [(10.0, 0), (20.0, 2), (60.0, 2), (INF, 2)], 15.25),
    ([0.0, 61.0, 59.0], [1, 0, 1, 1], [(10.0, 1), (20.0, 1), (60.0, 2), (INF, 3)], 40.0),
    ([1000.0], [0, 0, 0, 1], [(10.0, 0), (20.0, 0), (60.0, 0), (INF, 1)], 1000.0),
]


@pytest.mark.parametrize(("values", "counts", "cumul", "mean_"), HISTOGRAM_CASES)
def test_histogram(
    values: list[float],
    counts: list[int],
    cumul: list[tuple[float, int]],
    mean_: float | None,
) -> None:
    hist = Histogram()
    for v in values:
        observe(hist, BOUNDS, v)
    assert hist.counts == counts
    assert hist.count == len(values)
    assert hist.total == sum(values)
    assert cumulative(hist, BOUNDS) == cumul
    assert mean(hist) == mean_


@pytest.mark.parametrize(
    ("bounds", "targets"),
    [
        (ANSWER_WAIT_BOUNDS, (20.0,)),
        (HANDLE_TIME_BOUNDS, (360.0,)),
        (FIRST_RESPONSE_BOUNDS, (60.0, 86400.0)),
        (RESOLUTION_BOUNDS, (172800.0,)),
    ],
)
def test_bounds_are_sorted_and_hold_the_default_targets(
    bounds: tuple[float, ...], targets: tuple[float, ...]
) -> None:
    assert list(bounds) == sorted(set(bounds))
    assert set(targets) <= set(bounds)


def test_merge_with_an_empty_histogram_copies() -> None:
    a = Histogram()
    observe(a, BOUNDS, 15.0)
    for merged in (merge(a, Histogram()), merge(Histogram(), a)):
        assert merged == Histogram([0, 1, 0, 0], 15.0, 1)
        assert merged.counts is not a.counts  # no aliasing: merging never mutates inputs
    assert merge(Histogram(), Histogram()) == Histogram()


# Integer-valued observations keep float sums exact, so equality is exact under any grouping.
values_st = st.lists(st.integers(min_value=0, max_value=10_000).map(float), max_size=8)


def hist_of(values: list[float], bounds: tuple[float, ...] = BOUNDS) -> Histogram:
    hist = Histogram()
    for v in values:
        observe(hist, bounds, v)
    return hist


@settings(max_examples=40, deadline=None)
@given(a=values_st, b=values_st, c=values_st)
def test_histogram_merge_is_associative_and_commutative(
    a: list[float], b: list[float], c: list[float]
) -> None:
    ha, hb, hc = hist_of(a), hist_of(b), hist_of(c)
    assert merge(merge(ha, hb), hc) == merge(ha, merge(hb, hc))
    assert merge(ha, hb) == merge(hb, ha)
    # ... and merging equals observing everything in one histogram (empty stays empty).
    merged = merge(merge(ha, hb), hc)
    together = hist_of(a + b + c)
    assert (merged.counts or [0] * 4, merged.total, merged.count) == (
        together.counts or [0] * 4,
        together.total,
        together.count,
    )


# --- totals --------------------------------------------------------------------------------------


def test_merge_windows_sums_every_field() -> None:
    names = [f.name for f in fields(WindowTotals)]
    a = WindowTotals(*range(1, len(names) + 1))
    b = WindowTotals(*(10 * i for i in range(1, len(names) + 1)))
    merged = merge_windows(a, b)
    assert [getattr(merged, n) for n in names] == [11 * i for i in range(1, len(names) + 1)]
    assert merge_windows(WindowTotals(), WindowTotals()) == WindowTotals()
    assert merge_windows(a, WindowTotals()) == a


window_st = st.builds(
    WindowTotals,
    *(
        st.integers(min_value=0, max_value=1000).map(float)
        if f.type == "float"
        else st.integers(min_value=0, max_value=1000)
        for f in fields(WindowTotals)
    ),
)


@settings(max_examples=40, deadline=None)
@given(a=window_st, b=window_st, c=window_st)
def test_window_merge_is_associative_and_commutative(
    a: WindowTotals, b: WindowTotals, c: WindowTotals
) -> None:
    assert merge_windows(merge_windows(a, b), c) == merge_windows(a, merge_windows(b, c))
    assert merge_windows(a, b) == merge_windows(b, a)


def test_queue_totals_bump_and_histogram() -> None:
    totals = QueueTotals()
    totals.bump("offered", "phone")
    totals.bump("offered", "phone")
    totals.bump("offered", "chat", 3)
    observe(totals.histogram("answer_wait", "phone"), ANSWER_WAIT_BOUNDS, 12.0)
    assert totals.histogram("answer_wait", "phone") is totals.histograms["answer_wait"]["phone"]
    assert totals.counters == {"offered": {"phone": 2, "chat": 3}}
    assert totals.histograms["answer_wait"]["phone"].count == 1
    assert totals.histograms["answer_wait"]["phone"].total == 12.0


# One fact of a queue: (counter or histogram name or survey kind, channel, value)
Booking = tuple[str, str, int]
CHANNELS = ("phone", "chat", "email")
booking_st: st.SearchStrategy[Booking] = st.one_of(
    st.tuples(st.sampled_from(COUNTERS), st.sampled_from(CHANNELS), st.integers(1, 5)),
    st.tuples(st.sampled_from(HISTOGRAMS), st.sampled_from(CHANNELS), st.integers(0, 5000)),
    st.tuples(st.sampled_from(("csat", "nps")), st.just(""), st.integers(1, 3)),
)


def totals_of(bookings: list[Booking]) -> QueueTotals:
    totals = QueueTotals()
    for name, channel, n in bookings:
        if name in COUNTERS:
            totals.bump(name, channel, n)
        elif name in HISTOGRAMS:
            observe(totals.histogram(name, channel), RESOLUTION_BOUNDS, float(n))
        else:
            totals.surveys[name] = totals.surveys.get(name, 0) + n
    return totals


bookings_st = st.lists(booking_st, max_size=8)


@settings(max_examples=40, deadline=None)
@given(a=bookings_st, b=bookings_st, c=bookings_st)
def test_queue_totals_merge_is_associative_and_commutative(
    a: list[Booking], b: list[Booking], c: list[Booking]
) -> None:
    ta, tb, tc = totals_of(a), totals_of(b), totals_of(c)
    assert merge_totals(merge_totals(ta, tb), tc) == merge_totals(ta, merge_totals(tb, tc))
    assert merge_totals(ta, tb) == merge_totals(tb, ta)
    # Merging partitions gives what one partition booking everything would hold.
    assert merge_totals(merge_totals(ta, tb), tc) == totals_of(a + b + c)


def test_merge_totals_by_example() -> None:
    a = totals_of([("offered", "phone", 2), ("answer_wait", "phone", 30), ("csat", "", 1)])
    b = totals_of([("offered", "phone", 1), ("offered", "chat", 1), ("nps", "", 2)])
    merged = merge_totals(a, b)
    assert merged.counters == {"offered": {"phone": 3, "chat": 1}}
    assert merged.surveys == {"csat": 1, "nps": 2}
    assert merged.histograms["answer_wait"]["phone"].count == 1
    assert merged.histograms["answer_wait"]["phone"].total == 30.0
    assert merge_totals(QueueTotals(), QueueTotals()) == QueueTotals()

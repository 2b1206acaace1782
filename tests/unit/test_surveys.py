"""Satisfaction KPIs (stream/core/kpis/surveys.py, readings.survey_gauges): the pure formulas, then
the
per-window gauges through the pipeline, with the previous period open, closed, or absent."""

from __future__ import annotations

import pytest

from stream.config import TargetBook, TargetsError, parse_targets
from stream.core.kpis import surveys
from stream.core.kpis.totals import WindowTotals
from stream.read.readings import survey_gauges
from tests.pipeline_harness import T0, Harness, Input, survey, ticket

Z = surveys.WILSON_Z_95


@pytest.mark.parametrize(
    ("score_sum", "responses", "expected"),
    [(0, 0, None), (5, 1, 5.0), (7, 2, 3.5), (15, 3, 5.0)],
)
def test_csat_mean_score(score_sum: int, responses: int, expected: float | None) -> None:
    assert surveys.csat_mean_score(score_sum, responses) == expected


WILSON: list[tuple[int, int, tuple[float, float] | None]] = [
    (0, 0, None),  # no responses: no data
    (1, 1, (1 / (1 + Z * Z), 1.0)),  # a single satisfied rating: wide, not [1, 1]
    (0, 1, (0.0, Z * Z / (1 + Z * Z))),
    (8, 10, (0.4901625, 0.9433178)),  # textbook value
    (50, 100, (0.4038315, 0.5961685)),
]


@pytest.mark.parametrize(("positive", "responses", "expected"), WILSON)
def test_wilson_interval(
    positive: int, responses: int, expected: tuple[float, float] | None
) -> None:
    got = surveys.wilson_interval(positive, responses)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("counts", "expected"), [((0, 0, 0), 0), ((1, 1, 3), 1), ((2, 0, 2), 0), ((0, 4, 5), 1)]
)
def test_nps_passives(counts: tuple[int, int, int], expected: int) -> None:
    assert surveys.nps_passives(*counts) == expected


@pytest.mark.parametrize(
    ("value", "responses", "min_sample", "expected"),
    [(None, 0, 1, None), (0.5, 9, 10, None), (0.5, 10, 10, 0.5), (0.0, 1, 1, 0.0)],
)
def test_sampled(
    value: float | None, responses: int, min_sample: int, expected: float | None
) -> None:
    assert surveys.sampled(value, responses, min_sample) == expected


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [(None, None, None), (0.5, None, None), (None, 0.5, None), (0.75, 0.5, 0.25), (0, 100, -100)],
)
def test_change(current: float | None, previous: float | None, expected: float | None) -> None:
    assert surveys.change(current, previous) == expected


def test_minimum_sample_withholds_scores_but_not_counts() -> None:
    w = WindowTotals(csat_responses=3, csat_positive=2, csat_score_sum=12, nps_responses=2,
                     nps_promoters=1, nps_detractors=1)  # fmt: skip
    prev = WindowTotals(csat_responses=5, csat_positive=5, csat_score_sum=25)
    shown = {k: v for k, v in survey_gauges(w, prev, min_sample=4).items() if v is not None}
    assert shown == {"csat_responses": 3, "nps_responses": 2, "nps_promoters": 1,
                     "nps_passives": 0, "nps_detractors": 1}  # fmt: skip
    gauges = survey_gauges(w, prev, min_sample=3)
    assert gauges["csat_ratio"] == pytest.approx(2 / 3)
    assert gauges["csat_ratio_change"] == pytest.approx(2 / 3 - 1)
    assert gauges["nps_score"] is None  # 2 responses < 3
    assert gauges["nps_score_change"] is None


# --- through the pipeline ------------------------------------------------------------------------

P = "contact_centre_"
CREATED = ticket("t-c", "ticket.created", 0, "t1", queue="billing", channel="email")
FIRST_QUARTER: list[Input] = [  # 10:00–10:15
    CREATED,
    survey("s1", 60, "csat", 5, ticket_id="t1"),
    survey("s2", 120, "csat", 2, ticket_id="t1"),
    survey("s3", 200, "nps", 10, ticket_id="t1"),
    survey("s4", 210, "nps", 7, ticket_id="t1"),
    survey("s5", 220, "nps", 3, ticket_id="t1"),
]


def gauges(h: Harness, window: str, now: float) -> dict[str, float | None]:
    h.clock.now = now
    reg = h.registry()
    names = ("csat_ratio", "nps_score", *(n for n in survey_gauges(WindowTotals(), None)))
    return {n: reg.get_sample_value(P + n, {"queue": "billing", "window": window}) for n in names}


def expected(**values: float) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(
        ("csat_ratio", "nps_score", *survey_gauges(WindowTotals(), None))
    )
    return out | values


@pytest.mark.parametrize(
    ("second_quarter_at", "previous_closed"),
    [(1000, True), (910, False)],  # grace 60 s: the 10:00 window closes once events pass 10:16
)
def test_survey_gauges_and_trend_per_window(second_quarter_at: int, previous_closed: bool) -> None:
    h = Harness()
    t = second_quarter_at
    dup = survey("s6", t, "csat", 4, ticket_id="t1")
    h.run([*FIRST_QUARTER, dup, survey("s7", t, "nps", 9, ticket_id="t1"), dup])
    q = h.queue("billing")
    assert (f"15m@{T0:.0f}" in q.last_closed) is previous_closed
    assert (f"15m@{T0:.0f}" in q.windows) is not previous_closed
    low = 1 / (1 + Z * Z)
    assert gauges(h, "15m", T0 + t) == pytest.approx(
        expected(
            csat_ratio=1.0,
            csat_responses=1,
            csat_mean_score=4.0,
            csat_wilson_lower_ratio=low,
            csat_wilson_upper_ratio=1.0,
            csat_ratio_change=0.5,  # 1.0 − 1/2
            nps_score=100.0,
            nps_responses=1,
            nps_promoters=1,
            nps_passives=0,
            nps_detractors=0,
            nps_score_change=100.0,  # 100 − (1 − 1)/3
        )
    )
    lo, hi = surveys.wilson_interval(2, 3) or (0.0, 0.0)
    for window in ("1h", "today"):  # nothing before: no change
        assert gauges(h, window, T0 + t) == pytest.approx(
            expected(
                csat_ratio=2 / 3,
                csat_responses=3,
                csat_mean_score=11 / 3,
                csat_wilson_lower_ratio=lo,
                csat_wilson_upper_ratio=hi,
                nps_score=25.0,
                nps_responses=4,
                nps_promoters=2,
                nps_passives=1,
                nps_detractors=1,
            )
        )
    before = gauges(h, "15m", T0 + t)
    h.restart()  # the closed window came back from the table
    assert gauges(h, "15m", T0 + t) == before
    assert h.queue("billing").duplicates == 1


# --- the minimum sample from the targets file ----------------------------------------------------


def test_survey_min_sample_from_the_targets_file() -> None:
    book = parse_targets(
        "defaults: {survey_min_sample: 2}\nqueues: {billing: {survey_min_sample: 3}}\n"
    )
    assert book.for_queue("billing").survey_min_sample == 3
    assert book.for_queue("support", "chat").survey_min_sample == 2
    assert TargetBook.default().for_queue("billing").survey_min_sample == 1
    h = Harness(targets=book)
    h.run(FIRST_QUARTER)  # 2 CSAT (< 3: no scores), 3 NPS (= 3: scores)
    h.clock.now = T0 + 300
    got = {k: v for k, v in gauges(h, "15m", T0 + 300).items() if v is not None}
    assert got == {
        "csat_responses": 2,
        "nps_score": 0.0,
        "nps_responses": 3,
        "nps_promoters": 1,
        "nps_passives": 1,
        "nps_detractors": 1,
    }


@pytest.mark.parametrize("bad", ["0", "-1", "2.5", "ten", "true"])
def test_survey_min_sample_must_be_a_positive_whole_number(bad: str) -> None:
    with pytest.raises(TargetsError) as caught:
        parse_targets(f"defaults:\n  survey_min_sample: {bad}\n", source="targets.yaml")
    assert str(caught.value).startswith(
        "targets.yaml:2: defaults.survey_min_sample: expected a positive whole number of responses"
    )

"""EWT state (stream.core.kpis.ewt): exact estimates and signed errors, whatever the arrival
order."""

from __future__ import annotations

import itertools

import pytest

from stream.core.kpis import ewt
from stream.core.kpis.erlang import mean_wait_c

T0 = 1_800_000_000.0  # a 15-minute boundary


def _window(state: ewt.EwtState, start: float) -> None:
    # 9 calls offered in [start, start+900): 8 answered after 30 s, handled 180 s; 1 abandon.
    for i in range(9):
        ewt.book(state, [("offered", "voice", 0.0, False)], start + i, None)
    for i in range(8):
        ewt.book(state, [("answered", "voice", 30.0, False)], start + 30 + i, None)
        ewt.book(state, [("handled", "voice", 180.0, False)], start + 300 + i, None)
    ewt.book(state, [("abandoned", "voice", 10.0, False)], start + 20, None)


def test_rates_of_the_newest_final_window() -> None:
    s = ewt.EwtState()
    _window(s, T0)
    assert ewt.rates_before(s, T0 + 899) is None
    r = ewt.rates_before(s, T0 + 900)
    assert r == ewt.Rates(T0, 9 / 900, 180.0, (8 * 30.0 + 10.0) / 1)


def test_recent_mean_of_last_n() -> None:
    s = ewt.EwtState()
    for i, wait in enumerate([10.0, 20.0, 30.0, 40.0]):
        ewt.book(s, [("answered", "voice", wait, False)], T0 + 100 * i, None)
    assert ewt.recent_wait(s, T0 + 250, 2) == 25.0
    assert ewt.recent_wait(s, T0 + 1000, 3) == 30.0
    assert ewt.recent_wait(s, T0 - 1, 3) is None


def test_settled_errors_do_not_depend_on_arrival_order() -> None:
    answers = [(T0 + 950.0, 40.0), (T0 + 1000.0, 5.0), (T0 + 1100.0, 60.0)]
    results = []
    for order in itertools.permutations(answers):
        s = ewt.EwtState()
        _window(s, T0)
        for at, wait in order:
            ewt.book(s, [("answered", "voice", wait, False)], at, None)
        assert ewt.settle(s, T0 + 1200.0, lambda _t: 12, 20) == 11
        results.append((s.errors["recent"].counts, s.errors["erlang_c"].counts, s.unestimated))
    assert all(r == results[0] for r in results)
    # The first window's 8 answers (queued before any answer) have no recent estimate.
    s = ewt.EwtState()
    _window(s, T0)
    for at, wait in answers:
        ewt.book(s, [("answered", "voice", wait, False)], at, None)
    ewt.settle(s, T0 + 1200.0, lambda _t: 12, 20)
    assert s.unestimated == {"recent": 8, "erlang_c": 8}
    erl = s.errors["erlang_c"]
    assert erl.count == 3
    expected = mean_wait_c(12, 9 / 900 * 180.0, 180.0)
    # Queued at T0+910, T0+995 and T0+1040: all after the first window is final.
    assert erl.total == pytest.approx(3 * expected - 40.0 - 5.0 - 60.0, rel=1e-12)
    rec = s.errors["recent"]
    assert rec.count == 3
    # queued T0+910: last 20 answers up to then: the 8 of 30 s → +30 − 40 = −10
    # queued T0+995: the 8 and the 40 s one → 280/9 − 5; queued T0+1040: 285/10 − 60
    assert rec.total == pytest.approx(-10.0 + (280 / 9 - 5.0) + (285 / 10 - 60.0), rel=1e-12)


def test_the_last_full_window_only_a_silent_one_gives_no_rates() -> None:
    s = ewt.EwtState()
    _window(s, T0)
    assert ewt.rates_before(s, T0 + 1799) is not None
    assert ewt.rates_before(s, T0 + 1800) is None  # 15 silent minutes: no old window instead
    assert ewt.estimates(s, T0 + 1800, 12, 20, None)["erlang_c"] is None


def test_prune_keeps_what_calls_still_to_settle_need() -> None:
    s = ewt.EwtState()
    _window(s, T0)
    _window(s, T0 + 900)
    _window(s, T0 + 1800)
    # Horizon T0 + 2000: windows ending before the last full one at the horizon (T0 + 900) go,
    # answers before it (all 24: the last at T0 + 1837) go but the 3 newest of them.
    ewt.prune(s, T0 + 2000, 3)
    assert sorted(s.windows) == [str(int(T0 + 900)), str(int(T0 + 1800))]
    assert [a for a, _ in s.answers] == [T0 + 1835, T0 + 1836, T0 + 1837]
    assert ewt.recent_wait(s, T0 + 2000, 3) == 30.0
    assert ewt.rates_before(s, T0 + 2000) == ewt.Rates(T0 + 900, 9 / 900, 180.0, 250.0)


def test_settling_waits_for_the_watermark_and_counts_each_call_once() -> None:
    s = ewt.EwtState()
    _window(s, T0)
    ewt.book(s, [("answered", "phone", 50.0, False)], T0 + 1000, T0 + 900)
    assert ewt.settle(s, T0 + 999, lambda _t: 3, 20) == 8  # the window's own answers
    assert ewt.settle(s, T0 + 999, lambda _t: 3, 20) == 0
    assert ewt.settle(s, T0 + 1000, lambda _t: 3, 20) == 1
    assert ewt.settle(s, T0 + 5000, lambda _t: 3, 20) == 0
    # Queued at T0 + 950: recent 30 s (the window's 8 answers) − 50; Erlang C with 3 agents.
    assert s.errors["recent"].total == -20.0 and s.errors["recent"].count == 1
    assert s.errors["erlang_c"].total == pytest.approx(mean_wait_c(3, 1.8, 180.0) - 50.0)
    assert s.unestimated == {"recent": 8, "erlang_c": 8}

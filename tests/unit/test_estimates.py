"""EWT and agents required through the pipeline (issue 17, items 6 and 7): exact values of
``contact_centre_ewt_seconds``, ``contact_centre_ewt_error_seconds``,
``contact_centre_ewt_unestimated_total`` and ``contact_centre_agents_required``, in any batching,
after a restart from the stored segments and under redelivery; the wallboard snapshot's EWT and
staffing fields and their colours.

The scenario (seconds after T0 = 10:00, grace 60 s, the wall clock frozen at 10:25):

* 10:00-10:15 (the last full window at 10:25): agents a1, a2, a3 available; calls k1..k9 queued
  at 10, 20, ... 90 s; k1..k8 answered 30 s later and wrapped up 180 s after the answer; k9
  abandoned after 10 s. So λ = 9 / 900 s, AHT 180 s, A = 1.8 Erlangs, patience
  (8 · 30 + 10) / 1 = 250 s.
* 10:15-: a3 away at 950; m1 queued 910 answered 950 (40 s), m2 queued 1000 answered 1005
  (5 s), m3 queued 1040 answered 1100 (60 s); m4 queued 1200, waiting. The watermark
  (1200 − 60) has passed every answer: eleven calls settled.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
from pyworkforce.queuing import ErlangC  # type: ignore[import-untyped]

from stream.core.kpis import erlang
from stream.export.queue_snapshot import build_snapshots, statuses
from stream.read import ReadView
from tests.pipeline_harness import T0, Clock, Harness, Input, body, call
from tests.unit.test_snapshots import snapshot

B = ["billing"]
NOW2 = T0 + 1500  # 10:25


def agent(eid: str, s: float, agent_id: str, state: str, **kw: Any) -> Input:
    value = body(eid, "agent.state_changed", s, agent_id=agent_id, state=state, **kw)
    return ("agents", agent_id.encode(), value)


def answered_call(cid: str, queued: float, wait: float, handle: float | None) -> list[Input]:
    out = [
        call(f"{cid}-q", "call.queued", queued, cid, queue="billing"),
        call(f"{cid}-a", "call.answered", queued + wait, cid, agent_id="a1"),
    ]
    if handle is not None:
        out += [
            call(f"{cid}-e", "call.ended", queued + wait + handle - 30, cid),
            call(f"{cid}-w", "call.wrapup_completed", queued + wait + handle, cid),
        ]
    return out


SCENARIO: list[Input] = [
    *(agent(f"s-{a}", 0, a, "available", queues=B) for a in ("a1", "a2", "a3")),
    *(i for n in range(1, 9) for i in answered_call(f"k{n}", 10.0 * n, 30.0, 180.0)),
    call("k9-q", "call.queued", 90, "k9", queue="billing"),
    call("k9-x", "call.abandoned", 100, "k9"),
    agent("s-a3-away", 950, "a3", "away", reason="lunch"),
    *answered_call("m1", 910, 40, None),
    *answered_call("m2", 1000, 5, None),
    *answered_call("m3", 1040, 60, None),
    call("m4-q", "call.queued", 1200, "m4", queue="billing"),
]
SCENARIO.sort(key=lambda i: (i[2] or b"").split(b'"occurred_at":"')[1][:24])  # event time


def erlang_c_wait_exact(n: int, load: Fraction, aht: int) -> float:
    """Erlang C mean wait from the textbook sum (independent of stream.core.kpis.erlang)."""
    terms = [Fraction(1)]
    for k in range(1, n + 1):
        terms.append(terms[-1] * load / k)
    top = terms[n] * n / (n - load)
    c = top / (sum(terms[:n]) + top)
    return float(c * aht / (n - load))


A = Fraction(9, 900) * 180
WAIT_3, WAIT_2 = erlang_c_wait_exact(3, A, 180), erlang_c_wait_exact(2, A, 180)
# Signed errors (shown at queue time − wait): recent: k1-k3 had no answer before them; k4-k8
# saw 30 s (0); m1: 30 − 40; m2: 280/9 − 5; m3: 285/10 − 60. erlang_c: the k's had no full
# window before them; m1: 3 agents on queue (a3 left at 950), m2 and m3: 2.
RECENT_ERRORS = [0.0] * 5 + [-10.0, 280 / 9 - 5, 28.5 - 60]
ERLANG_ERRORS = [WAIT_3 - 40, WAIT_2 - 5, WAIT_2 - 60]
BOUNDS = ("-600.0", "-300.0", "-120.0", "-60.0", "-30.0", "-10.0", "0.0", "10.0", "30.0",
          "60.0", "120.0", "300.0", "600.0", "+Inf")  # fmt: skip


def buckets(errors: list[float]) -> dict[str, int]:
    return {b: sum(e <= float(b) for e in errors) for b in BOUNDS}


def harness(recent_calls: int = 20) -> Harness:
    h = Harness(clock=Clock(NOW2))
    h.pipeline.aggregator.ewt_recent_calls = recent_calls
    return h


def figures(h: Harness) -> dict[str, Any]:
    out: dict[str, Any] = {"buckets": {}}
    for (name, labels), v in h.samples().items():
        d = dict(labels)
        if d.get("queue") != "billing":
            continue
        if name == "contact_centre_ewt_seconds":
            out[f"ewt:{d['method']}"] = v
        elif name == "contact_centre_agents_required":
            out[f"required:{d['model']}"] = v
        elif name == "contact_centre_ewt_unestimated_total":
            out[f"unestimated:{d['method']}"] = v
        elif name == "contact_centre_ewt_error_seconds_bucket":
            out["buckets"].setdefault(d["method"], {})[d["le"]] = v
        elif name in (
            "contact_centre_ewt_error_seconds_sum",
            "contact_centre_ewt_error_seconds_count",
        ):
            out[f"{name.rsplit('_', 1)[1]}:{d['method']}"] = v
        elif name in ("contact_centre_agents_on_queue", "contact_centre_calls_waiting"):
            out[name] = v
    return out


def check(f: dict[str, Any]) -> None:
    assert f["contact_centre_agents_on_queue"] == 2
    assert f["contact_centre_calls_waiting"] == 1
    assert f["ewt:recent"] == pytest.approx(345 / 11, rel=1e-12)
    assert f["ewt:erlang_c"] == pytest.approx(WAIT_2, rel=1e-12)
    assert f["buckets"] == {"recent": buckets(RECENT_ERRORS), "erlang_c": buckets(ERLANG_ERRORS)}
    assert f["count:recent"] == 8 and f["count:erlang_c"] == 3
    assert f["sum:recent"] == pytest.approx(sum(RECENT_ERRORS), rel=1e-12)
    assert f["sum:erlang_c"] == pytest.approx(sum(ERLANG_ERRORS), rel=1e-12)
    assert f["unestimated:recent"] == 3 and f["unestimated:erlang_c"] == 8
    assert f["required:erlang_c"] == REQUIRED_C
    assert f["required:erlang_a"] == REQUIRED_A


# λ = 0.01/s, AHT 180 s, 20 s at 80 % (the default targets): Erlang C against pyworkforce; Erlang
# A with 250 s patience at most that.
_REF = ErlangC(transactions=9, aht=3, asa=20 / 60, interval=15)
REQUIRED_C = next(n for n in range(2, 50) if _REF.service_level(n, scale_positions=False) >= 0.8)
REQUIRED_A = erlang.agents_required_a(0.01, 180.0, 250.0, 20.0, 0.8)


def test_the_expected_figures_by_hand() -> None:
    assert (REQUIRED_C, REQUIRED_A) == (4, 4)
    assert (
        erlang.service_level_c(3, 1.8, 180.0, 20.0)
        < 0.8
        <= erlang.service_level_c(4, 1.8, 180.0, 20.0)
    )
    assert erlang.service_level_a(3, 0.01, 180.0, 250.0, 20.0) < 0.8
    assert round(WAIT_3, 6) == 53.211679 and round(WAIT_2, 4) == 767.3684
    assert buckets(RECENT_ERRORS)["-30.0"] == 1 and buckets(ERLANG_ERRORS)["600.0"] == 1


@pytest.mark.parametrize("batch_size", [1, 5, 200])
def test_ewt_and_agents_required_exact_in_any_batching(batch_size: int) -> None:
    h = harness()
    h.run(SCENARIO, batch_size=batch_size)
    check(figures(h))


def test_the_same_after_a_restart_and_under_redelivery() -> None:
    h = harness()
    h.run(SCENARIO, batch_size=7)
    h.restart()
    h.pipeline.aggregator.ewt_recent_calls = 20
    check(figures(h))
    h = harness()
    h.run_with_redeliveries(SCENARIO)
    check(figures(h))


def test_a_small_n_prunes_answers_and_stays_exact() -> None:
    # N = 2: recent at queue time is the mean of the last two answers: m1 30 − 40, m2
    # (30 + 40)/2 − 5, m3 (40 + 5)/2 − 60; k4 30 − 30, ... The pruned state gives the same
    # figures in every batching and after a restart.
    results = []
    for batch_size in (1, 3, 200):
        h = harness(recent_calls=2)
        h.run(SCENARIO, batch_size=batch_size)
        results.append(figures(h))
        assert len(h.queue("billing").ewt.answers) <= 11
    h.restart()
    h.pipeline.aggregator.ewt_recent_calls = 2
    results.append(figures(h))
    assert all(r == results[0] for r in results)
    expected = [0.0] * 5 + [-10.0, 35.0 - 5, 22.5 - 60]
    assert results[0]["sum:recent"] == pytest.approx(sum(expected), rel=1e-12)
    assert results[0]["buckets"]["recent"] == buckets(expected)
    assert results[0]["ewt:recent"] == pytest.approx((5 + 60) / 2, rel=1e-12)


def test_no_window_no_handled_call_and_no_calls() -> None:
    h = harness()
    h.run(SCENARIO[:3], batch_size=3)  # only agents: no ewt, nothing required yet
    f = figures(h)
    assert "ewt:recent" not in f and "ewt:erlang_c" not in f and "required:erlang_c" not in f
    assert f["count:recent"] == 0 and f["unestimated:recent"] == 0
    assert math.isfinite(WAIT_2)


def test_wallboard_snapshot_shows_the_same_figures() -> None:
    h = harness()
    h.run(SCENARIO, batch_size=9)
    (snap,) = build_snapshots(ReadView(h.pipeline), h.targets, NOW2)
    assert snap.ewt_recent_seconds == pytest.approx(345 / 11, rel=1e-12)
    assert snap.ewt_erlang_c_seconds == pytest.approx(WAIT_2, rel=1e-12)
    assert (snap.agents_required, snap.agents_on_queue) == (REQUIRED_A, 2)
    # 31 s against the 20 s answer target: amber; 767 s: red; 2 on queue of 4 needed: red.
    assert {k: snap.status[k] for k in ESTIMATE_FIELDS} == {
        "ewt_recent_seconds": "warn",
        "ewt_erlang_c_seconds": "bad",
        "agents_required": "none",
        "agents_on_queue": "bad",
    }


ESTIMATE_FIELDS = (
    "ewt_recent_seconds",
    "ewt_erlang_c_seconds",
    "agents_required",
    "agents_on_queue",
)


@pytest.mark.parametrize(
    ("on_queue", "required", "expected"),
    [(4, 4, "good"), (5, 4, "good"), (3, 4, "warn"), (2, 4, "bad"), (None, 4, "none"),
     (3, None, "none"), (0, 0, "good")],
)  # fmt: skip
def test_on_queue_colour_against_agents_required(
    on_queue: int | None, required: int | None, expected: str
) -> None:
    snap = snapshot(agents_on_queue=on_queue, agents_required=required)
    assert statuses(snap)["agents_on_queue"] == expected


@pytest.mark.parametrize(
    ("seconds", "expected"), [(None, "none"), (20.0, "good"), (40.0, "warn"), (40.5, "bad")]
)
def test_ewt_colours_follow_the_answer_target(seconds: float | None, expected: str) -> None:
    for name in ("ewt_recent_seconds", "ewt_erlang_c_seconds"):
        assert statuses(snapshot(**{name: seconds}))[name] == expected

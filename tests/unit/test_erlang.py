"""Erlang B/C/A (stream.kpis.erlang) against pyworkforce, published tables and limits."""

from __future__ import annotations

import math

import pytest
from pyworkforce.queuing import ErlangC  # type: ignore[import-untyped]

from stream.kpis import erlang

# Erlang B table, grade of service 1 % (e.g. Cooper, Table; any telephone-traffic table):
# (trunks, offered Erlangs at 1 % blocking, two decimals as printed).
ERLANG_B_1PCT = ((10, 4.46), (20, 12.03), (50, 37.90), (100, 84.06))


@pytest.mark.parametrize(("n", "load"), ERLANG_B_1PCT)
def test_erlang_b_matches_the_published_1_percent_table(n: int, load: float) -> None:
    assert round(erlang.erlang_b(n, load), 3) == 0.010


def test_erlang_b_is_stable_at_500_and_5000_agents() -> None:
    assert erlang.erlang_b(500, 470.0) == pytest.approx(0.007598156117936809, rel=1e-12)
    assert 0.0 < erlang.erlang_b(5000, 4900.0) < 1.0
    assert erlang.erlang_c(5000, 4900.0) < 1.0


@pytest.mark.parametrize("n", [11, 12, 13, 14, 20])
def test_erlang_c_matches_pyworkforce(n: int) -> None:
    # 100 calls per 30 minutes, AHT 3 minutes, 20 s target: A = 10 Erlangs.
    ref = ErlangC(transactions=100, aht=3, asa=20 / 60, interval=30)
    assert erlang.erlang_c(n, 10.0) == pytest.approx(ref.waiting_probability(n), rel=1e-12)
    assert erlang.service_level_c(n, 10.0, 180.0, 20.0) == pytest.approx(
        ref.service_level(n, scale_positions=False), rel=1e-12
    )


def test_erlang_c_worked_example_exact() -> None:
    # The worked example of pyworkforce's README: 14 agents, SL 0.8883500191794669.
    assert erlang.agents_required_c(100 / 1800, 180.0, 20.0, 0.8) == 14
    assert erlang.service_level_c(14, 10.0, 180.0, 20.0) == pytest.approx(0.88835, abs=5e-6)
    assert erlang.erlang_c(11, 10.0) == pytest.approx(0.6821182, abs=1e-7)
    assert erlang.mean_wait_c(11, 10.0, 180.0) == pytest.approx(0.6821182 * 180.0, abs=1e-4)
    assert erlang.mean_wait_c(10, 10.0, 180.0) == math.inf
    assert erlang.agents_required_c(0.0, 180.0, 20.0, 0.8) == 0


def test_erlang_a_reduces_to_erlang_c_without_abandonment() -> None:
    lam = 100 / 1800
    for n in (11, 14):
        assert erlang.service_level_a(n, lam, 180.0, 1e9, 20.0) == pytest.approx(
            erlang.service_level_c(n, 10.0, 180.0, 20.0), abs=1e-5
        )
        assert erlang.service_level_a(n, lam, 180.0, math.inf, 20.0) == (
            erlang.service_level_c(n, 10.0, 180.0, 20.0)
        )


def test_erlang_a_one_agent_closed_form() -> None:
    # One agent, nobody ahead: answered within T w.p. μ/(μ+θ)·(1 − e^{−(μ+θ)T}).
    mu, theta = 1 / 180, 1 / 60
    (u0,) = erlang._answered_within(1, mu, theta, 20.0, 1)
    assert u0 == pytest.approx(mu / (mu + theta) * (1 - math.exp(-(mu + theta) * 20.0)), rel=1e-12)


def test_erlang_a_needs_fewer_agents_with_impatient_callers() -> None:
    lam = 100 / 1800
    assert erlang.agents_required_a(lam, 180.0, 120.0, 20.0, 0.8) == 12
    assert erlang.agents_required_c(2.5, 180.0, 20.0, 0.8) == 460
    assert erlang.agents_required_a(2.5, 180.0, 120.0, 20.0, 0.8) == 409

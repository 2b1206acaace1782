"""Erlang B/C/A (stream.core.kpis.erlang) against pyworkforce, published Erlang B tables, an exact
direct sum and limits."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from pyworkforce.queuing import ErlangC  # type: ignore[import-untyped]

from stream.core.kpis import erlang

# Published Erlang B tables: the largest offered load (Erlangs) a number of channels carries at
# a blocking probability, as printed.
# * D. Collins, "Carrier Grade Voice Over IP", 2nd ed., Appendix A "Table of Erlang B": channels
#   1-9, blocking 1 % and 2 %, one decimal;
# * the Erlang calculator manual of erlang.com ("How much traffic can a trunk group handle?"):
#   15 lines at 1 % blocking carry 8.108 Erlangs.
PUBLISHED_ERLANG_B = (
    *(
        (n, 0.01, load, 1)
        for n, load in enumerate((0.0, 0.2, 0.5, 0.9, 1.4, 1.9, 2.5, 3.1, 3.8), 1)
    ),
    *(
        (n, 0.02, load, 1)
        for n, load in enumerate((0.0, 0.2, 0.6, 1.1, 1.7, 2.3, 2.9, 3.6, 4.3), 1)
    ),
    (15, 0.01, 8.108, 3),
)


def _max_load(n: int, blocking: float) -> float:
    """The load at which ``erlang_b(n, ·)`` reaches ``blocking`` (B rises with the load)."""
    lo, hi = 0.0, 2.0 * n
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if erlang.erlang_b(n, mid) < blocking else (lo, mid)
    return lo


@pytest.mark.parametrize(("n", "blocking", "load", "digits"), PUBLISHED_ERLANG_B)
def test_erlang_b_matches_published_tables(
    n: int, blocking: float, load: float, digits: int
) -> None:
    assert round(_max_load(n, blocking), digits) == load


def _erlang_b_direct(n: int, load: Fraction) -> Fraction:
    """B(n, A) = (A^n / n!) / sum_{k=0..n} A^k / k!, in exact rational arithmetic."""
    terms = [Fraction(1)]
    for k in range(1, n + 1):
        terms.append(terms[-1] * load / k)
    return terms[-1] / sum(terms)


# (channels, load): the 1 % points of 10, 20, 50 and 100 channels to two decimals, and loads
# far from them; the recursion against the direct sum, exactly computed.
DIRECT_POINTS = ((10, "4.46"), (20, "12.03"), (50, "37.90"), (100, "84.06"), (7, "12.5"),
                 (200, "150"), (30, "0.5"))  # fmt: skip


@pytest.mark.parametrize(("n", "load"), DIRECT_POINTS)
def test_erlang_b_recursion_equals_the_direct_sum(n: int, load: str) -> None:
    exact = _erlang_b_direct(n, Fraction(load))
    assert erlang.erlang_b(n, float(load)) == pytest.approx(float(exact), rel=1e-12)


def test_one_percent_points_rounded() -> None:
    # 4.46 / 12.03 / 37.90 / 84.06 Erlangs at 10 / 20 / 50 / 100 channels: B just under 1 %
    # there, and the 1 % load rounds to them (computed by the direct sum above, not a table).
    for n, load in DIRECT_POINTS[:4]:
        b = _erlang_b_direct(n, Fraction(load))
        assert Fraction(99, 10_000) < b < Fraction(1, 100), n
        assert f"{_max_load(n, 0.01):.2f}" == load


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

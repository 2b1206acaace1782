"""SLA timers and backlog age (stream/core/kpis/sla.py): the pure counts, then through the pipeline.

The pipeline tests reuse the in-memory ``Harness`` of ``test_aggregator``: deadlines enter when a
call is queued or a ticket created, leave when it is answered, first responded or solved, come
back on a reopen, ignore duplicates and are rebuilt identically after a restart.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stream.core.kpis import sla
from tests.pipeline_harness import T0, Harness, Input, call, status, ticket

DAY = 86400.0

# (sorted deadlines, now) → (breached, at risk)
COUNTS: list[tuple[list[float], float, tuple[int, int]]] = [
    ([], 0.0, (0, 0)),  # nothing pending
    ([100.0], 99.0, (0, 1)),  # one deadline, 1 s ahead
    ([100.0], 100.0, (1, 0)),  # at the deadline itself: breached
    ([100.0], 100.0 - 900.0, (0, 1)),  # exactly 15 min ahead: at risk
    ([100.0], 100.0 - 900.5, (0, 0)),  # just beyond the horizon
    ([10.0, 10.0, 500.0, 2000.0], 100.0, (2, 1)),  # equal deadlines both count
]


@pytest.mark.parametrize(("deadlines", "now", "expected"), COUNTS)
def test_breached_and_at_risk(
    deadlines: list[float], now: float, expected: tuple[int, int]
) -> None:
    assert (sla.breached(deadlines, now), sla.at_risk(deadlines, now)) == expected


def test_add_and_remove_keep_a_sorted_multiset() -> None:
    xs: list[float] = []
    for x in (5.0, 1.0, 5.0, 3.0):
        sla.add(xs, x)
    assert xs == [1.0, 3.0, 5.0, 5.0]
    assert sla.remove(xs, 5.0)
    assert xs == [1.0, 3.0, 5.0]
    assert not sla.remove(xs, 4.0)  # absent: nothing changes
    assert not sla.remove([], 1.0)
    assert xs == [1.0, 3.0, 5.0]


def ages(*days: float, now: float = 100 * DAY) -> dict[str, int]:
    return sla.by_age(sorted(now - d * DAY for d in days), now)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ((), [0, 0, 0, 0, 0]),  # empty backlog: every bucket, all 0
        ((0.0,), [1, 0, 0, 0, 0]),
        ((-1.0,), [1, 0, 0, 0, 0]),  # created "in the future" (skew): age 0
        ((0.99, 1.0), [1, 1, 0, 0, 0]),  # exactly 1 day old: 1-3d
        ((2.9, 3.0, 6.0, 7.0, 29.0, 30.0, 400.0), [0, 1, 2, 2, 2]),
    ],
)
def test_backlog_by_age(days: tuple[float, ...], expected: list[int]) -> None:
    assert ages(*days) == dict(zip([b[0] for b in sla.AGE_BUCKETS], expected, strict=True))


@settings(max_examples=200, deadline=None)
@example([1.2328886679711038e-207], 86400.0)  # now − created rounds to exactly 1 day
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=30),
    st.floats(-1e6, 1e6, allow_nan=False),
)
def test_counts_equal_a_scan(deadlines: list[float], now: float) -> None:
    xs = sorted(deadlines)
    assert sla.breached(xs, now) == sum(d <= now for d in xs)
    assert sla.at_risk(xs, now) == sum(now < d <= now + 900 for d in xs)
    by_age = sla.by_age(xs, now)
    assert sum(by_age.values()) == len(xs)
    # Bucket edges are instants (now − 1 d, ...), compared with creation times: the same edges
    # as ages in exact arithmetic, without the rounding of now − created (1e-207 vs 86400.0).
    assert by_age["<1d"] == sum(d > now - DAY for d in xs)
    assert by_age[">30d"] == sum(d <= now - 30 * DAY for d in xs)


# --- through the pipeline ------------------------------------------------------------------------

P = "contact_centre_"


def readings(h: Harness, queue: str, now: float) -> dict[str, dict[str, float | None]]:
    """sla_breached / sla_at_risk by kind and tickets_open_by_age by age, at ``now``."""
    h.clock.now = now
    reg = h.registry()
    out: dict[str, dict[str, float | None]] = {}
    for family, label, values in (
        ("sla_breached", "kind", sla.SLA_KINDS),
        ("sla_at_risk", "kind", sla.SLA_KINDS),
        ("tickets_open_by_age", "age", tuple(b[0] for b in sla.AGE_BUCKETS)),
    ):
        out[family] = {
            v: reg.get_sample_value(P + family, {"queue": queue, label: v}) for v in values
        }
    return out


def kinds(answer: int, first_response: int, resolution: int) -> dict[str, float | None]:
    return {"answer": answer, "first_response": first_response, "resolution": resolution}


def by_age(young: int, *older: int) -> dict[str, float | None]:
    counts = [young, *older, 0, 0, 0, 0][:5]
    return {b[0]: c for b, c in zip(sla.AGE_BUCKETS, counts, strict=True)}


# Default targets: answer 20 s, first response 60 s on chat, 24 h on email, resolution 2 days.
CASE: list[Input] = [
    call("q1", "call.queued", 0, "k1", queue="billing"),  # answer deadline 20
    call("q2", "call.queued", 5, "k2", queue="billing"),  # answer deadline 25, answered at 15
    call("a2", "call.answered", 15, "k2", agent_id="a1"),
    ticket("tc", "ticket.created", 0, "t1", queue="billing", channel="chat"),  # FRT 60, res 2 d
    ticket("te", "ticket.created", 10, "t2", queue="billing", channel="email"),  # FRT 24 h
    ticket("te-r", "ticket.message_added", 30, "t2", author="agent"),  # t2 leaves first response
    ticket("tx", "ticket.created", 20, "t3", queue="billing", channel="email"),
    status("tx-s", 40, "t3", "solved"),  # t3 leaves everything
]


def test_deadlines_enter_leave_and_count_at_the_deadline() -> None:
    h = Harness()
    h.clock.now = T0
    h.run(CASE)
    # 10 s after T0: k1 answer due in 10 s; t1 due in 50 s; resolutions in 2 days
    assert readings(h, "billing", T0 + 10) == {
        "sla_breached": kinds(0, 0, 0),
        "sla_at_risk": kinds(1, 1, 0),
        "tickets_open_by_age": by_age(2),
    }
    assert readings(h, "billing", T0 + 20)["sla_breached"] == kinds(1, 0, 0)  # at the deadline
    assert readings(h, "billing", T0 + 60)["sla_breached"] == kinds(1, 1, 0)
    # t1's and t2's resolution deadlines (2 d after 0 and 10) within the next 15 min
    assert readings(h, "billing", T0 + 2 * DAY - 885) == {
        "sla_breached": kinds(1, 1, 0),
        "sla_at_risk": kinds(0, 0, 2),
        "tickets_open_by_age": by_age(0, 2),
    }
    assert readings(h, "billing", T0 + 31 * DAY)["tickets_open_by_age"] == by_age(0, 0, 0, 0, 2)


def test_answers_responses_solves_and_reopens_move_the_deadlines() -> None:
    h = Harness()
    h.clock.now = T0
    h.run(CASE)
    h.run(
        [
            call("a1", "call.answered", 100, "k1", agent_id="a1"),  # k1 leaves (late answer)
            ticket("tc-r", "ticket.message_added", 110, "t1", author="agent"),
            status("tc-s", 120, "t1", "solved"),
            status("tx-o", 130, "t3", "open"),  # reopened: t3's resolution deadline is back
            status("tc-p", 140, "t1", "pending"),  # reopened without a first response owed
        ]
    )
    assert readings(h, "billing", T0 + 2 * DAY) == {
        # t3 reopened never had a reply: owes one again (24 h after 20); t1 reopened: 2 d after 0
        "sla_breached": kinds(0, 1, 1),
        "sla_at_risk": kinds(0, 0, 2),  # t2 (created 10) and t3 (created 20, reopened)
        "tickets_open_by_age": by_age(0, 3),
    }
    assert readings(h, "billing", T0 + 2 * DAY + 20)["sla_breached"] == kinds(0, 1, 3)


def test_duplicates_replays_and_restarts_leave_the_timers_exact() -> None:
    once, twice = Harness(), Harness()
    for h in (once, twice):
        h.clock.now = T0
    once.run(CASE)
    batches = twice.run(CASE + CASE)  # every event again: duplicates
    for batch in batches:
        twice.feed(batch)  # and the same messages delivered again: replays
    expected = readings(once, "billing", T0 + 30)
    assert readings(twice, "billing", T0 + 30) == expected
    twice.restart()
    assert readings(twice, "billing", T0 + 30) == expected
    live = twice.pipeline.agg_parts[0].live["billing"]
    assert {kind: list(dl) for kind, dl in live.deadlines.items()} == {
        "answer": [T0 + 20],
        "first_response": [T0 + 60],
        "resolution": [T0 + 2 * DAY, T0 + 10 + 2 * DAY],
    }
    assert list(live.open_created) == [T0, T0 + 10]

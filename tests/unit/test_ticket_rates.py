"""Ticket rates per window (stream/core/kpis/tickets.py, readings.ticket_gauges): resolved within
target, reopen, escalation, first-contact resolution and complaint rate with its change against
the previous window; the pure formulas, then through the pipeline with duplicates, replays,
any batching and a restart."""

from __future__ import annotations

import pytest

from stream.core.kpis import tickets
from stream.core.kpis.totals import WindowTotals
from stream.read.readings import ticket_gauges
from tests.pipeline_harness import T0, Harness, Input, status, ticket


@pytest.mark.parametrize(
    ("messages", "reopened", "expected"),
    [(0, 0, True), (1, 0, True), (2, 0, False), (0, 1, False), (1, 2, False)],
)
def test_is_one_touch(messages: int, reopened: int, expected: bool) -> None:
    assert tickets.is_one_touch(messages, reopened) is expected


@pytest.mark.parametrize(
    ("function", "numerator", "denominator", "expected"),
    [
        (tickets.average_first_response, 0.0, 0, None),  # nobody responded: no data
        (tickets.average_first_response, 90.0, 1, 90.0),  # a single response
        (tickets.average_first_response, 850.0, 2, 425.0),
        (tickets.average_resolution, 0.0, 0, None),
        (tickets.average_resolution, 700.0, 1, 700.0),
        (tickets.first_contact_resolution, 0, 0, None),  # no solves: no data
        (tickets.first_contact_resolution, 0, 3, 0.0),
        (tickets.first_contact_resolution, 3, 4, 0.75),
        (tickets.complaint_rate, 0, 0, None),
        (tickets.complaint_rate, 1, 1, 1.0),
        (tickets.complaint_rate, 1, 4, 0.25),
        (tickets.reopen_rate, 2, 0, None),  # reopens without solves in the window: no data
        (tickets.reopen_rate, 1, 2, 0.5),
        (tickets.escalation_rate, 1, 0, None),
        (tickets.resolved_within_target, 2, 2, 1.0),
    ],
)
def test_ratios(function: object, numerator: int, denominator: int, expected: float | None) -> None:
    assert callable(function)
    assert function(numerator, denominator) == expected


def test_empty_window_has_no_ticket_rates() -> None:
    assert set(ticket_gauges(WindowTotals(), None).values()) == {None}
    assert ticket_gauges(
        WindowTotals(), WindowTotals(tickets_created=2, complaints=1)
    ) == dict.fromkeys(ticket_gauges(WindowTotals(), None))


# --- through the pipeline ------------------------------------------------------------------------

P = "contact_centre_"
B = {"queue": "billing", "channel": "email"}
EVENTS: list[Input] = [
    # 10:00–10:15: a (complaint) one reply, solved; b solved without a reply, reopened at 100;
    # c escalated, two replies, solved: not one-touch
    ticket("a", "ticket.created", 0, "a", category="complaint", **B),
    ticket("a-r", "ticket.message_added", 10, "a", author="agent"),
    status("a-s", 20, "a", "solved"),
    ticket("b", "ticket.created", 30, "b", **B),
    status("b-s", 40, "b", "solved"),
    ticket("c", "ticket.created", 50, "c", category="billing", **B),
    ticket("c-e", "ticket.escalated", 60, "c"),
    ticket("c-r1", "ticket.message_added", 70, "c", author="agent"),
    ticket("c-r2", "ticket.message_added", 80, "c", author="agent"),
    status("c-s", 90, "c", "solved"),
    status("b-o", 100, "b", "open"),
    # 10:15–10:30: two complaints; a reopened at 1100, after its 15m window is final
    ticket("d", "ticket.created", 1000, "d", category="complaint", **B),
    ticket("e", "ticket.created", 1010, "e", category="complaint", **B),
    status("a-o", 1100, "a", "open"),
]


def rates(h: Harness, window: str) -> dict[str, float | None]:
    reg = h.registry()
    return {
        name: reg.get_sample_value(P + name, {"queue": "billing", "window": window})
        for name in ticket_gauges(WindowTotals(), None)
    }


EXPECTED_15M = {  # 10:15: created d, e (complaints); a reopened; no solves
    "resolved_within_target_ratio": None,
    "reopen_rate_ratio": None,
    "escalation_rate_ratio": 0.0,
    "first_contact_resolution_ratio": None,
    "complaint_rate_ratio": 1.0,
    "complaint_rate_change_ratio": pytest.approx(1.0 - 1 / 3),  # 10:00 window: 1 of 3
}
EXPECTED_1H = {  # 10:00–11:00: 5 created, 3 solved (all within 2 days), a and b reopened
    "resolved_within_target_ratio": 1.0,
    "reopen_rate_ratio": pytest.approx(2 / 3),
    "escalation_rate_ratio": 0.2,
    "first_contact_resolution_ratio": 0.0,  # a and b were one-touch, both reopened
    "complaint_rate_ratio": 0.6,
    "complaint_rate_change_ratio": None,  # nothing in 9:00–10:00
}


@pytest.mark.parametrize("batch_size", [1, 3, len(EVENTS)])
def test_ticket_rates_per_window(batch_size: int) -> None:
    h = Harness()
    # a's reopen (and two duplicates) published once every source has passed 10:16: the 10:00
    # window is final by then, whatever the batching
    batches = h.run(EVENTS[:-1], batch_size)
    batches += h.run([EVENTS[-1], EVENTS[-1], EVENTS[2]], batch_size)
    for batch in batches:
        h.feed(batch)  # replays
    h.clock.now = T0 + 1100
    assert rates(h, "15m") == EXPECTED_15M
    assert rates(h, "1h") == EXPECTED_1H
    assert rates(h, "today") == EXPECTED_1H
    closed = h.queue("billing").last_closed[f"15m@{T0:.0f}"]
    # the 10:00 window closed with a's solve one-touch: a reopen after that leaves it as it was
    assert (closed.solved, closed.first_contact_resolved, closed.reopened) == (3, 1, 1)
    assert (closed.tickets_created, closed.complaints, closed.escalated) == (3, 1, 1)
    reg = h.registry()
    for name, n in {"complaints": 3, "solved_one_touch": 2, "one_touch_reopened": 2}.items():
        labels = {"queue": "billing", "channel": "email"}
        assert reg.get_sample_value(f"{P}tickets_{name}_total", labels) == n, name
    assert h.queue("billing").duplicates == 2
    h.restart()
    assert rates(h, "15m") == EXPECTED_15M
    assert rates(h, "1h") == EXPECTED_1H


def test_full_resolution_is_observed_once_at_the_first_close() -> None:
    h = Harness()
    closing = status("f-c1", 400, "f", "closed")
    h.run(
        [
            ticket("f", "ticket.created", 0, "f", **B),
            status("f-s1", 100, "f", "solved"),
            status("f-o1", 200, "f", "open"),
            status("f-s2", 300, "f", "solved"),
            closing,
            closing,  # a duplicate
            status("f-o2", 500, "f", "open"),  # reopened after closing: not observed again
            status("f-s3", 600, "f", "solved"),
            status("f-c2", 700, "f", "closed"),
            ticket("g", "ticket.created", 0, "g", **B),
            status("g-c", 50, "g", "closed"),  # closed unsolved: no resolution
        ]
    )
    labels = {"queue": "billing", "channel": "email"}
    for _ in range(2):
        reg = h.registry()
        assert reg.get_sample_value(P + "full_resolution_seconds_count", labels) == 1
        assert reg.get_sample_value(P + "full_resolution_seconds_sum", labels) == 300.0
        assert reg.get_sample_value(P + "resolution_seconds_sum", labels) == 100.0  # first solve
        h.restart()

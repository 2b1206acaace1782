"""Business-time first response and resolution through the whole in-memory pipeline.

Table-driven: one queue's targets (time zone, business hours, holidays) and one ticket's
timeline per row; the business-time histograms must hold the hand-computed values next to their
calendar-time twins, booked once (duplicates, replays, reopens and restarts change nothing).
And the queue's time zone through the same pipeline: `today` runs from local midnight to local
midnight, 23 or 25 hours on the days clocks change.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from stream.config import parse_targets
from stream.core.kpis.histogram import FIRST_RESPONSE_BOUNDS, RESOLUTION_BOUNDS
from stream.stages.route import Message
from tests.pipeline_harness import Clock, Harness, Input

LATER = datetime(2027, 1, 1, tzinfo=UTC).timestamp()  # the wall clock: after every event
P = "contact_centre_"
H = 3600

BERLIN_OFFICE = """
queues:
  billing:
    timezone: Europe/Berlin
    business_hours: {mon: 09:00-17:00, tue: 09:00-17:00, wed: 09:00-17:00, thu: 09:00-17:00,
                     fri: 09:00-17:00}
    holidays: [2026-11-23]
"""
BERLIN_SUNDAY_NIGHT = """
queues:
  billing:
    timezone: Europe/Berlin
    business_hours: {sun: 01:00-04:00}
"""
NEW_YORK_SUNDAYS = """
queues:
  billing:
    timezone: America/New_York
    business_hours: {sun: 00:00-24:00}
"""


def event(eid: str, type_: str, at: str, ticket_id: str, **fields: object) -> Input:
    doc = {"event_id": eid, "type": type_, "occurred_at": at, "ticket_id": ticket_id, **fields}
    return ("tickets", ticket_id.encode(), msgspec.json.encode(doc))


def timeline(
    created: str, responded: str | None, solved: list[str], channel: str = "email"
) -> list[Input]:
    """A ticket in billing: created, an agent's first public reply, ``solved`` times with a
    reopen between consecutive ones."""
    out = [event("c", "ticket.created", created, "t1", queue="billing", channel=channel)]
    if responded is not None:
        out.append(event("r", "ticket.message_added", responded, "t1", author="agent"))
    for i, at in enumerate(solved):
        if i:
            out.append(event(f"o{i}", "ticket.status_changed", at, "t1", status="open"))
        out.append(event(f"s{i}", "ticket.status_changed", at, "t1", status="solved"))
    return out


# (id, targets, created, first response, solved at, business FRT, business resolution);
# None: no observation expected.
ROWS: list[tuple[str, str, str, str | None, list[str], float | None, float | None]] = [
    ("created only: empty histograms", BERLIN_OFFICE,
     "2026-11-24T08:00:00Z", None, [], None, None),
    ("single response within hours", BERLIN_OFFICE,
     "2026-11-24T08:00:00Z", "2026-11-24T08:20:30Z", [], 1230, None),
    # Sunday 11:00 Berlin; Monday the 23rd a holiday; reply Tuesday 09:30, solved 11:00.
    ("weekend and holiday", BERLIN_OFFICE,
     "2026-11-22T10:00:00Z", "2026-11-24T08:30:00Z", ["2026-11-24T10:00:00Z"], 1800, 2 * H),
    ("overnight: 16:30 to 09:15 next day", BERLIN_OFFICE,
     "2026-11-24T15:30:00Z", "2026-11-25T08:15:00Z", [], 2700, None),
    ("entirely out of hours", BERLIN_OFFICE,
     "2026-11-24T17:00:00Z", "2026-11-24T22:00:00Z", ["2026-11-25T07:59:59Z"], 0, 0),
    # Reopened and solved again: resolution is created → first solved, booked once.
    ("reopen keeps the first resolution", BERLIN_OFFICE,
     "2026-11-24T08:00:00Z", "2026-11-24T08:01:00Z",
     ["2026-11-24T09:00:00Z", "2026-11-25T09:00:00Z", "2026-11-26T09:00:00Z"], 60, H),
    # Berlin falls back on Sunday 2026-10-25: 01:00-04:00 local lasts four hours.
    ("DST fall-back, Europe", BERLIN_SUNDAY_NIGHT,
     "2026-10-24T20:00:00Z", "2026-10-25T23:00:00Z", [], 4 * H, None),
    # New York springs forward on Sunday 2026-03-08: that Sunday has 23 hours.
    ("DST spring-forward, America", NEW_YORK_SUNDAYS,
     "2026-03-07T12:00:00Z", "2026-03-09T12:00:00Z", ["2026-03-09T12:00:00Z"], 23 * H, 23 * H),
]  # fmt: skip


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(P + name, {"queue": "billing", "channel": "email", **labels})


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run(
    targets: str, inputs: list[Input], batch_size: int = 8
) -> tuple[Harness, list[list[Message]]]:
    h = Harness(clock=Clock(LATER), targets=parse_targets(textwrap.dedent(targets)))
    return h, h.run(inputs, batch_size)


@pytest.mark.parametrize(
    ("targets", "created", "responded", "solved", "frt", "resolution"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_business_time_histograms(
    targets: str,
    created: str,
    responded: str | None,
    solved: list[str],
    frt: float | None,
    resolution: float | None,
) -> None:
    h, _ = run(targets, timeline(created, responded, solved))
    registry = h.registry()
    for name, bounds, calendar_end, expected in (
        ("first_response", FIRST_RESPONSE_BOUNDS, responded, frt),
        ("resolution", RESOLUTION_BOUNDS, solved[0] if solved else None, resolution),
    ):
        business = f"{name}_business_seconds"
        if expected is None:  # at 0 from the start (the queue is known)
            assert value(registry, f"{business}_count") == 0
            assert value(registry, f"{name}_seconds_count") == 0
            continue
        assert calendar_end is not None
        assert value(registry, f"{business}_count") == 1
        assert value(registry, f"{business}_sum") == expected
        assert value(registry, f"{name}_seconds_sum") == epoch(calendar_end) - epoch(created)
        # Same buckets as the calendar twin; the observation sits in the first bucket ≥ it.
        assert value(registry, f"{business}_bucket", le="+Inf") == 1
        first = bounds[0]
        assert value(registry, f"{business}_bucket", le=repr(first)) == (expected <= first)


def test_around_the_clock_equals_calendar_time() -> None:
    h, _ = run("queues: {billing: {timezone: Asia/Kolkata}}", timeline(
        "2026-11-22T10:00:00.125Z", "2026-11-24T08:30:00.5Z", ["2026-11-29T10:00:00Z"]
    ))  # fmt: skip
    samples = h.samples()
    for name in ("first_response", "resolution"):
        calendar = {(n.replace(f"{name}_seconds", "X"), labels): v for (n, labels), v in
                    samples.items() if n.startswith(f"{P}{name}_seconds")}  # fmt: skip
        business = {(n.replace(f"{name}_business_seconds", "X"), labels): v for (n, labels), v in
                    samples.items() if n.startswith(f"{P}{name}_business_seconds")}  # fmt: skip
        assert calendar and business == calendar


def test_duplicates_replays_and_restarts_book_business_time_once() -> None:
    solved = ["2026-11-24T10:00:00Z", "2026-11-25T10:00:00Z"]
    inputs = timeline("2026-11-22T10:00:00Z", "2026-11-24T08:30:00Z", solved)
    h, batches = run(BERLIN_OFFICE, [*inputs, *inputs], batch_size=3)  # every event twice
    for batch in batches:  # the same batches delivered again (a replay after a crash)
        h.feed(batch)
    h.restart()
    registry = h.registry()
    assert value(registry, "first_response_business_seconds_count") == 1
    assert value(registry, "first_response_business_seconds_sum") == 1800
    assert value(registry, "resolution_business_seconds_count") == 1
    assert value(registry, "resolution_business_seconds_sum") == 2 * H
    assert value(registry, "first_response_seconds_count") == 1


def calls(queue: str, *steps: tuple[str, str, str]) -> list[Input]:
    """(call id, type, occurred_at) steps; the first step of each call names ``queue``."""
    out: list[Input] = []
    named: set[str] = set()
    for call_id, type_, at in steps:
        doc: dict[str, object] = {"event_id": f"{queue}-{call_id}-{type_}", "type": type_,
                                  "occurred_at": at, "call_id": call_id}  # fmt: skip
        if call_id not in named:
            doc["queue"] = queue
            named.add(call_id)
        if type_ == "call.answered":
            doc["agent_id"] = "a1"
        out.append(("calls", call_id.encode(), msgspec.json.encode(doc)))
    return out


# (id, zone, wall clock, abandoned at, answered at, abandon rate today): a call abandoned at the
# first instant and one answered at the last, of the local day or just outside it.
TODAY: list[tuple[str, str, str, str, str, float]] = [
    ("New York: 04:59Z is yesterday", "America/New_York", "2026-11-24T20:00:00Z",
     "2026-11-24T04:59:59Z", "2026-11-24T05:00:00Z", 0.0),
    ("UTC: 04:59Z is today", "UTC", "2026-11-24T20:00:00Z",
     "2026-11-24T04:59:59Z", "2026-11-24T05:00:00Z", 0.5),
    # Berlin falls back on 2026-10-25: local midnight 22:00Z the day before, next at 23:00Z.
    ("Berlin 25 h day", "Europe/Berlin", "2026-10-25T22:59:59Z",
     "2026-10-24T22:00:00Z", "2026-10-25T22:59:30Z", 0.5),
    ("Berlin 25 h day: before its first instant", "Europe/Berlin", "2026-10-25T22:59:59Z",
     "2026-10-24T21:59:59Z", "2026-10-25T22:59:30Z", 0.0),
    # Berlin springs forward on 2026-03-29: local midnight 23:00Z the day before, next at 22:00Z.
    ("Berlin 23 h day", "Europe/Berlin", "2026-03-29T21:59:59Z",
     "2026-03-28T23:00:00Z", "2026-03-29T21:59:30Z", 0.5),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "now", "abandoned", "answered", "rate"),
    [pytest.param(*row[1:], id=row[0]) for row in TODAY],
)
def test_today_starts_at_local_midnight(
    zone: str, now: str, abandoned: str, answered: str, rate: float
) -> None:
    h = Harness(
        clock=Clock(epoch(now)),
        targets=parse_targets(f"queues: {{billing: {{timezone: {zone}}}}}"),
        grace_seconds=3 * 86400,  # nothing late: only the window's bounds matter
    )
    steps = [("c1", "call.queued", abandoned), ("c1", "call.abandoned", abandoned),
             ("c2", "call.queued", answered), ("c2", "call.answered", answered)]  # fmt: skip
    h.run(calls("billing", *steps))
    got = h.registry().get_sample_value(
        P + "abandon_rate_ratio", {"queue": "billing", "window": "today"}
    )
    assert got == rate

"""Table-driven tests of stream/core/kpis/business_hours.py: business seconds across DST and
holidays."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.kpis.business_hours import (
    ALWAYS_OPEN,
    BusinessCalendar,
    Range,
    business_seconds,
    parse_clock,
    parse_ranges,
)

BERLIN = ZoneInfo("Europe/Berlin")  # 2026-03-29 02:00 → 03:00; 2026-10-25 03:00 → 02:00
NEW_YORK = ZoneInfo("America/New_York")  # 2026-03-08 02:00 → 03:00; 2026-11-01 02:00 → 01:00
HAVANA = ZoneInfo("America/Havana")  # 2026-11-01 01:00 → 00:00: local midnight twice
SANTIAGO = ZoneInfo("America/Santiago")  # 2026-09-06 00:00 → 01:00: local midnight skipped
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30
UTC = ZoneInfo("UTC")
H = 3600


def week(ranges: str, days: str = "mon tue wed thu fri") -> tuple[tuple[Range, ...], ...]:
    """Weekly hours: ``ranges`` on the named days, other days closed."""
    parsed = parse_ranges(ranges)
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return tuple(parsed if name in days.split() else () for name in names)


ALL_DAYS = "mon tue wed thu fri sat sun"
OFFICE_BERLIN = BusinessCalendar(BERLIN, week("09:00-17:00"))
AROUND_THE_CLOCK_BERLIN = BusinessCalendar(BERLIN, week("00:00-24:00", ALL_DAYS))
XMAS = date(2026, 12, 25)
CHRISTMAS_BERLIN = BusinessCalendar(
    BERLIN, week("09:00-17:00"), frozenset({XMAS, date(2026, 12, 28)})
)


def at(text: str, zone: ZoneInfo = UTC) -> float:
    """Epoch seconds of a local wall time in ``zone`` (fold=0), or of an RFC 3339 instant."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.timestamp()


# (name, calendar, start, end, expected business seconds); naive times are in the calendar's zone
CASES: list[tuple[str, BusinessCalendar, str, str, float]] = [
    ("empty interval", OFFICE_BERLIN, "2026-11-23T10:00", "2026-11-23T10:00", 0),
    ("end before start", OFFICE_BERLIN, "2026-11-23T11:00", "2026-11-23T10:00", 0),
    ("24x7 is calendar time", ALWAYS_OPEN, "2026-11-22T10:00", "2026-11-23T10:30", 86400 + 1800),
    ("within hours", OFFICE_BERLIN, "2026-11-23T10:00", "2026-11-23T10:05:30", 330),
    ("before opening", OFFICE_BERLIN, "2026-11-23T07:00", "2026-11-23T08:59:59", 0),
    ("across opening", OFFICE_BERLIN, "2026-11-23T08:30", "2026-11-23T09:30", 1800),
    ("opening bound inclusive, closing exclusive", OFFICE_BERLIN,
     "2026-11-23T09:00", "2026-11-23T17:00", 8 * H),
    ("overnight to next morning", OFFICE_BERLIN, "2026-11-23T16:00", "2026-11-24T10:00", 2 * H),
    ("weekend closed", OFFICE_BERLIN, "2026-11-21T08:00", "2026-11-22T20:00", 0),
    ("friday to monday", OFFICE_BERLIN, "2026-11-20T16:00", "2026-11-23T10:00", 2 * H),
    ("fractions", OFFICE_BERLIN, "2026-11-23T08:59:59.250", "2026-11-23T09:00:01.500", 1.5),
    ("lunch break", BusinessCalendar(BERLIN, week("08:00-12:00, 13:00-18:00")),
     "2026-11-23T11:00", "2026-11-23T14:00", 2 * H),
    ("four weeks", BusinessCalendar(UTC, week("09:00-17:00")),
     "2026-11-02T00:00", "2026-11-30T00:00", 4 * 5 * 8 * H),
    # Holidays: whole local days closed.
    ("holiday friday", CHRISTMAS_BERLIN, "2026-12-24T16:00", "2026-12-29T10:00", 2 * H),
    ("inside a holiday", CHRISTMAS_BERLIN, "2026-12-25T09:00", "2026-12-25T17:00", 0),
    ("holiday on a 24x7 calendar", BusinessCalendar(BERLIN, None, frozenset({XMAS})),
     "2026-12-24T12:00", "2026-12-26T12:00", 24 * H),
    # A night shift written as two ranges on consecutive days.
    ("night shift across midnight",
     BusinessCalendar(UTC, (((79200, 86400),), ((0, 21600),), (), (), (), (), ())),
     "2026-11-23T21:00", "2026-11-24T07:00", 8 * H),
    # DST, Europe: spring forward (23 h day) and fall back (25 h day).
    ("Berlin spring-forward day is 23 h", AROUND_THE_CLOCK_BERLIN,
     "2026-03-29T00:00", "2026-03-30T00:00", 23 * H),
    ("Berlin spring forward in a range",
     BusinessCalendar(BERLIN, week("01:00-04:00", "sun")),
     "2026-03-28T00:00", "2026-03-30T00:00", 2 * H),
    ("Berlin fall-back day is 25 h", AROUND_THE_CLOCK_BERLIN,
     "2026-10-25T00:00", "2026-10-26T00:00", 25 * H),
    ("Berlin repeated hour counted twice",
     BusinessCalendar(BERLIN, week("01:00-04:00", "sun")),
     "2026-10-24T00:00", "2026-10-26T00:00", 4 * H),
    ("Berlin across the fall-back instant", AROUND_THE_CLOCK_BERLIN,
     "2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00", H),
    ("Berlin office week with spring forward", OFFICE_BERLIN,
     "2026-03-27T00:00", "2026-03-31T00:00", 2 * 8 * H),
    # DST, America.
    ("New York spring-forward day is 23 h",
     BusinessCalendar(NEW_YORK, week("00:00-24:00", ALL_DAYS)),
     "2026-03-08T00:00", "2026-03-09T00:00", 23 * H),
    ("New York skipped hour", BusinessCalendar(NEW_YORK, week("01:00-04:00", "sun")),
     "2026-03-08T00:00", "2026-03-09T00:00", 2 * H),
    ("New York fall-back day is 25 h",
     BusinessCalendar(NEW_YORK, week("00:00-24:00", ALL_DAYS)),
     "2026-11-01T00:00", "2026-11-02T00:00", 25 * H),
    ("New York repeated 01:00-02:00", BusinessCalendar(NEW_YORK, week("01:00-02:00", "sun")),
     "2026-11-01T00:00", "2026-11-02T00:00", 2 * H),
    ("New York office hours unchanged by DST",
     BusinessCalendar(NEW_YORK, week("09:00-17:00")),
     "2026-11-02T09:00", "2026-11-02T17:00", 8 * H),
    # DST at midnight: Havana repeats 00:00-01:00, Santiago skips it.
    ("Havana midnight hour twice", BusinessCalendar(HAVANA, week("00:00-01:00", "sun")),
     "2026-10-31T12:00", "2026-11-02T00:00", 2 * H),
    ("Santiago midnight hour skipped",
     BusinessCalendar(SANTIAGO, week("00:00-02:00", "sun")),
     "2026-09-05T12:00", "2026-09-07T00:00", H),
    # Half-hour offset: hours are local.
    ("Kolkata office day", BusinessCalendar(KOLKATA, week("09:00-17:00")),
     "2026-11-23T03:30:00+00:00", "2026-11-23T11:30:00+00:00", 8 * H),
]  # fmt: skip


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [pytest.param(c, s, e, x, id=name) for name, c, s, e, x in CASES],
)
def test_business_seconds(
    calendar: BusinessCalendar, start: str, end: str, expected: float
) -> None:
    got = business_seconds(at(start, calendar.zone), at(end, calendar.zone), calendar)
    assert got == pytest.approx(expected, abs=1e-6)


def test_always_open_is_exactly_calendar_time() -> None:
    start, end = at("2026-03-29T00:00:00.125+01:00"), at("2026-03-30T00:00:00+02:00")
    assert business_seconds(start, end, ALWAYS_OPEN) == end - start
    assert ALWAYS_OPEN.always_open
    assert not BusinessCalendar(BERLIN, None, frozenset({date(2026, 1, 1)})).always_open


def _brute_force(start: int, end: int, calendar: BusinessCalendar) -> int:
    """The oracle: look at every minute (instants on whole minutes, ranges on whole minutes)."""
    total = 0
    for t in range(start, end, 60):
        local = datetime.fromtimestamp(t, calendar.zone)
        if local.date() in calendar.holidays:
            continue
        second = local.hour * 3600 + local.minute * 60
        assert calendar.weekly is not None
        if any(a <= second < b for a, b in calendar.weekly[local.weekday()]):
            total += 60
    return total


_DAY_RANGES = st.sets(st.integers(0, 48), max_size=6).map(
    lambda cuts: tuple(
        (a * 1800, b * 1800) for a, b in zip(sorted(cuts)[::2], sorted(cuts)[1::2], strict=False)
    )
)  # half-hour boundaries, paired in order: disjoint ranges, up to three a day
_WEEKLY = st.tuples(*[_DAY_RANGES] * 7)


@settings(max_examples=40, deadline=None)
@given(
    zone=st.sampled_from([BERLIN, NEW_YORK, HAVANA, SANTIAGO, KOLKATA]),
    weekly=_WEEKLY,
    holiday=st.booleans(),
    around=st.sampled_from(["2026-03-08", "2026-03-29", "2026-09-06", "2026-10-25", "2026-11-01"]),
    start_minutes=st.integers(0, 3 * 1440),
    length_minutes=st.integers(0, 3 * 1440),
)
def test_matches_minute_by_minute_oracle_around_dst(
    zone: ZoneInfo,
    weekly: tuple[tuple[Range, ...], ...],
    holiday: bool,
    around: str,
    start_minutes: int,
    length_minutes: int,
) -> None:
    day = date.fromisoformat(around)
    holidays = frozenset({day}) if holiday else frozenset()
    calendar = BusinessCalendar(zone, weekly, holidays)
    origin = int(at(f"{day - timedelta(days=1)}T00:00:00+00:00"))
    start = origin + start_minutes * 60
    end = start + length_minutes * 60
    assert business_seconds(start, end, calendar) == _brute_force(start, end, calendar)


@settings(max_examples=40, deadline=None)
@given(a=st.integers(0, 10**6), b=st.integers(0, 10**6), c=st.integers(0, 10**6))
def test_additive_over_adjacent_intervals(a: int, b: int, c: int) -> None:
    origin = int(at("2026-10-20T00:00:00+00:00"))
    x, y, z = sorted((origin + a, origin + b, origin + c))
    cal = CHRISTMAS_BERLIN
    assert business_seconds(x, z, cal) == business_seconds(x, y, cal) + business_seconds(y, z, cal)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("00:00", 0), ("08:30", 30600), ("24:00", 86400), (" 9:05 ", 32700)],
)
def test_parse_clock(text: str, expected: int) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["8", "08:5", "24:01", "25:00", "08:60", "ab:cd", "-1:00", ""])
def test_parse_clock_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_clock(text)


def test_parse_ranges_sorts() -> None:
    assert parse_ranges("13:00-18:00, 08:00-12:00") == ((28800, 43200), (46800, 64800))
    assert parse_ranges("12:00-13:00,13:00-14:00") == ((43200, 46800), (46800, 50400))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("22:00-06:00", "cannot cross midnight"),
        ("09:00-09:00", "does not end after it starts"),
        ("09:00", "expected a range"),
        ("08:00-12:00, 11:00-13:00", "overlap"),
        ("08:00-1200", "expected HH:MM"),
    ],
)
def test_parse_ranges_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ranges(text)

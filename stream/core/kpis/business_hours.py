"""Business time: how many seconds of an interval fall within a queue's opening hours.

A ``BusinessCalendar`` is a time zone, weekly opening hours (per weekday a tuple of
``[start, end)`` ranges in seconds of the local day, ``end`` up to 86 400 = "24:00"; a day with no
ranges is closed; ``weekly=None`` is open around the clock) and holidays (local dates closed all
day). ``business_seconds(start, end, calendar)`` counts the instants of ``[start, end)`` whose
local wall-clock time lies within an opening range of a non-holiday day.

Exact across clock changes: each local day is split into spans of constant UTC offset, and a
range is intersected with each span in wall-clock terms, so a spring-forward day is an hour
shorter and on a fall-back day a range covering the repeated hour counts it twice (both real
hours passed). Cost is O(local days) of the interval, never O(seconds). Ranges never cross
midnight (the targets file rejects ``22:00-06:00``; write ``22:00-24:00`` and ``00:00-06:00`` on
the next day). The empty calendar (``weekly=None``, no holidays) is calendar time exactly.

Standard library only; time is always an argument.
"""

from __future__ import annotations

import calendar as _calendar
import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

DAY_SECONDS: Final = 86400
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Local midnight lies within this much of the naive-UTC midnight minus the offset (DST shifts are
# at most 2 h), so spans of a day start this much earlier and end this much later; the wall-clock
# intersection then keeps exactly the instants of that local date.
_MARGIN: Final = 3 * 3600

Range = tuple[int, int]
UTC: Final = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Opening hours of one queue. The default instance is open around the clock in UTC."""

    zone: ZoneInfo = UTC
    weekly: tuple[tuple[Range, ...], ...] | None = None
    """Seven entries, Monday first: sorted, disjoint ``[start, end)`` seconds of the local day."""
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def always_open(self) -> bool:
        """True when business time equals calendar time."""
        return self.weekly is None and not self.holidays


ALWAYS_OPEN: Final = BusinessCalendar()


def business_seconds(start: float, end: float, calendar: BusinessCalendar) -> float:
    """Seconds of ``[start, end)`` (epoch seconds) within ``calendar``'s opening hours.

    0.0 when ``end <= start``; ``end - start`` for a calendar that is always open.
    """
    if end <= start:
        return 0.0
    if calendar.always_open:
        return end - start
    zone = calendar.zone
    day = datetime.fromtimestamp(start, zone).date()
    last = datetime.fromtimestamp(end, zone).date()
    total = 0.0
    while day <= last:
        ranges = _ranges(calendar, day)
        if ranges:
            for lo, hi, wall_origin in _day_spans(zone, day):
                # In this span an instant t reads wall-clock second-of-day t - wall_origin.
                for r_start, r_end in ranges:
                    a = max(lo, wall_origin + r_start, start)
                    b = min(hi, wall_origin + r_end, end)
                    if b > a:
                        total += b - a
        day += timedelta(days=1)
    return total


def _ranges(calendar: BusinessCalendar, day: date) -> tuple[Range, ...]:
    if day in calendar.holidays:
        return ()
    if calendar.weekly is None:
        return ((0, DAY_SECONDS),)
    return calendar.weekly[day.weekday()]


@lru_cache(maxsize=4096)
def _day_spans(zone: ZoneInfo, day: date) -> tuple[tuple[int, int, int], ...]:
    """Spans ``(from, to, wall_origin)`` of constant UTC offset covering local date ``day``
    (with a margin); ``wall_origin`` = naive midnight of ``day`` as epoch seconds − offset."""
    naive_midnight = _calendar.timegm(day.timetuple())
    lo = naive_midnight - _offset(zone, naive_midnight) - _MARGIN
    hi = naive_midnight + DAY_SECONDS - _offset(zone, naive_midnight + DAY_SECONDS) + _MARGIN
    spans: list[tuple[int, int, int]] = []
    at = lo
    while at < hi:
        offset = _offset(zone, at)
        change = _next_change(zone, at, hi, offset)
        spans.append((at, change, naive_midnight - offset))
        at = change
    return tuple(spans)


def _offset(zone: ZoneInfo, at: int) -> int:
    """UTC offset (seconds) in ``zone`` at instant ``at``."""
    delta = datetime.fromtimestamp(at, zone).utcoffset()
    return 0 if delta is None else int(delta.total_seconds())


def _next_change(zone: ZoneInfo, at: int, hi: int, offset: int) -> int:
    """First instant in ``(at, hi]`` whose offset differs from ``offset``; ``hi`` if none.

    Bisection to the second (transitions fall on whole seconds); two changes that cancel out
    within one ~30 h span are not seen, and no zone has them.
    """
    if _offset(zone, hi) == offset:
        return hi
    good, bad = at, hi
    while bad - good > 1:
        mid = (good + bad) // 2
        if _offset(zone, mid) == offset:
            good = mid
        else:
            bad = mid
    return bad


def parse_clock(text: str) -> int:
    """``"HH:MM"`` (00:00..24:00) as seconds of the day; ``ValueError`` otherwise."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(f"expected HH:MM, got {text!r}")
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m != 0):
        raise ValueError(f"expected a time from 00:00 to 24:00, got {text!r}")
    return h * 3600 + m * 60


def parse_ranges(text: str) -> tuple[Range, ...]:
    """``"08:00-12:00, 13:00-18:00"`` as sorted ``[start, end)`` ranges; ``ValueError`` for a
    malformed, empty, midnight-crossing or overlapping range."""
    ranges: list[Range] = []
    for part in text.split(","):
        first, sep, second = part.partition("-")
        if not sep:
            raise ValueError(f"expected a range such as '08:00-18:00', got {part.strip()!r}")
        start, end = parse_clock(first), parse_clock(second)
        if end <= start:
            raise ValueError(
                f"range {part.strip()!r} does not end after it starts (ranges cannot cross "
                "midnight: split a night shift as '22:00-24:00' and next day '00:00-06:00')"
            )
        ranges.append((start, end))
    ranges.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(ranges):
        if start < prev_end:
            raise ValueError(f"ranges overlap in {text.strip()!r}")
    return tuple(ranges)

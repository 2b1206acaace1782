"""Table-driven tests of stream/core/windows.py: window bounds (DST included), stream time,
watermark."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.windows import WINDOW_KINDS, is_closed, window_end, window_start

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
SANTIAGO = ZoneInfo("America/Santiago")  # 2026-09-06: 00:00 → 01:00, local midnight skipped
HAVANA = ZoneInfo("America/Havana")  # 2026-11-01: 01:00 → 00:00, local midnight twice
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30


def epoch(text: str) -> float:
    """Epoch seconds of an RFC 3339 instant."""
    return datetime.fromisoformat(text).timestamp()


# (kind, zone, instant, expected window start, expected window end)
WINDOWS: list[tuple[str, ZoneInfo, str, str, str]] = [
    # 15m and 1h are aligned to the epoch; the end is exclusive, so an instant on a boundary
    # belongs to the window that starts there.
    ("15m", UTC_ZONE, "2026-11-22T10:07:30Z", "2026-11-22T10:00:00Z", "2026-11-22T10:15:00Z"),
    ("15m", UTC_ZONE, "2026-11-22T10:15:00Z", "2026-11-22T10:15:00Z", "2026-11-22T10:30:00Z"),
    ("15m", UTC_ZONE, "2026-11-22T10:14:59.999Z", "2026-11-22T10:00:00Z", "2026-11-22T10:15:00Z"),
    ("15m", BERLIN, "2026-11-22T10:44:00Z", "2026-11-22T10:30:00Z", "2026-11-22T10:45:00Z"),
    ("1h", UTC_ZONE, "2026-11-22T10:59:59.5Z", "2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"),
    ("1h", UTC_ZONE, "2026-11-22T11:00:00Z", "2026-11-22T11:00:00Z", "2026-11-22T12:00:00Z"),
    # With a half-hour offset the hour is still epoch-aligned (documented).
    ("1h", KOLKATA, "2026-11-22T10:20:00Z", "2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"),
    # today: local midnight of the queue's zone.
    ("today", UTC_ZONE, "2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"),
    ("today", UTC_ZONE, "2026-11-22T23:59:59Z", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"),
    ("today", BERLIN, "2026-11-22T23:00:00Z", "2026-11-22T23:00:00Z", "2026-11-23T23:00:00Z"),
    ("today", BERLIN, "2026-11-22T22:30:00Z", "2026-11-21T23:00:00Z", "2026-11-22T23:00:00Z"),
    ("today", BERLIN, "2026-11-22T22:59:59Z", "2026-11-21T23:00:00Z", "2026-11-22T23:00:00Z"),
    ("today", BERLIN, "2026-07-01T21:59:00Z", "2026-06-30T22:00:00Z", "2026-07-01T22:00:00Z"),
    ("today", KOLKATA, "2026-11-22T18:29:00Z", "2026-11-21T18:30:00Z", "2026-11-22T18:30:00Z"),
    # Berlin spring forward (02:00 → 03:00): a 23-hour day.
    ("today", BERLIN, "2026-03-29T12:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"),
    # Berlin fall back (03:00 → 02:00): a 25-hour day.
    ("today", BERLIN, "2026-10-25T12:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),
    # Santiago skips midnight: the day starts at the first valid instant, 01:00 -03 (23 hours).
    ("today", SANTIAGO, "2026-09-06T12:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"),
    ("today", SANTIAGO, "2026-09-06T03:59:59Z", "2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z"),
    # Santiago repeats 23:00–24:00 on 2026-04-04: a 25-hour day.
    ("today", SANTIAGO, "2026-04-04T12:00:00Z", "2026-04-04T03:00:00Z", "2026-04-05T04:00:00Z"),
    # Havana has midnight twice on 2026-11-01 (00:00 -04 and 00:00 -05): the day starts at the
    # first one, whichever of the two repeated hours the instant falls in (25-hour day).
    ("today", HAVANA, "2026-11-01T04:30:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
    ("today", HAVANA, "2026-11-01T05:30:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
    ("today", HAVANA, "2026-11-01T20:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
    ("today", HAVANA, "2026-11-01T03:59:00Z", "2026-10-31T04:00:00Z", "2026-11-01T04:00:00Z"),
]


@pytest.mark.parametrize(("kind", "zone", "at", "start", "end"), WINDOWS)
def test_window_bounds(kind: str, zone: ZoneInfo, at: str, start: str, end: str) -> None:
    got_start = window_start(kind, epoch(at), zone)
    assert got_start == epoch(start)
    assert window_end(kind, got_start, zone) == epoch(end)


ZONES = [UTC_ZONE, BERLIN, SANTIAGO, HAVANA, KOLKATA, ZoneInfo("Australia/Lord_Howe")]
YEAR_2026 = (epoch("2026-01-01T00:00:00Z"), epoch("2027-01-01T00:00:00Z"))


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(WINDOW_KINDS),
    zone=st.sampled_from(ZONES),
    at=st.integers(min_value=int(YEAR_2026[0]), max_value=int(YEAR_2026[1])).map(float),
)
def test_windows_tile_the_time_line(kind: str, zone: ZoneInfo, at: float) -> None:
    """Every instant is in exactly one window of a kind; the next window starts at the end."""
    start = window_start(kind, at, zone)
    end = window_end(kind, start, zone)
    assert start <= at < end
    assert window_start(kind, start, zone) == start
    assert window_start(kind, end, zone) == end
    assert window_start(kind, end - 0.001, zone) == start
    if kind == "today":
        assert 23 * 3600 <= end - start <= 25 * 3600
        local = datetime.fromtimestamp(start, zone)
        assert (local.minute, local.second) == (0, 0)
        assert local.hour in (0, 1)  # 01:00 only on a day whose midnight is skipped
        assert datetime.fromtimestamp(at, zone).date() == local.date()
    else:
        assert end - start == {"15m": 900, "1h": 3600}[kind]


@pytest.mark.parametrize(
    ("end", "mark", "expected"),
    [
        (900.0, None, False),  # no watermark yet: nothing is final
        (900.0, 899.999, False),
        (900.0, 900.0, True),  # the watermark reaching the (exclusive) end closes the window
        (900.0, 2000.0, True),
    ],
)
def test_is_closed(end: float, mark: float | None, expected: bool) -> None:
    assert is_closed(end, mark) is expected

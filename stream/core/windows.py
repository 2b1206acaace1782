"""Event-time windows and the watermark: pure math, no clock of its own.

A window is named by its kind (``15m``, ``1h``, ``today``) and its start (epoch seconds). ``15m``
and ``1h`` are aligned to the epoch (clock-aligned in UTC and in every zone with a whole-hour or
quarter-hour offset); ``today`` starts at local midnight in the queue's time zone, so it lasts
23 or 25 hours on the days clocks change.

A window is final (closed) once the watermark reaches its end, and an event whose window is
already closed is *late* for that window. The watermark itself — the event time every source
partition has reached, minus the grace period — is ``stream.core.progress``'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

WindowKind = Literal["15m", "1h", "today"]
WINDOW_KINDS: Final[tuple[WindowKind, ...]] = ("15m", "1h", "today")
_FIXED_SECONDS: Final[dict[str, int]] = {"15m": 900, "1h": 3600}


def window_start(kind: str, at: float, zone: ZoneInfo) -> float:
    """Start (epoch seconds) of the window of ``kind`` that contains instant ``at``."""
    size = _FIXED_SECONDS.get(kind)
    if size is not None:
        return float(int(at // size) * size)
    local = datetime.fromtimestamp(at, zone)
    # fold=0: on a day whose midnight repeats (clocks back at 01:00), the day starts at the first.
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    return _local_midnight_epoch(midnight, zone)


def window_end(kind: str, start: float, zone: ZoneInfo) -> float:
    """End (exclusive, epoch seconds) of the window of ``kind`` that starts at ``start``."""
    size = _FIXED_SECONDS.get(kind)
    if size is not None:
        return start + size
    local = datetime.fromtimestamp(start, zone)
    next_day = (local + timedelta(days=1, hours=3)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return _local_midnight_epoch(next_day, zone)


def _local_midnight_epoch(midnight: datetime, zone: ZoneInfo) -> float:
    """Epoch seconds of a local midnight; a midnight skipped by DST maps to the next valid time."""
    naive = midnight.replace(tzinfo=None)
    candidate = naive.replace(tzinfo=zone)
    # A wall time that does not exist maps forward; round-tripping through UTC detects it.
    back = datetime.fromtimestamp(candidate.timestamp(), zone).replace(tzinfo=None)
    if back != naive:
        return (
            datetime.fromtimestamp(candidate.timestamp(), zone)
            .replace(minute=0, second=0, microsecond=0)
            .timestamp()
        )
    return candidate.timestamp()


def is_closed(end: float, mark: float | None) -> bool:
    """True when the window ending at ``end`` is final under watermark ``mark``."""
    return mark is not None and mark >= end

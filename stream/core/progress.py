"""Event-time progress of the source partitions, and the watermark it allows: pure.

Windows close on event time, and the events of one queue come from every partition of the input
topics (they are keyed by contact, not by queue). A consumer reads those partitions at different
offsets — after an outage, or when history is replayed, one fetch can hold hours of one
partition's event time — so the newest event time seen says nothing about the others. The rule
here is Flink's: the stream time of an aggregator partition is the **minimum over all source
partitions** of the newest event time routed from each (its *high mark*), and a window is final
once that minus the grace period reaches its end.

Idleness comes from offsets, not from wall time: a source partition whose router has routed
everything up to the partition's end offset (``next_offset >= end_offset``) is *caught up*, and
an empty or quiet partition must not stop windows closing. But "nothing unread" is only true
when it is said: the partition's owner may die a moment later while new records pile up in it.
So a caught-up source counts with the stamp of the report that said so (``caught_up_at``: the
newest event time its router had routed then, see ``Report``): its owner refreshes that with
every report (about every second), so a quiet partition follows the stream, while the claim of
a dead owner stays where it was until the partition's new owner reports — nothing its records
hold can be passed.
When every source is caught up and no event has arrived for ``idle_seconds`` of wall time, the
stream time follows the wall clock, so windows still close at night. A source that was never
heard from, or that is behind and has routed nothing yet, holds the watermark where it is.

Reports are merged, not replaced: the high mark only grows, and of two reports the one with
the larger ``(end_offset, next_offset)`` tells whether the source is caught up, so a stale report
of a partition's previous owner cannot undo what its new owner says. The watermark only grows.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

__all__ = ["Progress", "Report", "SourceMark", "advance", "merge", "slowest", "source_partition"]

Report = tuple[str, float | None, int, int, float | None]
"""``(source, high mark, next offset, end offset, stamp)``: what a router says of one source
partition. The stamp is the newest event time the router had routed from any of its partitions
when it said it: everything it had routed was fetched before the end offset it reports, so
records appended to the source later are no older (when publishers write in event-time order;
the grace period covers the rest)."""


def source_partition(source: str) -> int:
    """The partition number of a source named ``"topic/partition"``."""
    return int(source.rpartition("/")[2])


@dataclass(slots=True)
class SourceMark:
    """What the router of one source topic-partition last reported."""

    high: float | None = None
    """Newest event time routed from it (None: nothing routed yet)."""
    next_offset: int = 0
    """Offset after the last record routed from it."""
    end_offset: int = -1
    """The partition's end offset when reported (-1: not known yet)."""
    caught_up_at: float | None = None
    """The newest stamp of a report that said it was caught up (see ``Report``)."""

    @property
    def caught_up(self) -> bool:
        """Everything up to the partition's end has been routed."""
        return 0 <= self.end_offset <= self.next_offset

    def reached(self) -> float:
        """The event time this source holds the others to (-inf: it holds everything)."""
        high = -math.inf if self.high is None else self.high
        if self.caught_up and self.caught_up_at is not None:
            return max(high, self.caught_up_at)
        return high


@dataclass(slots=True)
class Progress:
    """The progress one aggregator partition knows of: per source, and its watermark."""

    sources: dict[str, SourceMark] = field(default_factory=dict)
    """``"topic/partition"`` → its newest report."""
    watermark: float | None = None
    """Event time up to which every window is final (never decreases)."""


def merge(progress: Progress, reports: Iterable[Report]) -> bool:
    """Merge reports (``Report``); True when they changed anything."""
    changed = False
    for source, high, next_offset, end_offset, stamp in reports:
        mark = progress.sources.get(source)
        if mark is None:
            mark = progress.sources[source] = SourceMark()
            changed = True
        if high is not None and (mark.high is None or high > mark.high):
            mark.high = high
            changed = True
        if (end_offset, next_offset) >= (mark.end_offset, mark.next_offset):
            if (end_offset, next_offset) != (mark.end_offset, mark.next_offset):
                mark.end_offset, mark.next_offset = end_offset, next_offset
                changed = True
            stale = mark.caught_up_at is None or (stamp is not None and stamp > mark.caught_up_at)
            if mark.caught_up and stamp is not None and stale:
                mark.caught_up_at = stamp
                changed = True
    return changed


def stream_time(
    progress: Progress,
    expected: Collection[str],
    *,
    wall_now: float,
    last_event_wall: float | None,
    idle_seconds: float,
) -> float | None:
    """The event time every source has reached (see the module docstring); None: held."""
    names = set(expected).union(progress.sources) if expected else progress.sources.keys()
    if not names:
        return None
    lowest = math.inf
    all_caught_up = True
    for name in names:
        mark = progress.sources.get(name)
        if mark is None:
            return None  # never heard from: its events may be anywhere in time
        all_caught_up = all_caught_up and mark.caught_up
        lowest = min(lowest, mark.reached())
    if lowest == -math.inf:
        return None
    if all_caught_up and last_event_wall is not None and wall_now - last_event_wall >= idle_seconds:
        return max(lowest, wall_now)
    return lowest


def advance(
    progress: Progress,
    expected: Collection[str],
    *,
    grace_seconds: float,
    wall_now: float,
    last_event_wall: float | None,
    idle_seconds: float,
) -> bool:
    """Move the watermark to what the sources allow now; True when it moved."""
    now = stream_time(
        progress,
        expected,
        wall_now=wall_now,
        last_event_wall=last_event_wall,
        idle_seconds=idle_seconds,
    )
    if now is None:
        return False
    mark = now - grace_seconds
    if progress.watermark is not None and mark <= progress.watermark:
        return False
    progress.watermark = mark
    return True


def slowest(progress: Progress) -> float | None:
    """The high mark of the slowest source still behind (None: none is behind or known)."""
    behind = [m.high for m in progress.sources.values() if not m.caught_up and m.high is not None]
    return min(behind) if behind else None

"""Closing a partition's windows: the watermark moves on, every window it passed becomes final
(``ClosedWindow``, published once) and is kept as its queue's previous period; the current and
previous windows of a queue at an instant, for the read side.

``WindowClosing`` is a part of ``stream.stages.aggregate.Aggregator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stream.core.kpis.totals import WindowTotals
from stream.core.progress import advance
from stream.core.windows import is_closed, window_end, window_start

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from stream.stages.aggregate import BatchOutput, PartitionState, QueueRecord, TargetSource


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A window that became final: published once, keyed by (queue, window, start)."""

    queue: str
    kind: str
    start: float
    end: float
    totals: WindowTotals


class WindowClosing:
    """Windows of a partition's queues: closed by the watermark, read at an instant."""

    expected_sources: frozenset[str]
    grace_seconds: float
    idle_seconds: float

    targets: TargetSource
    _zones: dict[str, ZoneInfo]

    def zone(self, queue: str) -> ZoneInfo:
        z = self._zones.get(queue)
        if z is None:
            z = self._zones[queue] = self.targets.zone(queue)
        return z

    def close_windows(self, ps: PartitionState, wall_now: float, out: BatchOutput) -> None:
        """Move the watermark to what the sources allow (``stream.core.progress``), then close every
        window whose end it has passed; they are published once."""
        if advance(
            ps.progress,
            self.expected_sources,
            grace_seconds=self.grace_seconds,
            wall_now=wall_now,
            last_event_wall=ps.last_event_wall,
            idle_seconds=self.idle_seconds,
        ):
            out.progress_changed = True
        mark = ps.progress.watermark
        if mark is None:
            return
        for name, q in ps.queues.items():
            zone = self.zone(name)
            for wkey in list(q.windows):
                kind, _, start_s = wkey.partition("@")
                start = float(start_s)
                end = window_end(kind, start, zone)
                if is_closed(end, mark):
                    totals = q.windows.pop(wkey)
                    out.closed.append(ClosedWindow(name, kind, start, end, totals))
                    q.closed_through[kind] = max(q.closed_through.get(kind, end), end)
                    _keep_last_closed(q.last_closed, kind, start, wkey, totals)
                    out.queues.add(name)

    def current_window(
        self, q: QueueRecord, kind: str, now: float
    ) -> tuple[float, WindowTotals | None]:
        """The window of ``kind`` containing ``now`` and its totals (None: no events in it)."""
        start = window_start(kind, now, self.zone(q.queue))
        return start, q.windows.get(f"{kind}@{int(start)}")

    def previous_window(self, q: QueueRecord, kind: str, start: float) -> WindowTotals | None:
        """Totals of the window of ``kind`` just before the one starting at ``start`` (still
        open within the grace period, or the last closed one); None: no events in it."""
        prev = window_start(kind, start - 1.0, self.zone(q.queue))
        wkey = f"{kind}@{int(prev)}"
        found = q.windows.get(wkey)
        return found if found is not None else q.last_closed.get(wkey)


def _keep_last_closed(
    last: dict[str, WindowTotals], kind: str, start: float, wkey: str, totals: WindowTotals
) -> None:
    """Keep ``totals`` as the newest closed window of ``kind`` unless a newer one is kept."""
    for key in [k for k in last if k.partition("@")[0] == kind]:
        if float(key.partition("@")[2]) > start:
            return
        del last[key]
    last[wkey] = totals

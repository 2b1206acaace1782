"""Booking a queue's facts: into its all-time totals and every window still open at the
fact's time under the watermark (late otherwise), durations also in business time, and a
one-touch solve taken back out when the ticket is reopened within 7 days.

Each fact goes to the booker its kind declares (``stream.core.kpis.booking``, generated from
``stream.core.kpis.facts``). ``FactBooking`` is a part of ``stream.stages.aggregate.Aggregator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from stream.core.kpis import ewt
from stream.core.kpis.booking import BOOKERS, BUSINESS_HISTOGRAMS, booker_of
from stream.core.kpis.business_hours import BusinessCalendar, business_seconds
from stream.core.kpis.facts import ONE_TOUCH_REOPENED
from stream.core.kpis.histogram import observe
from stream.core.kpis.totals import WindowTotals
from stream.core.lifecycle import Fact
from stream.core.windows import WINDOW_KINDS, window_end, window_start

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from stream.stages.aggregate import QueueRecord, TargetSource


class FactBooking:
    """Facts into totals and windows; the queues' time zones and calendars, read once."""

    targets: TargetSource
    grace_seconds: float
    zone: Callable[[str], ZoneInfo]
    _calendars: dict[str, BusinessCalendar]
    _spans: dict[str, list[tuple[float, float, str]]]
    """Per queue, the (start, end, key) of the window of each kind last booked into."""

    def calendar(self, queue: str) -> BusinessCalendar:
        c = self._calendars.get(queue)
        if c is None:
            c = self._calendars[queue] = self.targets.calendar(queue)
        return c

    def _book(
        self, q: QueueRecord, facts: list[Fact], t: float, queue: str, mark: float | None
    ) -> None:
        """Book facts into all-time totals and every window still open for time ``t`` under
        the watermark ``mark``; an event whose window the watermark has passed is late."""
        if q.max_event_time is None or t > q.max_event_time:
            q.max_event_time = t
        if not facts:
            return
        ewt.book(q.ewt, facts, t, mark)
        windows: list[WindowTotals] = []
        if mark is None:
            mark = -math.inf
        late = False
        spans = self._spans.get(queue)
        if spans is None:
            spans = self._spans[queue] = [(0.0, 0.0, "")] * len(WINDOW_KINDS)
        closed_through = q.closed_through
        for i, kind in enumerate(WINDOW_KINDS):
            start, end, wkey = spans[i]
            if not start <= t < end:  # most events fall in the windows of the previous one
                zone = self.zone(queue)
                start = window_start(kind, t, zone)
                end = window_end(kind, start, zone)
                wkey = f"{kind}@{int(start)}"
                spans[i] = (start, end, wkey)
            if end <= mark or end <= closed_through.get(kind, -1.0):
                late = True
                continue
            w = q.windows.get(wkey)
            if w is None:
                w = q.windows[wkey] = WindowTotals()
            windows.append(w)
        if late:
            q.late += 1
        totals = q.totals
        for kind_, channel, value, flag in facts:
            if kind_ == ONE_TOUCH_REOPENED:
                # Windows final by the reopen's own time (end + grace <= t) keep the solve, as
                # they would had the events come in time order: the result cannot depend on
                # how far a slower source partition holds the watermark back.
                self._unbook_one_touch(q, channel, value, max(mark, t - self.grace_seconds))
                continue
            booker = BOOKERS.get(kind_)
            if booker is None:  # a labelled kind (exited:timeout): its prefix's booker
                booker = booker_of(kind_)
            booker(totals, windows, kind_, channel, value, flag)
            business = BUSINESS_HISTOGRAMS.get(kind_)
            if business is not None:
                # The same duration in business time: from creation (t − value; exact in
                # floating point) to t, under the queue's hours, holidays and time zone.
                seconds = business_seconds(t - value, t, self.calendar(queue))
                observe(totals.histogram(business[0], channel), business[1], seconds)

    def _unbook_one_touch(
        self, q: QueueRecord, channel: str, solved_at: float, mark: float
    ) -> None:
        """A one-touch solve at ``solved_at`` was reopened within 7 days: it leaves the
        first-contact resolutions of the windows holding the solve that end after ``mark`` (the
        watermark, or the reopen's time minus the grace when later: a closed window is final)
        and is counted in the all-time ``one_touch_reopened``."""
        q.totals.bump("one_touch_reopened", channel)
        zone = self.zone(q.queue)
        # Past the watermark a window is final even before close_windows pops it at the end of
        # the batch: leaving it alone keeps the result independent of batch boundaries.
        for kind in WINDOW_KINDS:
            start = window_start(kind, solved_at, zone)
            w = q.windows.get(f"{kind}@{int(start)}")
            if w is None or window_end(kind, start, zone) <= mark:
                continue
            if w.first_contact_resolved > 0:
                w.first_contact_resolved -= 1

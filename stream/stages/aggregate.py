"""Stage 2, pure: per-queue KPI state for one partition of the queue-keyed stream.

Every queue lives on exactly one partition, so one worker owns all of its numbers. For each
forwarded event the aggregator de-duplicates by ``event_id``, runs the contact's lifecycle
(``stream.core.lifecycle``), books the resulting facts into the queue's all-time totals and its
event-time
windows, and keeps the live index (calls waiting, backlog, awaiting first response) that the
gauges read.

Exactness under at-least-once delivery, record by record:
* a queue record stores, per source topic-partition, the last offset it has applied;
* a contact record stores the (event-id hash, source coordinates) of every event it applied, so a
  replay (same coordinates) is skipped and a duplicate (same id, other coordinates) is counted;
* writes of one batch go out queue records first, then contacts, in one changelog partition, so
  a stored contact effect implies its stored queue effect;
* agent slots (agents by state per queue, ``stream.core.kpis.agents``) are sets of the agents'
  events, the state derived from them: applying one twice or out of order changes nothing.
"""

from __future__ import annotations

import logging
import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Protocol
from zoneinfo import ZoneInfo

import msgspec

from stream.contract.decoder import Rejection
from stream.contract.events import CallCallbackCompleted, CallEvent, SurveyResponded
from stream.core.admission import Admission, Refusals, unlimited
from stream.core.dedup import coordinates, event_hash, find_seen
from stream.core.kpis import ewt, flows, sla
from stream.core.kpis.agents import AgentSlot, add_events, count_states, current_state
from stream.core.kpis.business_hours import BusinessCalendar, business_seconds
from stream.core.kpis.ewt import EwtState
from stream.core.kpis.flows import FlowsLive
from stream.core.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
    FIRST_RESPONSE_BOUNDS,
    HANDLE_TIME_BOUNDS,
    RESOLUTION_BOUNDS,
    observe,
)
from stream.core.kpis.productivity import QueueEvent
from stream.core.kpis.staffing import QueueStaffing
from stream.core.kpis.surveys import is_csat_positive, nps_class
from stream.core.kpis.totals import QueueTotals, WindowTotals
from stream.core.lifecycle import (
    NOT_LIVE,
    CallRecord,
    ContactRecord,
    Fact,
    LiveView,
    TargetsLike,
    TicketRecord,
    apply_call,
    apply_ticket,
    finished,
    live_view,
    survey_fact,
)
from stream.core.progress import Progress, Report, advance, merge
from stream.core.windows import WINDOW_KINDS, is_closed, window_end, window_start
from stream.stages.forward import Item, event_of, type_name
from stream.stages.route import AgentUpdate

log = logging.getLogger(__name__)


@dataclass(slots=True)
class QueueRecord:
    """The stored state of one queue: totals, open windows, guards and pipeline counters."""

    queue: str
    applied: dict[str, int] = field(default_factory=dict)
    totals: QueueTotals = field(default_factory=QueueTotals)
    windows: dict[str, WindowTotals] = field(default_factory=dict)
    closed_through: dict[str, float] = field(default_factory=dict)
    max_event_time: float | None = None
    events: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    late: int = 0
    # The newest closed window of each kind ("kind@start" → totals): the previous period that
    # trends (satisfaction, complaint rate) compare with once its window has closed.
    last_closed: dict[str, WindowTotals] = field(default_factory=dict)
    ewt: EwtState = field(default_factory=EwtState)
    """Estimated wait time inputs and its measured error (``stream.core.kpis.ewt``)."""


@dataclass(slots=True)
class QueueLive:
    """Derived from contact records (never stored): what the live gauges read."""

    waiting: dict[str, float] = field(default_factory=dict)  # "c:<id>" → queued at
    backlog: dict[str, int] = field(default_factory=dict)  # status → tickets
    awaiting: dict[str, float] = field(default_factory=dict)  # "t:<id>" → created at
    agents: dict[str, int] | None = None  # state → agents in the queue; None: never had one
    # SLA timers (``stream.core.kpis.sla``): kind → sorted deadlines of items still pending it.
    deadlines: dict[str, array[float]] = field(default_factory=dict)
    open_created: array[float] = field(default_factory=sla.instants)  # created at, unsolved
    ringing: dict[str, int] = field(default_factory=dict)  # "c:<id>" → rings open (call.offered)
    flows: FlowsLive = field(default_factory=FlowsLive)  # callbacks waiting, by priority
    staffing: QueueStaffing = field(default_factory=QueueStaffing)  # agents on queue by instant


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A window that became final: published once, keyed by (queue, window, start)."""

    queue: str
    kind: str
    start: float
    end: float
    totals: WindowTotals


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event the lifecycle refused, for the dead-letter topic."""

    reason: str
    detail: str
    item: Item


@dataclass(slots=True)
class PartitionState:
    """Everything the aggregator keeps for one partition number."""

    partition: int
    queues: dict[str, QueueRecord] = field(default_factory=dict)
    live: dict[str, QueueLive] = field(default_factory=dict)
    contacts: dict[str, ContactRecord] = field(default_factory=dict)
    agents: dict[str, dict[str, AgentSlot]] = field(default_factory=dict)  # queue → agent → slot
    last_event_wall: float | None = None
    progress: Progress = field(default_factory=Progress)
    """The source partitions' event-time progress and the watermark (``stream.core.progress``)."""
    refusals: Refusals = field(default_factory=Refusals)
    """Events rejected as ``too_many_queues`` (``stream.core.admission``)."""

    def queue_key(self, queue: str) -> str:
        return f"{self.partition}|q|{queue}"

    def contact_key(self, ckey: str) -> str:
        return f"{self.partition}|{ckey}"


@dataclass(slots=True)
class BatchOutput:
    """Writes and messages one batch produced, in the order they must be sent."""

    queues: set[str] = field(default_factory=set)
    contacts: set[str] = field(default_factory=set)
    deleted_contacts: set[str] = field(default_factory=set)
    agent_events: dict[tuple[str, str, float, bytes], QueueEvent | None] = field(
        default_factory=dict
    )
    """Agents' events stored, or dropped by the prune (None), by (queue, agent id, time, hash)."""
    rejected: list[Rejected] = field(default_factory=list)
    closed: list[ClosedWindow] = field(default_factory=list)
    progress_changed: bool = False
    refusals_changed: bool = False


class TargetSource(Protocol):
    """What the aggregator needs from the targets file (``stream.config.TargetBook`` fits)."""

    def for_queue(self, queue: str, channel: str | None = None) -> TargetsLike: ...

    def zone(self, queue: str) -> ZoneInfo: ...

    def calendar(self, queue: str) -> BusinessCalendar: ...

    def agent_reasons(self) -> tuple[str, ...]: ...


class Aggregator:
    """Applies forwarded events to partition state; all clocks are arguments."""

    def __init__(
        self,
        targets: TargetSource,
        *,
        grace_seconds: float,
        idle_seconds: float,
        admission: Admission | None = None,
        ewt_recent_calls: int = ewt.DEFAULT_RECENT_CALLS,
    ) -> None:
        self.targets = targets
        self.ewt_recent_calls = ewt_recent_calls
        """N of the ``recent`` EWT method: the mean wait of the last N answered calls."""
        self.admission = admission or unlimited(1)
        """Which new queues a partition takes (``stream.core.admission``, ``STREAM_MAX_QUEUES``)."""
        self.grace_seconds = grace_seconds
        self.idle_seconds = idle_seconds
        self.expected_sources: frozenset[str] = frozenset()
        """Every source topic-partition (``"topic/partition"``): one not heard from holds the
        watermark (``stream.core.progress``). Empty: the sources heard from."""
        self._zones: dict[str, ZoneInfo] = {}
        self._calendars: dict[str, BusinessCalendar] = {}
        # Per queue, the (start, end, key) of the window of each kind last booked into.
        self._spans: dict[str, list[tuple[float, float, str]]] = {}

    def zone(self, queue: str) -> ZoneInfo:
        z = self._zones.get(queue)
        if z is None:
            z = self._zones[queue] = self.targets.zone(queue)
        return z

    def calendar(self, queue: str) -> BusinessCalendar:
        c = self._calendars.get(queue)
        if c is None:
            c = self._calendars[queue] = self.targets.calendar(queue)
        return c

    # --- applying events --------------------------------------------------------------------

    def apply(
        self,
        ps: PartitionState,
        items: Iterable[Item],
        wall_now: float,
        marks: Iterable[Report] = (),
    ) -> BatchOutput:
        """Apply a batch of forwarded events in order, then the sources' progress reports that
        came with them (``stream.core.progress.Report``), then close the windows the watermark
        passed."""
        out = BatchOutput()
        mark = ps.progress.watermark
        for item in items:
            try:
                self._apply_one(ps, item, out, mark)
            except Exception as exc:  # a bug must not stop the worker: the input is kept
                log.exception("aggregating failed", extra={"source": item.source})
                detail = f"{type(exc).__name__}: {exc}"[:500]
                out.rejected.append(Rejected("processing_error", detail, item))
            ps.last_event_wall = wall_now
        marks = list(marks)
        if merge(ps.progress, marks):
            out.progress_changed = True
        if ps.refusals.count:
            for source, _, next_offset, _, _ in marks:
                if ps.refusals.settle(source, next_offset):
                    out.refusals_changed = True
        self.close_windows(ps, wall_now, out)
        return out

    def settle_waits(self, ps: PartitionState, out: BatchOutput) -> None:
        """Book the EWT error of every answered call the watermark has passed
        (``stream.core.kpis.ewt.settle``), with the queue's agents on queue at its queue time;
        called
        once the batch's events and agents' events are applied."""
        mark = ps.progress.watermark
        if mark is None:
            return
        for name, q in ps.queues.items():
            pending = q.ewt.pending
            if not pending or pending[0][0] > mark:
                continue
            live = ps.live.get(name)
            if live is None:
                live = ps.live[name] = QueueLive()
            oldest = min(live.waiting.values(), default=None)
            if ewt.settle(q.ewt, mark, live.staffing.at, self.ewt_recent_calls, oldest):
                out.queues.add(name)

    def _queue(self, ps: PartitionState, queue: str) -> QueueRecord:
        rec = ps.queues.get(queue)
        if rec is None:
            rec = ps.queues[queue] = QueueRecord(queue)
            ps.live[queue] = QueueLive()
        return rec

    def _apply_one(
        self, ps: PartitionState, item: Item, out: BatchOutput, mark: float | None
    ) -> None:
        try:
            ev = event_of(item)  # decoded and validated by the router
        except msgspec.DecodeError:  # only a foreign writer to the internal topic could do this
            return
        source = item.source
        if item.queue not in ps.queues and not self.admission.admits(
            ps.partition, ps.queues.keys(), item.queue
        ):
            detail = (
                f"queue {item.queue!r} is not in the targets file and partition {ps.partition} "
                "holds its share of STREAM_MAX_QUEUES"
            )
            out.rejected.append(Rejected("too_many_queues", detail, item))
            if ps.refusals.count_once(source, item.offset):
                out.refusals_changed = True
            return
        q = self._queue(ps, item.queue)
        queue_done = item.offset <= q.applied.get(source, -1)
        h = event_hash(ev.event_id)
        coord = coordinates(source, item.offset)
        is_call = isinstance(ev, CallEvent)
        ckey = ("c:" if is_call or (isinstance(ev, SurveyResponded) and ev.ticket_id is None)
                else "t:") + ev.contact_id  # fmt: skip
        rec = ps.contacts.get(ckey)
        if rec is not None:
            seen_at = find_seen(rec.seen, h)
            if seen_at == coord:
                return  # replay: this contact and (written first) its queue have it already
            if seen_at is not None:
                if not queue_done:
                    q.duplicates += 1
                    q.applied[source] = item.offset
                    out.queues.add(item.queue)
                return
        t = ev.occurred_at.timestamp()
        type_ = type_name(ev)
        if isinstance(ev, SurveyResponded):
            # A survey changes no lifecycle; with its contact forgotten it cannot be de-duplicated.
            if not queue_done:
                self._book(q, [survey_fact(ev)], t, item.queue, mark)
                self._count(q, item.queue, source, item.offset, type_, out)
            if rec is not None:
                rec.seen += h + coord
                out.contacts.add(ckey)
            return
        targets = self.targets.for_queue(item.queue, item.channel)
        before = live_view(rec)  # transitions update records in place
        rings_before = rec.rings if type(rec) is CallRecord else 0
        result: tuple[ContactRecord, list[Fact]] | Rejection
        if is_call:
            result = apply_call(_as_call(rec), ev, t, item.queue, item.channel, targets)
        else:
            result = apply_ticket(_as_ticket(rec), ev, t, item.queue, item.channel, targets)
        if isinstance(result, Rejection):
            # Re-sent on a replay: it may have been lost with the crash (at-least-once).
            out.rejected.append(Rejected(result.reason, result.detail, item))
            if not queue_done:
                q.rejected[result.reason] = q.rejected.get(result.reason, 0) + 1
                q.applied[source] = item.offset
                out.queues.add(item.queue)
            return
        new_rec, facts = result
        new_rec.seen += h + coord
        ps.contacts[ckey] = new_rec
        out.contacts.add(ckey)
        out.deleted_contacts.discard(ckey)
        after = live_view(new_rec)
        if before != after:
            live = ps.live[item.queue]
            self._update_live(live, ckey, before, after)
            self._update_timers(live, new_rec, before, after)
            flows.move(live.flows, ckey, before, after, new_rec)
        elif isinstance(ev, CallCallbackCompleted):  # the callback stops waiting
            flows.move(ps.live[item.queue].flows, ckey, before, after, new_rec)
        rings = new_rec.rings if type(new_rec) is CallRecord else 0
        if rings != rings_before:
            _set_rings(ps.live[item.queue].ringing, ckey, rings)
        if not queue_done:
            self._book(q, facts, t, item.queue, mark)
            self._count(q, item.queue, source, item.offset, type_, out)

    def apply_agents(
        self, ps: PartitionState, updates: Iterable[AgentUpdate], out: BatchOutput
    ) -> None:
        """Merge agents' events into their slots (``stream.core.kpis.agents``); known events are
        skipped, so replays and redelivered forwards change nothing. A queue first met here gets
        a queue record (stored, so it is exported after a restart as well) if the partition
        admits it (``stream.core.admission``); an agent's events for a queue it does not admit are
        left out (the agent's other queues get them)."""
        for u in updates:
            if u.queue not in ps.queues:
                if not self.admission.admits(ps.partition, ps.queues.keys(), u.queue):
                    continue
                self._queue(ps, u.queue)
                out.queues.add(u.queue)
            slots = ps.agents.get(u.queue)
            if slots is None:
                slots = ps.agents[u.queue] = {}
            slot = slots.get(u.agent_id)
            if slot is None:
                slot = slots[u.agent_id] = AgentSlot(u.queue, u.agent_id)
            steps = slot.on_queue_steps()
            stored, dropped, moved = add_events(slot, u.events)
            for event in stored:
                out.agent_events[(u.queue, u.agent_id, event[0], event[1])] = event
            for event in dropped:
                out.agent_events[(u.queue, u.agent_id, event[0], event[1])] = None
            live = ps.live[u.queue]
            if stored:
                live.staffing.move(steps, slot.on_queue_steps())
            if live.agents is None:
                live.agents = {}
            count_states(live.agents, *moved)

    @staticmethod
    def _count(
        q: QueueRecord, queue: str, source: str, offset: int, type_: str, out: BatchOutput
    ) -> None:
        q.events[type_] = q.events.get(type_, 0) + 1
        q.applied[source] = offset
        out.queues.add(queue)

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
            if kind_ == "one_touch_reopened":
                # Windows final by the reopen's own time (end + grace <= t) keep the solve, as
                # they would had the events come in time order: the result cannot depend on
                # how far a slower source partition holds the watermark back.
                self._unbook_one_touch(q, channel, value, max(mark, t - self.grace_seconds))
                continue
            _book_fact(totals, windows, kind_, channel, value, flag)
            business = _BUSINESS_HISTOGRAMS.get(kind_)
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

    @staticmethod
    def _update_live(
        live: QueueLive,
        ckey: str,
        before: LiveView,
        after: LiveView,
    ) -> None:
        """Move one contact in the live index. ``ckey`` is its contact key: the same string
        object as in ``PartitionState.contacts`` (an assignment to a present key keeps the key
        it has), so the index costs no string of its own."""
        if before == after:
            return
        w0, b0, a0 = before
        w1, b1, a1 = after
        if w0 != w1:
            if w1 is None:
                live.waiting.pop(ckey, None)
            else:
                live.waiting[ckey] = w1
        if b0 != b1:
            if b0 is not None:
                live.backlog[b0] = live.backlog.get(b0, 0) - 1
            if b1 is not None:
                live.backlog[b1] = live.backlog.get(b1, 0) + 1
        if a0 != a1:
            if a1 is None:
                live.awaiting.pop(ckey, None)
            else:
                live.awaiting[ckey] = a1

    def _update_timers(
        self,
        live: QueueLive,
        rec: ContactRecord,
        before: LiveView,
        after: LiveView,
        *,
        bulk: bool = False,
    ) -> None:
        """Move one contact's SLA deadlines and backlog creation time (``stream.core.kpis.sla``).

        Deadlines are recomputed from the record and the targets on the way out as on the way
        in (a ticket's ``created_at`` never changes), so removal finds the value it inserted.
        ``bulk`` (a rebuild, entries only) appends; the caller sorts the lists afterwards."""
        add = array.append if bulk else sla.add
        w0, b0, a0 = before
        w1, b1, a1 = after
        if w0 == w1 and (b0 is None) == (b1 is None) and a0 == a1:
            return
        targets = self.targets.for_queue(rec.queue, rec.channel)
        dl = live.deadlines
        if w0 != w1:
            answer = dl.setdefault("answer", sla.instants())
            if w0 is not None:
                sla.remove(answer, w0 + targets.answer_target_seconds)
            if w1 is not None:
                add(answer, w1 + targets.answer_target_seconds)
        if a0 != a1:
            first = dl.setdefault("first_response", sla.instants())
            if a0 is not None:
                sla.remove(first, a0 + targets.first_response_seconds)
            if a1 is not None:
                add(first, a1 + targets.first_response_seconds)
        if (b0 is None) != (b1 is None) and isinstance(rec, TicketRecord):
            resolution = dl.setdefault("resolution", sla.instants())
            deadline = rec.created_at + targets.resolution_seconds
            if b1 is None:
                sla.remove(resolution, deadline)
                sla.remove(live.open_created, rec.created_at)
            else:
                add(resolution, deadline)
                add(live.open_created, rec.created_at)

    # --- windows ----------------------------------------------------------------------------

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

    # --- lifecycle of records ---------------------------------------------------------------

    def expire(self, ps: PartitionState, retention_seconds: float, out: BatchOutput) -> None:
        """Forget finished contacts older than the retention (ends their de-duplication too)."""
        newest = max((q.max_event_time or 0.0 for q in ps.queues.values()), default=0.0)
        horizon = newest - retention_seconds
        for ckey in [k for k, r in ps.contacts.items() if finished(r) and r.updated_at < horizon]:
            del ps.contacts[ckey]
            out.deleted_contacts.add(ckey)
            out.contacts.discard(ckey)

    def rebuild_live(self, ps: PartitionState) -> None:
        """Recompute the live index from contact records (after recovery or a rebalance)."""
        ps.live = {name: QueueLive() for name in ps.queues}
        for ckey, rec in ps.contacts.items():
            live = ps.live.get(rec.queue)
            if live is None:
                live = ps.live[rec.queue] = QueueLive()
            view = live_view(rec)
            self._update_live(live, ckey, NOT_LIVE, view)
            flows.move(live.flows, ckey, NOT_LIVE, view, rec)
            if type(rec) is CallRecord and rec.rings:
                live.ringing[ckey] = rec.rings
            self._update_timers(live, rec, NOT_LIVE, view, bulk=True)
        for live in ps.live.values():
            live.open_created = sla.instants(live.open_created)
            for kind, deadlines in live.deadlines.items():
                live.deadlines[kind] = sla.instants(deadlines)
        for queue, slots in ps.agents.items():
            live = ps.live.get(queue)
            if live is None:
                live = ps.live[queue] = QueueLive()
            live.agents = {}
            for slot in slots.values():
                slot.events.sort(key=lambda e: (e[0], e[1]))  # stored one record per event
                slot.cached_timeline = slot.cached_on_queue = None
                slot.state = current_state(slot.events)
                count_states(live.agents, None, slot.state)
            live.staffing = QueueStaffing.build(slot.on_queue_steps() for slot in slots.values())


def _set_rings(ringing: dict[str, int], ckey: str, rings: int) -> None:
    """A call's open rings in the live index (absent: none)."""
    if rings:
        ringing[ckey] = rings
    else:
        ringing.pop(ckey, None)


def _keep_last_closed(
    last: dict[str, WindowTotals], kind: str, start: float, wkey: str, totals: WindowTotals
) -> None:
    """Keep ``totals`` as the newest closed window of ``kind`` unless a newer one is kept."""
    for key in [k for k in last if k.partition("@")[0] == kind]:
        if float(key.partition("@")[2]) > start:
            return
        del last[key]
    last[wkey] = totals


# Facts whose duration is also booked in business time: fact kind → (histogram, bounds).
_BUSINESS_HISTOGRAMS: Final = {
    "first_response": ("first_response_business", FIRST_RESPONSE_BOUNDS),
    "first_resolution": ("resolution_business", RESOLUTION_BOUNDS),
}


# Facts counted with a label of their own (``<counter>:<label>``; ``stream.export.metrics`` exports
# them).
_LABELLED: Final = ("exited:", "offer_missed:")


def _as_call(rec: ContactRecord | None) -> CallRecord | None:
    return rec if isinstance(rec, CallRecord) else None


def _as_ticket(rec: ContactRecord | None) -> TicketRecord | None:
    return rec if isinstance(rec, TicketRecord) else None


def _book_fact(
    totals: QueueTotals,
    windows: list[WindowTotals],
    kind: str,
    channel: str,
    value: float,
    flag: bool,
) -> None:
    """One fact into the all-time totals and the open windows."""
    if kind == "offered":
        totals.bump("offered", channel)
        for w in windows:
            w.offered += 1
    elif kind == "answered":
        totals.bump("answered", channel)
        observe(totals.histogram("answer_wait", channel), ANSWER_WAIT_BOUNDS, value)
        if flag:
            totals.bump("answered_within_target", channel)
        for w in windows:
            w.answered += 1
            w.answered_within += flag
            w.wait_seconds += value
    elif kind == "abandoned":
        totals.bump("abandoned", channel)
        if flag:
            totals.bump("short_abandoned", channel)
        for w in windows:
            w.abandoned += 1
            w.short_abandoned += flag
    elif kind == "offer":
        totals.bump("agent_offers", channel)
        for w in windows:
            w.agent_offers += 1
    elif kind == "offer_answered":
        totals.bump("agent_offers_answered", channel)
        for w in windows:
            w.agent_offers_answered += 1
    elif kind.startswith(_LABELLED):
        # exited:<reason>, offer_missed:<reason>: all-time counters only
        totals.bump(kind, channel)
    elif kind == "handled":
        totals.bump("handled", channel)
        observe(totals.histogram("handle_time", channel), HANDLE_TIME_BOUNDS, value)
        if flag:
            totals.bump("handled_within_target", channel)
        for w in windows:
            w.handled += 1
            w.handle_seconds += value
            w.handled_within += flag
    elif kind == "created":
        totals.bump("tickets_created", channel)
        if flag:  # category complaint
            totals.bump("complaints", channel)
        for w in windows:
            w.tickets_created += 1
            w.complaints += flag
    elif kind == "first_response":
        totals.bump("first_responses", channel)
        observe(totals.histogram("first_response", channel), FIRST_RESPONSE_BOUNDS, value)
        if flag:
            totals.bump("first_responses_within_target", channel)
        for w in windows:
            w.first_responses += 1
            w.first_responses_within += flag
            w.first_response_seconds += value
    elif kind == "first_resolution":
        observe(totals.histogram("resolution", channel), RESOLUTION_BOUNDS, value)
        if flag:
            totals.bump("solved_within_target", channel)
        for w in windows:
            w.solved_within += flag
            w.first_resolutions += 1
            w.first_resolution_seconds += value
    elif kind == "full_resolution":
        observe(totals.histogram("full_resolution", channel), RESOLUTION_BOUNDS, value)
    elif kind == "solved":
        totals.bump("solved", channel)
        if flag:  # one touch: a first-contact resolution unless reopened within 7 days
            totals.bump("solved_one_touch", channel)
        for w in windows:
            w.solved += 1
            w.first_contact_resolved += flag
    elif kind == "reopened":
        totals.bump("reopened", channel)
        for w in windows:
            w.reopened += 1
    elif kind == "escalated":
        totals.bump("escalated", channel)
        for w in windows:
            w.escalated += 1
    elif kind == "survey":
        score = int(value)
        totals.surveys[channel] = totals.surveys.get(channel, 0) + 1
        for w in windows:
            if channel == "csat":
                w.csat_responses += 1
                w.csat_positive += is_csat_positive(score)
                w.csat_score_sum += score
            else:
                w.nps_responses += 1
                cls = nps_class(score)
                w.nps_promoters += cls == 1
                w.nps_detractors += cls == -1
    elif flows.books(kind):  # transfers, abandons on hold, callbacks (last: the rarest facts)
        flows.book(totals, windows, kind, channel)


def iter_records(ps: PartitionState) -> Iterator[tuple[str, QueueRecord]]:
    """Queue records of a partition, for the collector."""
    yield from ps.queues.items()

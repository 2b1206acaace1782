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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

import msgspec

from stream.contract.decoder import Rejection
from stream.contract.events import CallCallbackCompleted, CallEvent, SurveyResponded
from stream.core.admission import Admission, Refusals, unlimited
from stream.core.dedup import coordinates, event_hash, find_seen
from stream.core.kpis import ewt, flows
from stream.core.kpis.agents import AgentSlot, add_events, count_states
from stream.core.kpis.business_hours import BusinessCalendar
from stream.core.kpis.ewt import EwtState
from stream.core.kpis.productivity import QueueEvent
from stream.core.kpis.totals import QueueTotals, WindowTotals
from stream.core.lifecycle import (
    CallRecord,
    ContactRecord,
    Fact,
    TargetsLike,
    TicketRecord,
    apply_call,
    apply_ticket,
    finished,
    live_view,
    survey_fact,
)
from stream.core.progress import Progress, Report, merge
from stream.stages.book import FactBooking
from stream.stages.closing import ClosedWindow, WindowClosing
from stream.stages.forward import Item, event_of, type_name
from stream.stages.live import LiveIndex, QueueLive, set_rings
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


class Aggregator(FactBooking, WindowClosing, LiveIndex):
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
            set_rings(ps.live[item.queue].ringing, ckey, rings)
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

    def expire(self, ps: PartitionState, retention_seconds: float, out: BatchOutput) -> None:
        """Forget finished contacts older than the retention (ends their de-duplication too)."""
        newest = max((q.max_event_time or 0.0 for q in ps.queues.values()), default=0.0)
        horizon = newest - retention_seconds
        for ckey in [k for k, r in ps.contacts.items() if finished(r) and r.updated_at < horizon]:
            del ps.contacts[ckey]
            out.deleted_contacts.add(ckey)
            out.contacts.discard(ckey)


def _as_call(rec: ContactRecord | None) -> CallRecord | None:
    return rec if isinstance(rec, CallRecord) else None


def _as_ticket(rec: ContactRecord | None) -> TicketRecord | None:
    return rec if isinstance(rec, TicketRecord) else None


def iter_records(ps: PartitionState) -> Iterator[tuple[str, QueueRecord]]:
    """Queue records of a partition, for the collector."""
    yield from ps.queues.items()

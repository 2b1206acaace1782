"""The live index of a partition's queues: what the live gauges read, derived from contact
records and agents' slots, never stored.

``QueueLive`` holds per queue the calls waiting, the ticket backlog, the tickets awaiting a first
response, agents by state, the SLA timers (``stream.core.kpis.sla``), open rings, the live call
flows (``stream.core.kpis.flows``) and agents on queue by instant (``stream.core.kpis.staffing``).
``LiveIndex`` (a part of ``stream.stages.aggregate.Aggregator``) moves one contact in it after an
event and rebuilds it from the records after a recovery or a rebalance.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stream.core.kpis import flows, sla
from stream.core.kpis.agents import count_states, current_state
from stream.core.kpis.flows import FlowsLive
from stream.core.kpis.staffing import QueueStaffing
from stream.core.lifecycle import (
    NOT_LIVE,
    CallRecord,
    ContactRecord,
    LiveView,
    TicketRecord,
    live_view,
)

if TYPE_CHECKING:
    from stream.stages.aggregate import PartitionState, TargetSource


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


class LiveIndex:
    """Keeping ``PartitionState.live`` in step with the contact records and agents' slots."""

    targets: TargetSource

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


def set_rings(ringing: dict[str, int], ckey: str, rings: int) -> None:
    """A call's open rings in the live index (absent: none)."""
    if rings:
        ringing[ckey] = rings
    else:
        ringing.pop(ckey, None)

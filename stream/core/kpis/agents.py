"""Agents by state per queue: an agent's current state in a queue, from its events in any order.

An ``agent.state_changed`` event carries the agent's ``state`` and, optionally, the ``queues``
the agent serves. The agent's current value is decided by event time (``occurred_at``, ties
broken by the event-id hash, so the outcome never depends on arrival order):

* its state is the state of its newest event;
* its queues are the list of its newest event that carries ``queues`` — an event without
  ``queues`` keeps the agent's queues; ``queues: []`` leaves every queue; an agent never given
  queues is in none (so it is counted nowhere).

A late, older event therefore never overwrites a newer state, yet its queue list still counts if
it is the newest list seen. A duplicate (same event, same time and hash) changes nothing.

Stage 1 keeps per agent its recent events (``AgentRecord.history``,
``stream.core.kpis.productivity``)
and ``told``: every queue any of its events named. Each event goes to every told queue, *seen
from* it (is the queue in the event's list?); a queue told for the first time gets the whole
history. Stage 2 keeps them per (queue, agent) as a set (``AgentSlot``) and derives the agent's
state in the queue from them (``current_state``, ``None``: not in it) — the same value stage 1's
events give, whatever the order, and idempotent, so replays and redelivered forwards change
nothing. The same events give the time in state (``stream.core.kpis.productivity``).

The gauge ``contact_centre_agents{queue,state}`` counts slots by state; ``offline`` is not
exported (``kpis.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from stream.core.kpis.productivity import (
    HistoryEvent,
    QueueEvent,
    TimelinePoint,
    insert_event,
    timeline,
)
from stream.core.kpis.reasons import base_state

EXPORTED_STATES: Final = ("available", "busy", "after_call_work", "away")
"""States exported per queue, in this order; ``offline`` agents are not counted."""


@dataclass(slots=True)
class AgentRecord:
    """Stage 1, one per agent: the queues told and the recent events."""

    told: list[str] = field(default_factory=list)
    """Every queue any event of this agent named, sorted: each gets the agent's events."""
    history: list[HistoryEvent] = field(default_factory=list)
    """Recent events, time-ordered (``stream.core.kpis.productivity``); stored one record per event,
    not in the agent's record."""


def tell(rec: AgentRecord, queues: Sequence[str] | None) -> bool:
    """Add the queues an event names to ``told``; True when one was new (store the record).

    Even a stale event's queues count: which queues have (possibly all-zero) series then depends
    on the events, not on their arrival order."""
    if queues is None:
        return False
    told = rec.told
    if all(q in told for q in queues):  # the usual case: a short list, nothing new
        return False
    rec.told = sorted(set(told).union(queues))
    return True


@dataclass(slots=True)
class AgentSlot:
    """Stage 2, one per (queue, agent): the agent's recent events seen from the queue."""

    queue: str
    agent_id: str
    events: list[QueueEvent] = field(default_factory=list)
    """Time-ordered, each stored as its own record."""
    state: str | None = None
    """Derived from ``events`` (``current_state``): the agent's state in the queue now."""
    cached_timeline: list[TimelinePoint] | None = None
    cached_on_queue: tuple[list[float], list[bool]] | None = None

    def timeline(self) -> list[TimelinePoint]:
        """The agent's state changes in the queue, derived from ``events`` once per change."""
        if self.cached_timeline is None:
            self.cached_timeline = timeline(self.events)
        return self.cached_timeline

    def on_queue_steps(self) -> tuple[list[float], list[bool]]:
        """The timeline as two lists, derived once per change: each change's instant, and
        whether the agent is on queue (``ON_QUEUE_STATES``) from it (the staffing at an instant
        of ``stream.core.kpis.staffing.on_queue_at`` is one binary search per agent)."""
        if self.cached_on_queue is None:
            points = self.timeline()
            self.cached_on_queue = (
                [at for at, _ in points],
                [s is not None and base_state(s) in ON_QUEUE_STATES for _, s in points],
            )
        return self.cached_on_queue


def current_state(events: Sequence[QueueEvent]) -> str | None:
    """The state of the newest event if the newest event carrying a queue list put the agent in
    the queue, else ``None`` (not in it)."""
    for _, _, _, in_queue in reversed(events):
        if in_queue is not None:
            return events[-1][2] if in_queue else None
    return None


def add_events(
    slot: AgentSlot, events: Iterable[QueueEvent]
) -> tuple[list[QueueEvent], list[QueueEvent], tuple[str | None, str | None]]:
    """Merge ``events`` into the slot: ``(stored, dropped by the prune, (state before, after))``.

    Known events are skipped; ``dropped`` may hold events of ``stored`` that were too old to
    keep (store them, then drop them)."""
    stored: list[QueueEvent] = []
    dropped: list[QueueEvent] = []
    before = slot.state
    for event in events:
        new, gone = insert_event(slot.events, event)
        if new:
            stored.append(event)
            dropped += gone
    if stored:
        slot.cached_timeline = slot.cached_on_queue = None
        slot.state = current_state(slot.events)
    return stored, dropped, (before, slot.state)


def count_states(counts: dict[str, int], before: str | None, after: str | None) -> None:
    """Move one agent between states in a queue's counts (``None``: not in the queue)."""
    if before == after:
        return
    if before is not None:
        counts[before] = counts.get(before, 0) - 1
    if after is not None:
        counts[after] = counts.get(after, 0) + 1


def agents_by_state(counts: dict[str, int]) -> dict[str, int]:
    """The exported gauge values: every state of ``EXPORTED_STATES``, 0 when none; an away
    state with a reason (``stream.core.kpis.reasons``) counts as ``away``."""
    out = dict.fromkeys(EXPORTED_STATES, 0)
    for stored, n in counts.items():
        state = base_state(stored)
        if state in out:
            out[state] += n
    return out


ON_QUEUE_STATES: Final = frozenset({"available", "busy", "after_call_work"})


def staffing(by_state: dict[str, int]) -> dict[str, int]:
    """Staffed, on-queue and available agents of a queue from ``agents_by_state``:

    * ``staffed``: logged in, in any state but offline (available, busy, after-call work,
      away) — Amazon Connect's *Online*, and what "staffed agent-hours" counts here;
    * ``on_queue``: taking or handling the queue's contacts (available, busy, after-call work;
      not away) — Genesys Cloud's *On Queue* (idle, interacting or not responding); an agent
      in a custom status (Connect's *NPT*: break, lunch) is staffed but not on queue;
    * ``available``: idle and ready for a contact (Connect's *Available*)."""
    return {
        "staffed": sum(by_state.values()),
        "on_queue": sum(n for s, n in by_state.items() if s in ON_QUEUE_STATES),
        "available": by_state.get("available", 0),
    }

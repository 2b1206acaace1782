"""Agents by state per queue: pure, order-independent agent state, and the per-queue counts.

An ``agent.state_changed`` event carries the agent's ``state`` and, optionally, the ``queues``
the agent serves. The agent's *current* value is two last-writer-wins registers, each decided by
event time (``occurred_at``, ties broken by the event-id hash so the outcome never depends on
arrival order):

* the state of the newest event;
* the queue list of the newest event that carries ``queues`` — an event without ``queues``
  keeps the agent's queues; ``queues: []`` leaves every queue; an agent never given queues is
  in none (so it is counted nowhere).

A late, older event therefore never overwrites a newer state, yet its queue list still counts if
it is the newest list seen. A duplicate (same event, same time and hash) changes nothing.

Stage 1 keeps one ``AgentRecord`` per agent (the router partition owns the agent key) and turns
every change into per-queue ``AgentSlot`` values — the agent's state in that queue, or ``None``
when it is not in it — numbered by ``seq``, which grows with every change of the agent's value.
Stage 2 keeps the slots of the queues it owns and applies a slot only when its ``seq`` is newer
(``apply_slot``): idempotent and order-free, so replays and redelivered forwards change nothing.

The gauge ``contact_centre_agents{queue,state}`` counts slots by state; ``offline`` is not
exported (``kpis.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from stream.kpis.productivity import HistoryEvent, QueueEvent, TimelinePoint, timeline

EXPORTED_STATES: Final = ("available", "busy", "after_call_work", "away")
"""States exported per queue, in this order; ``offline`` agents are not counted."""


@dataclass(slots=True)
class AgentRecord:
    """Stage 1, one per agent: the two registers, the change counter, the queues told."""

    state: str | None = None
    state_at: float | None = None
    state_tie: bytes = b""
    queues: list[str] = field(default_factory=list)
    queues_at: float | None = None
    queues_tie: bytes = b""
    seq: int = 0
    told: list[str] = field(default_factory=list)
    """Every queue any event of this agent named, sorted: each gets the agent's slot (replays
    re-send them all)."""
    history: list[HistoryEvent] = field(default_factory=list)
    """Recent events, for time in state (``stream.kpis.productivity``); stored one record per
    event, not in the agent's record."""


@dataclass(slots=True)
class AgentSlot:
    """Stage 2, one per (queue, agent): the agent's state in the queue (``None``: not in it)."""

    queue: str
    agent_id: str
    seq: int
    state: str | None
    events: list[QueueEvent] = field(default_factory=list)
    """The agent's recent events seen from the queue (``stream.kpis.productivity``); stored one
    record per event, not in the slot's record."""
    cached_timeline: list[TimelinePoint] | None = None

    def timeline(self) -> list[TimelinePoint]:
        """The agent's state changes in the queue, derived from ``events`` once per change."""
        if self.cached_timeline is None:
            self.cached_timeline = timeline(self.events)
        return self.cached_timeline


def _newer(at: float, tie: bytes, than_at: float | None, than_tie: bytes) -> bool:
    return than_at is None or (at, tie) > (than_at, than_tie)


def apply_agent_event(
    rec: AgentRecord, state: str, queues: tuple[str, ...] | None, at: float, tie: bytes
) -> bool:
    """Apply one event to an agent's registers; True when the record changed (store it).

    ``seq`` grows when the agent's value (state, queues) changed. ``told`` gains every queue an
    event names, even a stale one's: which queues have (possibly all-zero) series then depends
    on the events, not on their arrival order.
    """
    before = (rec.state, rec.queues)
    changed = False
    if queues is not None and not set(queues) <= set(rec.told):
        rec.told = sorted(set(rec.told).union(queues))
        changed = True
    if _newer(at, tie, rec.state_at, rec.state_tie):
        rec.state, rec.state_at, rec.state_tie = state, at, tie
        changed = True
    if queues is not None and _newer(at, tie, rec.queues_at, rec.queues_tie):
        rec.queues, rec.queues_at, rec.queues_tie = sorted(set(queues)), at, tie
        changed = True
    if (rec.state, rec.queues) != before:
        rec.seq += 1
    return changed


def slot_states(rec: AgentRecord) -> list[tuple[str, str | None]]:
    """``(queue, state or None)`` for every queue told about the agent: its current slots."""
    member = set(rec.queues)
    return [(q, rec.state if q in member else None) for q in rec.told]


def apply_slot(
    slots: dict[str, AgentSlot], queue: str, agent_id: str, seq: int, state: str | None
) -> tuple[AgentSlot, tuple[str | None, str | None] | None]:
    """The agent's slot in the queue, with ``state`` applied unless the slot's ``seq`` is as new;
    and ``(state before, state after)`` when it was applied, else None.

    A slot leaving the queue is kept with state ``None`` (its ``seq`` guards against an older
    slot arriving later).
    """
    slot = slots.get(agent_id)
    if slot is None:
        slot = slots[agent_id] = AgentSlot(queue, agent_id, seq, state)
        return slot, (None, state)
    if slot.seq >= seq:
        return slot, None
    before, slot.seq, slot.state = slot.state, seq, state
    return slot, (before, state)


def count_states(counts: dict[str, int], before: str | None, after: str | None) -> None:
    """Move one agent between states in a queue's counts (``None``: not in the queue)."""
    if before == after:
        return
    if before is not None:
        counts[before] = counts.get(before, 0) - 1
    if after is not None:
        counts[after] = counts.get(after, 0) + 1


def agents_by_state(counts: dict[str, int]) -> dict[str, int]:
    """The exported gauge values: every state of ``EXPORTED_STATES``, 0 when none."""
    return {s: counts.get(s, 0) for s in EXPORTED_STATES}

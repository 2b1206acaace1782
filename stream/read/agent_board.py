"""The agent part of a wallboard tile: agent tiles of a queue and its bounded list of agents.

Pure: reads one queue's state (its agent slots, live index and totals) at ``now``, like
``stream.read.readings``, whose numbers it reuses so a tile equals its metric:

* ``AgentTiles``: staffed / on queue (``stream.core.kpis.agents.staffing``), away and away by reason
  (the bounded ``reason`` labels of ``contact_centre_agents``), agents ringing
  (``contact_centre_agents_ringing``), missed offers (``contact_centre_call_offers_missed_total``
  summed over channels and reasons: all-time, as the counter), agent answer rate today (rings
  answered ÷ rings in the ``today`` window, the recording rule's ratio; ``None`` without rings).
* ``agent_rows``: the agents in the queue now (offline and not-in-queue agents left out), the
  ``limit`` longest in their current state first. Each row carries *instants*, not durations
  (``since``: when the current state, reason included, began; ``handling_since``: when the
  agent's current run of busy / after-call work began, i.e. the current contact's handle time
  so far, ``None`` when not handling), so a row changes only when the agent's state does and
  the page ticks the durations itself. Agent ids and reasons travel here, through Redis, never
  as Prometheus labels (they are unbounded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from stream.core.kpis.agents import AgentSlot, agents_by_state, staffing
from stream.core.kpis.productivity import HANDLING_STATES
from stream.core.kpis.reasons import AWAY, base_state, by_state_and_reason, reason_of
from stream.core.kpis.totals import WindowTotals
from stream.stages.aggregate import QueueRecord
from stream.stages.live import QueueLive

__all__ = ["AGENTS_SHOWN", "AgentRow", "AgentTiles", "agent_rows", "agent_tiles"]

AGENTS_SHOWN: Final = 20
"""Default number of agents listed per queue (``STREAM_WALLBOARD_AGENTS``)."""
_OFFLINE: Final = "offline"


@dataclass(frozen=True, slots=True)
class AgentTiles:
    """The agent tiles of one queue; ``None``: no agent was ever in the queue (or, for the answer
    rate, no ring today)."""

    agents_staffed: int | None = None
    agents_on_queue: int | None = None
    agents_away: int | None = None
    agents_away_by_reason: dict[str, int] | None = None
    """Reason label (a listed reason or ``other``) → agents away, every label present."""
    agents_ringing: int | None = None
    offers_missed: int = 0
    agent_answer_rate_today: float | None = None


def agent_tiles(
    q: QueueRecord,
    live: QueueLive | None,
    today: WindowTotals | None,
    reasons: tuple[str, ...],
) -> AgentTiles:
    """The agent tiles of a queue from its record, live index and ``today`` window totals."""
    missed = sum(
        n
        for name, per_channel in q.totals.counters.items()
        if name.startswith("offer_missed:")
        for n in per_channel.values()
    )
    rate = None
    if today is not None and today.agent_offers > 0:
        rate = today.agent_offers_answered / today.agent_offers
    ringing = None if live is None else sum(live.ringing.values())
    if live is None or live.agents is None:
        return AgentTiles(
            agents_ringing=ringing, offers_missed=missed, agent_answer_rate_today=rate
        )
    by_state = agents_by_state(live.agents)
    staffed = staffing(by_state)
    away = {
        reason: int(n)
        for (_, reason), n in by_state_and_reason(live.agents, (AWAY,), reasons).items()
    }
    return AgentTiles(
        agents_staffed=staffed["staffed"],
        agents_on_queue=staffed["on_queue"],
        agents_away=by_state[AWAY],
        agents_away_by_reason=away,
        agents_ringing=ringing,
        offers_missed=missed,
        agent_answer_rate_today=rate,
    )


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent on the list."""

    agent_id: str
    state: str
    """The contract state (``available``, ``busy``, ``after_call_work``, ``away``)."""
    reason: str | None
    """The away reason as the event gave it (``None``: none, or not away)."""
    since: float
    """Event time the current state (and reason) began."""
    handling_since: float | None
    """Event time the current run of busy / after-call work began; ``None``: not handling."""

    def to_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "state": self.state,
            "reason": self.reason,
            "since": self.since,
            "handling_since": self.handling_since,
        }


def row(slot: AgentSlot) -> AgentRow | None:
    """The agent's row, ``None`` when it is not in the queue or offline."""
    stored = slot.state
    if stored is None or base_state(stored) == _OFFLINE:
        return None
    points = slot.timeline()
    if not points or points[-1][1] != stored:
        return None  # cannot happen: the timeline's last state is the slot's state
    i = len(points) - 1
    since = points[i][0]
    handling_since = None
    if base_state(stored) in HANDLING_STATES:
        j = i
        while j > 0 and (prev := points[j - 1][1]) is not None and prev in HANDLING_STATES:
            j -= 1
        handling_since = points[j][0]
    return AgentRow(slot.agent_id, base_state(stored), reason_of(stored), since, handling_since)


def agent_rows(slots: Iterable[AgentSlot], limit: int) -> tuple[list[AgentRow], int]:
    """The ``limit`` agents longest in their state (ties by agent id) and how many there are."""
    rows = [r for r in map(row, slots) if r is not None]
    rows.sort(key=lambda r: (r.since, r.agent_id))
    return rows[: max(0, limit)], len(rows)

"""Agent productivity: time in state per queue and window, occupancy, contacts per staffed hour.

An agent's state and queue list at instant ``t`` are those of its newest event at or before
``t`` (by ``occurred_at``, ties by event-id hash; the queue list from the newest event that
carries one, like ``stream.kpis.agents``). Stage 1 keeps the agent's recent events
(``AgentRecord.history``) and derives, per queue, a *timeline*: change points ``(t, state)``
where ``state`` is the agent's state while in the queue, ``None`` while not in it. The timeline
travels with the agent's slot to the queue's owner (``AgentSlot.timeline``), which splits it
across windows at scrape time; the last state lasts until ``now``.

Exact in any order and under duplicates: the history is a set of events (a duplicate — same
time and hash — is kept once) and the timeline a function of it. Memory: events older than
``HISTORY_SECONDS`` before the agent's newest event are dropped, except the newest state-bearing
and the newest queue-bearing of them (they give the state at the cut), so the history covers
any window containing a later instant (``today`` lasts at most 25 hours).

Formulas (per queue and window, agent-seconds summed over agents):

* occupancy = (busy + after_call_work) ÷ (busy + after_call_work + available); ratio 0..1;
  ``None`` when the denominator is 0;
* contacts per staffed agent-hour = (tickets solved + calls completed) ÷ staffed hours, staffed
  being every state but ``offline`` (available, busy, after_call_work, away); ``None`` when no
  agent was staffed in the window.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Final

HISTORY_SECONDS: Final = 2 * 86400.0
HANDLING_STATES: Final = frozenset({"busy", "after_call_work"})
STAFFED_STATES: Final = frozenset({"available", "busy", "after_call_work", "away"})

HistoryEvent = tuple[float, bytes, str, list[str] | None]  # at, event-id hash, state, queues
TimelinePoint = tuple[float, str | None]  # from this instant: state in the queue (None: not in)


def add_event(
    history: list[HistoryEvent], at: float, tie: bytes, state: str, queues: Sequence[str] | None
) -> bool:
    """Insert an event into an agent's history (sorted by time, hash) and prune it; returns
    whether the history changed (a duplicate or an event pruned at once changes nothing)."""
    key = (at, tie)
    i = bisect_left(history, key, key=lambda e: (e[0], e[1]))
    if i < len(history) and (history[i][0], history[i][1]) == key:
        return False
    before = list(history)
    history.insert(i, (at, tie, state, None if queues is None else sorted(set(queues))))
    _prune(history)
    return history != before


def _prune(history: list[HistoryEvent]) -> None:
    cut = history[-1][0] - HISTORY_SECONDS
    old = [e for e in history if e[0] < cut]
    if not old:
        return
    keep = [old[-1]]  # the newest state before the cut
    with_queues = [e for e in old if e[3] is not None]
    if with_queues and with_queues[-1] is not old[-1]:
        keep.insert(0, with_queues[-1])  # the newest queue list before the cut
    history[:] = keep + [e for e in history if e[0] >= cut]


def timeline(history: Sequence[HistoryEvent], queue: str) -> list[TimelinePoint]:
    """Change points of the agent's state in ``queue`` (``None``: not in it), from its first
    remembered event on; consecutive equal states are merged."""
    out: list[TimelinePoint] = []
    queues: list[str] = []
    for at, _, state, qs in history:
        if qs is not None:
            queues = qs
        value = state if queue in queues else None
        if not out or out[-1][1] != value:
            out.append((at, value))
    if out and out[0][1] is None:
        out.pop(0)  # not in the queue before its first membership: nothing to count
    return out


def seconds_by_state(points: Sequence[TimelinePoint], start: float, end: float) -> dict[str, float]:
    """Seconds spent in each state within ``[start, end)`` by one timeline; the last state lasts
    until ``end``. Empty when the timeline has no state in the interval."""
    out: dict[str, float] = {}
    for i, (at, state) in enumerate(points):
        nxt = points[i + 1][0] if i + 1 < len(points) else end
        lo, hi = max(at, start), min(nxt, end)
        if state is not None and hi > lo:
            out[state] = out.get(state, 0.0) + hi - lo
    return out


def total_seconds(per_agent: Iterable[dict[str, float]]) -> dict[str, float]:
    """Agent-seconds per state summed over agents."""
    out: dict[str, float] = {}
    for seconds in per_agent:
        for state, s in seconds.items():
            out[state] = out.get(state, 0.0) + s
    return out


def occupancy(seconds: dict[str, float]) -> float | None:
    """(busy + after-call work) ÷ (busy + after-call work + available) agent-seconds; ratio;
    ``None`` when no agent was handling or available."""
    handling = sum(s for state, s in seconds.items() if state in HANDLING_STATES)
    denominator = handling + seconds.get("available", 0.0)
    if denominator <= 0:
        return None
    return handling / denominator


def contacts_per_staffed_hour(
    solved: int, completed_calls: int, seconds: dict[str, float]
) -> float | None:
    """(tickets solved + calls completed) ÷ staffed agent-hours (every state but offline);
    contacts per hour; ``None`` when no agent was staffed."""
    staffed = sum(s for state, s in seconds.items() if state in STAFFED_STATES)
    if staffed <= 0:
        return None
    return (solved + completed_calls) / (staffed / 3600.0)

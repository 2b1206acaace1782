"""Agent productivity: time in state per queue and window, occupancy, contacts per staffed hour.

An agent's state and queue list at instant ``t`` are those of its newest event at or before
``t`` (by ``occurred_at``, ties by event-id hash; the queue list from the newest event that
carries one, like ``stream.core.kpis.agents``). Stage 1 keeps the agent's recent events
(``HistoryEvent``: the history) and sends each queue the agent was ever in the events *seen
from that queue* (``QueueEvent``: is the queue in the event's list?) — only the events of the
batch, so the work per event does not grow with the history. The queue's owner keeps them as a
set (a duplicate — same time and hash — is kept once), so the result is the same in any order
and under redelivery, and derives from them the agent's *timeline* in the queue: change points
``(t, state)``, ``state`` being ``None`` while not in the queue. The timeline is split across
windows at scrape time; the last state lasts until ``now``.

Memory: events older than ``HISTORY_SECONDS`` before the newest are dropped, except the newest
of them and the newest that carries a queue list (they give the state at the cut), so the
history covers any window containing a later instant (``today`` lasts at most 25 hours). Both
stages prune by the same rule.

Formulas (per queue and window, agent-seconds summed over agents):

* occupancy = (busy + after_call_work) ÷ (busy + after_call_work + available); ratio 0..1;
  ``None`` when the denominator is 0;
* contacts per staffed agent-hour = (tickets solved + calls completed) ÷ staffed hours, staffed
  being every state but ``offline`` (available, busy, after_call_work, away); ``None`` when no
  agent was staffed in the window.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Final, TypeVar

from stream.core.kpis.reasons import base_state

HISTORY_SECONDS: Final = 2 * 86400.0
HANDLING_STATES: Final = frozenset({"busy", "after_call_work"})
STAFFED_STATES: Final = frozenset({"available", "busy", "after_call_work", "away"})

HistoryEvent = tuple[float, bytes, str, list[str] | None]  # at, event-id hash, state, queues
QueueEvent = tuple[float, bytes, str, bool | None]  # at, hash, state, in the queue (None: no list)
TimelinePoint = tuple[float, str | None]  # from this instant: state in the queue (None: not in)

E = TypeVar("E", HistoryEvent, QueueEvent)


def _key(event: HistoryEvent | QueueEvent) -> tuple[float, bytes]:
    return event[0], event[1]


def insert_event(events: list[E], event: E) -> tuple[bool, list[E]]:
    """Insert ``event`` into a time-ordered history (by time, hash) and prune it.

    Returns whether it was new (a duplicate changes nothing) and the events the prune dropped
    (possibly ``event`` itself, when it is too old to matter)."""
    key = _key(event)
    if not events or key > _key(events[-1]):
        events.append(event)  # the common case: in order
    else:
        i = bisect_left(events, key, key=_key)
        if i < len(events) and _key(events[i]) == key:
            return False, []
        events.insert(i, event)
    return True, prune(events)


def prune(events: list[E]) -> list[E]:
    """Drop events older than ``HISTORY_SECONDS`` before the newest, except the newest of them
    and the newest carrying a queue list; returns the dropped ones."""
    cut = events[-1][0] - HISTORY_SECONDS
    if events[0][0] >= cut:
        return []
    n = bisect_left(events, cut, key=lambda e: e[0])  # events[:n] are older than the cut
    keep = {n - 1}  # the newest state before the cut
    for i in range(n - 1, -1, -1):
        if events[i][3] is not None:
            keep.add(i)  # the newest queue list before the cut
            break
    dropped = [e for i, e in enumerate(events[:n]) if i not in keep]
    if dropped:
        events[:n] = [events[i] for i in sorted(keep)]
    return dropped


def contains(events: Sequence[E], event: E) -> bool:
    """Whether ``event`` (by time and hash) is in the time-ordered ``events``."""
    i = bisect_right(events, _key(event), key=_key)
    return i > 0 and _key(events[i - 1]) == _key(event)


def seen_from(event: HistoryEvent, queue: str) -> QueueEvent:
    """An agent's event as the queue's owner keeps it: is ``queue`` in its list, if it has one."""
    at, tie, state, queues = event
    return at, tie, state, None if queues is None else queue in queues


def timeline(events: Iterable[QueueEvent]) -> list[TimelinePoint]:
    """Change points of the agent's state in the queue (``None``: not in it), from its first
    remembered event on; consecutive equal states are merged."""
    out: list[TimelinePoint] = []
    member = False
    for at, _, state, in_queue in events:
        if in_queue is not None:
            member = in_queue
        value = state if member else None
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
    staffed = sum(s for state, s in seconds.items() if base_state(state) in STAFFED_STATES)
    if staffed <= 0:
        return None
    return (solved + completed_calls) / (staffed / 3600.0)

"""Staffing needed now: agents required per queue by Erlang C and Erlang A, and agents on queue
at an event-time instant (what the Erlang C wait estimate of ``stream.core.kpis.ewt`` is computed
with). Pure.

Agents required (``contact_centre_agents_required{queue,model}``) come from the last full
15-minute window at the instant read (``stream.core.kpis.ewt.rates_before``): arrival rate λ =
offered calls / 900 s, AHT = handle seconds / calls handled in it, and the queue's
``service_level_goal`` at its ``answer_target_seconds`` (the targets file):

* ``erlang_c``: the fewest agents n with 1 − C(n, A)·e^{−(n − A)·T/AHT} ≥ goal, A = λ·AHT;
* ``erlang_a``: the fewest n with P(answered within T) ≥ goal in M/M/n+M, the mean patience
  from the window's abandons (``stream.core.kpis.ewt``); with no abandon in it, no patience was
  observed and Erlang A is Erlang C.

No calls offered in the window: 0 agents. No call handled in it (no AHT): no figure.

Agents on queue at an instant, for every agent of a queue at once: ``QueueStaffing``, a step
function of event time (the on-queue count from each instant on), kept as the agents' events are
booked (``QueueStaffing.move``: one agent's steps before and after), so settling a call's EWT
error is one binary search instead of one per agent (``on_queue_at``, the per-agent count it
equals exactly).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from stream.core.kpis.agents import AgentSlot
from stream.core.kpis.erlang import agents_required_a, agents_required_c
from stream.core.kpis.ewt import Rates

MODELS: Final = ("erlang_c", "erlang_a")


def state_at(slot: AgentSlot, t: float) -> str | None:
    """The agent's state in the slot's queue at instant ``t`` (``None``: not in it), from its
    timeline (``stream.core.kpis.productivity``): the newest change at or before ``t``."""
    points = slot.timeline()
    i = bisect_right(points, t, key=lambda p: p[0])
    return None if i == 0 else points[i - 1][1]


def on_queue_at(slots: Iterable[AgentSlot], t: float) -> int:
    """Agents on queue (available, busy or after-call work) at event time ``t``: those whose
    ``state_at(slot, t)`` is one of ``ON_QUEUE_STATES`` (``AgentSlot.on_queue_steps``)."""
    n = 0
    for slot in slots:
        times, on = slot.on_queue_steps()
        i = bisect_right(times, t)
        if i and on[i - 1]:
            n += 1
    return n


Steps = tuple[list[float], list[bool]]
"""An agent's on-queue steps (``AgentSlot.on_queue_steps``): instants, on queue from each."""


def _deltas(steps: Steps) -> list[tuple[float, int]]:
    """An agent's changes of its contribution to the count (+1 on, -1 off), by instant."""
    out: list[tuple[float, int]] = []
    prev = False
    for at, on in zip(*steps, strict=True):
        if on != prev:
            out.append((at, 1 if on else -1))
            prev = on
    return out


@dataclass(slots=True)
class QueueStaffing:
    """Agents on queue in one queue as a step function of event time: ``counts[i]`` agents from
    ``times[i]`` (sorted, no two equal) until the next; none before the first. Equals
    ``on_queue_at`` over the queue's slots at every instant, as long as every change of a slot's
    steps is passed to ``move``."""

    times: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, steps: Iterable[Steps]) -> QueueStaffing:
        """The step function of the agents whose steps are given."""
        out = cls()
        out._shift([d for s in steps for d in _deltas(s)])
        return out

    def at(self, t: float) -> int:
        """Agents on queue at event time ``t`` (a change at ``t`` counts)."""
        i = bisect_right(self.times, t)
        return self.counts[i - 1] if i else 0

    def move(self, before: Steps, after: Steps) -> None:
        """One agent's steps changed from ``before`` to ``after``. Usually only its newest steps
        differ, so only the function's tail from the first difference is rebuilt."""
        old, new = _deltas(before), _deltas(after)
        i, n = 0, min(len(old), len(new))
        while i < n and old[i] == new[i]:
            i += 1
        if i == len(old) == len(new):
            return
        self._shift([(at, -d) for at, d in old[i:]] + new[i:])

    def _shift(self, changes: list[tuple[float, int]]) -> None:
        """Add ``changes`` (instant, change of the count) to the function."""
        if not changes:
            return
        times, counts = self.times, self.counts
        k = bisect_left(times, min(at for at, _ in changes))
        base = counts[k - 1] if k else 0
        tail: dict[float, int] = {}
        prev = base
        for at, count in zip(times[k:], counts[k:], strict=True):
            tail[at] = count - prev
            prev = count
        for at, d in changes:
            tail[at] = tail.get(at, 0) + d
        del times[k:], counts[k:]
        run = base
        for at in sorted(tail):
            if d := tail[at]:  # a change that cancels out leaves no step
                run += d
                times.append(at)
                counts.append(run)


def agents_required(
    rates: Rates | None, answer_target_seconds: float, service_level_goal: float
) -> dict[str, int | None]:
    """Model → agents required under ``rates`` (``None``: no figure: no window, no AHT, or more
    than ``stream.core.kpis.erlang.MAX_AGENTS``)."""
    if rates is None:
        return dict.fromkeys(MODELS)
    if rates.arrival_rate <= 0:
        return dict.fromkeys(MODELS, 0)
    if rates.aht is None:
        return dict.fromkeys(MODELS)
    lam, aht = rates.arrival_rate, rates.aht
    patience = math.inf if rates.patience is None else rates.patience
    return {
        "erlang_c": agents_required_c(lam, aht, answer_target_seconds, service_level_goal),
        "erlang_a": agents_required_a(
            lam, aht, patience, answer_target_seconds, service_level_goal
        ),
    }

"""Staffing needed now: agents required per queue by Erlang C and Erlang A, and agents on queue
at an event-time instant (what the Erlang C wait estimate of ``stream.kpis.ewt`` is computed
with). Pure.

Agents required (``contact_centre_agents_required{queue,model}``) come from the last full
15-minute window at the instant read (``stream.kpis.ewt.rates_before``): arrival rate λ =
offered calls / 900 s, AHT = handle seconds / calls handled in it, and the queue's
``service_level_goal`` at its ``answer_target_seconds`` (the targets file):

* ``erlang_c``: the fewest agents n with 1 − C(n, A)·e^{−(n − A)·T/AHT} ≥ goal, A = λ·AHT;
* ``erlang_a``: the fewest n with P(answered within T) ≥ goal in M/M/n+M, the mean patience
  from the window's abandons (``stream.kpis.ewt``); with no abandon in it, no patience was
  observed and Erlang A is Erlang C.

No calls offered in the window: 0 agents. No call handled in it (no AHT): no figure.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from typing import Final

from stream.kpis.agents import AgentSlot
from stream.kpis.erlang import agents_required_a, agents_required_c
from stream.kpis.ewt import Rates

MODELS: Final = ("erlang_c", "erlang_a")


def state_at(slot: AgentSlot, t: float) -> str | None:
    """The agent's state in the slot's queue at instant ``t`` (``None``: not in it), from its
    timeline (``stream.kpis.productivity``): the newest change at or before ``t``."""
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


def agents_required(
    rates: Rates | None, answer_target_seconds: float, service_level_goal: float
) -> dict[str, int | None]:
    """Model → agents required under ``rates`` (``None``: no figure: no window, no AHT, or more
    than ``stream.kpis.erlang.MAX_AGENTS``)."""
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

"""Estimated wait time (EWT) per queue, the staffing inputs behind it, and its measured accuracy.

Owns one stored value per queue (``EwtState``, kept in the queue record), pure: every instant is
an event time or the watermark, never a clock, so a backlog read after downtime gives the same
numbers as the live run.

Inputs, per 15-minute event-time window (epoch-aligned, like ``stream.core.windows``'s ``15m``):
offered calls, handled calls and their handle time, answered and abandoned calls and the waits
of both, booked unless the watermark has passed the window (late, as ``stream.stages.aggregate``
counts it). The estimates at instant t use the *last full window at t* (the 15 minutes before
the window containing t): arrival rate λ = offered / 900 s, AHT = handle seconds / handled,
mean patience = (answered waits + abandoned waits) / abandoned (the maximum-likelihood estimate
for exponential patience with answered calls as censored observations; Mandelbaum & Zeltyn
2013, "Data-stories about (im)patient customers in tele-queues"). A window without handled
calls has no AHT, hence no Erlang estimate; one without abandons no patience (Erlang A is then
Erlang C).

Two methods (``METHODS``):

* ``recent``: the mean wait of the last ``n`` calls answered at or before t (by answer time);
* ``erlang_c``: the Erlang C mean wait C(m, A)·AHT/(m − A) of ``stream.core.kpis.erlang`` with m the
  agents on queue at t (available, busy or in after-call work) and A = λ·AHT of the last full
  window; none when m ≤ A (the queue cannot keep up: no finite estimate).

Accuracy: for every answered call, the estimate each method gave at the instant the call was
queued (rebuilt from the state as of that event time) against the wait it had; the *signed*
error (estimate − actual wait; positive: the caller was told too long) is observed into a
histogram with the fixed bounds ``ERROR_BOUNDS``; a call for which a method had no estimate is
counted in ``unestimated``. An answered call is settled once the watermark reaches its answer
time, so every answer and agent change up to it (within the grace period) is known whatever the
arrival order and batching; answers and tallies are pruned to what calls still to settle can
use (``prune``).
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Final

from stream.core.kpis.erlang import mean_wait_c
from stream.core.kpis.histogram import Histogram, observe

METHODS: Final = ("recent", "erlang_c")
WINDOW_SECONDS: Final = 900.0
DEFAULT_RECENT_CALLS: Final = 20
MAX_ANSWERS: Final = 5_000
"""At most this many answers kept per queue (the newest), whatever ``prune``'s horizon."""
ERROR_BOUNDS: Final[tuple[float, ...]] = (
    -600.0, -300.0, -120.0, -60.0, -30.0, -10.0, 0.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
ON_QUEUE_STATES: Final = frozenset({"available", "busy", "after_call_work"})


@dataclass(slots=True)
class Tally:
    """One 15-minute window of a queue: what λ, AHT and patience are computed from."""

    offered: int = 0
    handled: int = 0
    handle_seconds: float = 0.0
    answered: int = 0
    answered_wait_seconds: float = 0.0
    abandoned: int = 0
    abandoned_wait_seconds: float = 0.0


@dataclass(slots=True)
class EwtState:
    """Stored per queue (``QueueRecord.ewt``)."""

    windows: dict[str, Tally] = field(default_factory=dict)
    """Window start (``str(int(start))``) → tally, final or not (``prune`` drops old ones)."""
    answers: list[tuple[float, float]] = field(default_factory=list)
    """(answered at, wait) of answered calls, sorted."""
    pending: list[tuple[float, float]] = field(default_factory=list)
    """(answered at, queued at) of answered calls not yet settled, sorted."""
    errors: dict[str, Histogram] = field(default_factory=dict)
    """Method → signed errors (seconds) of settled calls."""
    unestimated: dict[str, int] = field(default_factory=dict)
    """Method → settled calls for which the method had no estimate when they were queued."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Staffing inputs of one 15-minute window."""

    start: float
    arrival_rate: float
    """Offered calls per second."""
    aht: float | None
    """Mean handle seconds; None without handled calls."""
    patience: float | None
    """Mean patience in seconds; None without abandons (no abandonment observed)."""


def window_of(t: float) -> float:
    return float(int(t // WINDOW_SECONDS) * WINDOW_SECONDS)


def book(state: EwtState, facts: Iterable[tuple[str, str, float, bool]], t: float,
         mark: float | None) -> bool:  # fmt: skip
    """Book a call's facts at event time ``t`` into its 15-minute tally, unless that window is
    already final under ``mark`` (late, as ``stream.stages.aggregate`` counts it). Answers are kept
    for
    the ``recent`` method and to be settled. True when something changed."""
    start = window_of(t)
    late = mark is not None and start + WINDOW_SECONDS <= mark
    changed = False
    for kind, _, value, _ in facts:
        if kind not in ("offered", "answered", "abandoned", "handled"):
            continue
        if kind == "answered":
            insort(state.answers, (t, value))
            insort(state.pending, (t, t - value))
            changed = True
        if late:
            continue
        wkey = str(int(start))
        tally = state.windows.get(wkey)
        if tally is None:
            tally = state.windows[wkey] = Tally()
        if kind == "offered":
            tally.offered += 1
        elif kind == "answered":
            tally.answered += 1
            tally.answered_wait_seconds += value
        elif kind == "abandoned":
            tally.abandoned += 1
            tally.abandoned_wait_seconds += value
        else:
            tally.handled += 1
            tally.handle_seconds += value
        changed = True
    return changed


def rates_before(state: EwtState, at: float) -> Rates | None:
    """The inputs of the 15-minute window just before the one containing ``at`` (the last full
    window at ``at``); None: no call fact in it."""
    start = window_of(at) - WINDOW_SECONDS
    t = state.windows.get(str(int(start)))
    if t is None:
        return None
    aht = t.handle_seconds / t.handled if t.handled else None
    patience = (
        (t.answered_wait_seconds + t.abandoned_wait_seconds) / t.abandoned if t.abandoned else None
    )
    return Rates(start, t.offered / WINDOW_SECONDS, aht, patience)


def recent_wait(state: EwtState, at: float, n: int) -> float | None:
    """Mean wait of the last ``n`` calls answered at or before ``at``; None: none yet."""
    end = bisect_right(state.answers, (at, math.inf))
    chosen = state.answers[max(0, end - n) : end]
    if not chosen:
        return None
    total: float = sum(map(itemgetter(1), chosen))
    return total / len(chosen)


def erlang_wait(rates: Rates | None, on_queue: int) -> float | None:
    """Erlang C mean wait with ``on_queue`` agents under ``rates``; None when undefined."""
    if rates is None or rates.aht is None or on_queue <= 0:
        return None
    wait = mean_wait_c(on_queue, rates.arrival_rate * rates.aht, rates.aht)
    return None if math.isinf(wait) else wait


def estimates(
    state: EwtState, at: float, on_queue: int, n: int, mark: float | None
) -> dict[str, float | None]:
    """Both methods' EWT at event time ``at``; the Erlang window is the last full one at ``at``,
    or at ``mark`` (the watermark) when that is earlier."""
    limit = at if mark is None else min(at, mark)
    return {
        "recent": recent_wait(state, at, n),
        "erlang_c": erlang_wait(rates_before(state, limit), on_queue),
    }


def settle(
    state: EwtState,
    mark: float | None,
    on_queue_at: Callable[[float], int],
    n: int,
    oldest_waiting: float | None = None,
) -> int:
    """Observe the error of every pending call answered at or before ``mark``; returns how many.

    The estimate shown at the call's queue time q uses answers up to q and the last full window
    at q, so it does not depend on the watermark at settling time. ``oldest_waiting`` (the queue
    time of the oldest call still waiting) keeps what that call's estimate will need."""
    if mark is None:
        return 0
    done: list[tuple[float, float]] = []
    if state.pending and state.pending[0][0] <= mark:
        cut = bisect_right(state.pending, (mark, math.inf))
        done, state.pending = state.pending[:cut], state.pending[cut:]
    erlang: dict[tuple[float, int], float | None] = {}  # (window, agents) → Erlang C wait
    for answered_at, queued_at in done:
        wait = answered_at - queued_at
        on_queue = on_queue_at(queued_at)
        key = (window_of(queued_at), on_queue)
        if key not in erlang:  # calls of one quarter hour and staffing share their estimate
            erlang[key] = erlang_wait(rates_before(state, queued_at), on_queue)
        shown = {"recent": recent_wait(state, queued_at, n), "erlang_c": erlang[key]}
        for method in METHODS:
            value = shown[method]
            if value is None:
                state.unestimated[method] = state.unestimated.get(method, 0) + 1
                continue
            hist = state.errors.get(method)
            if hist is None:
                hist = state.errors[method] = Histogram()
            observe(hist, ERROR_BOUNDS, value - wait)
    if not done:
        return 0
    horizon = mark
    if state.pending:
        horizon = min(horizon, min(q for _, q in state.pending))
    if oldest_waiting is not None:
        horizon = min(horizon, oldest_waiting)
    prune(state, horizon, n)
    return len(done)


def prune(state: EwtState, horizon: float, n: int) -> None:
    """Forget what no estimate at or after ``horizon`` can use: answers before it but the ``n``
    newest of those, tallies of windows ending before the last full window at ``horizon``.

    ``horizon`` is the watermark, or the queue time of an unsettled or still waiting call when
    older: a call not seen yet is queued after the watermark (else its events are late), so the
    estimates of every call still to settle stay exact. At most ``MAX_ANSWERS`` answers are
    kept whatever the horizon (a call that waited behind more than that many answers gets the
    estimate of what is left)."""
    keep_from = window_of(horizon) - WINDOW_SECONDS
    for wkey in [k for k in state.windows if float(k) < keep_from]:
        del state.windows[wkey]
    cut = bisect_right(state.answers, (horizon, -math.inf)) - n
    cut = max(cut, len(state.answers) - MAX_ANSWERS)
    if cut > 0:
        del state.answers[:cut]

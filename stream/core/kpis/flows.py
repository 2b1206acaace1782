"""Call flows and priorities of a queue: transfers out / in, abandons on hold, callbacks
requested / waiting / completed, and waiting calls and open tickets by priority.

The lifecycle (``stream.core.lifecycle``) yields the facts, booked like every other fact from their
declaration (``stream.core.kpis.facts``: ``transferred_in``, ``abandoned_on_hold``,
``callback_requested``, ``transferred:<kind>``, ``callback_completed:<outcome>``); this module
keeps the live part (``FlowsLive``: callbacks waiting, waiting calls and unsolved tickets by
priority), which is derived from contact records like the rest of ``QueueLive`` and never
stored, and reads the windows' flow counts. Definitions:

* **transfer out**: a ``call.transferred`` of a call of the queue (to an agent, an extension or
  a queue alike); **transfer in**: a ``call.queued`` carrying ``transferred_from`` (the new leg
  of a call an agent transferred to this queue). A transfer from queue A to queue B is out of A
  (its first leg) and in to B (its second leg).
* **abandoned on hold**: a ``call.ended`` with ``ended_by: customer`` while the call was on hold.
* **callback requested**: ``call.callback_requested`` of a waiting call (it leaves the queue);
  **waiting** until its ``call.callback_completed``; **completed** by outcome.
* **priority**: the contract's values (``low`` ``normal`` ``high`` ``urgent``; the decoder
  refuses any other) and ``none`` for a contact without one: at most five label values.

Pure: time is an argument, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, get_args

from stream.contract.events import Priority
from stream.core.kpis.totals import WindowTotals
from stream.core.lifecycle import CALLBACK, CallRecord, ContactRecord, LiveView

NO_PRIORITY: Final = "none"
PRIORITIES: Final[tuple[str, ...]] = (*get_args(Priority), NO_PRIORITY)
"""Every ``priority`` label value, each exported (0 when none) for a queue with live state."""


@dataclass(slots=True)
class FlowsLive:
    """The live flow gauges of one queue, derived from its contact records."""

    callbacks: dict[str, float] = field(default_factory=dict)  # "c:<id>" → requested at
    waiting_by_priority: dict[str, int] = field(default_factory=dict)  # priority → calls
    open_by_priority: dict[str, int] = field(default_factory=dict)  # priority → tickets


def move(live: FlowsLive, ckey: str, before: LiveView, after: LiveView, rec: ContactRecord) -> None:
    """Move one contact in the live flows after an event: ``before`` / ``after`` are its live
    views (``stream.core.lifecycle.live_view``) around the event, ``rec`` its record after it. A
    call
    leaves the waiting calls of its priority when it stops waiting, a ticket the open ones when
    solved; a callback waits while the call is in phase ``callback``. Applying a move twice
    with the same views changes nothing."""
    priority = rec.priority or NO_PRIORITY
    w0, b0, _ = before
    w1, b1, _ = after
    if (w0 is None) != (w1 is None):
        _add(live.waiting_by_priority, priority, -1 if w1 is None else 1)
    if (b0 is None) != (b1 is None):
        _add(live.open_by_priority, priority, -1 if b1 is None else 1)
    if type(rec) is CallRecord:
        if rec.phase == CALLBACK and rec.ended_at is not None:  # requested at
            live.callbacks[ckey] = rec.ended_at
        else:
            live.callbacks.pop(ckey, None)


def _add(counts: dict[str, int], key: str, by: int) -> None:
    n = counts.get(key, 0) + by
    if n:
        counts[key] = n
    else:
        counts.pop(key, None)


@dataclass(frozen=True, slots=True)
class FlowsReading:
    """The live flow gauges of one queue at ``now``."""

    callbacks_waiting: int
    oldest_callback_waiting_seconds: float
    """now − min(requested at) over callbacks waiting; 0 when none."""
    calls_waiting_by_priority: dict[str, int]
    """Every value of ``PRIORITIES`` present."""
    tickets_open_by_priority: dict[str, int]
    """Unsolved tickets (open, pending, on hold); every value of ``PRIORITIES`` present."""


def reading(live: FlowsLive, now: float) -> FlowsReading:
    """The live flow gauges of a queue from its live flows."""
    oldest = min(live.callbacks.values(), default=None)
    return FlowsReading(
        callbacks_waiting=len(live.callbacks),
        oldest_callback_waiting_seconds=0.0 if oldest is None else max(0.0, now - oldest),
        calls_waiting_by_priority={p: live.waiting_by_priority.get(p, 0) for p in PRIORITIES},
        tickets_open_by_priority={p: live.open_by_priority.get(p, 0) for p in PRIORITIES},
    )


def window_counts(w: WindowTotals) -> dict[str, int]:
    """A window's flow counts (metric name without prefix → count; 0 is a count)."""
    return {
        "calls_abandoned_on_hold_in_window": w.abandoned_on_hold,
        "callbacks_requested_in_window": w.callbacks_requested,
        "callbacks_completed_in_window": w.callbacks_completed,
    }


def window_transfers(w: WindowTotals) -> dict[str, int]:
    """A window's transfers by direction (``out``, ``in``)."""
    return {"out": w.transfers_out, "in": w.transfers_in}

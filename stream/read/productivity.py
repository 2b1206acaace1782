"""Productivity of one queue in its current windows: occupancy, contacts per staffed agent-hour
and agent-seconds by state and reason, from the agents' timelines in the queue.

Pure (``stream.core.kpis.productivity`` holds the formulas): the agents' slots in the queue, the
current windows' starts and totals and ``now`` give one ``ProductivityReading`` per window kind;
the open state of each agent lasts until ``now``. Read by ``/metrics`` and available to the
wallboard the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stream.core.kpis import productivity
from stream.core.kpis.agents import EXPORTED_STATES, AgentSlot
from stream.core.kpis.reasons import by_state_and_reason
from stream.core.kpis.totals import WindowTotals


@dataclass(frozen=True, slots=True)
class ProductivityReading:
    """One queue in one current window; ``None``: no handling/available (occupancy) or no
    staffed time (the per-hour rates) in the window."""

    state_seconds: dict[tuple[str, str], float]
    """(state, reason label) → agent-seconds; every exported state present, the reason only on
    ``away`` (a listed reason or ``other``; ``""`` for the other states)."""
    occupancy: float | None
    contacts_per_staffed_hour: float | None
    """(Tickets solved + calls completed) ÷ staffed agent-hours."""
    tickets_solved_per_staffed_hour: float | None
    calls_completed_per_staffed_hour: float | None


def productivity_readings(
    slots: Iterable[AgentSlot],
    windows: Mapping[str, tuple[float, WindowTotals | None]],
    now: float,
    reasons: tuple[str, ...],
) -> dict[str, ProductivityReading]:
    """Window kind → reading, for each current window of ``windows`` (kind → start, totals)."""
    timelines = [slot.timeline() for slot in slots]
    out: dict[str, ProductivityReading] = {}
    for kind, (start, totals) in windows.items():
        seconds = productivity.total_seconds(
            productivity.seconds_by_state(points, start, now) for points in timelines
        )
        solved = 0 if totals is None else totals.solved
        handled = 0 if totals is None else totals.handled
        out[kind] = ProductivityReading(
            state_seconds=by_state_and_reason(seconds, EXPORTED_STATES, reasons),
            occupancy=productivity.occupancy(seconds),
            contacts_per_staffed_hour=productivity.contacts_per_staffed_hour(
                solved, handled, seconds
            ),
            tickets_solved_per_staffed_hour=productivity.contacts_per_staffed_hour(
                solved, 0, seconds
            ),
            calls_completed_per_staffed_hour=productivity.contacts_per_staffed_hour(
                0, handled, seconds
            ),
        )
    return out

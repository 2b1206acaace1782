"""Ticket KPIs: first response within target, resolution within target, reopen and escalation.

Ratios of one window's counts; an empty denominator is "no data" (``None``).
"""

from __future__ import annotations


def first_response_within_target(
    responded_within: int, responded: int, breached_awaiting: int
) -> float | None:
    """Tickets whose first response came within target ÷ (tickets that got a first response +
    tickets already past target without one); ratio 0..1, ``None`` when both are zero.

    ("% of incidents answered within 24 hours"; FRT = creation → first public agent message.)
    """
    denominator = responded + breached_awaiting
    if denominator <= 0:
        return None
    return responded_within / denominator


def resolved_within_target(solved_within: int, solved: int) -> float | None:
    """First resolutions within target ÷ first resolutions; ratio 0..1 or ``None``."""
    if solved <= 0:
        return None
    return solved_within / solved


def reopen_rate(reopened: int, solved: int) -> float | None:
    """Reopened ÷ solved transitions; ratio or ``None`` with no solves."""
    if solved <= 0:
        return None
    return reopened / solved


def escalation_rate(escalated: int, created: int) -> float | None:
    """Tickets escalated ÷ tickets created; ratio 0..1 or ``None`` with no tickets."""
    if created <= 0:
        return None
    return escalated / created

"""Ticket KPIs: first response and resolution within target, reopen, escalation, first-contact
resolution and complaint rates.

Ratios of one window's counts; an empty denominator is "no data" (``None``).
"""

from __future__ import annotations

from typing import Final

FCR_REOPEN_SECONDS: Final = 7 * 86400.0
"""A one-touch solve reopened within this long (event time) is not a first-contact resolution."""


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


def average_first_response(first_response_seconds: float, responded: int) -> float | None:
    """Mean first response time (created → first public agent message) of the tickets that got
    their first response in the window; seconds, ``None`` when none did."""
    if responded <= 0:
        return None
    return first_response_seconds / responded


def average_resolution(resolution_seconds: float, resolved: int) -> float | None:
    """Mean resolution time (created → first solved) of the tickets first solved in the window;
    seconds, ``None`` when none was."""
    if resolved <= 0:
        return None
    return resolution_seconds / resolved


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


def is_one_touch(public_agent_messages: int, reopened: int) -> bool:
    """A solve is a first-contact resolution candidate with at most one public agent message on
    a ticket never reopened before (it stops being one if reopened within ``FCR_REOPEN_SECONDS``).
    """
    return public_agent_messages <= 1 and reopened == 0


def first_contact_resolution(resolved_first_contact: int, solved: int) -> float | None:
    """One-touch solves not reopened within 7 days ÷ solved transitions; ratio 0..1 or ``None``
    with no solves. Live, a one-touch solve counts when it happens and leaves the windows
    still open that hold it when the ticket is reopened within 7 days."""
    if solved <= 0:
        return None
    return resolved_first_contact / solved


def complaint_rate(complaints: int, created: int) -> float | None:
    """Tickets created with category ``complaint`` ÷ tickets created; ratio 0..1 or ``None``."""
    if created <= 0:
        return None
    return complaints / created

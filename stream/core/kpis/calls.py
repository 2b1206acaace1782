"""Voice/real-time KPIs: service level, abandon rate, average speed of answer, handle time.

Each function takes counts of one window (or all time) and returns a ratio or a duration in
seconds; an empty denominator is "no data" and returns ``None``, never 0 %.
"""

from __future__ import annotations


def service_level(
    answered_within: int, answered: int, abandoned: int, short_abandoned: int
) -> float | None:
    """Answered within target ÷ (answered + abandoned − short abandoned); ratio 0..1.

    Genesys Cloud's default calculation; short abandons (the customer hung up before the
    short-abandon threshold) are excluded as in Twilio Flex. Empty window → ``None``.
    """
    offered = answered + abandoned - short_abandoned
    if offered <= 0:
        return None
    return answered_within / offered


def abandon_rate(abandoned: int, offered: int) -> float | None:
    """Abandoned ÷ offered, short abandons included (also exposed apart); 0..1 or ``None``."""
    if offered <= 0:
        return None
    return abandoned / offered


def average_speed_of_answer(wait_seconds_sum: float, answered: int) -> float | None:
    """Mean of (answered − queued) over answered calls, in seconds; ``None`` with no answers."""
    if answered <= 0:
        return None
    return wait_seconds_sum / answered


def average_handle_time(handle_seconds_sum: float, completed: int) -> float | None:
    """(talk + hold + after-call work) ÷ completed contacts, in seconds; ``None`` with none.

    A contact is booked to the interval where its after-call work ends.
    """
    if completed <= 0:
        return None
    return handle_seconds_sum / completed


def handled_within_target(handled_within: int, handled: int) -> float | None:
    """Completed calls whose handle time (talk + hold + ACW) was at most the queue's handle-time
    target ÷ completed calls ("time with the customer against a target"); ratio 0..1, ``None``
    with none completed."""
    if handled <= 0:
        return None
    return handled_within / handled


def is_short_abandon(wait_seconds: float, short_abandon_seconds: float) -> bool:
    """An abandon before the short-abandon threshold (e.g. a misdial) — excluded from SL."""
    return wait_seconds < short_abandon_seconds


def answered_within_target(wait_seconds: float, answer_target_seconds: float) -> bool:
    """Wait ≤ the queue's answer target (inclusive, as Amazon Connect and Genesys count it)."""
    return wait_seconds <= answer_target_seconds

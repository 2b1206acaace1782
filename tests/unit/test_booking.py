"""Booking from the fact kinds' declaration (``stream.core.kpis.facts``) against the if/elif
chain it replaced (kept here as the reference): every kind, flag on and off, gives the same
all-time totals and windows."""

from __future__ import annotations

import pytest

from stream.core.kpis import facts
from stream.core.kpis.booking import book_fact
from stream.core.kpis.histogram import observe
from stream.core.kpis.surveys import is_csat_positive, nps_class
from stream.core.kpis.totals import QueueTotals, WindowTotals

KINDS = [
    *(spec.kind for spec in facts.FACTS),
    *(spec.prefix + spec.values[0] for spec in facts.LABELLED),
]


def old_book_fact(
    totals: QueueTotals,
    windows: list[WindowTotals],
    kind: str,
    channel: str,
    value: float,
    flag: bool,
) -> None:
    """One fact into the all-time totals and the open windows."""
    if kind == "offered":
        totals.bump("offered", channel)
        for w in windows:
            w.offered += 1
    elif kind == "answered":
        totals.bump("answered", channel)
        observe(totals.histogram("answer_wait", channel), facts.ANSWERED.bounds, value)
        if flag:
            totals.bump("answered_within_target", channel)
        for w in windows:
            w.answered += 1
            w.answered_within += flag
            w.wait_seconds += value
    elif kind == "abandoned":
        totals.bump("abandoned", channel)
        if flag:
            totals.bump("short_abandoned", channel)
        for w in windows:
            w.abandoned += 1
            w.short_abandoned += flag
    elif kind == "offer":
        totals.bump("agent_offers", channel)
        for w in windows:
            w.agent_offers += 1
    elif kind == "offer_answered":
        totals.bump("agent_offers_answered", channel)
        for w in windows:
            w.agent_offers_answered += 1
    elif kind.startswith(("exited:", "offer_missed:")):
        # exited:<reason>, offer_missed:<reason>: all-time counters only
        totals.bump(kind, channel)
    elif kind == "handled":
        totals.bump("handled", channel)
        observe(totals.histogram("handle_time", channel), facts.HANDLED.bounds, value)
        if flag:
            totals.bump("handled_within_target", channel)
        for w in windows:
            w.handled += 1
            w.handle_seconds += value
            w.handled_within += flag
    elif kind == "created":
        totals.bump("tickets_created", channel)
        if flag:  # category complaint
            totals.bump("complaints", channel)
        for w in windows:
            w.tickets_created += 1
            w.complaints += flag
    elif kind == "first_response":
        totals.bump("first_responses", channel)
        observe(totals.histogram("first_response", channel), facts.FIRST_RESPONSE.bounds, value)
        if flag:
            totals.bump("first_responses_within_target", channel)
        for w in windows:
            w.first_responses += 1
            w.first_responses_within += flag
            w.first_response_seconds += value
    elif kind == "first_resolution":
        observe(totals.histogram("resolution", channel), facts.FULL_RESOLUTION.bounds, value)
        if flag:
            totals.bump("solved_within_target", channel)
        for w in windows:
            w.solved_within += flag
            w.first_resolutions += 1
            w.first_resolution_seconds += value
    elif kind == "full_resolution":
        observe(totals.histogram("full_resolution", channel), facts.FULL_RESOLUTION.bounds, value)
    elif kind == "solved":
        totals.bump("solved", channel)
        if flag:  # one touch: a first-contact resolution unless reopened within 7 days
            totals.bump("solved_one_touch", channel)
        for w in windows:
            w.solved += 1
            w.first_contact_resolved += flag
    elif kind == "reopened":
        totals.bump("reopened", channel)
        for w in windows:
            w.reopened += 1
    elif kind == "escalated":
        totals.bump("escalated", channel)
        for w in windows:
            w.escalated += 1
    elif kind == "survey":
        score = int(value)
        totals.surveys[channel] = totals.surveys.get(channel, 0) + 1
        for w in windows:
            if channel == "csat":
                w.csat_responses += 1
                w.csat_positive += is_csat_positive(score)
                w.csat_score_sum += score
            else:
                w.nps_responses += 1
                cls = nps_class(score)
                w.nps_promoters += cls == 1
                w.nps_detractors += cls == -1
    elif kind in ("transferred_in", "abandoned_on_hold", "callback_requested"):
        totals.bump(kind, channel)
        attr = {"transferred_in": "transfers_in", "abandoned_on_hold": "abandoned_on_hold",
                "callback_requested": "callbacks_requested"}[kind]  # fmt: skip
        for w in windows:
            setattr(w, attr, getattr(w, attr) + 1)
    elif kind.startswith(("transferred:", "callback_completed:")):
        totals.bump(kind, channel)
        attr = "transfers_out" if kind.startswith("transferred:") else "callbacks_completed"
        for w in windows:
            setattr(w, attr, getattr(w, attr) + 1)


@pytest.mark.parametrize("flag", [False, True])
@pytest.mark.parametrize(
    ("kind", "channel", "value"),
    [*((kind, "phone", 37.5) for kind in KINDS), ("survey", "csat", 4.0), ("survey", "nps", 9.0),
     ("survey", "nps", 3.0), ("unknown", "phone", 1.0)],
)  # fmt: skip
def test_booking_from_the_declaration_equals_the_old_chain(
    kind: str, channel: str, value: float, flag: bool
) -> None:
    old, new = (
        (QueueTotals(), [WindowTotals(), WindowTotals()]),
        (QueueTotals(), [WindowTotals(), WindowTotals()]),
    )
    for _ in range(2):
        old_book_fact(old[0], old[1], kind, channel, value, flag)
        book_fact(new[0], new[1], kind, channel, value, flag)
    assert new == old
    if kind != "unknown":
        assert new != _empty(), "books nothing"


def _empty() -> tuple[QueueTotals, list[WindowTotals]]:
    return QueueTotals(), [WindowTotals(), WindowTotals()]

"""The all-time families of every known queue: counters and histograms per channel, surveys.

Every known queue (a record here, or listed in the targets file) has a series of each counter
and histogram for every channel of the contract (``CHANNELS``), at 0 until its first count, so
``increase()`` and ``rate()`` see the first count (a series that appears at 1 is read as no
increase). Each row names the counter or histogram of ``stream.core.kpis.totals.QueueTotals``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, get_args

from stream.contract.events import Channel, ExitReason, MissReason, SurveyKind, TransferKind
from stream.core.kpis import flows
from stream.core.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
    FIRST_RESPONSE_BOUNDS,
    HANDLE_TIME_BOUNDS,
    RESOLUTION_BOUNDS,
    cumulative,
)
from stream.export.family import Buckets, Family, Sample, per_queue
from stream.read import QueueAt, WorkerAt

CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
_SURVEY_KINDS: Final[tuple[str, ...]] = get_args(SurveyKind)

# (metric name without _total, counter in QueueTotals, help)
COUNTERS: Final = (
    ("calls_offered", "offered", "Calls that entered the queue (call.queued events)."),
    ("calls_answered", "answered", "Calls answered by an agent."),
    ("calls_abandoned", "abandoned", "Calls abandoned by the customer while queued."),
    ("calls_short_abandoned", "short_abandoned",
     "Abandoned calls that waited less than the short-abandon threshold."),
    ("calls_answered_within_target", "answered_within_target",
     "Calls answered with a wait at most the queue's answer target."),
    ("calls_handled_within_target", "handled_within_target",
     "Completed calls with talk + hold + ACW at most the queue's handle-time target."),
    ("tickets_created", "tickets_created", "Tickets created."),
    ("first_responses_within_target", "first_responses_within_target",
     "Tickets whose first public agent response came within the first-response target."),
    ("tickets_solved", "solved", "Ticket transitions to status solved."),
    ("tickets_resolved_within_target", "solved_within_target",
     "Tickets first solved within the resolution target."),
    ("tickets_reopened", "reopened", "Tickets changed from solved/closed to another status."),
    ("tickets_escalated", "escalated", "Tickets escalated (first escalation of each ticket)."),
    ("tickets_complaints", "complaints", "Tickets created with category complaint."),
    ("tickets_solved_one_touch", "solved_one_touch",
     "Solves with at most one public agent message on a ticket never reopened before."),
    ("tickets_one_touch_reopened", "one_touch_reopened",
     "One-touch solves reopened within 7 days (no longer first-contact resolutions)."),
    ("agent_offers", "agent_offers",
     "Rings of an agent while the call was queued (call.offered events)."),
    ("agent_offers_answered", "agent_offers_answered",
     "Answers that ended a ring (call.answered after call.offered); ÷ agent offers = agent "
     "answer rate."),
    ("calls_transferred_in", "transferred_in",
     "Calls queued as the new leg of a transfer from another queue (transferred_from); transfers "
     "out are contact_centre_calls_transferred_total."),
    ("calls_abandoned_on_hold", "abandoned_on_hold",
     "Answered calls the customer ended while on hold (call.ended with ended_by customer)."),
    ("callbacks_requested", "callback_requested",
     "Waiting calls whose caller asked to be called back (they left the queue)."),
)  # fmt: skip
# Counters with a label of their own: (metric name without _total, counter prefix in
# QueueTotals (``<prefix>:<value>``), label name, label values (each zero-started), help).
LABELLED_COUNTERS: Final = (
    ("calls_exited", "exited", "reason", get_args(ExitReason),
     "Calls that left the queue unanswered without hanging up (queue timeout, no agent could "
     "take it, a key pressed); not abandons."),
    ("calls_transferred", "transferred", "kind", get_args(TransferKind),
     "Connected calls the agent transferred (blind or attended)."),
    ("call_offers_missed", "offer_missed", "reason", get_args(MissReason),
     "Rings of an agent who did not take the call (rang out, rejected, canceled)."),
    ("callbacks_completed", "callback_completed", "outcome", flows.CALLBACK_OUTCOMES,
     "Callbacks made, by outcome (connected, no answer, canceled)."),
)  # fmt: skip
# (metric name, histogram in QueueTotals, bucket bounds, help)
HISTOGRAMS: Final = (
    ("answer_wait_seconds", "answer_wait", ANSWER_WAIT_BOUNDS,
     "Wait of answered calls, queued to answered (sum/count = ASA)."),
    ("handle_time_seconds", "handle_time", HANDLE_TIME_BOUNDS,
     "Talk + hold + after-call work per completed call."),
    ("first_response_seconds", "first_response", FIRST_RESPONSE_BOUNDS,
     "Ticket creation to first public agent message."),
    ("resolution_seconds", "resolution", RESOLUTION_BOUNDS,
     "Ticket creation to first solved."),
    ("full_resolution_seconds", "full_resolution", RESOLUTION_BOUNDS,
     "Ticket creation to last solved, observed once, when the ticket first closes."),
    ("first_response_business_seconds", "first_response_business", FIRST_RESPONSE_BOUNDS,
     "Ticket creation to first public agent message, counting only the queue's business hours."),
    ("resolution_business_seconds", "resolution_business", RESOLUTION_BOUNDS,
     "Ticket creation to first solved, counting only the queue's business hours."),
)  # fmt: skip


def le(bound: float) -> str:
    """A bucket bound as the exposition writes it."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _counts(counter: str) -> Callable[[QueueAt], Iterator[Sample]]:
    def read(q: QueueAt) -> Iterator[Sample]:
        counts = q.totals.counters.get(counter, {})
        for channel in CHANNELS:
            yield (channel,), counts.get(channel, 0)
        for channel in counts.keys() - CHANNELS:  # none today: the contract bounds channels
            yield (channel,), counts[channel]

    return read


def _labelled(prefix: str, values: tuple[str, ...]) -> Callable[[QueueAt], Iterator[Sample]]:
    def read(q: QueueAt) -> Iterator[Sample]:
        for value in values:
            counts = q.totals.counters.get(f"{prefix}:{value}", {})
            for channel in (*CHANNELS, *(counts.keys() - CHANNELS)):
                yield (channel, value), counts.get(channel, 0)

    return read


def _histogram(name: str, bounds: tuple[float, ...]) -> Callable[[QueueAt], Iterator[Sample]]:
    zero = Buckets([(b, 0.0) for b in (*(repr(float(x)) for x in bounds), "+Inf")], 0.0, 0.0)

    def read(q: QueueAt) -> Iterator[Sample]:
        by_channel = q.totals.histograms.get(name, {})
        for channel in (*CHANNELS, *(by_channel.keys() - CHANNELS)):
            hist = by_channel.get(channel)
            if hist is None:
                yield (channel,), zero
            else:
                buckets = [(le(b), float(c)) for b, c in cumulative(hist, bounds)]
                yield (channel,), Buckets(buckets, hist.total, buckets[-1][1])

    return read


def _surveys(q: QueueAt) -> Iterator[Sample]:
    surveys = q.totals.surveys
    for kind in (*_SURVEY_KINDS, *(surveys.keys() - _SURVEY_KINDS)):
        yield (kind,), surveys.get(kind, 0)


QC = ("queue", "channel")
TOTALS_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    *(
        Family(name, "counter", QC, help_, per_queue(_counts(counter), "known"))
        for name, counter, help_ in COUNTERS
    ),
    *(
        Family(name, "counter", (*QC, label), help_, per_queue(_labelled(prefix, values), "known"))
        for name, prefix, label, values, help_ in LABELLED_COUNTERS
    ),
    *(
        Family(name, "histogram", QC, help_, per_queue(_histogram(hist, bounds), "known"))
        for name, hist, bounds, help_ in HISTOGRAMS
    ),
    Family(
        "survey_responses",
        "counter",
        ("queue", "kind"),
        "Survey responses by kind.",
        per_queue(_surveys, "known"),
    ),
)
"""Every known queue's all-time families, in exposition order."""

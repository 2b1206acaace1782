"""The all-time families of every known queue: counters and histograms per channel, surveys.

Every known queue (a record here, or listed in the targets file) has a series of each counter
and histogram for every channel of the contract (``CHANNELS``), at 0 until its first count, so
``increase()`` and ``rate()`` see the first count (a series that appears at 1 is read as no
increase). Each row names its counter or histogram (and bounds, and a labelled counter's label
and values) through the fact kinds' declaration (``stream.core.kpis.facts``), the names booking
fills in ``stream.core.kpis.totals.QueueTotals``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, get_args

from stream.contract.events import Channel, SurveyKind
from stream.core.kpis import facts
from stream.core.kpis.histogram import cumulative
from stream.export.family import Buckets, Family, Sample, per_queue
from stream.read import QueueAt, WorkerAt

CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
_SURVEY_KINDS: Final[tuple[str, ...]] = get_args(SurveyKind)


def _named(counter: str | None) -> str:
    """A counter or histogram the declaration names (a row naming none is a mistake)."""
    if counter is None:
        raise ValueError("the fact kind declares no such counter or histogram")
    return counter


# (metric name without _total, counter in QueueTotals, help)
COUNTERS: Final[tuple[tuple[str, str, str], ...]] = tuple(
    (name, _named(counter), help_)
    for name, counter, help_ in (
        ("calls_offered", facts.OFFERED.counter,
         "Calls that entered the queue (call.queued events)."),
        ("calls_answered", facts.ANSWERED.counter, "Calls answered by an agent."),
        ("calls_abandoned", facts.ABANDONED.counter,
         "Calls abandoned by the customer while queued."),
        ("calls_short_abandoned", facts.ABANDONED.flag_counter,
         "Abandoned calls that waited less than the short-abandon threshold."),
        ("calls_answered_within_target", facts.ANSWERED.flag_counter,
         "Calls answered with a wait at most the queue's answer target."),
        ("calls_handled_within_target", facts.HANDLED.flag_counter,
         "Completed calls with talk + hold + ACW at most the queue's handle-time target."),
        ("tickets_created", facts.CREATED.counter, "Tickets created."),
        ("first_responses_within_target", facts.FIRST_RESPONSE.flag_counter,
         "Tickets whose first public agent response came within the first-response target."),
        ("tickets_solved", facts.SOLVED.counter, "Ticket transitions to status solved."),
        ("tickets_resolved_within_target", facts.FIRST_RESOLUTION.flag_counter,
         "Tickets first solved within the resolution target."),
        ("tickets_reopened", facts.REOPENED.counter,
         "Tickets changed from solved/closed to another status."),
        ("tickets_escalated", facts.ESCALATED.counter,
         "Tickets escalated (first escalation of each ticket)."),
        ("tickets_complaints", facts.CREATED.flag_counter,
         "Tickets created with category complaint."),
        ("tickets_solved_one_touch", facts.SOLVED.flag_counter,
         "Solves with at most one public agent message on a ticket never reopened before."),
        ("tickets_one_touch_reopened", facts.ONE_TOUCH_REOPENED,
         "One-touch solves reopened within 7 days (no longer first-contact resolutions)."),
        ("agent_offers", facts.OFFER.counter,
         "Rings of an agent while the call was queued (call.offered events)."),
        ("agent_offers_answered", facts.OFFER_ANSWERED.counter,
         "Answers that ended a ring (call.answered after call.offered); ÷ agent offers = agent "
         "answer rate."),
        ("calls_transferred_in", facts.TRANSFERRED_IN.counter,
         "Calls queued as the new leg of a transfer from another queue (transferred_from); "
         "transfers out are contact_centre_calls_transferred_total."),
        ("calls_abandoned_on_hold", facts.ABANDONED_ON_HOLD.counter,
         "Answered calls the customer ended while on hold (call.ended with ended_by customer)."),
        ("callbacks_requested", facts.CALLBACK_REQUESTED.counter,
         "Waiting calls whose caller asked to be called back (they left the queue)."),
    )
)  # fmt: skip
# Counters with a label of their own: (metric name without _total, the labelled fact kinds
# (counted as ``<prefix><value>``, each value zero-started), help).
LABELLED_COUNTERS: Final[tuple[tuple[str, facts.LabelledSpec, str], ...]] = (
    ("calls_exited", facts.EXITED,
     "Calls that left the queue unanswered without hanging up (queue timeout, no agent could "
     "take it, a key pressed); not abandons."),
    ("calls_transferred", facts.TRANSFERRED,
     "Connected calls the agent transferred (blind or attended)."),
    ("call_offers_missed", facts.OFFER_MISSED,
     "Rings of an agent who did not take the call (rang out, rejected, canceled)."),
    ("callbacks_completed", facts.CALLBACK_COMPLETED,
     "Callbacks made, by outcome (connected, no answer, canceled)."),
)  # fmt: skip
# (metric name, histogram in QueueTotals, bucket bounds, help)
HISTOGRAMS: Final[tuple[tuple[str, str, tuple[float, ...], str], ...]] = tuple(
    (name, _named(hist), spec.bounds, help_)
    for name, spec, hist, help_ in (
        ("answer_wait_seconds", facts.ANSWERED, facts.ANSWERED.histogram,
         "Wait of answered calls, queued to answered (sum/count = ASA)."),
        ("handle_time_seconds", facts.HANDLED, facts.HANDLED.histogram,
         "Talk + hold + after-call work per completed call."),
        ("first_response_seconds", facts.FIRST_RESPONSE, facts.FIRST_RESPONSE.histogram,
         "Ticket creation to first public agent message."),
        ("resolution_seconds", facts.FIRST_RESOLUTION, facts.FIRST_RESOLUTION.histogram,
         "Ticket creation to first solved."),
        ("full_resolution_seconds", facts.FULL_RESOLUTION, facts.FULL_RESOLUTION.histogram,
         "Ticket creation to last solved, observed once, when the ticket first closes."),
        ("first_response_business_seconds", facts.FIRST_RESPONSE,
         facts.FIRST_RESPONSE.business_histogram,
         "Ticket creation to first public agent message, counting only the queue's business "
         "hours."),
        ("resolution_business_seconds", facts.FIRST_RESOLUTION,
         facts.FIRST_RESOLUTION.business_histogram,
         "Ticket creation to first solved, counting only the queue's business hours."),
    )
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


def _labelled(spec: facts.LabelledSpec) -> Callable[[QueueAt], Iterator[Sample]]:
    def read(q: QueueAt) -> Iterator[Sample]:
        for value in spec.values:
            counts = q.totals.counters.get(spec.prefix + value, {})
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
        Family(name, "counter", (*QC, spec.label), help_, per_queue(_labelled(spec), "known"))
        for name, spec, help_ in LABELLED_COUNTERS
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

"""The Prometheus collector: every ``contact_centre_*`` family, built at scrape time from state.

Nothing is counted in prometheus_client objects: each scrape reads the partitions this worker
owns right now, so series of a partition that moved to another worker leave with it, and
counters continue from stored state after a restart instead of resetting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Final, get_args

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from stream.aggregator import PartitionState, QueueLive, QueueRecord
from stream.estimates import estimate_reading
from stream.events import Channel, ExitReason, MissReason, SurveyKind, TransferKind
from stream.kpis import flows, productivity
from stream.kpis.agents import EXPORTED_STATES
from stream.kpis.agents import staffing as staffing_of
from stream.kpis.customers import current_counts
from stream.kpis.ewt import ERROR_BOUNDS
from stream.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
    FIRST_RESPONSE_BOUNDS,
    HANDLE_TIME_BOUNDS,
    RESOLUTION_BOUNDS,
    Histogram,
    cumulative,
)
from stream.kpis.reasons import by_state_and_reason
from stream.pipeline import CustomerPartition, Pipeline
from stream.readings import live_reading, window_readings
from stream.windows import WINDOW_KINDS

P: Final = "contact_centre_"

# (metric name without _total, counter in QueueTotals, help)
_COUNTERS: Final = (
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
_LABELLED_COUNTERS: Final = (
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
_HISTOGRAMS: Final = (
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

CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
"""Every channel of the contract: each known queue has a series of every counter and histogram
labelled ``queue, channel`` for each, at 0 until its first count, so ``increase()`` and
``rate()`` see the first count (a series that appears at 1 is read as no increase)."""
_SURVEY_KINDS: Final[tuple[str, ...]] = get_args(SurveyKind)
_ZERO_BUCKETS: Final = {
    hist_name: [(b, 0.0) for b in (*(repr(float(x)) for x in bounds), "+Inf")]
    for _, hist_name, bounds, _ in _HISTOGRAMS
}
_EMPTY_RECORD: Final = QueueRecord("")
_STAFFING_HELP: Final = {
    "staffed": "Agents logged in, in any state but offline (Amazon Connect's Online).",
    "on_queue": (
        "Agents available, busy or in after-call work: not away (Genesys Cloud's On Queue)."
    ),
    "available": "Agents available: idle and ready for a contact (Amazon Connect's Available).",
}


_WINDOW_HELP: Final = {
    "service_level_ratio": "Answered within target ÷ (answered + abandoned − short abandoned).",
    "abandon_rate_ratio": "Abandoned ÷ offered calls.",
    "average_speed_of_answer_seconds": "Mean wait of answered calls.",
    "average_handle_time_seconds": "Mean talk + hold + ACW of calls completed in the window.",
    "handle_time_within_target_ratio": (
        "Calls completed within the handle-time target ÷ calls completed in the window."
    ),
    "first_response_within_target_ratio": (
        "First responses within target ÷ (first responses + tickets past target without one)."
    ),
    "average_first_response_seconds": (
        "Mean first response time of tickets that got their first response in the window."
    ),
    "average_resolution_seconds": (
        "Mean resolution time (created → first solved) of tickets first solved in the window."
    ),
    "csat_ratio": "CSAT ratings 4-5 ÷ all ratings.",
    "nps_score": "Net promoter score: % promoters − % detractors (−100..+100).",
    "csat_responses": "CSAT responses in the window.",
    "csat_mean_score": "Mean CSAT rating (1-5).",
    "csat_wilson_lower_ratio": "Lower bound of the Wilson 95 % interval of the CSAT ratio.",
    "csat_wilson_upper_ratio": "Upper bound of the Wilson 95 % interval of the CSAT ratio.",
    "csat_ratio_change": "CSAT ratio of this window − that of the previous window of its kind.",
    "nps_responses": "NPS responses in the window.",
    "nps_promoters": "NPS promoters (9-10) in the window.",
    "nps_passives": "NPS passives (7-8) in the window.",
    "nps_detractors": "NPS detractors (0-6) in the window.",
    "nps_score_change": "NPS of this window − that of the previous window of its kind (points).",
    "resolved_within_target_ratio": "Tickets first solved within target ÷ solved transitions.",
    "reopen_rate_ratio": "Reopened ÷ solved ticket transitions.",
    "escalation_rate_ratio": "Tickets escalated ÷ tickets created.",
    "first_contact_resolution_ratio": (
        "One-touch solves (≤ 1 public agent message) not reopened within 7 days ÷ solved."
    ),
    "complaint_rate_ratio": "Tickets of category complaint ÷ tickets created.",
    "complaint_rate_change_ratio": (
        "Complaint rate of this window − that of the previous window of its kind."
    ),
    "agent_offers_in_window": "Rings of an agent (call.offered) that started in the window.",
    "agent_offers_answered_in_window": (
        "Answers that ended a ring in the window; ÷ agent offers in the window = agent answer "
        "rate (recording rule contact_centre:agent_answer_rate:ratio)."
    ),
}
_OFFER_WINDOW_GAUGES: Final = {
    "agent_offers_in_window": "agent_offers",
    "agent_offers_answered_in_window": "agent_offers_answered",
}
"""Window gauges read straight from the window's counts (``WindowTotals``), in every window
that has totals: 0 is a count, not "no data"."""


class KpiCollector(Collector):
    """Builds every metric family from the pipeline's state at scrape time.

    ``with_pipeline=False`` leaves the pipeline's own counters to a `PipelineCollector`: both
    then have ``describe``, so a scrape restricted by name (``/metrics?name[]=...``) runs only
    the collector it needs — the event counters cost microseconds, the KPIs of many queues
    tens of milliseconds.
    """

    def __init__(
        self, pipeline: Pipeline, clock: Callable[[], float], *, with_pipeline: bool = True
    ) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.with_pipeline = with_pipeline

    def collect(self) -> Iterator[Metric]:
        yield from self._collect(self.pipeline.agg_parts.values())
        yield from _customer_families(
            self.pipeline.customer_parts.values(), self.pipeline.active_customers(), self.clock()
        )
        yield from _productivity_families(self.pipeline, self.clock())
        yield from _estimate_families(self.pipeline, self.clock())
        yield from _flow_families(self.pipeline, self.clock())
        if self.with_pipeline:
            yield from PipelineCollector(self.pipeline).collect()

    def describe(self) -> Iterator[Metric]:
        """The families, without samples (what a restricted registry matches names against)."""
        yield from self._collect(())
        yield from _customer_families((), None, 0.0)
        yield from _productivity_families(None, 0.0)
        yield from _estimate_families(None, 0.0)
        yield from _flow_families(None, 0.0)
        if self.with_pipeline:
            yield from PipelineCollector(self.pipeline).describe()

    def _collect(self, parts: Iterable[PartitionState]) -> Iterator[Metric]:
        now = self.clock()
        counters = {
            name: CounterMetricFamily(P + name, help_, labels=["queue", "channel"])
            for name, _, help_ in _COUNTERS
        }
        for name, _, label, _, help_ in _LABELLED_COUNTERS:
            counters[name] = CounterMetricFamily(
                P + name, help_, labels=["queue", "channel", label]
            )
        hists = {
            name: HistogramMetricFamily(P + name, help_, labels=["queue", "channel"])
            for name, _, _, help_ in _HISTOGRAMS
        }
        surveys_total = CounterMetricFamily(
            P + "survey_responses", "Survey responses by kind.", labels=["queue", "kind"]
        )
        waiting = GaugeMetricFamily(
            P + "calls_waiting", "Calls queued, not yet answered or abandoned.", labels=["queue"]
        )
        oldest_call = GaugeMetricFamily(
            P + "oldest_call_waiting_seconds",
            "Age of the oldest waiting call at scrape time (0 when none).",
            labels=["queue"],
        )
        backlog = GaugeMetricFamily(
            P + "tickets_open", "Unsolved tickets by status.", labels=["queue", "status"]
        )
        awaiting = GaugeMetricFamily(
            P + "tickets_awaiting_first_response",
            "Unsolved tickets without a first public agent response.",
            labels=["queue"],
        )
        oldest_ticket = GaugeMetricFamily(
            P + "oldest_ticket_awaiting_first_response_seconds",
            "Age of the oldest ticket awaiting a first response (0 when none).",
            labels=["queue"],
        )
        agents = GaugeMetricFamily(
            P + "agents",
            "Agents by state (offline not counted); queues come from agent.state_changed; "
            "reason only on away: a reason the targets file lists (agent_reasons), else other.",
            labels=["queue", "state", "reason"],
        )
        staffing = {
            measure: GaugeMetricFamily(P + f"agents_{measure}", help_, labels=["queue"])
            for measure, help_ in _STAFFING_HELP.items()
        }
        calls_ringing = GaugeMetricFamily(
            P + "calls_ringing",
            "Queued calls ringing at least one agent now (call.offered not yet answered, missed "
            "or ended by the caller).",
            labels=["queue"],
        )
        agents_ringing = GaugeMetricFamily(
            P + "agents_ringing",
            "Rings open now (call.offered not yet answered or missed): agents ringing.",
            labels=["queue"],
        )
        reasons = self.pipeline.aggregator.targets.agent_reasons()
        sla_breached = GaugeMetricFamily(
            P + "sla_breached",
            "Waiting calls / unsolved tickets past their answer, first-response or resolution "
            "deadline at scrape time.",
            labels=["queue", "kind"],
        )
        sla_at_risk = GaugeMetricFamily(
            P + "sla_at_risk",
            "Waiting calls / unsolved tickets whose deadline falls within the next 15 minutes.",
            labels=["queue", "kind"],
        )
        open_by_age = GaugeMetricFamily(
            P + "tickets_open_by_age",
            "Unsolved tickets by age since creation (<1d, 1-3d, 3-7d, 7-30d, >30d).",
            labels=["queue", "age"],
        )
        last_event = GaugeMetricFamily(
            P + "last_event_timestamp_seconds",
            "Newest occurred_at seen for the queue (alert on time() minus this for stale data).",
            labels=["queue"],
        )
        window_families = {
            name: GaugeMetricFamily(P + name, help_, labels=["queue", "window"])
            for name, help_ in _WINDOW_HELP.items()
        }
        for ps in parts:
            listed = self.pipeline.aggregator.admission.listed_in(ps.partition)
            for name in sorted(listed - ps.queues.keys()):  # known, no event yet: counters at 0
                _totals(counters, hists, surveys_total, name, _EMPTY_RECORD)
            for name, q in ps.queues.items():
                _totals(counters, hists, surveys_total, name, q)
                live = ps.live.get(name)
                if live is not None:
                    r = live_reading(live, now)
                    waiting.add_metric([name], r.calls_waiting)
                    oldest_call.add_metric([name], r.oldest_call_waiting_seconds)
                    for status, n in r.backlog.items():
                        backlog.add_metric([name, status], n)
                    awaiting.add_metric([name], r.tickets_awaiting_first_response)
                    oldest_ticket.add_metric(
                        [name], r.oldest_ticket_awaiting_first_response_seconds
                    )
                    if r.agents is not None and live.agents is not None:
                        by_reason = by_state_and_reason(live.agents, EXPORTED_STATES, reasons)
                        for (state, reason), count in by_reason.items():
                            _add_reasoned(agents, {"queue": name, "state": state}, reason, count)
                        for measure, n in staffing_of(r.agents).items():
                            staffing[measure].add_metric([name], n)
                    calls_ringing.add_metric([name], len(live.ringing))
                    agents_ringing.add_metric([name], sum(live.ringing.values()))
                    for kind, n in r.sla_breached.items():
                        sla_breached.add_metric([name, kind], n)
                    for kind, n in r.sla_at_risk.items():
                        sla_at_risk.add_metric([name, kind], n)
                    for age, n in r.tickets_open_by_age.items():
                        open_by_age.add_metric([name, age], n)
                if q.max_event_time is not None:
                    last_event.add_metric([name], q.max_event_time)
                self._windows(window_families, name, q, ps.live.get(name), now)

        yield from counters.values()
        yield from hists.values()
        yield surveys_total
        yield from (waiting, oldest_call, backlog, awaiting, oldest_ticket, agents, last_event)
        yield from staffing.values()
        yield from (calls_ringing, agents_ringing)
        yield from (sla_breached, sla_at_risk, open_by_age)
        yield from window_families.values()

    def _windows(
        self,
        families: dict[str, GaugeMetricFamily],
        name: str,
        q: QueueRecord,
        live: QueueLive | None,
        now: float,
    ) -> None:
        readings = window_readings(self.pipeline.aggregator, name, q, live, now)
        for kind, gauges in readings.items():
            for metric, value in gauges.items():
                families[metric].add_metric([name, kind], value)
        for kind in WINDOW_KINDS:
            _, totals = self.pipeline.aggregator.current_window(q, kind, now)
            if totals is not None:
                for metric, count in _OFFER_WINDOW_GAUGES.items():
                    families[metric].add_metric([name, kind], getattr(totals, count))


def _totals(
    counters: dict[str, CounterMetricFamily],
    hists: dict[str, HistogramMetricFamily],
    surveys: CounterMetricFamily,
    name: str,
    q: QueueRecord,
) -> None:
    """The all-time counters and histograms of queue ``name``: every channel of the contract,
    0 where nothing was counted yet (``CHANNELS``)."""
    for metric, counter, _ in _COUNTERS:
        counts = q.totals.counters.get(counter, {})
        family = counters[metric]
        for channel in CHANNELS:
            family.add_metric([name, channel], counts.get(channel, 0))
        for channel in counts.keys() - CHANNELS:  # none today: the contract bounds channels
            family.add_metric([name, channel], counts[channel])
    for metric, prefix, _, values, _ in _LABELLED_COUNTERS:
        family = counters[metric]
        for value in values:
            counts = q.totals.counters.get(f"{prefix}:{value}", {})
            for channel in (*CHANNELS, *(counts.keys() - CHANNELS)):
                family.add_metric([name, channel, value], counts.get(channel, 0))
    for metric, hist_name, bounds, _ in _HISTOGRAMS:
        by_channel = q.totals.histograms.get(hist_name, {})
        hist_family = hists[metric]
        for channel in (*CHANNELS, *(by_channel.keys() - CHANNELS)):
            hist: Histogram | None = by_channel.get(channel)
            if hist is None:
                hist_family.add_metric([name, channel], _ZERO_BUCKETS[hist_name], 0.0)
            else:
                buckets = [(_le(b), float(c)) for b, c in cumulative(hist, bounds)]
                hist_family.add_metric([name, channel], buckets, hist.total)
    for kind in (*_SURVEY_KINDS, *(q.totals.surveys.keys() - _SURVEY_KINDS)):
        surveys.add_metric([name, kind], q.totals.surveys.get(kind, 0))


class PipelineCollector(Collector):
    """The pipeline's own families: events accepted, rejected, duplicate and late; partitions."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        events: dict[str, int] = {}
        rejected: dict[str, int] = {}
        duplicates = 0
        late = 0
        for ps in self.pipeline.agg_parts.values():
            for q in ps.queues.values():
                for type_, n in q.events.items():
                    events[type_] = events.get(type_, 0) + n
                for reason, n in q.rejected.items():
                    rejected[reason] = rejected.get(reason, 0) + n
                duplicates += q.duplicates
                late += q.late
            if ps.refusals.count:
                rejected["too_many_queues"] = rejected.get("too_many_queues", 0) + ps.refusals.count
        for part in self.pipeline.router_parts.values():
            for stats in part.stats.values():
                for type_, n in stats.accepted.items():
                    events[type_] = events.get(type_, 0) + n
                for reason, n in stats.rejected.items():
                    rejected[reason] = rejected.get(reason, 0) + n
                duplicates += stats.duplicates
        yield from self._families(events, rejected, duplicates, late, len(self.pipeline.agg_parts))
        yield self._produce_failures(self.pipeline.produce_failures)

    def describe(self) -> Iterator[Metric]:
        yield from self._families({}, {}, 0, 0, 0)
        yield self._produce_failures({})

    @staticmethod
    def _produce_failures(failures: dict[str, int]) -> Metric:
        family = CounterMetricFamily(
            P + "produce_failures",
            "Messages the producer refused for themselves (too large, corrupt), by role "
            "(forward, dead_letter, window, changelog), since the worker started; dead-lettered "
            "with reason produce_failed.",
            labels=["role"],
        )
        for role, n in sorted(failures.items()):
            family.add_metric([role], n)
        return family

    @staticmethod
    def _families(
        events: dict[str, int], rejected: dict[str, int], duplicates: int, late: int, parts: int
    ) -> Iterator[Metric]:
        ev = CounterMetricFamily(P + "events", "Accepted events by type.", labels=["type"])
        for type_, n in sorted(events.items()):
            ev.add_metric([type_], n)
        rj = CounterMetricFamily(
            P + "events_rejected", "Events sent to the dead-letter topic.", labels=["reason"]
        )
        for reason, n in sorted(rejected.items()):
            rj.add_metric([reason], n)
        yield ev
        yield rj
        yield CounterMetricFamily(
            P + "events_duplicate",
            "Events dropped as duplicates (same event_id).",
            value=duplicates,
        )
        yield GaugeMetricFamily(
            P + "worker_partitions",
            "Partitions this worker owns now (the sum over workers is the partition count).",
            value=parts,
        )
        yield CounterMetricFamily(
            P + "events_late", "Events older than the grace period of their window.", value=late
        )


def _customer_families(
    parts: Iterable[CustomerPartition], active: int | None, now: float
) -> Iterator[Metric]:
    """Churn and conversion families (``stream.kpis.customers``): customers live on the
    partition of their id, so every worker exports its part — conversion per queue of the
    contact, churn without a queue — and Prometheus sums over workers
    (``sum(...after_contact) / sum(...churned)`` is the share)."""
    churned, after = 0, 0
    by_queue: dict[str, tuple[int, int]] = {}
    windows: dict[str, tuple[int, int]] = {}
    for cp in parts:
        churned += cp.totals.churned
        after += cp.totals.churned_after_contact
        for queue, (c, v) in cp.totals.queues.items():
            c0, v0 = by_queue.get(queue, (0, 0))
            by_queue[queue] = (c0 + c, v0 + v)
        for kind in WINDOW_KINDS:
            counts = current_counts(cp.totals, kind, now)
            if counts is not None:
                c, a = windows.get(kind, (0, 0))
                windows[kind] = (c + counts[0], a + counts[1])
    yield CounterMetricFamily(
        P + "customers_churned", "customer.churned events (one per event_id).", value=churned
    )
    yield CounterMetricFamily(
        P + "customers_churned_after_contact",
        "Churned customers with a contact (ticket) in the 30 days before churning.",
        value=after,
    )
    active_family = GaugeMetricFamily(
        P + "customers_active",
        "Customers with a contact (ticket) in the 30 days of event time before their "
        "partition's newest fact; the churn rate's denominator.",
    )
    if active is not None:
        active_family.add_metric([], active)
    yield active_family
    contacts = CounterMetricFamily(
        P + "contacts_with_customer",
        "Contacts naming a customer (tickets with customer_id), one per ticket, by its queue.",
        labels=["queue"],
    )
    converted = CounterMetricFamily(
        P + "contacts_converted",
        "Contacts followed by an order of the same customer within the conversion horizon.",
        labels=["queue"],
    )
    for queue in sorted(by_queue):
        contacts.add_metric([queue], by_queue[queue][0])
        converted.add_metric([queue], by_queue[queue][1])
    yield contacts
    yield converted
    in_window = GaugeMetricFamily(
        P + "customers_churned_in_window",
        "Churns in the current UTC window (15m, 1h, today).",
        labels=["window"],
    )
    after_in_window = GaugeMetricFamily(
        P + "customers_churned_after_contact_in_window",
        "Churns after a contact within 30 days, in the current UTC window.",
        labels=["window"],
    )
    for window, (c, a) in windows.items():
        in_window.add_metric([window], c)
        after_in_window.add_metric([window], a)
    yield in_window
    yield after_in_window


def _productivity_families(pipeline: Pipeline | None, now: float) -> Iterator[Metric]:
    """Occupancy and contacts per staffed agent-hour per queue and current window, from the
    agents' timelines in the queue (``stream.kpis.productivity``); the open state lasts until
    ``now``. A window without handling/available (staffed) time has no sample."""
    occupancy_family = GaugeMetricFamily(
        P + "occupancy_ratio",
        "Agent time busy or in after-call work ÷ (that + available), in the window.",
        labels=["queue", "window"],
    )
    per_hour = GaugeMetricFamily(
        P + "contacts_per_staffed_agent_hour",
        "(Tickets solved + calls completed) ÷ staffed agent-hours (every state but offline).",
        labels=["queue", "window"],
    )
    solved_per_hour = GaugeMetricFamily(
        P + "tickets_solved_per_staffed_agent_hour",
        "Tickets solved ÷ staffed agent-hours (every state but offline).",
        labels=["queue", "window"],
    )
    calls_per_hour = GaugeMetricFamily(
        P + "calls_completed_per_staffed_agent_hour",
        "Calls completed (after-call work ended) ÷ staffed agent-hours.",
        labels=["queue", "window"],
    )
    state_seconds = GaugeMetricFamily(
        P + "agent_state_seconds",
        "Agent-seconds in each state (offline not counted) in the window so far; reason only on "
        "away (agent_reasons of the targets file, else other).",
        labels=["queue", "window", "state", "reason"],
    )
    families = (occupancy_family, per_hour, solved_per_hour, calls_per_hour, state_seconds)
    if pipeline is None:
        yield from families
        return
    reasons = pipeline.aggregator.targets.agent_reasons()
    for ps in pipeline.agg_parts.values():
        for name in sorted(ps.agents):
            q = ps.queues.get(name)
            if q is None:
                continue
            for kind in WINDOW_KINDS:
                start, totals = pipeline.aggregator.current_window(q, kind, now)
                seconds = productivity.total_seconds(
                    productivity.seconds_by_state(slot.timeline(), start, now)
                    for slot in ps.agents[name].values()
                )
                for (state, reason), s in by_state_and_reason(
                    seconds, EXPORTED_STATES, reasons
                ).items():
                    labels = {"queue": name, "window": kind, "state": state}
                    _add_reasoned(state_seconds, labels, reason, s)
                occ = productivity.occupancy(seconds)
                if occ is not None:
                    occupancy_family.add_metric([name, kind], occ)
                solved = 0 if totals is None else totals.solved
                handled = 0 if totals is None else totals.handled
                for family, (s, c) in (
                    (per_hour, (solved, handled)),
                    (solved_per_hour, (solved, 0)),
                    (calls_per_hour, (0, handled)),
                ):
                    rate = productivity.contacts_per_staffed_hour(s, c, seconds)
                    if rate is not None:
                        family.add_metric([name, kind], rate)
    yield from families


def _estimate_families(pipeline: Pipeline | None, now: float) -> Iterator[Metric]:
    """EWT per method, its measured error, and agents required per model, per queue at ``now``
    (``stream.estimates``); a figure without data has no sample, the error families of every
    queue start at zero."""
    ewt_seconds = GaugeMetricFamily(
        P + "ewt_seconds",
        "Estimated wait time now: recent = mean wait of the last N answered calls; erlang_c = "
        "Erlang C mean wait with the agents on queue under the last full 15-minute window.",
        labels=["queue", "method"],
    )
    required = GaugeMetricFamily(
        P + "agents_required",
        "Agents needed to meet the queue's service-level goal at its answer target under the "
        "last full 15-minute window's arrival rate and AHT (Erlang C; Erlang A with patience "
        "from its abandons).",
        labels=["queue", "model"],
    )
    errors = HistogramMetricFamily(
        P + "ewt_error_seconds",
        "Per answered call: EWT shown when it was queued minus the wait it had (positive: told "
        "too long), by method.",
        labels=["queue", "method"],
    )
    unestimated = CounterMetricFamily(
        P + "ewt_unestimated",
        "Answered calls for which the method had no estimate when they were queued.",
        labels=["queue", "method"],
    )
    families = (ewt_seconds, required, errors, unestimated)
    if pipeline is None:
        yield from families
        return
    for ps in pipeline.agg_parts.values():
        for name, q in ps.queues.items():
            r = estimate_reading(pipeline.aggregator, name, q, ps.live.get(name), now)
            for method, seconds in r.ewt_seconds.items():
                if seconds is not None:
                    ewt_seconds.add_metric([name, method], seconds)
            for model, n in r.agents_required.items():
                if n is not None:
                    required.add_metric([name, model], n)
            for method, hist in r.errors.items():
                buckets = [(_le(b), float(c)) for b, c in cumulative(hist, ERROR_BOUNDS)]
                errors.add_metric([name, method], buckets, None)
                # client_python leaves _count and _sum out when a bucket bound is negative; the
                # text format has them, and the mean error (bias) needs the sum.
                labels = {"queue": name, "method": method}
                errors.add_sample(errors.name + "_count", labels, float(hist.count))
                errors.add_sample(errors.name + "_sum", labels, hist.total)
                unestimated.add_metric([name, method], r.unestimated[method])
    yield from families


def _add_reasoned(family: Metric, labels: dict[str, str], reason: str, value: float) -> None:
    """A sample with ``reason`` among its labels only when it has one (state ``away``): the
    other states' series keep the labels they had before reasons were exported."""
    if reason:
        labels = {**labels, "reason": reason}
    family.add_sample(family.name, labels, value)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _flow_families(pipeline: Pipeline | None, now: float) -> Iterator[Metric]:
    """Callbacks waiting, waiting calls and open tickets by priority (every priority at 0 where
    none), and the current windows' transfers, abandons on hold and callbacks
    (``stream.kpis.flows``); window counts in every window that has totals (0 is a count)."""
    waiting = GaugeMetricFamily(
        P + "callbacks_waiting",
        "Callbacks requested and not yet made (call.callback_requested without its "
        "call.callback_completed).",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        P + "oldest_callback_waiting_seconds",
        "Age of the oldest callback waiting at scrape time, since it was requested (0 when none).",
        labels=["queue"],
    )
    calls_by_priority = GaugeMetricFamily(
        P + "calls_waiting_by_priority",
        "Calls waiting by call.queued priority (none: without one); sums to calls_waiting.",
        labels=["queue", "priority"],
    )
    tickets_by_priority = GaugeMetricFamily(
        P + "tickets_open_by_priority",
        "Unsolved tickets (open, pending, on hold) by ticket.created priority (none: without one).",
        labels=["queue", "priority"],
    )
    transfers = GaugeMetricFamily(
        P + "calls_transferred_in_window",
        "Transfers in the window: out (call.transferred of the queue's calls) and in (calls "
        "queued with transferred_from).",
        labels=["queue", "window", "direction"],
    )
    counts = {
        "calls_abandoned_on_hold_in_window": "Calls the customer ended while on hold, in the "
        "window.",
        "callbacks_requested_in_window": "Callbacks requested in the window.",
        "callbacks_completed_in_window": "Callbacks made in the window (any outcome).",
    }
    in_window = {
        name: GaugeMetricFamily(P + name, help_, labels=["queue", "window"])
        for name, help_ in counts.items()
    }
    live_families = (waiting, oldest, calls_by_priority, tickets_by_priority)
    if pipeline is not None:
        for ps in pipeline.agg_parts.values():
            for name, q in ps.queues.items():
                live = ps.live.get(name)
                if live is not None:
                    r = flows.reading(live.flows, now)
                    waiting.add_metric([name], r.callbacks_waiting)
                    oldest.add_metric([name], r.oldest_callback_waiting_seconds)
                    for priority, n in r.calls_waiting_by_priority.items():
                        calls_by_priority.add_metric([name, priority], n)
                    for priority, n in r.tickets_open_by_priority.items():
                        tickets_by_priority.add_metric([name, priority], n)
                for kind in WINDOW_KINDS:
                    _, totals = pipeline.aggregator.current_window(q, kind, now)
                    if totals is None:
                        continue
                    for direction, n in flows.window_transfers(totals).items():
                        transfers.add_metric([name, kind, direction], n)
                    for metric, n in flows.window_counts(totals).items():
                        in_window[metric].add_metric([name, kind], n)
    yield from live_families
    yield transfers
    yield from in_window.values()


class SnapshotErrorsCollector(Collector):
    """``contact_centre_snapshot_errors_total``: wallboard publishing ticks that failed.

    Registered only when the worker publishes snapshots (``STREAM_REDIS_URL`` is set).
    """

    def __init__(self, errors: Callable[[], int]) -> None:
        self.errors = errors

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            P + "snapshot_errors",
            "Wallboard snapshot publishing ticks that failed (Redis unreachable or erroring).",
            value=self.errors(),
        )


class ProgressCollector(Collector):
    """Event-time progress (``stream.progress``): why windows close when they do.

    ``contact_centre_watermark_timestamp_seconds``: the lowest watermark of the partitions here
    (absent before any has one); ``contact_centre_source_partitions_behind``: source
    partitions the partitions here last heard to be behind their end offset (a backlog being
    read); ``contact_centre_source_partitions_paused``: source partitions this worker holds back
    to align event time (``STREAM_ALIGNMENT_SECONDS``); ``contact_centre_windows_open``: windows
    not yet final (what a backlog read keeps in memory).
    """

    def __init__(self, pipeline: Pipeline, paused: Callable[[], int]) -> None:
        self.pipeline = pipeline
        self.paused = paused

    def describe(self) -> Iterator[Metric]:
        """The families by name, so ``/metrics?name[]=`` can ask for them."""
        yield from self._families(None, 0, 0, 0)

    def collect(self) -> Iterator[Metric]:
        parts = self.pipeline.agg_parts.values()
        marks = [ps.progress.watermark for ps in parts if ps.progress.watermark is not None]
        behind = {
            name for ps in parts for name, mark in ps.progress.sources.items() if not mark.caught_up
        }
        windows = sum(len(q.windows) for ps in parts for q in ps.queues.values())
        yield from self._families(min(marks, default=None), len(behind), self.paused(), windows)

    @staticmethod
    def _families(
        watermark_at: float | None, behind: int, paused: int, windows: int
    ) -> Iterator[Metric]:
        watermark = GaugeMetricFamily(
            P + "watermark_timestamp_seconds",
            "Event time up to which windows are final: the lowest watermark of the partitions "
            "here (the slowest source partition's newest event time minus the grace period).",
        )
        if watermark_at is not None:
            watermark.add_metric([], watermark_at)
        yield watermark
        yield GaugeMetricFamily(
            P + "source_partitions_behind",
            "Input partitions not yet read to their end offset, as last reported (a backlog).",
            value=behind,
        )
        yield GaugeMetricFamily(
            P + "source_partitions_paused",
            "Input partitions this worker pauses because they run ahead in event time.",
            value=paused,
        )
        yield GaugeMetricFamily(
            P + "windows_open",
            "Windows not yet final in the partitions here (all queues and kinds).",
            value=windows,
        )


def render(registry: Collector) -> bytes:
    """The Prometheus text exposition of ``registry``: the bytes of prometheus_client's
    ``generate_latest`` (the unit tests compare them), in about a third of the time.

    Known queues have a few hundred series each (``CHANNELS``); ``generate_latest`` validates
    and escapes every label name and metric name of every sample, which costs more than
    building the families. The names here are the code's own (valid by construction); label
    values — queue names from the input — are escaped as it does.
    """
    out: list[str] = []
    append = out.append
    for metric in registry.collect():
        name, kind = metric.name, metric.type
        if kind not in _RENDERED_TYPES:
            raise ValueError(f"{name}: type {kind} is not rendered here")
        shown = name + "_total" if kind == "counter" else name
        doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {shown} {doc}\n# TYPE {shown} {_RENDERED_TYPES[kind]}\n")
        late: dict[str, list[str]] = {}
        suffixed = {name + suffix: suffix for suffix in _OPENMETRICS_SUFFIXES}
        for sample in metric.samples:
            labels = sample.labels
            if labels:
                pairs = sorted(labels.items()) if len(labels) > 1 else labels.items()
                text = ",".join(f'{k}="{_label_value(v)}"' for k, v in pairs)
                head = f"{sample.name}{{{text}}} "
            else:
                head = sample.name + " "
            v = sample.value
            value = _SMALL[v] if type(v) is int and 0 <= v < _SMALL_INTS else _go_float(v)
            stamp = "" if sample.timestamp is None else f" {int(float(sample.timestamp) * 1000):d}"
            line = f"{head}{value}{stamp}\n"
            suffix = suffixed.get(sample.name)
            if suffix is None:
                append(line)
            else:  # as generate_latest: OpenMetrics-only samples as a gauge after the family
                late.setdefault(suffix, []).append(line)
        for suffix, lines in sorted(late.items()):
            append(f"# HELP {name}{suffix} {doc}\n# TYPE {name}{suffix} gauge\n")
            out.extend(lines)
    return "".join(out).encode()


_RENDERED_TYPES: Final = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "unknown": "untyped",
}
_OPENMETRICS_SUFFIXES: Final = ("_created", "_gsum", "_gcount")
_SMALL_INTS: Final = 4096


def _go_float(value: float) -> str:
    """A sample value as Go prints it (prometheus_client's ``floatToGoString``)."""
    d = float(value)
    if math.isinf(d):
        return "+Inf" if d > 0 else "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def _label_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


_SMALL: Final = [_go_float(i) for i in range(_SMALL_INTS)]  # most counts are small ints

"""Reading a queue's numbers out of pipeline state at one instant: pure, shared by every exporter.

``/metrics`` (``stream.export.metrics``) and the wallboard snapshots (``stream.export.snapshots``)
both show
live gauges and current-window ratios; both call these functions so that a tile on the wall and
a Prometheus sample can never disagree. The KPI formulas themselves live in ``stream.core.kpis``;
this module only decides which state feeds them at ``now``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from stream.core.kpis import calls, sla, surveys, tickets
from stream.core.kpis.agents import agents_by_state
from stream.core.kpis.totals import WindowTotals
from stream.core.lifecycle import BACKLOG_STATUSES
from stream.core.windows import WINDOW_KINDS
from stream.stages.aggregate import Aggregator, QueueRecord
from stream.stages.live import QueueLive

__all__ = [
    "LiveReading",
    "live_reading",
    "survey_gauges",
    "ticket_gauges",
    "window_gauges",
    "window_readings",
]


@dataclass(frozen=True, slots=True)
class LiveReading:
    """The live gauges of one queue at ``now``."""

    calls_waiting: int
    oldest_call_waiting_seconds: float
    """now − min(queued at) over waiting calls; 0 when none."""
    backlog: dict[str, int]
    """Unsolved tickets by status, every status of ``BACKLOG_STATUSES`` present."""
    tickets_awaiting_first_response: int
    oldest_ticket_awaiting_first_response_seconds: float
    """now − min(created at) over tickets awaiting a first response; 0 when none."""
    agents: dict[str, int] | None = None
    """Agents in the queue by state (offline not counted, every exported state present);
    ``None`` when no agent was ever in the queue."""
    sla_breached: dict[str, int] = field(default_factory=dict)
    """SLA kind (``stream.core.kpis.sla.SLA_KINDS``, every kind present) → items past the
    deadline."""
    sla_at_risk: dict[str, int] = field(default_factory=dict)
    """SLA kind → items whose deadline falls within the next 15 minutes."""
    tickets_open_by_age: dict[str, int] = field(default_factory=dict)
    """Age bucket (``stream.core.kpis.sla.AGE_BUCKETS``, every bucket present) → unsolved
    tickets."""


def live_reading(live: QueueLive, now: float) -> LiveReading:
    """The live gauges of a queue from its live index (``stream.stages.aggregate.QueueLive``)."""
    oldest_call = min(live.waiting.values(), default=None)
    oldest_ticket = min(live.awaiting.values(), default=None)
    return LiveReading(
        calls_waiting=len(live.waiting),
        oldest_call_waiting_seconds=0.0 if oldest_call is None else max(0.0, now - oldest_call),
        backlog={status: live.backlog.get(status, 0) for status in BACKLOG_STATUSES},
        tickets_awaiting_first_response=len(live.awaiting),
        oldest_ticket_awaiting_first_response_seconds=(
            0.0 if oldest_ticket is None else max(0.0, now - oldest_ticket)
        ),
        agents=None if live.agents is None else agents_by_state(live.agents),
        sla_breached={k: sla.breached(live.deadlines.get(k, []), now) for k in sla.SLA_KINDS},
        sla_at_risk={k: sla.at_risk(live.deadlines.get(k, []), now) for k in sla.SLA_KINDS},
        tickets_open_by_age=sla.by_age(live.open_created, now),
    )


def window_gauges(w: WindowTotals, breached: int) -> dict[str, float | None]:
    """Every windowed gauge (metric name without prefix → value; ``None``: no data)."""
    return {
        "service_level_ratio": calls.service_level(
            w.answered_within, w.answered, w.abandoned, w.short_abandoned
        ),
        "abandon_rate_ratio": calls.abandon_rate(w.abandoned, w.offered),
        "average_speed_of_answer_seconds": calls.average_speed_of_answer(
            w.wait_seconds, w.answered
        ),
        "average_handle_time_seconds": calls.average_handle_time(w.handle_seconds, w.handled),
        "handle_time_within_target_ratio": calls.handled_within_target(w.handled_within, w.handled),
        "first_response_within_target_ratio": tickets.first_response_within_target(
            w.first_responses_within, w.first_responses, breached
        ),
        "average_first_response_seconds": tickets.average_first_response(
            w.first_response_seconds, w.first_responses
        ),
        "average_resolution_seconds": tickets.average_resolution(
            w.first_resolution_seconds, w.first_resolutions
        ),
        "csat_ratio": surveys.csat(w.csat_positive, w.csat_responses),
        "nps_score": surveys.nps(w.nps_promoters, w.nps_detractors, w.nps_responses),
    }


SURVEY_MIN_SAMPLE = 1
"""Fewest responses a satisfaction score is shown on unless the targets file's
``survey_min_sample`` of the queue says otherwise; 1: any response."""


def survey_gauges(
    w: WindowTotals, previous: WindowTotals | None, min_sample: int = SURVEY_MIN_SAMPLE
) -> dict[str, float | None]:
    """Satisfaction gauges of a window beside ``window_gauges``' CSAT and NPS: response counts
    (always), mean rating, Wilson 95 % bounds and the change against ``previous`` (the window
    of the same kind before; None: no events in it). Scores on fewer than ``min_sample``
    responses, in either period for a change, are ``None``."""
    csat_n, nps_n = w.csat_responses, w.nps_responses
    interval = surveys.wilson_interval(w.csat_positive, csat_n)
    csat_now = surveys.sampled(surveys.csat(w.csat_positive, csat_n), csat_n, min_sample)
    nps_now = surveys.sampled(
        surveys.nps(w.nps_promoters, w.nps_detractors, nps_n), nps_n, min_sample
    )
    csat_before = nps_before = None
    if previous is not None:
        p_csat, p_nps = previous.csat_responses, previous.nps_responses
        csat_before = surveys.sampled(
            surveys.csat(previous.csat_positive, p_csat), p_csat, min_sample
        )
        nps_before = surveys.sampled(
            surveys.nps(previous.nps_promoters, previous.nps_detractors, p_nps), p_nps, min_sample
        )
    return {
        "csat_ratio": csat_now,
        "nps_score": nps_now,
        "csat_responses": csat_n,
        "csat_mean_score": surveys.sampled(
            surveys.csat_mean_score(w.csat_score_sum, csat_n), csat_n, min_sample
        ),
        "csat_wilson_lower_ratio": surveys.sampled(
            None if interval is None else interval[0], csat_n, min_sample
        ),
        "csat_wilson_upper_ratio": surveys.sampled(
            None if interval is None else interval[1], csat_n, min_sample
        ),
        "csat_ratio_change": surveys.change(csat_now, csat_before),
        "nps_responses": nps_n,
        "nps_promoters": w.nps_promoters,
        "nps_passives": surveys.nps_passives(w.nps_promoters, w.nps_detractors, nps_n),
        "nps_detractors": w.nps_detractors,
        "nps_score_change": surveys.change(nps_now, nps_before),
    }


def ticket_gauges(w: WindowTotals, previous: WindowTotals | None) -> dict[str, float | None]:
    """Ticket rates of a window (``stream.core.kpis.tickets``; ``None``: no data) and the complaint
    rate's change against ``previous`` (the window of the same kind before)."""
    complaints = tickets.complaint_rate(w.complaints, w.tickets_created)
    before = (
        None
        if previous is None
        else tickets.complaint_rate(previous.complaints, previous.tickets_created)
    )
    return {
        "resolved_within_target_ratio": tickets.resolved_within_target(w.solved_within, w.solved),
        "reopen_rate_ratio": tickets.reopen_rate(w.reopened, w.solved),
        "escalation_rate_ratio": tickets.escalation_rate(w.escalated, w.tickets_created),
        "first_contact_resolution_ratio": tickets.first_contact_resolution(
            w.first_contact_resolved, w.solved
        ),
        "complaint_rate_ratio": complaints,
        "complaint_rate_change_ratio": surveys.change(complaints, before),
    }


def window_readings(
    aggregator: Aggregator,
    name: str,
    q: QueueRecord,
    live: QueueLive | None,
    now: float,
    kinds: Iterable[str] = WINDOW_KINDS,
) -> dict[str, dict[str, float]]:
    """Window kind → gauge name → value for the windows containing ``now``.

    Gauges without data are left out, and so is a window with neither events nor breaches.
    """
    targets = aggregator.targets
    out: dict[str, dict[str, float]] = {}
    for kind in kinds:
        start, totals = aggregator.current_window(q, kind, now)
        breached = 0
        if live is not None:
            # Tickets past their first-response deadline without a response, where the
            # deadline fell in this window (a breach is booked when it happens): the SLA
            # timers hold exactly those deadlines, sorted.
            deadlines = live.deadlines.get("first_response", ())
            breached = bisect_right(deadlines, now) - bisect_left(deadlines, start)
        if totals is None and not breached:
            continue
        gauges = window_gauges(totals or WindowTotals(), breached)
        if totals is not None:
            previous = aggregator.previous_window(q, kind, start)
            # A targets source without the key (a test double) shows scores on any sample.
            min_sample: int = getattr(
                targets.for_queue(name), "survey_min_sample", SURVEY_MIN_SAMPLE
            )
            gauges |= survey_gauges(totals, previous, min_sample) | ticket_gauges(totals, previous)
        out[kind] = {metric: value for metric, value in gauges.items() if value is not None}
    return out

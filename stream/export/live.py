"""The live families of each queue: calls and tickets waiting now, agents by state, rings, SLA
timers, the open backlog, the newest event, EWT and staffing estimates, callbacks waiting.

Each row reads one ``QueueAt`` field of the read view; a queue without a live index (no contact
or agent event yet) has no live sample, the EWT error families of every queue start at zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from stream.core.kpis.ewt import ERROR_BOUNDS
from stream.core.kpis.histogram import cumulative
from stream.export.family import Buckets, Family, Sample, by, one, per_queue
from stream.export.totals import le
from stream.read import QueueAt, WorkerAt

_STAFFING_HELP: Final = {
    "staffed": "Agents logged in, in any state but offline (Amazon Connect's Online).",
    "on_queue": (
        "Agents available, busy or in after-call work: not away (Genesys Cloud's On Queue)."
    ),
    "available": "Agents available: idle and ready for a contact (Amazon Connect's Available).",
}


def _agents(q: QueueAt) -> Iterable[Sample]:
    by_reason = q.agents_by_reason or {}
    return [((state, reason or None), n) for (state, reason), n in by_reason.items()]


def _staffing(measure: str) -> Family[WorkerAt]:
    return Family(
        f"agents_{measure}",
        "gauge",
        ("queue",),
        _STAFFING_HELP[measure],
        per_queue(lambda q: () if q.staffing is None else one(q.staffing[measure])),
    )


def _ewt_errors(q: QueueAt) -> Iterator[Sample]:
    for method, hist in q.estimate.errors.items():
        buckets = [(le(b), float(c)) for b, c in cumulative(hist, ERROR_BOUNDS)]
        yield (method,), Buckets(buckets, hist.total, float(hist.count), explicit=True)


def _present(values: dict[str, float | None] | dict[str, int | None]) -> list[Sample]:
    return [((key,), v) for key, v in values.items() if v is not None]


L = ("queue",)
LIVE_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    Family("calls_waiting", "gauge", L, "Calls queued, not yet answered or abandoned.",
           per_queue(lambda q: () if q.live is None else one(q.live.calls_waiting))),
    Family("oldest_call_waiting_seconds", "gauge", L,
           "Age of the oldest waiting call at scrape time (0 when none).",
           per_queue(lambda q: () if q.live is None else one(q.live.oldest_call_waiting_seconds))),
    Family("tickets_open", "gauge", ("queue", "status"), "Unsolved tickets by status.",
           per_queue(lambda q: () if q.live is None else by(q.live.backlog))),
    Family("tickets_awaiting_first_response", "gauge", L,
           "Unsolved tickets without a first public agent response.",
           per_queue(
               lambda q: () if q.live is None else one(q.live.tickets_awaiting_first_response))),
    Family("oldest_ticket_awaiting_first_response_seconds", "gauge", L,
           "Age of the oldest ticket awaiting a first response (0 when none).",
           per_queue(lambda q: () if q.live is None
                     else one(q.live.oldest_ticket_awaiting_first_response_seconds))),
    Family("agents", "gauge", ("queue", "state", "reason"),
           "Agents by state (offline not counted); queues come from agent.state_changed; "
           "reason only on away: a reason the targets file lists (agent_reasons), else other.",
           per_queue(_agents)),
    Family("last_event_timestamp_seconds", "gauge", L,
           "Newest occurred_at seen for the queue (alert on time() minus this for stale data).",
           per_queue(lambda q: () if q.last_event_at is None else one(q.last_event_at))),
    *(_staffing(measure) for measure in _STAFFING_HELP),
    Family("calls_ringing", "gauge", L,
           "Queued calls ringing at least one agent now (call.offered not yet answered, missed "
           "or ended by the caller).",
           per_queue(lambda q: () if q.ringing is None else one(q.ringing[0]))),
    Family("agents_ringing", "gauge", L,
           "Rings open now (call.offered not yet answered or missed): agents ringing.",
           per_queue(lambda q: () if q.ringing is None else one(q.ringing[1]))),
    Family("sla_breached", "gauge", ("queue", "kind"),
           "Waiting calls / unsolved tickets past their answer, first-response or resolution "
           "deadline at scrape time.",
           per_queue(lambda q: () if q.live is None else by(q.live.sla_breached))),
    Family("sla_at_risk", "gauge", ("queue", "kind"),
           "Waiting calls / unsolved tickets whose deadline falls within the next 15 minutes.",
           per_queue(lambda q: () if q.live is None else by(q.live.sla_at_risk))),
    Family("tickets_open_by_age", "gauge", ("queue", "age"),
           "Unsolved tickets by age since creation (<1d, 1-3d, 3-7d, 7-30d, >30d).",
           per_queue(lambda q: () if q.live is None else by(q.live.tickets_open_by_age))),
)  # fmt: skip
"""Live gauges per queue, in exposition order (before the window gauges)."""

ESTIMATE_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    Family("ewt_seconds", "gauge", ("queue", "method"),
           "Estimated wait time now: recent = mean wait of the last N answered calls; erlang_c = "
           "Erlang C mean wait with the agents on queue under the last full 15-minute window.",
           per_queue(lambda q: _present(q.estimate.ewt_seconds))),
    Family("agents_required", "gauge", ("queue", "model"),
           "Agents needed to meet the queue's service-level goal at its answer target under the "
           "last full 15-minute window's arrival rate and AHT (Erlang C; Erlang A with patience "
           "from its abandons).",
           per_queue(lambda q: _present(q.estimate.agents_required))),
    Family("ewt_error_seconds", "histogram", ("queue", "method"),
           "Per answered call: EWT shown when it was queued minus the wait it had (positive: told "
           "too long), by method.",
           per_queue(_ewt_errors)),
    Family("ewt_unestimated", "counter", ("queue", "method"),
           "Answered calls for which the method had no estimate when they were queued.",
           per_queue(lambda q: by(q.estimate.unestimated))),
)  # fmt: skip
"""EWT per method, its measured error, agents required per model (``stream.read.estimates``); a
figure without data has no sample."""

FLOW_LIVE_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    Family("callbacks_waiting", "gauge", L,
           "Callbacks requested and not yet made (call.callback_requested without its "
           "call.callback_completed).",
           per_queue(lambda q: () if q.flows is None else one(q.flows.callbacks_waiting))),
    Family("oldest_callback_waiting_seconds", "gauge", L,
           "Age of the oldest callback waiting at scrape time, since it was requested (0 when "
           "none).",
           per_queue(
               lambda q: () if q.flows is None else one(q.flows.oldest_callback_waiting_seconds))),
    Family("calls_waiting_by_priority", "gauge", ("queue", "priority"),
           "Calls waiting by call.queued priority (none: without one); sums to calls_waiting.",
           per_queue(lambda q: () if q.flows is None else by(q.flows.calls_waiting_by_priority))),
    Family("tickets_open_by_priority", "gauge", ("queue", "priority"),
           "Unsolved tickets (open, pending, on hold) by ticket.created priority (none: without "
           "one).",
           per_queue(lambda q: () if q.flows is None else by(q.flows.tickets_open_by_priority))),
)  # fmt: skip
"""Callbacks waiting and waiting calls / open tickets by priority (``stream.core.kpis.flows``)."""

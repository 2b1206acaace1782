"""The current-window families of each queue: ratios and means, survey scores, ticket rates,
ring counts, productivity and call flows, labelled ``queue, window`` (15m, 1h, today).

A ratio or mean without data has no sample, and neither has a window with neither events nor
breaches; counts read straight from a window's totals are in every window that has totals (0 is
a count, not "no data"). Each row reads one ``QueueAt`` field of the read view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import attrgetter
from typing import Final

from stream.core.kpis import flows
from stream.core.kpis.totals import WindowTotals
from stream.export.family import Family, Sample, per_queue
from stream.read import ProductivityReading, QueueAt, WorkerAt

WINDOW_HELP: Final = {
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
}
"""The gauges of ``stream.read.readings.window_readings``: metric name (no prefix) → help."""

COUNT_HELP: Final = {
    "agent_offers_in_window": (
        "agent_offers",
        "Rings of an agent (call.offered) that started in the window.",
    ),
    "agent_offers_answered_in_window": (
        "agent_offers_answered",
        "Answers that ended a ring in the window; ÷ agent offers in the window = agent answer "
        "rate (recording rule contact_centre:agent_answer_rate:ratio).",
    ),
}
"""Window gauges read straight from a window's counts: name → (``WindowTotals`` field, help)."""

FLOW_COUNT_HELP: Final = {
    "calls_abandoned_on_hold_in_window": "Calls the customer ended while on hold, in the window.",
    "callbacks_requested_in_window": "Callbacks requested in the window.",
    "callbacks_completed_in_window": "Callbacks made in the window (any outcome).",
}
"""The window counts of ``stream.core.kpis.flows.window_counts``: name → help."""

QW = ("queue", "window")


def _reading(metric: str) -> Callable[[QueueAt], Iterator[Sample]]:
    def read(q: QueueAt) -> Iterator[Sample]:
        for kind, gauges in q.window_readings.items():
            if metric in gauges:
                yield (kind,), gauges[metric]

    return read


Count = Callable[[WindowTotals], list[tuple[tuple[str, ...], int]]]
"""Counts of a window's totals: (label values after ``window``, count) pairs."""


def _counts(count: Count) -> Callable[[QueueAt], Iterator[Sample]]:
    """The samples of ``count`` in every current window that has totals."""

    def read(q: QueueAt) -> Iterator[Sample]:
        for kind, (_, totals) in q.windows.items():
            if totals is not None:
                for labels, n in count(totals):
                    yield (kind, *labels), n

    return read


def _field(name: str) -> Count:
    return lambda totals: [((), getattr(totals, name))]


def _flow_count(name: str) -> Count:
    return lambda totals: [((), flows.window_counts(totals)[name])]


def _transfers(totals: WindowTotals) -> list[tuple[tuple[str, ...], int]]:
    return [((direction,), n) for direction, n in flows.window_transfers(totals).items()]


def _productivity(
    value: Callable[[ProductivityReading], float | None],
) -> Callable[[QueueAt], Iterator[Sample]]:
    def read(q: QueueAt) -> Iterator[Sample]:
        for kind, reading in q.productivity.items():
            v = value(reading)
            if v is not None:
                yield (kind,), v

    return read


def _state_seconds(q: QueueAt) -> Iterator[Sample]:
    for kind, reading in q.productivity.items():
        for (state, reason), seconds in reading.state_seconds.items():
            yield (kind, state, reason or None), seconds


WINDOW_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    *(
        Family(name, "gauge", QW, help_, per_queue(_reading(name)))
        for name, help_ in WINDOW_HELP.items()
    ),
    *(
        Family(name, "gauge", QW, help_, per_queue(_counts(_field(count))))
        for name, (count, help_) in COUNT_HELP.items()
    ),
)
"""Ratios, means and scores of the current windows, then the ring counts."""

RATE_HELP: Final = {
    "occupancy_ratio": (
        "occupancy",
        "Agent time busy or in after-call work ÷ (that + available), in the window.",
    ),
    "contacts_per_staffed_agent_hour": (
        "contacts_per_staffed_hour",
        "(Tickets solved + calls completed) ÷ staffed agent-hours (every state but offline).",
    ),
    "tickets_solved_per_staffed_agent_hour": (
        "tickets_solved_per_staffed_hour",
        "Tickets solved ÷ staffed agent-hours (every state but offline).",
    ),
    "calls_completed_per_staffed_agent_hour": (
        "calls_completed_per_staffed_hour",
        "Calls completed (after-call work ended) ÷ staffed agent-hours.",
    ),
}
"""Productivity gauges: name → (``ProductivityReading`` field, help)."""

PRODUCTIVITY_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    *(
        Family(name, "gauge", QW, help_, per_queue(_productivity(attrgetter(field)), "staffed"))
        for name, (field, help_) in RATE_HELP.items()
    ),
    Family(
        "agent_state_seconds",
        "gauge",
        ("queue", "window", "state", "reason"),
        "Agent-seconds in each state (offline not counted) in the window so far; reason only "
        "on away (agent_reasons of the targets file, else other).",
        per_queue(_state_seconds, "staffed"),
    ),
)
"""Occupancy and contacts per staffed agent-hour (``stream.read.productivity``); a window
without handling/available (staffed) time has no sample."""

FLOW_WINDOW_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    Family("calls_transferred_in_window", "gauge", ("queue", "window", "direction"),
           "Transfers in the window: out (call.transferred of the queue's calls) and in (calls "
           "queued with transferred_from).",
           per_queue(_counts(_transfers))),
    *(
        Family(name, "gauge", QW, help_, per_queue(_counts(_flow_count(name))))
        for name, help_ in FLOW_COUNT_HELP.items()
    ),
)  # fmt: skip
"""Transfers, abandons on hold and callbacks of the current windows (``stream.core.kpis.flows``)."""

"""Generates the Grafana dashboards in ``deploy/grafana/dashboards/`` with grafana-foundation-sdk.

Five dashboards, each with a fixed ``uid`` so that links and provisioning survive a rebuild:

* ``cc-overview``: the live contact-centre overview, one row of tiles per queue (a row repeated
  over the ``queue`` variable). Tiles are coloured by the queue's own targets: each tile's
  second query reads the target from the recording rules of ``targets.rules.yml`` and Grafana's
  "Config from query results" transformation makes it the tile's threshold. The static
  thresholds, used until that query answers, are the targets file's defaults.
* ``cc-queue``: the drill-down of one queue: service level by window and over sliding windows
  with its goal, percentiles of answer wait, handle time, first response and resolution
  computed from the exported histograms, volumes, backlog, surveys.
* ``cc-service-quality``: service quality of one queue in the window chosen with ``$window``
  (today, 1 h, 15 min): CSAT with its Wilson 95 % interval and mean rating, NPS with promoters,
  passives and detractors, the changes against the previous window, resolved within target,
  reopen, escalation, first-contact resolution and complaint rates (with the sliding 6 h
  ratios the alerts read), SLA timers breached and at risk by kind, the backlog by age and
  full-resolution percentiles.
* ``cc-workforce``: agents by state, occupancy and contacts per staffed agent-hour of one
  queue; conversion after contact of its contacts and of all; churn and churn after contact of
  all customers (churn has no queue label), active customers, today's churn rate (churned ÷
  active) and retention (1 − churn rate). Customer series come from the partition of the
  customer's id, so each worker exports its part of every queue: panels sum over workers.
* ``cc-pipeline``: pipeline health: accepted, rejected, duplicate and late events, partitions per
  worker, event-time lag, consumer lag, scrape health, wallboard snapshot errors.

Every expression uses only metrics the workers export (``stream/export/metrics.py``), the recording
rules of ``deploy/prometheus/rules/`` and, named in ``EXTERNAL_METRICS``, Prometheus' own scrape
series and kafka-exporter's lag; ``tests/deploy`` checks all three against a real worker.

Run ``make dashboards`` (``python -m deploy.grafana.generate``) after a change; a test fails when
the committed JSON differs from what this module generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TypeAlias

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from stream.config import CHANNELS, TargetBook, load_targets

HERE: Final = Path(__file__).resolve().parent
OUTPUT_DIR: Final = HERE / "dashboards"
TARGETS_FILE: Final = HERE.parent / "targets.example.yaml"
DATASOURCE: Final = model.DataSourceRef(type_val="prometheus", uid="prometheus")
# Series that Prometheus or another exporter provides, not the workers: name -> where from.
EXTERNAL_METRICS: Final = {
    "up": "Prometheus: scrape health of every target",
    "scrape_duration_seconds": "Prometheus: duration of every scrape",
    "kafka_consumergroup_lag": "kafka-exporter (service kafka-exporter in docker-compose.yml)",
}
_UNNAMED: Final = "\x00" * 65  # no queue is called this: the book answers with its defaults
Q: Final = 'queue="$queue"'
RATE: Final = "$__rate_interval"
W: Final = 'window="$window"'
WINDOWS: Final = ("today", "1h", "15m")  # the exported window kinds, the $window choices
AGE_BUCKETS: Final = (
    "<1d",
    "1-3d",
    "3-7d",
    "7-30d",
    ">30d",
)  # stream.core.kpis.sla, youngest first
AGENT_STATES: Final = (  # stream.core.kpis.agents.EXPORTED_STATES, with a colour each
    ("available", "green"),
    ("busy", "blue"),
    ("after_call_work", "yellow"),
    ("away", "text"),
)


def _query(
    expr: str, legend: str = "", ref: str = "A", instant: bool = False
) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant().format(prometheus_model.PromQueryFormat.TABLE)
    return q


def _thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def _target_threshold(ref: str) -> model.DataTransformerConfig:
    """The first threshold step of the panel comes from query ``ref`` (the queue's target)."""
    return model.DataTransformerConfig(
        id_val="configFromData",
        options={
            "configRefId": ref,
            "mappings": [{"fieldName": "Value", "handlerKey": "threshold1"}],
            "applyTo": {"id": "byFrameRefID", "options": "A"},
        },
    )


_Item: TypeAlias = dash.Row | stat.Panel | timeseries.Panel


class _Ids:
    """Panel ids, unique within a dashboard and stable across regenerations."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self) -> int:
        self.next += 1
        return self.next


def _tile(
    ids: _Ids,
    title: str,
    expr: str,
    unit: str,
    *,
    description: str,
    thresholds: dash.ThresholdsConfig | None = None,
    target: str | None = None,
    width: int = 2,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .id(ids())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_query(expr, instant=True))
        .unit(unit)
        .height(4)
        .span(width)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .no_value("—")
    )
    if thresholds is None:
        panel = panel.color_scheme(
            dash.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color("blue")
        )
    else:
        panel = panel.thresholds(thresholds).color_scheme(
            dash.FieldColor().mode(model.FieldColorModeId.THRESHOLDS)
        )
    if target is not None:
        panel = panel.with_target(_query(target, ref="TARGET", instant=True)).with_transformation(
            _target_threshold("TARGET")
        )
    return panel


def _graph(
    ids: _Ids,
    title: str,
    queries: Sequence[tuple[str, str]],
    unit: str,
    *,
    description: str,
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .id(ids())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(height)
        .span(width)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if stacked:
        panel = panel.stacking(
            common_b.StackingConfig().mode(common.StackingMode.NORMAL)
        ).fill_opacity(40)
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, ref=chr(ord("A") + i)))
    return panel


def _colour(panel: timeseries.Panel, colours: Sequence[tuple[str, str]]) -> timeseries.Panel:
    """Fixed colours for the series named (legend) in ``colours``."""
    for name, colour in colours:
        panel = panel.override_by_name(
            name,
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": colour}
                )
            ],
        )
    return panel


def _band(panel: timeseries.Panel, upper: str, lower: str) -> timeseries.Panel:
    """Shade between the series ``upper`` and ``lower`` (an interval), drawn without lines."""
    line = model.DynamicConfigValue(id_val="custom.lineWidth", value=0)
    return panel.override_by_name(
        upper,
        [
            model.DynamicConfigValue(id_val="custom.fillBelowTo", value=lower),
            model.DynamicConfigValue(id_val="custom.fillOpacity", value=20),
            line,
        ],
    ).override_by_name(lower, [line])


def _queue_variable(multi: bool) -> dash.QueryVariable:
    return (
        dash.QueryVariable("queue")
        .label("Queue")
        .datasource(DATASOURCE)
        .query("label_values(contact_centre_last_event_timestamp_seconds, queue)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )


def _window_variable() -> dash.CustomVariable:
    """The window of the exported window gauges (``window`` label); today by default."""
    options = [model.VariableOption(selected=w == "today", text=w, value=w) for w in WINDOWS]
    return (
        dash.CustomVariable("window")
        .label("Window")
        .values(",".join(WINDOWS))
        .options(options)
        .current(options[0])
    )


def _base(uid: str, title: str, description: str, tags: list[str]) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["contact-centre", *tags])
        .editable()
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("10s")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .link(
            dash.DashboardLink("Contact centre")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["contact-centre"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def overview(book: TargetBook) -> model.Dashboard:
    """The live overview: a row of target-coloured tiles per queue."""
    # Static thresholds (until the TARGET query answers): the defaults, largest over channels
    # for the per-channel ages, as in the alerts.
    d = book.for_queue(_UNNAMED)
    answer_default = max(book.for_queue(_UNNAMED, c).answer_target_seconds for c in CHANNELS)
    frt_default = max(book.for_queue(_UNNAMED, c).first_response_seconds for c in CHANNELS)
    ids = _Ids()
    red, green, orange = "red", "green", "orange"
    today = f'{Q},window="today"'
    row = dash.Row("$queue").id(ids()).repeat("queue")
    tiles = [
        _tile(ids, "Service level today",
            f"contact_centre_service_level_ratio{{{today}}}", "percentunit",
            description="Answered within the answer target ÷ (answered + abandoned − short "
                        "abandoned), since local midnight. Red below the queue's goal.",
            thresholds=_thresholds((None, red), (d.service_level_goal, green)),
            target=f"queue:contact_centre_service_level_goal:ratio{{{Q}}}"),
        _tile(ids, "Service level 15 min",
            f'contact_centre_service_level_ratio{{{Q},window="15m"}}', "percentunit",
            description="Service level of the current quarter hour. Red below the goal.",
            thresholds=_thresholds((None, red), (d.service_level_goal, green)),
            target=f"queue:contact_centre_service_level_goal:ratio{{{Q}}}"),
        _tile(ids, "Calls waiting",
            f"sum(contact_centre_calls_waiting{{{Q}}})", "short",
            description="Calls queued, not yet answered or abandoned."),
        _tile(ids, "Oldest call waiting",
            f"max(contact_centre_oldest_call_waiting_seconds{{{Q}}})", "s",
            description="Age of the oldest waiting call. Red past the answer target.",
            thresholds=_thresholds((None, green), (answer_default, red)),
            target=f"queue:contact_centre_answer_target:max_seconds{{{Q}}}"),
        _tile(ids, "Speed of answer today",
            f"contact_centre_average_speed_of_answer_seconds{{{today}}}", "s",
            description="Average wait of the calls answered today. Red past the answer target.",
            thresholds=_thresholds((None, green), (answer_default, red)),
            target=f"queue:contact_centre_answer_target:max_seconds{{{Q}}}"),
        _tile(ids, "Abandon rate today",
            f"contact_centre_abandon_rate_ratio{{{today}}}", "percentunit",
            description="Abandoned ÷ offered calls today (short abandons included)."),
        _tile(ids, "Handle time today",
            f"contact_centre_average_handle_time_seconds{{{today}}}", "s",
            description="Average talk + hold + after-call work of the calls completed today. "
                        "Orange past the handle-time target.",
            thresholds=_thresholds((None, green), (d.handle_time_seconds, orange)),
            target=f"queue:contact_centre_handle_time_target:seconds{{{Q}}}"),
        _tile(ids, "First response in target",
            f"contact_centre_first_response_within_target_ratio{{{today}}}", "percentunit",
            description="First responses within their target ÷ (first responses + tickets "
                        "past target without one), today. Red below the queue's goal.",
            thresholds=_thresholds((None, red), (d.service_level_goal, green)),
            target=f"queue:contact_centre_service_level_goal:ratio{{{Q}}}"),
        _tile(ids, "Awaiting first response",
            f"sum(contact_centre_tickets_awaiting_first_response{{{Q}}})", "short",
            description="Unsolved tickets without a first public agent response."),
        _tile(ids, "Oldest unanswered ticket",
            f"max(contact_centre_oldest_ticket_awaiting_first_response_seconds{{{Q}}})", "s",
            description="Age of the oldest ticket awaiting a first response. Red past the "
                        "largest first-response target of the queue's channels.",
            thresholds=_thresholds((None, green), (frt_default, red)),
            target=f"queue:contact_centre_first_response_target:max_seconds{{{Q}}}"),
        _tile(ids, "Backlog",
            f"sum(contact_centre_tickets_open{{{Q}}})", "short",
            description="Unsolved tickets (open, pending, on hold)."),
        _tile(ids, "CSAT today",
            f"contact_centre_csat_ratio{{{today}}}", "percentunit",
            description="Ratings 4–5 ÷ all ratings today."),
    ]  # fmt: skip
    board = _base(
        "cc-overview",
        "Contact centre — live overview",
        "Live KPIs of every queue, coloured by the queue's targets (targets file).",
        ["overview"],
    ).with_variable(_queue_variable(multi=True))
    return _add(board, [row, *tiles]).build()


def queue_drilldown() -> model.Dashboard:
    """One queue in depth: service level by window, percentiles from the histograms, call
    flows (transfers, callbacks, abandons on hold) and priorities."""
    ids = _Ids()

    def pct(metric: str, by: str = "") -> list[tuple[str, str]]:
        group = f"le{', ' + by if by else ''}"
        legend = f"p{{q}}{' {{' + by + '}}' if by else ''}"
        return [
            (
                f"histogram_quantile({q / 100}, sum by ({group}) "
                f"(rate({metric}_bucket{{{Q}}}[{RATE}])))",
                legend.replace("{q}", str(q)),
            )
            for q in (50, 90, 99)
        ]

    def avg(metric: str) -> tuple[str, str]:
        return (
            f"sum(rate({metric}_sum{{{Q}}}[{RATE}])) / sum(rate({metric}_count{{{Q}}}[{RATE}]))",
            "mean",
        )

    g = _graph
    panels: list[_Item] = [
        dash.Row("Service level").id(ids()),
        g(ids, "Service level by window", [
            (f"contact_centre_service_level_ratio{{{Q}}}", "{{window}}"),
            (f"queue:contact_centre_service_level_goal:ratio{{{Q}}}", "goal"),
        ], "percentunit", description="Exported per window (15 min, 1 h, today) with the goal."),
        g(ids, "Service level, sliding windows", [
            (f"1 - queue:contact_centre_service_level_errors:ratio5m{{{Q}}}", "5 min"),
            (f"1 - queue:contact_centre_service_level_errors:ratio1h{{{Q}}}", "1 h"),
            (f"1 - queue:contact_centre_service_level_errors:ratio6h{{{Q}}}", "6 h"),
            (f"queue:contact_centre_service_level_goal:ratio{{{Q}}}", "goal"),
        ], "percentunit", description="From the counters, as the burn-rate alerts see it."),
        g(ids, "Answer wait percentiles", [
            *pct("contact_centre_answer_wait_seconds"),
            avg("contact_centre_answer_wait_seconds"),
            (f"queue:contact_centre_answer_target:max_seconds{{{Q}}}", "target"),
        ], "s", description="Wait of answered calls, from the histogram (mean = ASA)."),
        g(ids, "Calls", [
            (f"sum by (channel) (rate(contact_centre_calls_offered_total{{{Q}}}[{RATE}])) * 60",
             "offered {{channel}}"),
            (f"sum by (channel) (rate(contact_centre_calls_answered_total{{{Q}}}[{RATE}])) * 60",
             "answered {{channel}}"),
            (f"sum by (channel) (rate(contact_centre_calls_abandoned_total{{{Q}}}[{RATE}])) * 60",
             "abandoned {{channel}}"),
            (f"sum by (channel) (rate(contact_centre_calls_short_abandoned_total{{{Q}}}[{RATE}]))"
             " * 60", "short abandoned {{channel}}"),
        ], "cpm", description="Calls per minute by channel."),
        g(ids, "Waiting calls", [
            (f"sum(contact_centre_calls_waiting{{{Q}}})", "waiting"),
            (f"max(contact_centre_oldest_call_waiting_seconds{{{Q}}})", "oldest wait (s)"),
        ], "short", description="Calls in the queue and the age of the oldest."),
        g(ids, "Speed of answer and abandon rate by window", [
            (f"contact_centre_average_speed_of_answer_seconds{{{Q}}}", "ASA {{window}} (s)"),
            (f"contact_centre_abandon_rate_ratio{{{Q}}} * 100", "abandon {{window}} (%)"),
        ], "short", description="Exported window gauges."),
        dash.Row("Handle time").id(ids()),
        g(ids, "Handle time percentiles", [
            *pct("contact_centre_handle_time_seconds"),
            avg("contact_centre_handle_time_seconds"),
            (f"queue:contact_centre_handle_time_target:seconds{{{Q}}}", "target"),
        ], "s", description="Talk + hold + ACW per completed call, from the histogram."),
        g(ids, "Average handle time by window", [
            (f"contact_centre_average_handle_time_seconds{{{Q}}}", "{{window}}"),
            (f"queue:contact_centre_handle_time_target:seconds{{{Q}}}", "target"),
        ], "s", description="Exported window gauges with the handle-time target."),
        dash.Row("Tickets").id(ids()),
        g(ids, "First response percentiles", [
            *pct("contact_centre_first_response_seconds"),
            avg("contact_centre_first_response_seconds"),
        ], "s", description="Ticket creation to first public agent message, from the histogram."),
        g(ids, "First response p90 by channel", [
            *pct("contact_centre_first_response_seconds", by="channel")[1:2],
            (f"queue_channel:contact_centre_first_response_target:seconds{{{Q}}}",
             "target {{channel}}"),
        ], "s", description="Each channel has its own first-response target."),
        g(ids, "First response within target by window", [
            (f"contact_centre_first_response_within_target_ratio{{{Q}}}", "{{window}}"),
            (f"queue:contact_centre_first_responses_within_target:ratio1h{{{Q}}}",
             "sliding 1 h"),
            (f"queue:contact_centre_service_level_goal:ratio{{{Q}}}", "goal"),
        ], "percentunit", description="Share of first responses within target."),
        g(ids, "Backlog by status", [
            (f"sum by (status) (contact_centre_tickets_open{{{Q}}})", "{{status}}"),
            (f"sum(contact_centre_tickets_awaiting_first_response{{{Q}}})",
             "awaiting first response"),
        ], "short", description="Unsolved tickets by status."),
        g(ids, "Ticket flow", [
            (f"sum(rate(contact_centre_tickets_created_total{{{Q}}}[{RATE}])) * 3600", "created"),
            (f"sum(rate(contact_centre_tickets_solved_total{{{Q}}}[{RATE}])) * 3600", "solved"),
            (f"sum(rate(contact_centre_tickets_reopened_total{{{Q}}}[{RATE}])) * 3600",
             "reopened"),
            (f"sum(rate(contact_centre_tickets_escalated_total{{{Q}}}[{RATE}])) * 3600",
             "escalated"),
        ], "short", description="Tickets per hour."),
        g(ids, "Resolution time percentiles", [
            *pct("contact_centre_resolution_seconds"),
            (f"queue:contact_centre_resolution_target:seconds{{{Q}}}", "target"),
            (f"sum(rate(contact_centre_tickets_resolved_within_target_total{{{Q}}}[1h])) / "
             f"sum(rate(contact_centre_resolution_seconds_count{{{Q}}}[1h])) * 100",
             "% within target (1 h)"),
        ], "s", description="Ticket creation to first solved, from the histogram."),
        g(ids, "First response and resolution in business time", [
            (pct("contact_centre_first_response_business_seconds")[1][0], "first response p90"),
            (avg("contact_centre_first_response_business_seconds")[0], "first response mean"),
            (pct("contact_centre_resolution_business_seconds")[1][0], "resolution p90"),
            (avg("contact_centre_resolution_business_seconds")[0], "resolution mean"),
        ], "s", description="The same durations counting only the queue's business hours "
                            "(targets file: business_hours, holidays, timezone)."),
        dash.Row("Surveys").id(ids()),
        g(ids, "CSAT and NPS by window", [
            (f"contact_centre_csat_ratio{{{Q}}} * 100", "CSAT {{window}} (%)"),
            (f"contact_centre_nps_score{{{Q}}}", "NPS {{window}}"),
        ], "short", description="CSAT: ratings 4–5 ÷ ratings; NPS: % promoters − % detractors."),
        g(ids, "Survey responses", [
            (f"sum by (kind) (increase(contact_centre_survey_responses_total{{{Q}}}[1h]))",
             "{{kind}} per hour"),
        ], "short", description="Few responses make CSAT and NPS unreliable."),
        dash.Row("Call flows and priority").id(ids()),
        g(ids, "Transfers out and in", [
            (f"contact_centre_calls_transferred_in_window{{{Q}}}", "{{direction}} {{window}}"),
            (f"sum(rate(contact_centre_calls_transferred_total{{{Q}}}[{RATE}])) * 3600",
             "out per hour"),
            (f"sum(rate(contact_centre_calls_transferred_in_total{{{Q}}}[{RATE}])) * 3600",
             "in per hour"),
        ], "short", description="Out: call.transferred of the queue's calls (any target); in: "
                                "new legs queued here from another queue (transferred_from)."),
        g(ids, "Callbacks", [
            (f"sum(contact_centre_callbacks_waiting{{{Q}}})", "waiting"),
            (f"max(contact_centre_oldest_callback_waiting_seconds{{{Q}}}) / 60",
             "oldest waiting (min)"),
            (f"contact_centre_callbacks_requested_in_window{{{Q}}}", "requested {{window}}"),
            (f"contact_centre_callbacks_completed_in_window{{{Q}}}", "made {{window}}"),
            (f"sum by (outcome) (increase(contact_centre_callbacks_completed_total{{{Q}}}[1h]))",
             "{{outcome}} per hour"),
        ], "short", description="Callers who asked to be called back instead of waiting: "
                                "waiting now, requested and made per window, outcomes."),
        g(ids, "Abandoned on hold", [
            (f"contact_centre_calls_abandoned_on_hold_in_window{{{Q}}}", "{{window}}"),
            (f"sum(increase(contact_centre_calls_abandoned_on_hold_total{{{Q}}}[1h])) / "
             f"sum(increase(contact_centre_calls_answered_total{{{Q}}}[1h])) * 100",
             "% of answered (1 h)"),
        ], "short", description="Callers who hung up while on hold (call.ended, ended_by "
                                "customer): counts per window and the share of answered calls."),
        g(ids, "Waiting calls and open tickets by priority", [
            (f"sum by (priority) (contact_centre_calls_waiting_by_priority{{{Q}}})",
             "calls {{priority}}"),
            (f"sum by (priority) (contact_centre_tickets_open_by_priority{{{Q}}})",
             "tickets {{priority}}"),
        ], "short", description="The contract's priorities (low, normal, high, urgent); none: "
                                "contacts without one."),
    ]  # fmt: skip
    d = _base(
        "cc-queue",
        "Contact centre — queue drill-down",
        "One queue: service level by window, percentiles from the histograms, tickets, surveys.",
        ["queue"],
    ).with_variable(_queue_variable(multi=False))
    return _add(d, panels).build()


def pipeline() -> model.Dashboard:
    """Pipeline health: events in, rejects, partitions, lags, wallboard snapshot errors."""
    ids = _Ids()
    worker = 'job="contact-centre-worker"'
    g = _graph
    panels: list[_Item] = [
        _tile(ids, "Workers up", f"sum(up{{{worker}}})", "short", width=3,
              description="Workers Prometheus scrapes successfully."),
        _tile(ids, "Partitions owned", "sum(contact_centre_worker_partitions)", "short",
              width=3, description="Sum over workers; equals STREAM_PARTITIONS when all are "
                                   "assigned."),
        _tile(ids, "Events / s", "sum(rate(contact_centre_events_total[5m]))", "short", width=4,
              description="Accepted events per second over 5 minutes."),
        _tile(ids, "Rejected share", "sum(rate(contact_centre_events_rejected_total[10m])) / "
              "(sum(rate(contact_centre_events_total[10m])) + "
              "sum(rate(contact_centre_events_rejected_total[10m])))", "percentunit", width=4,
              description="Share of the input sent to the dead-letter topic (alert above 1 %).",
              thresholds=_thresholds((None, "green"), (0.01, "red"))),
        _tile(ids, "Event-time lag", "time() - max(contact_centre_last_event_timestamp_seconds)",
              "s", width=4, description="Wall clock minus the newest event time processed "
                                        "(StaleData alerts above 5 minutes).",
              thresholds=_thresholds((None, "green"), (300, "red"))),
        _tile(ids, "Consumer lag", "sum(consumergroup:kafka_consumergroup_lag:sum)", "short",
              width=3, description="Messages not yet consumed, from kafka-exporter."),
        _tile(ids, "Snapshot errors (15 min)",
              "sum(increase(contact_centre_snapshot_errors_total[15m]))", "short", width=3,
              description="Failed wallboard snapshot publishing ticks (Redis unreachable or "
                          "erroring) over 15 minutes; — when no worker publishes "
                          "(STREAM_REDIS_URL unset).",
              thresholds=_thresholds((None, "green"), (1, "red"))),
        g(ids, "Accepted events by type", [
            (f"sum by (type) (rate(contact_centre_events_total[{RATE}]))", "{{type}}"),
        ], "short", description="Events per second accepted by the workers."),
        g(ids, "Rejected, duplicate and late events", [
            (f"sum by (reason) (rate(contact_centre_events_rejected_total[{RATE}]))",
             "rejected {{reason}}"),
            (f"sum(rate(contact_centre_events_duplicate_total[{RATE}]))", "duplicate"),
            (f"sum(rate(contact_centre_events_late_total[{RATE}]))", "late"),
        ], "short", description="Per second. Rejected events are in the topic kpi-dead-letter."),
        g(ids, "Partitions per worker", [
            ("contact_centre_worker_partitions", "{{instance}}"),
        ], "short", description="Rebalances show as steps; a worker with 0 partitions is idle."),
        g(ids, "Event-time lag by queue", [
            ("time() - contact_centre_last_event_timestamp_seconds", "{{queue}}"),
        ], "s", description="How far behind the wall clock each queue's newest event is "
                            "(quiet queues grow naturally)."),
        g(ids, "Consumer lag by topic", [
            ("sum by (consumergroup, topic) (kafka_consumergroup_lag)",
             "{{consumergroup}} {{topic}}"),
        ], "short", description="From kafka-exporter; growing lag means the workers do not "
                                "keep up."),
        g(ids, "Scrape duration", [
            (f"scrape_duration_seconds{{{worker}}}", "{{instance}}"),
        ], "s", description="The collector builds every series at scrape time."),
        g(ids, "Publish → booked latency", [
            (f"histogram_quantile({q / 100}, sum by (le) "
             f"(rate(contact_centre_event_latency_seconds_bucket[{RATE}])))", f"p{q}")
            for q in (50, 99)
        ], "s", description="From each call and ticket event's record timestamp to its booking, "
                            "measured by the workers (the wallboard's freshness; the target is "
                            "p99 under 250 ms). A backlog read after an outage shows as its "
                            "age."),
        g(ids, "Wallboard snapshot errors", [
            (f"sum by (instance) (rate(contact_centre_snapshot_errors_total[{RATE}]))",
             "{{instance}}"),
        ], "short", description="Failed snapshot publishing ticks per second by worker: the "
                                "wallboard tiles of that worker's queues are not updated "
                                "(WallboardSnapshotsFailing)."),
    ]  # fmt: skip
    d = _base(
        "cc-pipeline",
        "Contact centre — pipeline health",
        "Events in, rejects, partitions, event-time and consumer lag of the KPI workers.",
        ["pipeline"],
    )
    return _add(d, panels).build()


def _percentiles(metric: str, window: str) -> list[tuple[str, str]]:
    """p50, p90 and p99 of the queue's histogram ``metric`` over the sliding ``window``."""
    return [
        (
            f"histogram_quantile({q / 100}, sum by (le) (rate({metric}_bucket{{{Q}}}[{window}])))",
            f"p{q}",
        )
        for q in (50, 90, 99)
    ]


def service_quality() -> model.Dashboard:
    """One queue's service quality in the window chosen with ``$window``: surveys, ticket rates,
    SLA timers, backlog by age, full resolution."""
    ids = _Ids()
    g = _graph
    qw = f"{Q},{W}"
    green, orange, red = "green", "orange", "red"
    tiles: list[_Item] = [
        _tile(
            ids,
            "CSAT ($window)",
            f"contact_centre_csat_ratio{{{qw}}}",
            "percentunit",
            width=3,
            description="Ratings 4–5 ÷ all ratings in the window. — below the "
            "queue's minimum sample (targets file survey_min_sample).",
        ),
        _tile(
            ids,
            "NPS ($window)",
            f"contact_centre_nps_score{{{qw}}}",
            "short",
            width=3,
            description="% promoters (9–10) − % detractors (0–6), −100..+100.",
        ),
        _tile(
            ids,
            "First-contact resolution ($window)",
            f"contact_centre_first_contact_resolution_ratio{{{qw}}}",
            "percentunit",
            width=3,
            description="One-touch solves not reopened within 7 days ÷ solved.",
        ),
        _tile(
            ids,
            "Reopen rate ($window)",
            f"contact_centre_reopen_rate_ratio{{{qw}}}",
            "percentunit",
            width=3,
            description="Reopened ÷ solved tickets.",
        ),
        _tile(
            ids,
            "Escalation rate ($window)",
            f"contact_centre_escalation_rate_ratio{{{qw}}}",
            "percentunit",
            width=3,
            description="Tickets escalated ÷ tickets created.",
        ),
        _tile(
            ids,
            "Complaint rate ($window)",
            f"contact_centre_complaint_rate_ratio{{{qw}}}",
            "percentunit",
            width=3,
            description="Tickets of category complaint ÷ tickets created.",
        ),
        _tile(
            ids,
            "SLA breached now",
            f"sum(contact_centre_sla_breached{{{Q}}})",
            "short",
            width=3,
            description="Waiting calls and unsolved tickets past their answer, "
            "first-response or resolution deadline.",
            thresholds=_thresholds((None, green), (1, red)),
        ),
        _tile(
            ids,
            "SLA at risk now",
            f"sum(contact_centre_sla_at_risk{{{Q}}})",
            "short",
            width=3,
            description="Waiting calls and unsolved tickets whose deadline falls "
            "within the next 15 minutes.",
            thresholds=_thresholds((None, green), (1, orange)),
        ),
    ]
    csat = _band(
        g(
            ids,
            "CSAT and its Wilson 95 % interval ($window)",
            [
                (f"contact_centre_csat_ratio{{{qw}}}", "CSAT"),
                (f"contact_centre_csat_wilson_upper_ratio{{{qw}}}", "upper 95 %"),
                (f"contact_centre_csat_wilson_lower_ratio{{{qw}}}", "lower 95 %"),
            ],
            "percentunit",
            description="Ratings 4–5 ÷ ratings, shaded between the bounds of the "
            "Wilson 95 % interval: a wide band means too few "
            "responses to trust the ratio.",
        ),
        "upper 95 %",
        "lower 95 %",
    )
    nps_counts = _colour(
        g(
            ids,
            "NPS promoters, passives and detractors ($window)",
            [
                (f"contact_centre_nps_promoters{{{qw}}}", "promoters"),
                (f"contact_centre_nps_passives{{{qw}}}", "passives"),
                (f"contact_centre_nps_detractors{{{qw}}}", "detractors"),
            ],
            "short",
            stacked=True,
            description="NPS responses in the window: promoters (9–10), "
            "passives (7–8), detractors (0–6).",
        ),
        [("promoters", green), ("passives", "yellow"), ("detractors", red)],
    )
    by_age = g(
        ids,
        "Tickets open by age",
        [
            (f'sum(contact_centre_tickets_open_by_age{{{Q},age="{age}"}})', age)
            for age in AGE_BUCKETS
        ],
        "short",
        width=24,
        stacked=True,
        description="Unsolved tickets by age since creation, youngest at the bottom.",
    )
    panels: list[_Item] = [
        *tiles,
        dash.Row("Satisfaction").id(ids()),
        csat,
        g(ids, "CSAT mean rating ($window)", [
            (f"contact_centre_csat_mean_score{{{qw}}}", "mean rating"),
        ], "short", description="Mean CSAT rating on the 1–5 scale.").min(1).max(5),
        g(ids, "NPS ($window)", [
            (f"contact_centre_nps_score{{{qw}}}", "NPS"),
        ], "short", description="% promoters − % detractors.").min(-100).max(100),
        nps_counts,
        g(ids, "Survey responses ($window)", [
            (f"contact_centre_csat_responses{{{qw}}}", "CSAT"),
            (f"contact_centre_nps_responses{{{qw}}}", "NPS"),
        ], "short", description="Responses in the window; scores are shown only from the "
                                "queue's minimum sample on."),
        g(ids, "Change against the previous window ($window)", [
            (f"contact_centre_csat_ratio_change{{{qw}}} * 100", "CSAT (points)"),
            (f"contact_centre_nps_score_change{{{qw}}}", "NPS (points)"),
        ], "short", description="This window's score − that of the previous window of the same "
                                "kind (quarter hour, hour, day), in points; no data when either "
                                "has too few responses. CsatFalling alerts on today's."),
        dash.Row("Tickets").id(ids()),
        g(ids, "Resolved within target and first-contact resolution ($window)", [
            (f"contact_centre_resolved_within_target_ratio{{{qw}}}", "resolved within target"),
            (f"contact_centre_first_contact_resolution_ratio{{{qw}}}",
             "first-contact resolution"),
        ], "percentunit", description="First resolutions within the resolution target ÷ "
                                      "solved; one-touch solves not reopened within 7 days ÷ "
                                      "solved."),
        g(ids, "Reopen and escalation rates", [
            (f"contact_centre_reopen_rate_ratio{{{qw}}}", "reopen ($window)"),
            (f"contact_centre_escalation_rate_ratio{{{qw}}}", "escalation ($window)"),
            (f"queue:contact_centre_reopen_rate:ratio6h{{{Q}}}", "reopen, sliding 6 h"),
            (f"queue:contact_centre_escalation_rate:ratio6h{{{Q}}}", "escalation, sliding 6 h"),
        ], "percentunit", description="Reopened ÷ solved and escalated ÷ created: the window "
                                      "gauges, and over the last 6 hours from the counters as "
                                      "ReopenRateHigh and EscalationRateHigh see them."),
        g(ids, "Complaint rate", [
            (f"contact_centre_complaint_rate_ratio{{{qw}}}", "complaints ($window)"),
            (f"contact_centre_complaint_rate_change_ratio{{{qw}}}",
             "change vs previous window ($window)"),
            (f"queue:contact_centre_complaint_rate:ratio6h{{{Q}}}", "sliding 6 h"),
            (f"queue:contact_centre_complaint_rate:ratio1d_offset6h{{{Q}}}",
             "the day before those 6 h"),
        ], "percentunit", description="Complaints ÷ tickets created, and the change against the "
                                      "previous window; ComplaintRateRising compares the last "
                                      "6 hours with the day before them."),
        g(ids, "Full resolution time percentiles", [
            *_percentiles("contact_centre_full_resolution_seconds", "6h"),
            (f"queue:contact_centre_resolution_target:seconds{{{Q}}}", "resolution target"),
        ], "s", description="Ticket creation to last solved, booked when a ticket first "
                            "closes; from the histogram over the last 6 hours."),
        dash.Row("SLA timers and backlog").id(ids()),
        g(ids, "SLA breached by kind", [
            (f"sum by (kind) (contact_centre_sla_breached{{{Q}}})", "{{kind}}"),
        ], "short", description="Items past their deadline now: waiting calls (answer), "
                                "tickets without a first response (first_response), unsolved "
                                "tickets (resolution)."),
        g(ids, "SLA at risk by kind", [
            (f"sum by (kind) (contact_centre_sla_at_risk{{{Q}}})", "{{kind}}"),
        ], "short", description="Items whose deadline falls within the next 15 minutes."),
        by_age,
    ]  # fmt: skip
    d = (
        _base(
            "cc-service-quality",
            "Contact centre — service quality",
            "One queue: CSAT and NPS with sample sizes and trends, ticket outcome rates, SLA "
            "timers, backlog by age, full resolution time.",
            ["quality"],
        )
        .with_variable(_queue_variable(multi=False))
        .with_variable(_window_variable())
    )
    return _add(d, panels).build()


def workforce() -> model.Dashboard:
    """Agents of one queue; conversion after contact of its contacts and of all; churn, churn
    rate and retention of all customers."""
    ids = _Ids()
    g = _graph
    today = 'window="today"'

    def agents(state: str) -> str:
        return f'sum(contact_centre_agents{{{Q},state="{state}"}})'

    def summed(metric: str, labels: str = "") -> str:
        return f"sum({metric}{{{labels}}})" if labels else f"sum({metric})"

    churned, after = (
        "contact_centre_customers_churned_in_window",
        "contact_centre_customers_churned_after_contact_in_window",
    )
    share_after_all = (
        "sum(contact_centre_customers_churned_after_contact_total) / "
        "sum(contact_centre_customers_churned_total)"
    )
    conversion = (
        "sum(contact_centre_contacts_converted_total) / "
        "sum(contact_centre_contacts_with_customer_total)"
    )
    # Churn rate = churned today ÷ active customers, as stream.core.kpis.customers.churn_rate: no
    # data without an active customer; 0 while nobody churned today (a worker exports the
    # window's gauge only once a churn falls in it).
    churn_rate = (
        f"({summed(churned, today)} or vector(0)) / (sum(contact_centre_customers_active) > 0)"
    )
    # Per queue of the contact, still summed: every worker exports its customers' part of it.
    queue_conversion = (
        f"sum(contact_centre_contacts_converted_total{{{Q}}}) / "
        f"sum(contact_centre_contacts_with_customer_total{{{Q}}})"
    )
    panels: list[_Item] = [
        dash.Row("Agents in $queue").id(ids()),
        _tile(ids, "Available", agents("available"), "short", width=4,
              description="Agents of the queue available now."),
        _tile(ids, "Busy", agents("busy"), "short", width=4,
              description="Agents of the queue handling a contact now."),
        _tile(ids, "After-call work", agents("after_call_work"), "short", width=4,
              description="Agents of the queue in after-call work now."),
        _tile(ids, "Away", agents("away"), "short", width=4,
              description="Agents of the queue logged in but away (offline is not counted)."),
        _tile(ids, "Occupancy today", f"contact_centre_occupancy_ratio{{{Q},{today}}}",
              "percentunit", width=4, description="Busy + after-call work ÷ (that + available) "
                                                  "agent time, since local midnight."),
        _tile(ids, "Contacts per agent-hour today",
              f"contact_centre_contacts_per_staffed_agent_hour{{{Q},{today}}}", "short",
              width=4, description="(Tickets solved + calls completed) ÷ staffed agent-hours "
                                   "(every state but offline), since local midnight."),
        _colour(
            g(ids, "Agents by state", [(agents(s), s) for s, _ in AGENT_STATES], "short",
              width=24, stacked=True, description="Agents serving the queue by their newest "
                                                  "state; an agent serving several queues "
                                                  "counts in each."),
            AGENT_STATES,
        ),
        g(ids, "Occupancy by window", [
            (f"contact_centre_occupancy_ratio{{{Q}}}", "{{window}}"),
        ], "percentunit", description="Agent time busy or in after-call work ÷ (that + "
                                      "available), per window; no data without staffed time."),
        g(ids, "Contacts per staffed agent-hour by window", [
            (f"contact_centre_contacts_per_staffed_agent_hour{{{Q}}}", "{{window}}"),
        ], "short", description="(Tickets solved + calls completed) ÷ staffed agent-hours."),
        dash.Row("Customers").id(ids()),
        _tile(ids, "Churned today (UTC)", summed(churned, today), "short", width=4,
              description="customer.churned events since UTC midnight, all queues (churn has "
                          "no queue), summed over workers."),
        _tile(ids, "Churned after a contact today",
              f"{summed(after, today)} / {summed(churned, today)}", "percentunit", width=5,
              description="Share of today's churned customers who had a ticket in the 30 days "
                          "before churning."),
        _tile(ids, "Churned after a contact (all time)", share_after_all, "percentunit",
              width=5, description="Share of all churned customers who had a ticket in the 30 "
                                   "days before churning."),
        _tile(ids, "Conversion after contact in $queue", queue_conversion, "percentunit",
              width=5, description="Contacts of the queue followed by an order of the same "
                                   "customer within the conversion horizon ÷ the queue's "
                                   "contacts naming a customer (all time)."),
        _tile(ids, "Conversion after contact, all queues", conversion, "percentunit", width=5,
              description="The same over the contacts of every queue."),
        g(ids, "Churned customers by window (UTC)", [
            (f"sum by (window) ({churned})", "churned {{window}}"),
            (f"sum by (window) ({after})", "after a contact {{window}}"),
        ], "short", description="Churns in the current UTC window, and those of customers with "
                                "a ticket in the 30 days before; summed over workers."),
        g(ids, "Share of churned customers who had a contact", [
            (share_after_all, "all time"),
            (f"{summed(after, today)} / {summed(churned, today)}", "today (UTC)"),
        ], "percentunit", description="Churned after a contact ÷ churned; no data while nobody "
                                      "churned."),
        g(ids, "Conversion after contact", [
            (queue_conversion, "$queue"),
            (conversion, "all queues"),
        ], "percentunit", description="Converted contacts ÷ contacts naming a customer, all "
                                      "time; contacts younger than the horizon can still "
                                      "convert, so the share of recent contacts grows."),
        g(ids, "Contacts with a customer and conversions in $queue", [
            (f"sum(contact_centre_contacts_with_customer_total{{{Q}}})",
             "contacts with a customer"),
            (f"sum(contact_centre_contacts_converted_total{{{Q}}})", "converted"),
        ], "short", description="All-time counts of the queue's contacts, summed over workers "
                                "(each worker counts the customers of its partitions, so rates "
                                "over a rebalance would be wrong; totals are not)."),
        # At the end, so that the ids of the panels above stay as they were.
        dash.Row("Churn rate and retention (all queues)").id(ids()),
        _tile(ids, "Active customers", "sum(contact_centre_customers_active)", "short", width=8,
              description="Customers with a contact (ticket) in the 30 days of event time "
                          "before their partition's newest fact, all queues, summed over "
                          "workers: the churn rate's denominator."),
        _tile(ids, "Churn rate today", churn_rate, "percentunit", width=8,
              description="Customers churned since UTC midnight ÷ active customers; no data "
                          "while no customer is active."),
        _tile(ids, "Retention today", f"1 - {churn_rate}", "percentunit", width=8,
              description="1 − churn rate today."),
        g(ids, "Churn rate today (UTC)", [
            (churn_rate, "churn rate"),
        ], "percentunit", description="Churned since UTC midnight ÷ active customers: it climbs "
                                      "through the day and restarts at 0 at UTC midnight "
                                      "(retention, 1 − churn rate, is the tile above)."),
        g(ids, "Active customers over time", [
            ("sum(contact_centre_customers_active)", "active customers"),
        ], "short", description="Customers with a contact in the 30 days of event time before "
                                "their partition's newest fact, summed over workers."),
        *_agent_panels(ids),
        # Estimated wait and staffing now (after the panels above, whose ids stay).
        dash.Row("Estimated wait and staffing in $queue").id(ids()),
        g(ids, "Agents required vs on queue", [
            (f"max by (model) (contact_centre_agents_required{{{Q}}})", "required ({{model}})"),
            (f"sum(contact_centre_agents_on_queue{{{Q}}})", "on queue"),
        ], "short", width=12, description="Agents needed to meet the service-level goal at the "
                                          "answer target (Erlang C; Erlang A with the observed "
                                          "patience) under the last full 15-minute window, "
                                          "against agents on queue now; the gap is the "
                                          "QueueUnderstaffed alert's."),
        g(ids, "Estimated wait time", [
            (f"max by (method) (contact_centre_ewt_seconds{{{Q}}})", "{{method}}"),
        ], "s", width=12, description="recent: mean wait of the last N answered calls; "
                                      "erlang_c: Erlang C mean wait with the agents on queue."),
        g(ids, "EWT error, median and 90th percentile (1h)", [
            (f"histogram_quantile(0.5, sum by (method, le) (increase("
             f"contact_centre_ewt_error_seconds_bucket{{{Q}}}[1h])))", "median {{method}}"),
            (f"histogram_quantile(0.9, sum by (method, le) (increase("
             f"contact_centre_ewt_error_seconds_bucket{{{Q}}}[1h])))", "p90 {{method}}"),
        ], "s", width=24, description="EWT shown when the call was queued minus the wait it "
                                      "had, for calls answered in the last hour (positive: told "
                                      "too long)."),
    ]  # fmt: skip
    d = _base(
        "cc-workforce",
        "Contact centre — workforce & customers",
        "Agents of one queue by state, occupancy and productivity; conversion after contact; "
        "churn, churn rate and retention of all customers.",
        ["workforce", "customers"],
    ).with_variable(_queue_variable(multi=False))
    return _add(d, panels).build()


def _agent_panels(ids: _Ids) -> list[_Item]:
    """Away reasons, rings and staffing of ``$queue`` (the workforce board's last row, so the
    ids of the panels before it stay as they were)."""
    g = _graph
    away = f'contact_centre_agents{{{Q},state="away"}}'
    return [
        dash.Row("Away reasons, rings and staffing in $queue").id(ids()),
        _tile(ids, "Staffed", f"sum(contact_centre_agents_staffed{{{Q}}})", "short", width=4,
              description="Agents logged in, in any state but offline (Amazon Connect's "
                          "Online)."),
        _tile(ids, "On queue", f"sum(contact_centre_agents_on_queue{{{Q}}})", "short",
              width=4, description="Agents available, busy or in after-call work: not away "
                                   "(Genesys Cloud's On Queue)."),
        _tile(ids, "Away share now", f"queue:contact_centre_agents_away:ratio{{{Q}}}",
              "percentunit", width=4, thresholds=_thresholds((None, "green"), (0.3, "red")),
              description="Agents away ÷ staffed now; red above the AgentsAwayShareHigh "
                          "limit (30 %)."),
        _tile(ids, "Agents ringing", f"sum(contact_centre_agents_ringing{{{Q}}})", "short",
              width=4, description="Rings open now: call.offered not yet answered or missed."),
        _tile(ids, "Rings answered today",
              f'queue_window:contact_centre_agent_answer_rate:ratio{{{Q},window="today"}}',
              "percentunit", width=4, description="Rings answered ÷ rings (call.offered) since "
                                                  "local midnight; no data without a ring."),
        _tile(ids, "Missed rings (1 h)",
              f"queue:contact_centre_agent_offers_missed:increase1h{{{Q}}}", "short", width=4,
              description="Rings that rang out or were rejected over the last hour (canceled "
                          "rings not counted)."),
        g(ids, "Away agents by reason", [
            (f"sum by (reason) ({away})", "{{reason}}"),
        ], "short", stacked=True, description="Agents away now by reason: the targets file's "
                                              "agent_reasons, every other reason as other."),
        g(ids, "Share of staffed time away by reason (today)", [
            (f'queue_window_reason:contact_centre_agent_away_time:ratio{{{Q},window="today"}}',
             "{{reason}}"),
        ], "percentunit", stacked=True, description="Agent-seconds away for each reason ÷ "
                                                    "staffed agent-seconds since local "
                                                    "midnight: \"12 % of staffed time on break "
                                                    "today\"."),
        g(ids, "Staffed, on queue and available", [
            (f"sum(contact_centre_agents_staffed{{{Q}}})", "staffed"),
            (f"sum(contact_centre_agents_on_queue{{{Q}}})", "on queue"),
            (f"sum(contact_centre_agents_available{{{Q}}})", "available"),
        ], "short", description="Staffed: every state but offline; on queue: not away; "
                                "available: idle and ready."),
        g(ids, "Rings and missed rings (15 min)", [
            (f"sum(increase(contact_centre_agent_offers_total{{{Q}}}[15m]))", "rings"),
            (f"sum by (reason) (increase(contact_centre_call_offers_missed_total{{{Q}}}[15m]))",
             "missed: {{reason}}"),
        ], "short", description="Rings of agents (call.offered) and the rings not taken, by "
                                "reason (no_answer, rejected, canceled), per 15 minutes."),
        g(ids, "Agent answer rate by window", [
            (f"queue_window:contact_centre_agent_answer_rate:ratio{{{Q}}}", "{{window}}"),
            (f"1 - queue:contact_centre_agent_offers_missed:ratio1h{{{Q}}}",
             "not missed, sliding 1 h"),
        ], "percentunit", width=24, description="Rings answered ÷ rings in the current window "
                                                "of each kind; and 1 − the share of the last "
                                                "hour's rings that rang out or were rejected "
                                                "(what AgentRingsMissed reads)."),
    ]  # fmt: skip


def _add(
    d: dash.Dashboard, panels: Sequence[dash.Row | stat.Panel | timeseries.Panel]
) -> dash.Dashboard:
    """Rows stay expanded: a row's panels follow it at the top level, as Grafana stores them
    (a collapsed row would hold them inside itself and hide them until clicked)."""
    for p in panels:
        d = d.with_row(p.collapsed(False)) if isinstance(p, dash.Row) else d.with_panel(p)
    return d


def dashboards(book: TargetBook) -> dict[str, model.Dashboard]:
    """File name -> dashboard."""
    return {
        "overview.json": overview(book),
        "queue.json": queue_drilldown(),
        "pipeline.json": pipeline(),
        "service-quality.json": service_quality(),
        "workforce.json": workforce(),
    }


def render(dashboard: model.Dashboard) -> str:
    """The dashboard as the committed JSON text."""
    return (
        json.dumps(dashboard, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the Grafana dashboards.")
    parser.add_argument("--targets", default=str(TARGETS_FILE), help="targets file (defaults)")
    parser.add_argument("-o", "--output", default=str(OUTPUT_DIR))
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for name, board in dashboards(load_targets(args.targets)).items():
        (out / name).write_text(render(board), encoding="utf-8")
        print(f"wrote {out / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

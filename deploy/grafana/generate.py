"""Generates the Grafana dashboards in ``deploy/grafana/dashboards/`` with grafana-foundation-sdk.

Three dashboards, each with a fixed ``uid`` so that links and provisioning survive a rebuild:

* ``cc-overview``: the live contact-centre overview, one row of tiles per queue (a row repeated
  over the ``queue`` variable). Tiles are coloured by the queue's own targets: each tile's
  second query reads the target from the recording rules of ``targets.rules.yml`` and Grafana's
  "Config from query results" transformation makes it the tile's threshold. The static
  thresholds, used until that query answers, are the targets file's defaults.
* ``cc-queue``: the drill-down of one queue: service level by window and over sliding windows
  with its goal, percentiles of answer wait, handle time, first response and resolution
  computed from the exported histograms, volumes, backlog, surveys.
* ``cc-pipeline``: pipeline health: accepted, rejected, duplicate and late events, partitions per
  worker, event-time lag, consumer lag, scrape health.

Every expression uses only metrics the workers export (``stream/metrics.py``), the recording
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
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, ref=chr(ord("A") + i)))
    return panel


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
    """One queue in depth: service level by window, percentiles from the histograms."""
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
    ]  # fmt: skip
    d = _base(
        "cc-queue",
        "Contact centre — queue drill-down",
        "One queue: service level by window, percentiles from the histograms, tickets, surveys.",
        ["queue"],
    ).with_variable(_queue_variable(multi=False))
    return _add(d, panels).build()


def pipeline() -> model.Dashboard:
    """Pipeline health: events in, rejects, partitions, lags."""
    ids = _Ids()
    worker = 'job="contact-centre-worker"'
    g = _graph
    panels: list[_Item] = [
        _tile(ids, "Workers up", f"sum(up{{{worker}}})", "short", width=4,
              description="Workers Prometheus scrapes successfully."),
        _tile(ids, "Partitions owned", "sum(contact_centre_worker_partitions)", "short",
              width=4, description="Sum over workers; equals STREAM_PARTITIONS when all are "
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
              width=4, description="Messages not yet consumed, from kafka-exporter."),
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
    ]  # fmt: skip
    d = _base(
        "cc-pipeline",
        "Contact centre — pipeline health",
        "Events in, rejects, partitions, event-time and consumer lag of the KPI workers.",
        ["pipeline"],
    )
    return _add(d, panels).build()


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

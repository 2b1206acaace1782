"""Grafana: the committed dashboards are what the generator makes, with fixed unique uids,
valid structure, PromQL that parses and reads only known metrics; provisioning points at them.

Whether every metric a panel reads is really exported is checked against a running worker in
``tests/integration/test_deploy_metrics.py``.
"""

from __future__ import annotations

from typing import Any

import yaml

from deploy.grafana import generate
from stream.config import load_targets
from tests.deploy.expressions import (
    DASHBOARDS_DIR,
    DEPLOY,
    dashboard_expressions,
    dashboards,
    metric_names,
    panels,
    recorded_names,
    unsummed_names,
)

UIDS = {
    "overview.json": "cc-overview",
    "queue.json": "cc-queue",
    "pipeline.json": "cc-pipeline",
    "service-quality.json": "cc-service-quality",
    "workforce.json": "cc-workforce",
}
# Families that the quality, workforce and pipeline boards show (sample names as PromQL reads
# them): each must be read by a panel of the board named.
BOARD_FAMILIES = {
    "service-quality.json": {
        "contact_centre_csat_ratio", "contact_centre_csat_mean_score",
        "contact_centre_csat_wilson_lower_ratio", "contact_centre_csat_wilson_upper_ratio",
        "contact_centre_csat_responses", "contact_centre_csat_ratio_change",
        "contact_centre_nps_score", "contact_centre_nps_responses",
        "contact_centre_nps_promoters", "contact_centre_nps_passives",
        "contact_centre_nps_detractors", "contact_centre_nps_score_change",
        "contact_centre_resolved_within_target_ratio", "contact_centre_reopen_rate_ratio",
        "contact_centre_escalation_rate_ratio", "contact_centre_first_contact_resolution_ratio",
        "contact_centre_complaint_rate_ratio", "contact_centre_complaint_rate_change_ratio",
        "contact_centre_sla_breached", "contact_centre_sla_at_risk",
        "contact_centre_tickets_open_by_age", "contact_centre_full_resolution_seconds_bucket",
    },
    "workforce.json": {
        "contact_centre_agents", "contact_centre_occupancy_ratio",
        "contact_centre_agents_required", "contact_centre_agents_on_queue",
        "contact_centre_ewt_seconds", "contact_centre_ewt_error_seconds_bucket",
        "contact_centre_contacts_per_staffed_agent_hour",
        "contact_centre_customers_churned_total",
        "contact_centre_customers_churned_after_contact_total",
        "contact_centre_customers_churned_in_window",
        "contact_centre_customers_churned_after_contact_in_window",
        "contact_centre_customers_active",
        "contact_centre_contacts_with_customer_total", "contact_centre_contacts_converted_total",
        # Away reasons, rings and staffing (issue 17 items 1-3), exported and recorded.
        "contact_centre_agents_staffed", "contact_centre_agents_available",
        "contact_centre_agents_ringing",
        "contact_centre_agent_offers_total", "contact_centre_call_offers_missed_total",
        "queue:contact_centre_agents_away:ratio",
        "queue_window:contact_centre_agent_answer_rate:ratio",
        "queue_window_reason:contact_centre_agent_away_time:ratio",
        "queue:contact_centre_agent_offers_missed:increase1h",
        "queue:contact_centre_agent_offers_missed:ratio1h",
    },
    "pipeline.json": {"contact_centre_snapshot_errors_total"},
    "queue.json": {
        "contact_centre_calls_transferred_in_window", "contact_centre_calls_transferred_total",
        "contact_centre_calls_transferred_in_total", "contact_centre_callbacks_waiting",
        "contact_centre_oldest_callback_waiting_seconds",
        "contact_centre_callbacks_requested_in_window",
        "contact_centre_callbacks_completed_in_window", "contact_centre_callbacks_completed_total",
        "contact_centre_calls_abandoned_on_hold_in_window",
        "contact_centre_calls_abandoned_on_hold_total",
        "contact_centre_calls_waiting_by_priority", "contact_centre_tickets_open_by_priority",
    },
}  # fmt: skip


def test_committed_dashboards_are_the_generated_ones() -> None:
    generated = generate.dashboards(load_targets(generate.TARGETS_FILE))
    assert set(generated) == {p.name for p in DASHBOARDS_DIR.glob("*.json")}
    for name, board in generated.items():
        committed = (DASHBOARDS_DIR / name).read_text(encoding="utf-8")
        assert committed == generate.render(board), f"run `make dashboards`: {name} differs"


def test_uids_are_fixed_and_unique() -> None:
    boards = dashboards()
    assert {name: b["uid"] for name, b in boards.items()} == UIDS
    titles = [b["title"] for b in boards.values()]
    assert len(set(titles)) == len(titles)


def _check_panel(name: str, panel: dict[str, Any]) -> None:
    where = f"{name}: {panel.get('title')!r}"
    assert panel["type"] in {"stat", "timeseries"}, where
    assert panel["title"] and panel.get("description"), where
    assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, where
    grid = panel["gridPos"]
    assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
    refs = [t["refId"] for t in panel["targets"]]
    assert refs and len(refs) == len(set(refs)), where
    for target in panel["targets"]:
        assert target["datasource"]["uid"] == "prometheus", where
        assert target["expr"].strip(), where
    for transformation in panel.get("transformations", []):
        # The target query that colours a tile must exist in the panel.
        if transformation["id"] == "configFromData":
            assert transformation["options"]["configRefId"] in refs, where


def test_panels_are_well_formed() -> None:
    for name, board in dashboards().items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in panels(board):
            _check_panel(name, panel)


def test_overview_has_a_row_of_tiles_per_queue_coloured_by_targets() -> None:
    board = dashboards()["overview.json"]
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert len(rows) == 1 and rows[0]["repeat"] == "queue" and rows[0]["collapsed"] is False
    variable = board["templating"]["list"][0]
    assert variable["name"] == "queue" and variable["multi"] and variable["includeAll"]
    tiles = panels(board)
    coloured = [t for t in tiles if t.get("transformations")]
    assert len(coloured) >= 6
    for tile in coloured:
        target = next(t for t in tile["targets"] if t["refId"] == "TARGET")
        # The thresholds come from the targets' recording rules, per queue.
        assert metric_names(target["expr"]) <= recorded_names(), tile["title"]
        steps = tile["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert len(steps) == 2 and steps[0]["value"] is None


def test_static_thresholds_are_the_targets_defaults() -> None:
    tiles = {t["title"]: t for t in panels(dashboards()["overview.json"])}

    def threshold(title: str) -> float:
        value: float = tiles[title]["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"]
        return value

    assert threshold("Service level today") == 0.8  # kpis.md: goal 80 %
    assert threshold("Oldest call waiting") == 20  # answer target 20 s
    assert threshold("Handle time today") == 360  # 6 min
    assert threshold("Oldest unanswered ticket") == 86400  # largest: email 24 h


def test_drilldown_reads_percentiles_from_the_histograms() -> None:
    board = dashboards()["queue.json"]
    exprs = " ".join(t["expr"] for p in panels(board) for t in p["targets"])
    for histogram in ("first_response_seconds", "handle_time_seconds", "answer_wait_seconds"):
        assert f"rate(contact_centre_{histogram}_bucket" in exprs
    assert "histogram_quantile(0.9," in exprs
    assert 'contact_centre_service_level_ratio{queue="$queue"}' in exprs


def _reads(board: dict[str, Any]) -> set[str]:
    return {name for p in panels(board) for t in p["targets"] for name in metric_names(t["expr"])}


def test_quality_workforce_and_pipeline_boards_show_their_families() -> None:
    boards = dashboards()
    for name, families in BOARD_FAMILIES.items():
        assert families <= _reads(boards[name]), f"{name}: {families - _reads(boards[name])}"


def _titled(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in panels(board)}


def test_quality_board_follows_the_queue_and_window_variables() -> None:
    board = dashboards()["service-quality.json"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["queue"]["type"] == "query" and not variables["queue"]["multi"]
    window = variables["window"]
    assert window["type"] == "custom" and window["query"] == "today,1h,15m"
    assert window["current"]["value"] == "today"
    for panel in panels(board):
        for target in panel["targets"]:
            assert 'queue="$queue"' in target["expr"], (panel["title"], target["expr"])
            # A window gauge is read in the chosen window, named in the legend or the title.
            if 'window="$window"' in target["expr"]:
                assert "$window" in panel["title"] + target.get("legendFormat", "")


def test_quality_board_shades_the_wilson_interval_and_stacks_ages_in_order() -> None:
    titled = _titled(dashboards()["service-quality.json"])
    csat = titled["CSAT and its Wilson 95 % interval ($window)"]
    legends = [t["legendFormat"] for t in csat["targets"]]
    assert legends == ["CSAT", "upper 95 %", "lower 95 %"]
    upper = next(
        o for o in csat["fieldConfig"]["overrides"] if o["matcher"]["options"] == "upper 95 %"
    )
    assert {"id": "custom.fillBelowTo", "value": "lower 95 %"} in upper["properties"]
    ages = titled["Tickets open by age"]
    assert ages["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert [t["legendFormat"] for t in ages["targets"]] == list(generate.AGE_BUCKETS)
    full = " ".join(t["expr"] for t in titled["Full resolution time percentiles"]["targets"])
    assert "histogram_quantile(0.5," in full and "histogram_quantile(0.99," in full


def test_workforce_board_stacks_agents_and_sums_customers_over_workers() -> None:
    board = dashboards()["workforce.json"]
    titled = _titled(board)
    agents = titled["Agents by state"]
    assert agents["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert [t["legendFormat"] for t in agents["targets"]] == [
        "available", "busy", "after_call_work", "away",
    ]  # fmt: skip
    conversion = [t["expr"] for t in titled["Conversion after contact"]["targets"]]
    assert conversion == [
        'sum(contact_centre_contacts_converted_total{queue="$queue"}) / '
        'sum(contact_centre_contacts_with_customer_total{queue="$queue"})',
        "sum(contact_centre_contacts_converted_total) / "
        "sum(contact_centre_contacts_with_customer_total)",
    ]
    for panel in panels(board):
        for target in panel["targets"]:
            expr, names = target["expr"], metric_names(target["expr"])
            if any("churned" in n for n in names):
                # Churn has no queue label.
                assert "queue=" not in expr, panel["title"]
            if any("customer" in n or "contacts_converted" in n for n in names):
                # Every worker exports its customers' part: summed, and never rate() of it
                # (a counter summed over workers drops when a partition moves).
                assert not unsummed_names(expr), panel["title"]
                assert "rate(" not in expr, panel["title"]
                assert "increase(" not in expr, panel["title"]
            elif names:
                assert 'queue="$queue"' in expr, panel["title"]


def test_workforce_board_splits_away_agents_by_reason_and_colours_the_away_share() -> None:
    titled = _titled(dashboards()["workforce.json"])
    by_reason = titled["Away agents by reason"]
    assert by_reason["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert [(t["expr"], t["legendFormat"]) for t in by_reason["targets"]] == [
        ('sum by (reason) (contact_centre_agents{queue="$queue",state="away"})', "{{reason}}")
    ]
    share = titled["Away share now"]
    assert [t["expr"] for t in share["targets"]] == [
        'queue:contact_centre_agents_away:ratio{queue="$queue"}'
    ]
    steps = share["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "green", "value": None}, {"color": "red", "value": 0.3}]
    ids = [p["id"] for p in panels(dashboards()["workforce.json"])]
    assert len(ids) == len(set(ids))


def test_workforce_board_shows_churn_rate_over_active_customers_and_retention() -> None:
    board = dashboards()["workforce.json"]
    titled = _titled(board)
    churned = 'sum(contact_centre_customers_churned_in_window{window="today"})'
    active = "sum(contact_centre_customers_active)"
    # 0 while nobody churned today (no window gauge yet); no data without an active customer.
    rate = f"({churned} or vector(0)) / ({active} > 0)"

    def exprs(title: str) -> list[str]:
        return [t["expr"] for t in titled[title]["targets"]]

    assert titled["Active customers"]["type"] == "stat"
    assert exprs("Active customers") == [active]
    assert titled["Churn rate today"]["type"] == "stat"
    assert exprs("Churn rate today") == [rate]
    assert exprs("Retention today") == [f"1 - {rate}"]
    assert exprs("Churn rate today (UTC)") == [rate]
    assert exprs("Active customers over time") == [active]
    for title in ("Churn rate today", "Retention today", "Churn rate today (UTC)"):
        assert titled[title]["fieldConfig"]["defaults"]["unit"] == "percentunit", title
    # Appended in a row of their own: the panels before keep their ids.
    ids = {p["title"]: p["id"] for p in board["panels"]}
    assert ids["Contacts with a customer and conversions in $queue"] == 20
    assert ids["Churn rate and retention (all queues)"] == 21


def test_pipeline_board_shows_snapshot_errors() -> None:
    titled = _titled(dashboards()["pipeline.json"])
    tile = titled["Snapshot errors (15 min)"]
    assert tile["type"] == "stat"
    assert tile["fieldConfig"]["defaults"]["thresholds"]["steps"][1] == {"color": "red", "value": 1}
    assert titled["Wallboard snapshot errors"]["type"] == "timeseries"


def test_every_expression_reads_exported_recorded_or_named_external_metrics() -> None:
    known = recorded_names() | set(generate.EXTERNAL_METRICS)
    for expression in dashboard_expressions():
        for name in metric_names(expression.promql):
            assert name in known or name.startswith("contact_centre_"), (
                f"{expression.where}: unknown metric {name}"
            )


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert [(s["uid"], s["type"]) for s in sources["datasources"]] == [("prometheus", "prometheus")]
    providers = yaml.safe_load((provisioning / "dashboards" / "contact-centre.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"

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
)

UIDS = {"overview.json": "cc-overview", "queue.json": "cc-queue", "pipeline.json": "cc-pipeline"}


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

"""Every PromQL expression of the deployment, and the metric names each one reads.

Shared by the file checks of ``tests/deploy`` and the integration test that scrapes a real
worker (``tests/integration/test_deploy_metrics.py``). Expressions are parsed with
promql-parser, so a name is a metric only where PromQL reads it as one (not a label, function
or string).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import promql_parser
import yaml

ROOT: Final = Path(__file__).resolve().parents[2]
DEPLOY: Final = ROOT / "deploy"
RULES_DIR: Final = DEPLOY / "prometheus" / "rules"
RULE_TESTS_DIR: Final = DEPLOY / "prometheus" / "tests"
DASHBOARDS_DIR: Final = DEPLOY / "grafana" / "dashboards"

# Grafana's variables, replaced by values of the right kind so that the expression parses.
_GRAFANA_VARIABLES: Final = (
    ("$__rate_interval", "5m"),
    ("$__interval", "1m"),
    ("$__range", "1h"),
    ("$queue", "billing"),
)


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it is written."""

    where: str
    promql: str


def rule_documents() -> dict[str, dict[str, Any]]:
    """Rule file name -> parsed YAML."""
    return {
        path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(RULES_DIR.glob("*.yml"))
    }


def rules() -> list[dict[str, Any]]:
    """Every recording and alerting rule of every rule file."""
    return [
        rule
        for doc in rule_documents().values()
        for group in doc["groups"]
        for rule in group["rules"]
    ]


def recorded_names() -> set[str]:
    """The metric names the recording rules create."""
    return {rule["record"] for rule in rules() if "record" in rule}


def rule_expressions() -> list[Expression]:
    return [
        Expression(f"rule {rule.get('record') or rule.get('alert')}", rule["expr"])
        for rule in rules()
    ]


def dashboards() -> dict[str, dict[str, Any]]:
    """Dashboard file name -> parsed JSON."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel of a dashboard, rows' nested panels included, rows excluded."""
    out: list[dict[str, Any]] = []
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            out.extend(panels(panel))
        else:
            out.append(panel)
    return out


def dashboard_expressions() -> list[Expression]:
    out: list[Expression] = []
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                out.append(Expression(f"{name}: {panel['title']!r}", target["expr"]))
        for variable in board.get("templating", {}).get("list", []):
            query = variable.get("query")
            match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", str(query))
            if match:
                out.append(Expression(f"{name}: variable {variable['name']}", match[1]))
    return out


def all_expressions() -> list[Expression]:
    return [*rule_expressions(), *dashboard_expressions()]


def parse(promql: str) -> promql_parser.Expr:
    for variable, value in _GRAFANA_VARIABLES:
        promql = promql.replace(variable, value)
    return promql_parser.parse(promql)


def metric_names(promql: str) -> set[str]:
    """The metric names ``promql`` selects (raises ``ValueError`` if it does not parse)."""
    names: set[str] = set()
    _walk(parse(promql), names)
    return names


def unsummed_names(promql: str) -> set[str]:
    """The metric names ``promql`` selects outside every ``sum`` aggregation."""
    names: set[str] = set()
    _walk(parse(promql), names, skip_sums=True)
    return names


def _walk(node: object, names: set[str], skip_sums: bool = False) -> None:
    if skip_sums and isinstance(node, promql_parser.AggregateExpr) and str(node.op) == "sum":
        return
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            names.add(node.name)
        for matcher in node.matchers.matchers:
            if matcher.name == "__name__":
                names.add(matcher.value)
    elif isinstance(node, promql_parser.MatrixSelector):
        _walk(node.vector_selector, names, skip_sums)
    elif isinstance(node, promql_parser.BinaryExpr):
        _walk(node.lhs, names, skip_sums)
        _walk(node.rhs, names, skip_sums)
    elif isinstance(node, promql_parser.AggregateExpr):
        _walk(node.expr, names, skip_sums)
        if node.param is not None:
            _walk(node.param, names, skip_sums)
    elif isinstance(
        node, promql_parser.UnaryExpr | promql_parser.ParenExpr | promql_parser.SubqueryExpr
    ):
        _walk(node.expr, names, skip_sums)
    elif isinstance(node, promql_parser.Call):
        for arg in node.args:
            _walk(arg, names, skip_sums)

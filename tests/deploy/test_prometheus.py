"""Prometheus files checked by promtool itself: rule syntax, the scrape config, the rule tests.

Also: every alert has a unit test where it fires and one where it stays quiet, and the target
rules are what ``deploy/prometheus/generate.py`` makes of the example targets file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.prometheus import generate
from stream.config import load_targets, parse_targets
from tests.deploy.expressions import (
    DEPLOY,
    RULE_TESTS_DIR,
    RULES_DIR,
    all_expressions,
    metric_names,
    rules,
)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make system` installs Debian's prometheus"
)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


@needs_promtool
def test_rule_files_pass_promtool_check_rules() -> None:
    files = sorted(RULES_DIR.glob("*.yml"))
    assert {f.name for f in files} == {
        "alerts.yml",
        "contact-centre.rules.yml",
        "targets.rules.yml",
    }
    result = promtool("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rule_unit_tests_pass() -> None:
    tests = sorted(RULE_TESTS_DIR.glob("*.test.yml"))
    assert tests
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests), result.stdout


@needs_promtool
def test_a_wrong_expectation_fails_the_rule_tests(tmp_path: Path) -> None:
    """The rule tests can fail: the same test with one expected value changed does."""
    source = RULE_TESTS_DIR / "live-targets.test.yml"
    doc = yaml.safe_load(source.read_text())
    doc["rule_files"] = [str(RULES_DIR / Path(f).name) for f in doc["rule_files"]]
    sample = doc["tests"][0]["promql_expr_test"][0]["exp_samples"][0]
    sample["value"] += 1
    broken = tmp_path / "broken.test.yml"
    broken.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = promtool("test", "rules", broken)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


@needs_promtool
def test_scrape_config_with_its_rules_passes_promtool_check_config(tmp_path: Path) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    # In the container the rules are mounted at /etc/prometheus/rules; check the repo's copy.
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    config["rule_files"] = [str(RULES_DIR / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = promtool("check", "config", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 rules files found" in result.stdout + result.stderr or "SUCCESS" in result.stdout


def test_workers_are_found_by_dns_on_their_web_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker = jobs["contact-centre-worker"]
    assert worker["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": 6066, "refresh_interval": "15s"}
    ]
    # The alert rules select the workers by this job name.
    alerts = (RULES_DIR / "alerts.yml").read_text()
    assert 'up{job="contact-centre-worker"}' in alerts


def _alert_tests() -> dict[str, dict[str, int]]:
    """Alert name -> {"fires": n, "quiet": n} over every rule test file."""
    seen: dict[str, dict[str, int]] = {}
    for path in sorted(RULE_TESTS_DIR.glob("*.test.yml")):
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                kind = "fires" if case.get("exp_alerts") else "quiet"
                counts = seen.setdefault(case["alertname"], {"fires": 0, "quiet": 0})
                counts[kind] += 1
    return seen


def test_every_alert_has_a_test_that_fires_and_one_that_does_not() -> None:
    alerts = [rule["alert"] for rule in rules() if "alert" in rule]
    assert len(alerts) == len(set(alerts)), "alert names must be unique"
    tested = _alert_tests()
    missing = [
        name
        for name in alerts
        if tested.get(name, {}).get("fires", 0) < 1 or tested.get(name, {}).get("quiet", 0) < 1
    ]
    assert not missing, f"alerts without a firing and a quiet test: {missing}"
    assert set(tested) <= set(alerts), f"tests of unknown alerts: {set(tested) - set(alerts)}"


def test_every_alert_routes_and_documents() -> None:
    readme = (DEPLOY / "README.md").read_text().lower()
    for rule in rules():
        if "alert" not in rule:
            continue
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["labels"]["category"] in {"service", "pipeline"}, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert'].lower()}" in readme, f"deploy/README.md lacks {anchor}"


def test_every_expression_parses() -> None:
    for expression in all_expressions():
        try:
            metric_names(expression.promql)
        except ValueError as error:  # pragma: no cover - the message is the point
            pytest.fail(f"{expression.where}: {error}")


def test_committed_target_rules_match_the_example_targets_file() -> None:
    committed = (RULES_DIR / "targets.rules.yml").read_text(encoding="utf-8")
    book = load_targets(generate.DEFAULT_TARGETS)
    assert committed == generate.render(book, "deploy/targets.example.yaml"), (
        "run `make target-rules` and commit deploy/prometheus/rules/targets.rules.yml"
    )


@needs_promtool
def test_target_rules_of_another_targets_file(tmp_path: Path) -> None:
    """A file with other defaults and one queue: the queue's and the defaults' values."""
    book = parse_targets(
        "defaults:\n  service_level_goal: 0.7\n  answer_target_seconds: 40\n"
        "queues:\n  vip:\n    service_level_goal: 95%\n    channels:\n"
        "      chat:\n        answer_target_seconds: 5\n"
    )
    rules_path = tmp_path / "targets.rules.yml"
    rules_path.write_text(generate.render(book, "test"))
    worker = 'job="contact-centre-worker",instance="w1:6066"'
    series = [
        f'contact_centre_last_event_timestamp_seconds{{queue="other",{worker}}}',
        f'contact_centre_calls_offered_total{{queue="other",channel="phone",{worker}}}',
        f'contact_centre_calls_offered_total{{queue="vip",channel="chat",{worker}}}',
    ]
    goal = "queue:contact_centre_service_level_goal:ratio"
    answer = "queue:contact_centre_answer_target:max_seconds"
    expected: dict[str, dict[str, float]] = {
        goal: {"vip": 0.95, "other": 0.7},
        answer: {"vip": 5, "other": 40},
    }
    test = {
        "rule_files": [str(rules_path)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": "1+1x5"} for s in series],
                "promql_expr_test": [
                    {
                        "expr": name,
                        "eval_time": "2m",
                        "exp_samples": [
                            {"labels": f'{name}{{queue="{queue}"}}', "value": value}
                            for queue, value in values.items()
                        ],
                    }
                    for name, values in expected.items()
                ],
            }
        ],
    }
    path = tmp_path / "targets.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr

"""Alertmanager's routing, checked by amtool: a valid config; alerts reach the right team."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.deploy.expressions import DEPLOY, rules

AMTOOL = shutil.which("amtool")
CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
pytestmark = pytest.mark.skipif(
    AMTOOL is None, reason="amtool missing: `make system` installs prometheus-alertmanager"
)


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def test_config_passes_amtool_check_config() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["category=service", "queue=billing", "severity=warning"], "billing-team"),
        (["category=service", "queue=billing", "severity=critical"], "billing-team-pager"),
        (["category=service", "queue=payments", "severity=warning"], "billing-team"),
        (["category=service", "queue=tech-support", "severity=critical"], "support-team-pager"),
        (["category=service", "queue=tech-support", "severity=warning"], "support-team"),
        (["category=service", "queue=sales", "severity=critical"], "sales-team"),
        (["category=service", "queue=returns", "severity=warning"], "contact-centre-ops"),
        (["category=service", "queue=returns", "severity=critical"], "contact-centre-ops-pager"),
        (["category=pipeline", "severity=warning", "alertname=StaleData"], "platform"),
        (["category=pipeline", "severity=critical", "alertname=StreamWorkerDown"],
         "platform-pager"),
        # A queue named like a pipeline alert's label value still routes by category.
        (["category=pipeline", "queue=billing", "severity=warning"], "platform"),
        (["alertname=Watchdog"], "contact-centre-ops"),
        # The SLA-timer alerts: a caller past target pages, tickets go to the channel.
        (["alertname=CallsPastAnswerDeadline", "category=service", "queue=billing",
          "severity=critical"], "billing-team-pager"),
        (["alertname=TicketsPastSlaDeadline", "category=service", "queue=tech-support",
          "kind=resolution", "severity=warning"], "support-team"),
        (["alertname=WallboardSnapshotsFailing", "category=pipeline", "instance=w1:6066",
          "severity=warning"], "platform"),
    ],
)  # fmt: skip
def test_alerts_route_by_category_team_and_severity(labels: list[str], receiver: str) -> None:
    result = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={receiver}",
        *labels,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_a_wrong_receiver_fails_the_routing_check() -> None:
    result = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", "--verify.receivers=platform",
        "category=service", "queue=billing", "severity=warning",
    )  # fmt: skip
    assert result.returncode != 0


def test_inhibitions_name_existing_alerts() -> None:
    """A renamed alert must not leave an inhibition that silently matches nothing."""
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    config = yaml.safe_load(CONFIG.read_text())
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            name, _, value = matcher.partition("=")
            if name == "alertname":
                assert value.strip('"') in alerts, matcher


def test_every_alert_carries_the_labels_the_routes_match() -> None:
    for rule in rules():
        if "alert" in rule:
            assert {"severity", "category"} <= set(rule["labels"]), rule["alert"]

"""The command line: every command has working help, and expected failures exit cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from stream.cli.main import main
from stream.dev.demo import parse_metric_totals, summary_line
from stream.dev.simulate import PublishStats

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("demo", "broker", "worker", "simulate", "replay", "wallboard", "schema")


def clean_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    environ.update(extra or {})
    return environ


@pytest.fixture(scope="module")
def helps() -> dict[str, subprocess.CompletedProcess[str]]:
    """``python -m stream [command] --help`` for every command, run in parallel."""
    argvs = {"": ["--help"], **{command: [command, "--help"] for command in COMMANDS}}
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "stream", *argv],
            cwd=ROOT,
            env=clean_environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, argv in argvs.items()
    }
    results = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=30)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


def test_top_level_help_lists_every_command(
    helps: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = helps[""]
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(
    helps: dict[str, subprocess.CompletedProcess[str]], command: str
) -> None:
    result = helps[command]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m stream {command}")
    assert "STREAM_BROKER_URL" in result.stdout


# The failure paths run in-process: the same code, without the cost of a Python start-up each.


def run_main(monkeypatch: pytest.MonkeyPatch, *argv: str, env: dict[str, str] | None = None) -> int:
    for name in [k for k in os.environ if k.startswith("STREAM_")]:
        monkeypatch.delenv(name)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    try:
        return main(list(argv))
    except SystemExit as exit_:  # argparse usage errors
        return int(exit_.code or 0)


def test_no_command_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch) == 2
    assert "required" in capsys.readouterr().err


def test_a_bad_setting_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, "simulate", env={"STREAM_WEB_PORT": "not-a-port"}) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("configuration error: STREAM_WEB_PORT='not-a-port'")


def test_bad_arguments_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, "simulate", "--dirty", "2") == 2
    assert run_main(monkeypatch, "replay", "events.ndjson", "--speed", "-1") == 2
    assert run_main(monkeypatch, "broker", "--port", "70000") == 2
    capsys.readouterr()
    assert run_main(monkeypatch, "replay", "does-not-exist.ndjson") == 2
    assert "does-not-exist.ndjson" in capsys.readouterr().err


def test_wallboard_without_redis_url_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, "wallboard") == 2
    assert "STREAM_REDIS_URL is not set" in capsys.readouterr().err
    assert run_main(monkeypatch, "wallboard", "--port", "0") == 2


def test_simulate_record_writes_ndjson_without_a_broker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "events.ndjson"
    argv = ("simulate", "--record", str(path), "--events", "50", "--seed", "7")
    assert run_main(monkeypatch, *argv) == 0
    assert len(path.read_bytes().splitlines()) == 50


def test_demo_summary_reads_prometheus_text() -> None:
    text = """\
# HELP contact_centre_calls_offered_total Calls offered.
# TYPE contact_centre_calls_offered_total counter
contact_centre_calls_offered_total{queue="billing",channel="phone"} 12.0
contact_centre_calls_offered_total{queue="sales",channel="phone"} 3.0
contact_centre_calls_waiting{queue="sales"} 2
contact_centre_service_level_ratio{queue="sales",window="15m"} NaN
contact_centre_events_duplicate_total 4.0
"""
    totals = parse_metric_totals(text)
    assert totals == {
        "contact_centre_calls_offered_total": 15.0,
        "contact_centre_calls_waiting": 2.0,
        "contact_centre_events_duplicate_total": 4.0,
    }
    line = summary_line(totals, PublishStats(events=20, dirty=1), datetime(2026, 1, 1, 9, 5, 0))
    assert line.startswith("09:05:00  published 20 (+1 bad, +0 dup)")
    assert "calls offered 15" in line and "waiting 2" in line and "dup 4" in line
    assert "tickets created -" in line  # absent metrics show as "-"
    line = summary_line(totals, PublishStats(), datetime(2026, 1, 1, 9, 5, 0), queue_log_lines=7)
    assert line.startswith("09:05:00  queue_log lines 7 | accepted -")

"""``make bench``'s harness, run small (``--smoke``): it works end to end. Times nothing."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_smoke_run_writes_the_report_and_the_plot(tmp_path: Path) -> None:
    doc, png, work = tmp_path / "benchmarks.md", tmp_path / "benchmarks.png", tmp_path / "work"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--work-dir", str(work),
         "--doc", str(doc), "--plot", str(png)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]

    text = doc.read_text()
    for row in (
        "| Raw aiokafka consumer + validating decode (ceiling) |",
        "| Full KPI pipeline, one worker |",
        "| Publish → /metrics latency p99 at",
        "| Publish → booked p50 / p99 at",
        "| Resident bytes per open contact |",
        "| Recovery: restart → exact metrics after 3,000 events |",
        "| Failover: one of two workers SIGKILLed → the other exact for all partitions",
    ):
        assert row in text, row
    assert "## The machine" in text and "faust-streaming" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    results = json.loads((work / "results.json").read_text())
    # Each phase only reports once the worker accounted for every event it was sent.
    assert results["plan"]["events"] == 3000
    assert results["ceiling_rate"] > 0 and results["pipeline_rate"] > 0
    assert results["recovery_seconds"] > 0
    assert len(results["failover_seconds"]) == 1 and results["failover_seconds"][0] > 0
    assert 0 < results["latency_p50"] <= results["latency_p99"] <= results["latency_max"]
    booked = results[
        "booked"
    ]  # the worker's own histogram: every call and ticket event of the phase
    assert booked["count"] > 0 and 0 <= booked["p50"] <= booked["p99"] <= booked["max_bound"]
    assert results["rss_before"] > 0 and results["rss_after"] > 0
    # The backlog phase: both reads exact, nothing late, every due window compared.
    assert [b["alignment_seconds"] for b in results["backlogs"]] == [600.0, 0.0]
    for b in results["backlogs"]:
        assert b["late"] == 0 and b["windows_wrong"] == 0
        assert 0 < b["windows_exact"] == b["windows_expected"]
        assert b["rate"] > 0 and b["peak_rss"] > 0 and b["peak_windows_open"] > 0
    assert "| Backlog read (alignment 600 s): late events, closed windows exact |" in text
    # The wallboard phase: the page in headless Chromium, every last value shown.
    assert "## Wallboard" in text and "| after (this tree) |" in text
    (board,) = results["wallboard"]
    assert board["plan"]["tiles"] == 20 and board["changes"] == 30
    assert board["catch_up_seconds"] is not None and 0 < board["busy"] < 1
    # The connectors: every line and callback accounted for before a rate is reported.
    assert "## Connectors" in text and "| Asterisk `queue_log` → broker acks, end to end |" in text
    ingest = results["connectors"]
    assert ingest["lines"] > 0 and ingest["events"] > 0 and ingest["raw_events_per_second"] > 0
    assert ingest["asterisk_lines_per_second"] > 0
    assert ingest["twilio"]["callbacks"] > 0 and ingest["twilio"]["callbacks_per_second"] > 0
    gateway = ingest["webhooks"]
    (chatwoot,) = gateway["chatwoot"]
    assert chatwoot["requests"] == gateway["deliveries"] > 0
    assert 0 < chatwoot["latency_median_ms"] <= chatwoot["latency_p99_ms"]
    assert gateway["generic"]["events"] > 0 and gateway["generic"]["events_per_second"] > 0
    assert "| Webhook gateway: requests/s at p99 < 50 ms |" in text
    # The side by side: every contender that ran is exact; an absent bench extra is said so.
    assert "## Side by side" in text and "| counters exact |" in text
    side = results["rivals"]
    assert side["events"] == 3000 and side["runs"]
    assert {"raw", "worker"} <= {r["contender"] for r in side["runs"]}
    assert all(r["exact"] and r["events"] == 3000 for r in side["runs"])


def test_profile_smoke_run_writes_the_flame_graph_and_the_tables(tmp_path: Path) -> None:
    doc, svg, work = tmp_path / "benchmarks.md", tmp_path / "profile.svg", tmp_path / "work"
    doc.write_text("# Benchmarks\n\n## Wallboard\n\nkept\n")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.profile", "--smoke", "--work-dir", str(work),
         "--doc", str(doc), "--svg", str(svg)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    text = doc.read_text()
    assert "## Wallboard\n\nkept\n" in text  # the rest of the report stays
    assert "## Profile" in text and "| # | function (file) | own | inclusive |" in text
    assert "| package | own |" in text
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    raw = (work / "worker.raw").read_text().splitlines()
    assert raw and all(line.rpartition(" ")[2].isdigit() for line in raw)


def test_memory_phase_alone_runs_each_repeat_on_a_fresh_worker(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--repeat", "2", "--open-tickets", "500",
         "--waiting-calls", "50", "--queues", "6", "--work-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    # Each run waited until /metrics showed all 500 tickets awaiting and all 50 calls waiting.
    assert [line.split(":")[0] for line in lines] == ["run 1", "run 2", "median"]
    number = r"-?[\d,]+"
    assert re.fullmatch(
        rf"median: {number} bytes per open contact \(min {number}, max {number}, 2 runs\)",
        lines[-1],
    ), lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-0", "run-1"]


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """``python -m benchmarks.rivals --smoke`` once: its rivals.json and its section."""
    tmp = tmp_path_factory.mktemp("rivals")
    doc, png, work = tmp / "benchmarks.md", tmp / "rivals.png", tmp / "work"
    doc.write_text("# Benchmarks\n\n## Wallboard\n\nkept\n")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.rivals", "--smoke", "--work-dir", str(work),
         "--doc", str(doc), "--plot", str(png)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = doc.read_text()
    assert "## Wallboard\n\nkept\n" in text  # the rest of the report stays
    return json.loads((work / "rivals.json").read_text()), text


def test_side_by_side_raw_consumer_and_worker_book_the_reference_counters(
    side_by_side: tuple[dict[str, Any], str],
) -> None:
    results, text = side_by_side
    # 3,000 call events over 6 queues; both read all of them and booked the same counters.
    assert results["events"] == 3000 and results["queues"] == 6
    assert results["calls"]["offered"] > results["calls"]["answered"] > 0
    runs = {r["contender"]: r for r in results["runs"]}
    for contender in ("raw", "worker"):
        run = runs[contender]
        assert run["events"] == 3000 and run["queues_wrong"] == 0 and run["rejected"] == 0
        assert run["exact"] and run["rate"] > 0 and run["cpu_seconds"] > 0
        assert run["peak_rss"] > 0
    assert runs["raw"]["windows_wrong"] == 0 and runs["raw"]["windows"] == results["windows"]
    assert runs["worker"]["windows_wrong"] is None  # its windows: the backlog phase checks them
    assert "| raw aiokafka consumer + `stream.contract.events.decode` (ceiling) |" in text
    assert "| yes (all time + windows) |" in text and "| yes (all time) |" in text


@pytest.mark.parametrize(("contender", "module"), [("bytewax", "bytewax"), ("quix", "quixstreams")])
def test_side_by_side_rivals_are_exact_or_said_to_be_absent(
    side_by_side: tuple[dict[str, Any], str], contender: str, module: str
) -> None:
    results, text = side_by_side
    if importlib.util.find_spec(module) is None:
        # The report says why and how to get it; the test says it was not measured here.
        assert "not installed: the `bench` extra" in results["skipped"][contender]
        assert "not installed: the `bench` extra" in text
        pytest.skip(f"{module} is not installed (the `bench` extra: `make bench` installs it)")
    (run,) = [r for r in results["runs"] if r["contender"] == contender]
    assert run["events"] == 3000 and run["queues_wrong"] == 0 and run["rejected"] == 0
    assert run["windows_wrong"] == 0 and run["windows"] == results["windows"]
    assert run["exact"] and run["rate"] > 0 and run["cpu_seconds"] > 0


def test_throughput_phase_alone_runs_each_repeat_on_a_fresh_broker(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.throughput", "--repeat", "2", "--events", "3000",
         "--queues", "6", "--work-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    # Each run: the worker counted every published event, then its restart matched /metrics.
    assert [line.split(":")[0] for line in lines] == ["run 1", "run 2", "median"]
    rate, ratio, cpu = r"[\d,]+", r"\d+\.\d{3}", r"\d+\.\d"
    assert re.fullmatch(
        rf"median: {rate} events/s, {ratio} of the ceiling, {cpu} CPU s per 1M events \(2 runs\)",
        lines[-1],
    ), lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.ndjson", "run-0", "run-1"]

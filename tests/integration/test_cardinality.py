"""Bounded queue names and zero-start counters on the real broker (``stream.core.admission``).

A worker with a targets file of two queues and ``STREAM_MAX_QUEUES=4`` (four partitions: one
queue outside the file per partition) gets calls of twelve other queues, three per partition of
the queue-keyed topic. Which one of the three a partition admits depends on the order their
first events reach it; that exactly one does, that the others' events are dead-lettered and
counted once, and that the decision holds across a restart, does not.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.export.metrics import CHANNELS
from stream.stages.pipeline import queue_partition
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    accounted,
    consume_all,
    publish,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration
PARTITIONS = 4
LISTED = ("billing", "vip")
TARGETS = "queues:\n  billing: {}\n  vip: {answer_target_seconds: 10}\n"
_names = (f"other-{i}" for i in itertools.count())
OTHERS: dict[int, list[str]] = {
    p: [] for p in range(PARTITIONS)
}  # three names per partition of the internal topic
for _name in _names:
    if all(len(v) == 3 for v in OTHERS.values()):
        break
    if len(OTHERS[queue_partition(_name, PARTITIONS)]) < 3:
        OTHERS[queue_partition(_name, PARTITIONS)].append(_name)
ZERO_START = (  # families labelled queue x channel, as samples
    "contact_centre_calls_offered_total",
    "contact_centre_tickets_created_total",
    "contact_centre_tickets_escalated_total",
    "contact_centre_first_response_seconds_count",
    "contact_centre_answer_wait_seconds_count",
)


def queued(queue: str, n: int, tag: str) -> list[Publishable]:
    return [
        ("calls", f"{queue}-{tag}{i}", {"type": "call.queued", "event_id": f"{queue}-{tag}{i}",
                                        "occurred_at": "2026-11-22T10:20:00Z",
                                        "call_id": f"{queue}-{tag}{i}", "queue": queue})
        for i in range(n)
    ]  # fmt: skip


def admitted(m: Samples) -> set[str]:
    """Queues outside the targets file with an offered-calls series."""
    return {
        dict(labels)["queue"]
        for name, labels in m
        if name == "contact_centre_calls_offered_total" and dict(labels)["queue"] not in LISTED
    }


def assert_zero_started(m: Samples, queue: str, *, but: str | None = None) -> None:
    for family, channel in itertools.product(ZERO_START, CHANNELS):
        if (family, channel) == ("contact_centre_calls_offered_total", but):
            continue
        assert value(m, family, queue=queue, channel=channel) == 0, (queue, family, channel)


def test_queue_limit_and_zero_start_counters_across_a_restart(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS)
    env = {"STREAM_TARGETS_FILE": str(targets), "STREAM_MAX_QUEUES": "4"}
    first = workers(**env)
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "worker ready")
    before = first.scrape()  # before the first event
    for q in LISTED:
        assert_zero_started(before, q)
    assert admitted(before) == set()
    assert value(before, "contact_centre_events_rejected_total", reason="too_many_queues") is None

    messages = [m for qs in OTHERS.values() for q in qs for m in queued(q, 2, "a")]
    messages += queued("billing", 3, "a") + queued("vip", 1, "a")
    n = publish(broker.bootstrap, messages)
    wait_until(lambda: accounted(first.scrape()) == n, 60, "every event counted")
    m = first.scrape()
    chosen = admitted(m)
    for p, qs in OTHERS.items():  # one queue per partition, whichever came first
        assert len(chosen & set(qs)) == 1, (p, chosen)
    for q in chosen:
        assert value(m, "contact_centre_calls_offered_total", queue=q, channel="phone") == 2
        assert_zero_started(m, q, but="phone")
    assert value(m, "contact_centre_calls_offered_total", queue="billing", channel="phone") == 3
    assert value(m, "contact_centre_calls_offered_total", queue="vip", channel="phone") == 1
    assert value(m, "contact_centre_events_rejected_total", reason="too_many_queues") == 8 * 2
    assert value(m, "contact_centre_events_total", type="call.queued") == 4 * 2 + 3 + 1
    dead = consume_all(broker.bootstrap, "kpi-dead-letter", 16)
    assert sorted(dict(r.headers)["reason"] for r in dead) == [b"too_many_queues"] * 16
    refused_queue = sorted(set(OTHERS[0]) - chosen)[0]
    assert {r.key.decode().rpartition("-")[0] for r in dead} == set().union(
        *OTHERS.values()
    ) - chosen
    first.stop()

    second = workers(**env)
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 90, "restarted worker ready")
    wait_until(lambda: accounted(second.scrape()) == n, 60, "state restored")
    again = second.scrape()
    assert admitted(again) == chosen
    for q in chosen:
        assert_zero_started(again, q, but="phone")
    for q in LISTED:
        assert value(again, "contact_centre_tickets_escalated_total", queue=q, channel="email") == 0
    # After the restart: an admitted queue takes more, a refused one and a new one do not.
    (kept,) = chosen & set(OTHERS[1])
    later = queued(kept, 1, "b") + queued(refused_queue, 1, "b") + queued("brand-new", 1, "b")
    n2 = n + publish(broker.bootstrap, later)
    wait_until(lambda: accounted(second.scrape()) == n2, 60, "later events counted")
    m2 = second.scrape()
    assert value(m2, "contact_centre_calls_offered_total", queue=kept, channel="phone") == 3
    assert value(m2, "contact_centre_events_rejected_total", reason="too_many_queues") == 8 * 2 + 2
    assert admitted(m2) == chosen


# --- the increase Prometheus computes ---------------------------------------------------------

PROMETHEUS = shutil.which("prometheus")
RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "rules" / "contact-centre.rules.yml"


class Prometheus:
    """A real Prometheus scraping one worker every second, with the recording rules."""

    def __init__(self, tmp_path: Path, worker_port: int) -> None:
        assert PROMETHEUS is not None
        self.port = find_free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{
                "job_name": "contact-centre-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            }],
        }  # fmt: skip
        path = tmp_path / "prometheus.yml"
        path.write_text(json.dumps(config))  # JSON is YAML
        self.log_path = tmp_path / "prometheus.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def query(self, expr: str, at: float | None = None) -> float | None:
        """The single value of an instant query (None: no series)."""
        params = {"query": expr} | ({} if at is None else {"time": repr(at)})
        url = f"http://127.0.0.1:{self.port}/api/v1/query?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                doc = json.loads(r.read())
        except (urllib.error.URLError, ConnectionError):
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            return None
        result = doc["data"]["result"]
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def ticket_event(tid: str, type_: str, at: str, **fields: object) -> Publishable:
    body = {"type": type_, "event_id": f"{tid}-{type_}", "ticket_id": tid,
            "occurred_at": f"2026-11-22T{at}Z", **fields}  # fmt: skip
    return ("tickets", tid, body)


def tickets() -> list[Publishable]:
    """Four email tickets of billing: three answered by an agent, one of them escalated."""
    out: list[Publishable] = []
    for i in range(4):
        tid = f"t{i}"
        out.append(
            ticket_event(tid, "ticket.created", "10:00:00", queue="billing", channel="email")
        )
        if i < 3:
            out.append(ticket_event(tid, "ticket.message_added", "10:05:00", author="agent",
                                    agent_id="a1"))  # fmt: skip
        if i == 0:
            out.append(ticket_event(tid, "ticket.escalated", "10:06:00", level=2))
    return out


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing: `make system` installs it")
def test_increase_and_escalation_rate_are_exact_in_prometheus(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS)
    worker = workers(STREAM_TARGETS_FILE=str(targets))
    wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 90, "worker ready")
    prom = Prometheus(tmp_path, worker.port)
    try:
        created = 'contact_centre_tickets_created_total{queue="billing",channel="email"}'
        wait_until(
            lambda: (prom.query(f"count_over_time({created}[10m])") or 0) >= 3,
            60,
            "three scrapes of the zero series",
        )
        assert prom.query(f"max_over_time({created}[10m])") == 0
        n = publish(broker.bootstrap, tickets())
        wait_until(lambda: accounted(worker.scrape()) == n, 60, "every event counted")
        responses = 'contact_centre_first_response_seconds_count{queue="billing",channel="email"}'
        wait_until(
            lambda: prom.query(created) == 4 and prom.query(responses) == 3,
            30,
            "the counts scraped",
        )
        # At the time of the last sample, with the series starting at 0, increase() does not
        # extrapolate: it is exactly the counted events.
        last = prom.query(f"timestamp({created})")
        assert last is not None
        fr = 'contact_centre_first_response_seconds_count{queue="billing"}'
        assert prom.query(f"sum(increase({fr}[10m]))", at=last) == 3
        assert prom.query(f"sum(increase({created}[10m]))", at=last) == 4
        escalated = 'contact_centre_tickets_escalated_total{queue="billing"}'
        all_created = 'contact_centre_tickets_created_total{queue="billing"}'
        ratio = f"sum(increase({escalated}[10m])) / sum(increase({all_created}[10m]))"
        assert prom.query(ratio, at=last) == 0.25
        rule = 'queue:contact_centre_escalation_rate:ratio6h{queue="billing"}'
        wait_until(lambda: (prom.query(f"timestamp({rule})") or 0) > last, 30, "the rule evaluated")
        assert prom.query(rule) == 0.25  # the same extrapolation of both counters cancels
    finally:
        prom.stop()

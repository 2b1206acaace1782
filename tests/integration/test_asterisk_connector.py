"""The Asterisk connector end to end on the real embedded broker: queue_log file -> ``python -m
stream connect asterisk`` -> topics -> worker. The same simulated traffic sent as the
simulator's own contract events and written as a queue_log gives the same metrics; a restart
from the checkpoint, rotations and a broker that is down lose and repeat nothing; a re-read
file counts nothing twice; bad lines are dead-lettered with their reason and counted."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from stream.broker import create_topics
from stream.config import Settings
from stream.connectors.asterisk.connector import Connector
from stream.connectors.asterisk.generator import asterisk_profiles, config_yaml, generate
from stream.connectors.asterisk.settings import parse_config
from stream.connectors.metrics import ConnectorMetrics
from stream.connectors.publish import Publisher
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from tests.integration.conftest import FROZEN, INPUT_TOPICS, WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    accounted,
    consume_all,
    isolated,
    kpis,
    parse,
    publish,
    total,
    value,
    wait_same_ewt_scoring,
    wait_until,
)

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 1.5 h before the workers' frozen clock
T0 = int(START.timestamp())


def _env(broker_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    env.update(STREAM_BROKER_URL=broker_url, STREAM_PARTITIONS="4", **extra)
    return env


def _topics(prefix: str) -> dict[str, str]:
    """Connector settings for the ``isolated`` pipeline ``prefix``."""
    out = {f"STREAM_TOPIC_{t.upper()}": f"{prefix}-{t}" for t in INPUT_TOPICS}
    out["STREAM_TOPIC_INGEST_DEAD_LETTER"] = f"{prefix}-ingest-dead-letter"
    return out


def _once(env: dict[str, str], log: Path, config: Path | None, tmp: Path) -> str:
    args = [sys.executable, "-m", "stream", "connect", "asterisk", "--queue-log", str(log)]
    args += ["--once", "--metrics-port", "0"]
    if config is not None:
        args += ["--config", str(config)]
    done = subprocess.run(args, env=env, capture_output=True, cwd=tmp, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout.decode()


def _published(stdout: str) -> int:
    """The events count of the connector's last line: ``N lines: M events published, ...``."""
    return int(stdout.strip().splitlines()[-1].split(": ")[1].split()[0])


class _Follower:
    """``python -m stream connect asterisk`` following a file, with its /metrics."""

    def __init__(
        self, env: dict[str, str], log: Path, checkpoint: Path, out: Path, config: Path
    ) -> None:
        self.port = find_free_port()
        args = [sys.executable, "-m", "stream", "connect", "asterisk", "--queue-log", str(log)]
        args += ["--checkpoint", str(checkpoint), "--metrics-port", str(self.port)]
        args += ["--config", str(config)]
        self.out = out
        with out.open("ab") as fh:
            self.proc = subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT)

    def scrape(self) -> Samples:
        if self.proc.poll() is not None:
            raise AssertionError(f"connector exited: {self.out.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                return parse(r.read().decode())
        except (urllib.error.URLError, ConnectionError):
            return {}

    def caught_up(self, lines: int) -> bool:
        s = self.scrape()
        got = value(s, "contact_centre_connector_received_total", connector="asterisk") or 0.0
        lag = value(s, "contact_centre_connector_checkpoint_lag_bytes", connector="asterisk")
        return got == lines and lag == 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        assert self.proc.returncode == 0, self.out.read_text()[-3000:]


def _calls(first: int, last: int, *, enter: bool = True, finish: bool = True) -> list[str]:
    """Hand-written calls ``first..last`` of queue 600: queued, answered 10 s later by one of
    four agents, completed 60 s after that (epochs spaced so nothing overlaps an agent)."""
    lines = []
    for n in range(first, last + 1):
        t = T0 + 100 * n
        uid = f"{T0}.{n}"
        agent = f"PJSIP/{201 + n % 4}"
        if enter:
            lines.append(f"{t}|{uid}|600|NONE|ENTERQUEUE||06{n:08d}|1")
        if finish:
            lines.append(f"{t + 10}|{uid}|600|{agent}|CONNECT|10|{uid}9|2")
            lines.append(f"{t + 70}|{uid}|600|{agent}|COMPLETECALLER|10|60|1")
    return lines


def _append(path: Path, lines: list[str]) -> None:
    with path.open("a") as fh:
        fh.write("".join(f"{line}\n" for line in lines))


def _pipeline_counts(samples: Samples) -> tuple[float, ...]:
    return (
        value(samples, "contact_centre_calls_offered_total", queue="sales", channel="phone") or 0,
        value(samples, "contact_centre_calls_answered_total", queue="sales", channel="phone") or 0,
        value(samples, "contact_centre_handle_time_seconds_count", queue="sales", channel="phone")
        or 0,
        total(samples, "contact_centre_events_duplicate_total"),
        total(samples, "contact_centre_events_rejected_total"),
    )


CONFIG = "queues:\n  '600': {name: sales}\n"


def test_the_same_traffic_from_queue_log_gives_the_same_metrics_and_a_reread_counts_nothing(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    generated = generate(2026, START, 3600)
    log = tmp_path / "queue_log"
    log.write_text("".join(f"{line}\n" for line in generated.lines))
    config = tmp_path / "asterisk.yaml"
    config.write_text(config_yaml(asterisk_profiles()))
    pbx_env = isolated(broker.bootstrap, "pbx", INPUT_TOPICS)
    # Idle after 2 s: the watermark then passes every answer, and every call's EWT is scored.
    direct = workers(frozen_time=FROZEN, STREAM_IDLE_SECONDS="2")
    pbx = workers(frozen_time=FROZEN, STREAM_IDLE_SECONDS="2", **pbx_env)
    wait_until(
        lambda: all(w.partitions() == {0, 1, 2, 3} for w in (direct, pbx)), 120, "partitions"
    )
    kinds = {"call": "calls", "agent": "agents"}
    reference: list[Publishable] = [
        (kinds[e["type"].partition(".")[0]], e.get("call_id") or e["agent_id"], e)
        for e in generated.reference
    ]
    n = publish(broker.bootstrap, reference)
    stdout = _once(_env(broker.url, **_topics("pbx")), log, config, tmp_path)
    m = _published(stdout)
    assert m == n, stdout
    wait_until(
        lambda: accounted(direct.scrape()) == n and accounted(pbx.scrape()) == n, 120, "all counted"
    )
    # The watermarks differ (call ids are keys: calls land on other partitions), so each has
    # scored another share of the answered calls' EWT until both are idle at the same one.
    wait_same_ewt_scoring(direct, pbx)
    a, b = direct.scrape(), pbx.scrape()
    calls_and_agents = {
        k: v
        for k, v in a.items()
        if k[0].startswith(("contact_centre_calls_", "contact_centre_answer_wait",
                            "contact_centre_handle_time", "contact_centre_agents",
                            "contact_centre_occupancy", "contact_centre_service_level",
                            "contact_centre_abandon_rate", "contact_centre_average_speed",
                            "contact_centre_average_handle", "contact_centre_oldest_call",
                            "contact_centre_events_total"))
    }  # fmt: skip
    assert len(calls_and_agents) > 100
    assert {k: b.get(k) for k in calls_and_agents} == calls_and_agents
    # And everything else about contacts too (no tickets either way). The pipeline's progress
    # (watermarks, open windows) differs: call ids are keys, so calls land on other partitions.
    assert kpis(a) == kpis(b)
    assert total(b, "contact_centre_events_rejected_total") == 0
    assert total(b, "contact_centre_calls_offered_total") == sum(
        1 for e in generated.reference if e["type"] == "call.queued"
    )
    # Reading the same file again makes the same event ids: every one is a duplicate.
    assert _published(_once(_env(broker.url, **_topics("pbx")), log, config, tmp_path)) == n
    wait_until(lambda: accounted(pbx.scrape()) == 2 * n, 120, "the re-read counted")
    again = pbx.scrape()
    assert value(again, "contact_centre_events_duplicate_total") == n
    dup: tuple[str, frozenset[tuple[str, str]]] = (
        "contact_centre_events_duplicate_total",
        frozenset(),
    )
    assert {k: v for k, v in again.items() if k != dup} == {k: v for k, v in b.items() if k != dup}


def test_restart_from_checkpoint_and_rotations_lose_and_repeat_nothing(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    env = _env(broker.url)
    config = tmp_path / "asterisk.yaml"
    config.write_text(CONFIG)
    worker = workers(frozen_time=FROZEN)
    log, checkpoint = tmp_path / "queue_log", tmp_path / "cp.json"
    # 1. calls 1..20 whole, calls 21..25 only queued; then a stop
    part1 = _calls(1, 20) + _calls(21, 25, finish=False)
    _append(log, part1)
    first = _Follower(env, log, checkpoint, tmp_path / "first.out", config)
    wait_until(lambda: first.caught_up(len(part1)), 60, "the first part read and committed")
    first.stop()
    # 2. while it is down: calls 21..25 answered (queued before the restart), 26..30 whole
    part2 = _calls(21, 25, enter=False) + _calls(26, 30)
    _append(log, part2)
    second = _Follower(env, log, checkpoint, tmp_path / "second.out", config)
    wait_until(lambda: second.caught_up(len(part2)), 60, "the second part read")
    # 3. rotation by rename: the old file still gets a line, then a new file
    rotated = tmp_path / "queue_log.1"
    log.rename(rotated)
    _append(rotated, _calls(31, 31))
    part3 = _calls(32, 35)
    _append(log, part3)
    wait_until(lambda: second.caught_up(len(part2) + 3 + len(part3)), 60, "the rotation followed")
    # 4. copytruncate: copied away, truncated in place, written again
    (tmp_path / "queue_log.2").write_bytes(log.read_bytes())
    with log.open("r+") as fh:
        fh.truncate(0)
    part4 = _calls(36, 40)
    _append(log, part4)
    expected_lines = len(part2) + 3 + len(part3) + len(part4)
    wait_until(lambda: second.caught_up(expected_lines), 60, "the truncation followed")
    second.stop()
    # 40 calls, each once: nothing lost, nothing repeated, every CONNECT known
    wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 120, "the worker's partitions")
    wait_until(lambda: accounted(worker.scrape()) == 40 * 6, 60, "all events counted")
    assert _pipeline_counts(worker.scrape()) == (40, 40, 40, 0, 0)
    assert consume_all(broker.bootstrap, "kpi-ingest-dead-letter", 0, timeout=2) == []


def test_broker_down_then_up_loses_nothing(tmp_path: Path) -> None:
    port = find_free_port()
    settings = Settings.from_env(
        {"STREAM_BROKER_URL": f"kafka://127.0.0.1:{port}", "STREAM_PARTITIONS": "2"}
    )
    metrics = ConnectorMetrics("asterisk")
    publisher = Publisher(settings, connector="asterisk", metrics=metrics, timeout=2.0)
    connector = Connector(settings, parse_config(CONFIG), metrics=metrics, publisher=publisher)
    log = tmp_path / "queue_log"
    lines = _calls(1, 30)
    _append(log, lines)
    broker = EmbeddedBroker(port=port)

    async def run() -> None:
        task = asyncio.create_task(connector.follow(log, tmp_path / "cp.json"))
        while connector.stats.retries < 2:  # the broker is not there: it waits and retries
            await asyncio.sleep(0.1)
        assert connector.stats.events == 0
        broker.start()
        await create_topics(broker.bootstrap, [*INPUT_TOPICS, "kpi-ingest-dead-letter"], 2)
        while connector.stats.events < 30 * 6:
            await asyncio.sleep(0.1)
        connector.stop()
        await task
        await publisher.stop()

    try:
        asyncio.run(asyncio.wait_for(run(), 300))
        calls = consume_all(broker.bootstrap, "calls", 120)
        agents = consume_all(broker.bootstrap, "agents", 60)
    finally:
        broker.stop()
    ids = [msgspec.json.decode(r.value)["event_id"] for r in calls + agents]
    assert len(ids) == 180 and len(set(ids)) == 180
    assert (
        metrics.registry.get_sample_value(
            "contact_centre_connector_translated_total",
            {"connector": "asterisk", "type": "call.queued"},
        )
        == 30
    )
    failures = metrics.registry.get_sample_value(
        "contact_centre_connector_publish_failures_total", {"connector": "asterisk"}
    )
    assert failures is not None and failures >= 2


BAD_LINES = [
    (b"\xff\xfe1796000000|1.1|600|NONE|ENTERQUEUE||1|1", "invalid_utf8"),
    (b"1796000000|1.1|600|NONE", "field_count"),
    (b"then|1.1|600|NONE|ENTERQUEUE||1|1", "bad_epoch"),
    (f"{T0}|9.9|600|PJSIP/201|CONNECT|3|9.10|2".encode(), "unknown_call"),
    (f"{T0}|9.9|600|NONE|EXPLODE|1|2".encode(), "unknown_event"),
]


def test_bad_lines_are_dead_lettered_with_their_reason_and_counted(
    broker: EmbeddedBroker,
) -> None:
    settings = Settings.from_env({"STREAM_BROKER_URL": broker.url, "STREAM_PARTITIONS": "4"})
    metrics = ConnectorMetrics("asterisk")
    connector = Connector(settings, parse_config(CONFIG), metrics=metrics)
    good = [*_calls(1, 2), f"{T0 + 500}|NONE|NONE|NONE|QUEUESTART|"]
    body = (
        b"".join(line + b"\n" for line, _ in BAD_LINES)
        + "".join(f"{line}\n" for line in good).encode()
    )

    async def run() -> Any:
        try:
            return await connector.once(io.BytesIO(body), "queue_log")
        finally:
            await connector.publisher.stop()

    stats = asyncio.run(run())
    assert (stats.lines, stats.events, stats.rejected, stats.ignored) == (12, 12, 5, 1)
    dead = consume_all(broker.bootstrap, "kpi-ingest-dead-letter", 5)
    got = sorted((dict(r.headers)["reason"].decode(), r.value) for r in dead)
    assert got == sorted((reason, raw) for raw, reason in BAD_LINES)
    sources = sorted(dict(r.headers)["source"].decode() for r in dead)
    assert sources[0].startswith("queue_log:")
    r = metrics.registry
    for _, reason in BAD_LINES:
        assert (
            r.get_sample_value(
                "contact_centre_connector_rejected_total",
                {"connector": "asterisk", "reason": reason},
            )
            == 1
        )
    assert (
        r.get_sample_value(
            "contact_centre_connector_ignored_total",
            {"connector": "asterisk", "kind": "QUEUESTART"},
        )
        == 1
    )
    assert (
        r.get_sample_value("contact_centre_connector_received_total", {"connector": "asterisk"})
        == 12
    )


def test_exits_transfers_missed_rings_and_pause_reasons_are_counted(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    """The lines the simulator never writes, through the connector to the worker's counters."""
    t = T0
    lines = [
        f"{t}|MANAGER|600|PJSIP/201|ADDMEMBER|",
        f"{t + 1}|NONE|600|PJSIP/202|PAUSE|Lunch",
        *(f"{t + 2}|{t}.{n}|600|NONE|ENTERQUEUE||06000000{n}|{n}" for n in range(1, 7)),
        f"{t + 20}|{t}.1|600|PJSIP/202|RINGNOANSWER|15000",
        f"{t + 21}|{t}.1|600|PJSIP/201|CONNECT|19|{t}.91|2",
        f"{t + 21}|{t}.1|600|PJSIP/203|RINGCANCELED|1500",
        f"{t + 50}|{t}.1|600|PJSIP/201|BLINDTRANSFER|2001|from-internal|19|29|1",
        f"{t + 60}|{t}.2|600|NONE|EXITWITHTIMEOUT|1|2|58",
        f"{t + 61}|{t}.3|600|NONE|EXITWITHKEY|0|1|3|59",
        f"{t + 62}|{t}.4|600|NONE|EXITEMPTY|1|4|60",
        f"{t + 63}|{t}.5|600|PJSIP/201|CONNECT|61|{t}.95|1",
        f"{t + 90}|{t}.5|600|PJSIP/201|ATTENDEDTRANSFER|APP|VoiceMail|61|27|5",
        f"{t + 91}|{t}.6|600|NONE|ABANDON|1|6|89",
    ]
    log = tmp_path / "queue_log"
    _append(log, lines)
    config = tmp_path / "asterisk.yaml"
    config.write_text(CONFIG)
    worker = workers(frozen_time=FROZEN)
    wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 120, "the worker's partitions")
    stdout = _once(_env(broker.url), log, config, tmp_path)
    n = _published(stdout)
    wait_until(lambda: accounted(worker.scrape()) == n, 60, "all counted")
    s = worker.scrape()
    sp = {"queue": "sales", "channel": "phone"}
    got = {
        "offered": value(s, "contact_centre_calls_offered_total", **sp),
        "answered": value(s, "contact_centre_calls_answered_total", **sp),
        "abandoned": value(s, "contact_centre_calls_abandoned_total", **sp),
        **{
            f"exited {r}": value(s, "contact_centre_calls_exited_total", **sp, reason=r)
            for r in ("timeout", "key", "empty")
        },
        **{
            f"transferred {k}": value(s, "contact_centre_calls_transferred_total", **sp, kind=k)
            for k in ("blind", "attended")
        },
        **{
            f"missed {r}": value(s, "contact_centre_call_offers_missed_total", **sp, reason=r)
            for r in ("no_answer", "canceled", "rejected")
        },
        "waiting": value(s, "contact_centre_calls_waiting", queue="sales"),
        "rejected": total(s, "contact_centre_events_rejected_total"),
    }
    assert got == {
        "offered": 6, "answered": 2, "abandoned": 1,
        "exited timeout": 1, "exited key": 1, "exited empty": 1,
        "transferred blind": 1, "transferred attended": 1,
        "missed no_answer": 1, "missed canceled": 1, "missed rejected": 0,
        "waiting": 0, "rejected": 0,
    }  # fmt: skip
    # both transfers' wrap-ups completed (wrapuptime 0): their handle times are booked
    assert value(s, "contact_centre_handle_time_seconds_count", **sp) == 2
    assert value(s, "contact_centre_handle_time_seconds_sum", **sp) == 29 + 27

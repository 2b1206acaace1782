"""Integration harness: real embedded broker, real worker processes, real Kafka clients.

Workers run as ``python -m stream worker`` subprocesses on free 127.0.0.1 ports with a frozen
clock, so ages and windows are exact. Waits poll until a condition holds (bounded); nothing
asserts on timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from stream.broker import create_topics
from stream.dev.processes import find_free_port
from tests.factories import Publishable as Publishable  # re-exported: tests import it here

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# Families every worker exports about its input rather than about contacts (see ``kpis``).
PIPELINE_FAMILIES = frozenset(
    {
        "contact_centre_events_total",
        "contact_centre_events_rejected_total",
        "contact_centre_events_duplicate_total",
        "contact_centre_events_late_total",
        "contact_centre_produce_failures_total",
        "contact_centre_worker_partitions",
        "contact_centre_watermark_timestamp_seconds",
        "contact_centre_source_partitions_behind",
        "contact_centre_source_partitions_paused",
        "contact_centre_windows_open",
    }
)
# Measures of one worker process rather than of the traffic: the publish → booked latency
# (``stream.core.latency``) observes each arrival on the worker's clock, so a restarted worker, a
# second worker or the same traffic sent twice gives other values. ``scrape`` leaves them out
# unless asked: comparisons of whole scrapes are about the traffic.
PROCESS_FAMILIES = frozenset(
    {
        "contact_centre_event_latency_seconds_bucket",
        "contact_centre_event_latency_seconds_count",
        "contact_centre_event_latency_seconds_sum",
    }
)


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str | Callable[[], str]
) -> None:
    """Poll ``predicate`` until true; fail with ``what`` (or what it returns, asked at the
    failure: the state then) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    said = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {said}")


class WorkerProcess:
    """One ``python -m stream worker`` subprocess."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = int(env["STREAM_WEB_PORT"])
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stream", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def ready(self) -> dict[str, Any] | None:
        """The /ready document when the worker owns partitions and is not rebalancing."""
        self._check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as r:
                doc: dict[str, Any] = json.loads(r.read())
                return doc
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return None

    def partitions(self) -> set[int] | None:
        doc = self.ready()
        if doc is None or not doc.get("ready"):
            return None
        return set(doc["partitions"])

    def scrape(self, *, process_measures: bool = False) -> Samples:
        """The worker's samples; without the ``PROCESS_FAMILIES`` unless ``process_measures``."""
        self._check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                samples = parse(r.read().decode())
                if process_measures:
                    return samples
                return {k: v for k, v in samples.items() if k[0] not in PROCESS_FAMILIES}
        except urllib.error.HTTPError as exc:  # say what the worker said, not just the status
            tail = self.log_path.read_text(errors="replace")[-3000:]
            body = exc.read()[:2000].decode(errors="replace")
            raise AssertionError(
                f"/metrics answered {exc.code}: {body}\nworker log:\n{tail}"
            ) from exc

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-4000:]
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{tail}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def worker_env(
    broker_url: str, app_id: str, data_dir: Path, frozen_time: str, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    env.update(
        STREAM_BROKER_URL=broker_url,
        STREAM_APP_ID=app_id,
        STREAM_WEB_PORT=str(find_free_port()),
        STREAM_PARTITIONS="4",
        STREAM_FROZEN_TIME=frozen_time,
        STREAM_SESSION_TIMEOUT_SECONDS="6",
        STREAM_DATA_DIR=str(data_dir),
        STREAM_LOG_FORMAT="text",
        STREAM_BATCH_WITHIN_SECONDS="0.02",
        STREAM_PRODUCER_MAX_BATCH_BYTES="1",  # Tansu quirk, see stream.config
    )
    env.update(extra)
    return env


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def total(samples: Samples, name: str) -> float:
    """Sum of every series of ``name``."""
    return sum(v for (n, _), v in samples.items() if n == name)


def merged(*many: Samples) -> Samples:
    """Samples of several workers added series by series."""
    out: Samples = {}
    for samples in many:
        for k, v in samples.items():
            out[k] = out.get(k, 0.0) + v
    return out


def publish(
    bootstrap: str, messages: Iterable[Publishable], *, timestamp_ms: int | None = None
) -> int:
    """Publish (topic, key, JSON object, raw bytes or None) in order; returns how many.

    Requests may be up to 4 MiB, so oversized events reach the broker and the worker's own limit.
    ``timestamp_ms`` sets every record's timestamp (default: the producer's clock now).
    """

    async def run() -> int:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", max_request_size=4 * 1024 * 1024
        )
        await producer.start()
        n = 0
        try:
            for topic, key, payload in messages:
                body = (
                    payload
                    if payload is None or isinstance(payload, bytes)
                    else json.dumps(payload).encode()
                )
                await producer.send(
                    topic,
                    key=None if key is None else key.encode(),
                    value=body,
                    timestamp_ms=timestamp_ms,
                )
                n += 1
            await producer.flush()
        finally:
            await producer.stop()
        return n

    return asyncio.run(run())


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    """Read ``expected`` records of ``topic`` from the beginning (fails if fewer arrive)."""

    async def run() -> list[Any]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        got: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while len(got) < expected and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend(records)
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())


def ewt_booked(samples: Samples) -> tuple[float | None, float, float]:
    """The watermark and the answered calls whose EWT error is booked by each method (in the
    histogram, or counted as unestimated): ``(watermark, recent, erlang_c)``. A call is scored
    once the watermark passes its answer, so two pipelines fed the same calls agree on the
    EWT families once these are equal (their watermarks differ while partitions differ)."""

    def booked(method: str) -> float:
        return sum(
            v
            for (name, labels), v in samples.items()
            if name in ("contact_centre_ewt_error_seconds_count",
                        "contact_centre_ewt_unestimated_total")
            and ("method", method) in labels
        )  # fmt: skip

    mark = samples.get(("contact_centre_watermark_timestamp_seconds", frozenset()))
    return mark, booked("recent"), booked("erlang_c")


def wait_same_ewt_scoring(a: WorkerProcess, b: WorkerProcess, timeout: float = 60) -> None:
    """Wait until two workers fed the same calls have scored the same calls' EWT (see
    `ewt_booked`); start both with ``STREAM_IDLE_SECONDS`` low so that idle partitions let
    their watermarks meet."""
    wait_until(
        lambda: ewt_booked(a.scrape()) == ewt_booked(b.scrape()),
        timeout,
        lambda: f"the same EWT scoring: {ewt_booked(a.scrape())} {ewt_booked(b.scrape())}",
    )


def accounted(samples: Samples) -> float:
    """Every input message is exactly one of: accepted, rejected, duplicate."""
    return (
        total(samples, "contact_centre_events_total")
        + total(samples, "contact_centre_events_rejected_total")
        + total(samples, "contact_centre_events_duplicate_total")
    )


def kpis(samples: Samples) -> Samples:
    """The samples about contacts and queues: everything but the ``PIPELINE_FAMILIES``."""
    return {k: v for k, v in samples.items() if k[0] not in PIPELINE_FAMILIES}


def isolated(bootstrap: str, name: str, topics: Iterable[str]) -> dict[str, str]:
    """Settings of an independent pipeline on the same broker: its own app id and topics.

    Creates ``<name>-<topic>`` for each input topic (4 partitions); pass the result as the extra
    settings of a worker, and publish to it with `renamed`.
    """
    names = [f"{name}-{t}" for t in topics]
    asyncio.run(create_topics(bootstrap, names, 4))
    env = {f"STREAM_TOPIC_{t.upper()}": f"{name}-{t}" for t in topics}
    env.update(
        STREAM_APP_ID=f"{name}-app",
        STREAM_TOPIC_DEAD_LETTER=f"{name}-dead-letter",
        STREAM_TOPIC_WINDOWS=f"{name}-windows",
    )
    return env


def renamed(messages: Iterable[Publishable], name: str) -> list[Publishable]:
    """The same messages for the `isolated` pipeline ``name``."""
    return [(f"{name}-{topic}", key, payload) for topic, key, payload in messages]


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")

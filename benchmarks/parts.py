"""What the benchmarks share: the bench plan and its event set, the broker's topic settings,
publishing a recorded set, the raw consumer's ceiling, a worker process and reading its
``/metrics`` (sums, the series a restart must give back), polling and progress lines.

``benchmarks.run`` (``make bench``) and the phases run alone (``throughput``, ``memory``,
``profile``, ``failover``, ``rivals``, ``store`` ...) all build on this module; it imports none
of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiokafka import AIOKafkaConsumer
from tqdm import tqdm

from stream.broker import create_topics
from stream.config import Settings
from stream.contract.decoder import Rejection, decode, encode
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.dev.simulate import DEFAULT_QUEUES, QueueProfile, Simulation, replay

ROOT: Final = Path(__file__).resolve().parent.parent
PARTITIONS: Final = 8
PROCESSED: Final = (
    "contact_centre_events_total",
    "contact_centre_events_rejected_total",
    "contact_centre_events_duplicate_total",
)


# Series that must come back identical after a restart (ages and window gauges move with time).
STABLE_SUFFIXES: Final = ("_total", "_count", "_sum", "_bucket")
PROCESS_MEASURES: Final = ("contact_centre_event_latency_seconds",)
"""Measures of one worker process (publish → booked latency): a restarted worker starts anew."""
STABLE_GAUGES: Final = (
    "contact_centre_calls_waiting",
    "contact_centre_tickets_open",
    "contact_centre_tickets_awaiting_first_response",
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run measures and how big."""

    events: int = 1_000_000
    queues: int = 40
    latency_rate: float = 5000.0
    latency_seconds: float = 20.0
    open_tickets: int = 100_000
    waiting_calls: int = 10_000
    seed: int = 7
    timeout: float = 900.0
    failover_kills: int = 3


SMOKE: Final = Plan(
    events=3000,
    queues=6,
    latency_rate=500.0,
    latency_seconds=2.0,
    open_tickets=1000,
    waiting_calls=100,
    timeout=180.0,
    failover_kills=1,
)


def bench_queues(n: int) -> tuple[QueueProfile, ...]:
    """``n`` queues cycling through the simulator's four profiles (``billing-07``, ...)."""
    return tuple(
        dataclasses.replace(base, name=f"{base.name}-{i:02d}")
        for i, base in zip(range(n), _cycle(DEFAULT_QUEUES), strict=False)
    )


def _cycle(items: Sequence[QueueProfile]) -> Iterator[QueueProfile]:
    while True:
        yield from items


def record(path: Path, plan: Plan, now: datetime) -> int:
    """Record ``plan.events`` simulated events, all before ``now``, as NDJSON; returns the count.

    The arrival rates are scaled so the set spans about two hours of event time.
    """
    queues = bench_queues(plan.queues)
    per_hour = sum(q.calls_per_hour * 4 + q.tickets_per_hour * 4 for q in queues)  # ~4 ev each
    multiplier = max(1.0, plan.events / (2 * per_hour))
    start = now - timedelta(hours=3)
    for _ in range(3):
        sim = Simulation(seed=plan.seed, start=start, queues=queues, rate_multiplier=multiplier)
        last = 0.0
        with path.open("wb") as fh, progress(plan.events, "record events") as bar:
            for i, item in enumerate(sim.events()):
                if i == plan.events:
                    break
                fh.write(encode(item.event) + b"\n")
                last = item.at
                if i % 10_000 == 9_999:
                    bar.update(10_000)
            bar.update(plan.events % 10_000)
        overshoot = last - (now.timestamp() - 60)
        if overshoot <= 0:
            return plan.events
        start -= timedelta(seconds=overshoot + 600)
    raise RuntimeError("could not fit the event set before now")


def topic_settings(broker: EmbeddedBroker, prefix: str) -> Settings:
    """Settings whose input topics are ``<prefix>-calls`` etc., on the bench broker."""
    return Settings.from_env(
        {
            "STREAM_BROKER_URL": broker.url,
            "STREAM_TOPIC_CALLS": f"{prefix}-calls",
            "STREAM_TOPIC_TICKETS": f"{prefix}-tickets",
            "STREAM_TOPIC_AGENTS": f"{prefix}-agents",
            "STREAM_TOPIC_CUSTOMERS": f"{prefix}-customers",
            "STREAM_TOPIC_DEAD_LETTER": f"{prefix}-dead-letter",
            "STREAM_TOPIC_WINDOWS": f"{prefix}-windows",
            "STREAM_PARTITIONS": str(PARTITIONS),
        }
    )


async def publish_file(settings: Settings, path: Path, total: int) -> float:
    """Publish an NDJSON file with ``stream replay``'s code at full speed; returns events/s."""
    await create_topics(settings.bootstrap_servers, settings.input_topics, PARTITIONS)
    started = time.perf_counter()
    with progress(total, "publish") as bar:
        stats = await replay(settings, path, speed=0, on_progress=bar.update)
    if stats.sent != total or stats.failed:
        raise RuntimeError(f"published {stats.sent}/{total}, {stats.failed} failed")
    return total / (time.perf_counter() - started)


async def raw_consumer_rate(settings: Settings, total: int) -> float:
    """Events/s of a raw aiokafka consumer validating every message, from start to the last."""
    consumer = AIOKafkaConsumer(
        *settings.input_topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    started = time.perf_counter()
    await consumer.start()
    seen = rejected = 0
    try:
        with progress(total, "raw consumer") as bar:
            while seen < total:
                batches = await consumer.getmany(timeout_ms=1000, max_records=20_000)
                for records in batches.values():
                    for r in records:
                        if isinstance(decode(r.value), Rejection):
                            rejected += 1
                    seen += len(records)
                    bar.update(len(records))
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"raw consumer read {seen}/{total}")
    finally:
        await consumer.stop()
    if rejected:
        raise RuntimeError(f"{rejected} recorded events failed validation")
    return total / (time.perf_counter() - started)


class Worker:
    """One ``python -m stream worker`` subprocess on a free port."""

    def __init__(self, settings: Settings, app_id: str, run_dir: Path) -> None:
        self.port = find_free_port()
        self.run_dir = run_dir
        self.log_path = run_dir / f"{app_id}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
        self.env.update(
            STREAM_BROKER_URL=settings.broker_url,
            STREAM_APP_ID=app_id,
            STREAM_WEB_PORT=str(self.port),
            STREAM_PARTITIONS=str(PARTITIONS),
            STREAM_DATA_DIR=str(run_dir / app_id),
            STREAM_LOG_FORMAT="text",
            STREAM_PRODUCER_MAX_BATCH_BYTES="1",  # Tansu quirk, see stream.config
            STREAM_TOPIC_CALLS=settings.topic_calls,
            STREAM_TOPIC_TICKETS=settings.topic_tickets,
            STREAM_TOPIC_AGENTS=settings.topic_agents,
            STREAM_TOPIC_CUSTOMERS=settings.topic_customers,
            STREAM_TOPIC_DEAD_LETTER=settings.topic_dead_letter,
            STREAM_TOPIC_WINDOWS=settings.topic_windows,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start the process; returns the start time (``perf_counter``)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return time.perf_counter()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def rss(self) -> int:
        """Resident set size in bytes (``VmRSS``)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{tail}")

    async def get(
        self, session: aiohttp.ClientSession, path: str, names: Sequence[str] = ()
    ) -> str | None:
        """GET ``path``; ``names``: only those metric families (``?name[]=``, cheap to poll)."""
        self.check_alive()
        params = [("name[]", name) for name in names]
        try:
            async with session.get(
                self.url + path, params=params, timeout=aiohttp.ClientTimeout(5)
            ) as r:
                return await r.text()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def processed(self, session: aiohttp.ClientSession) -> float | None:
        """Events accounted for so far (accepted + rejected + duplicate), from /metrics."""
        body = await self.get(session, "/metrics", PROCESSED)
        return None if body is None else sums(body, PROCESSED)

    async def ready(self, session: aiohttp.ClientSession) -> bool:
        body = await self.get(session, "/ready")
        return body is not None and bool(json.loads(body).get("ready"))

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float) -> None:
        await poll(lambda: self.ready(session), timeout, "the worker to be ready", 0.1)


def sums(text: str, names: tuple[str, ...]) -> float:
    """Sum of every sample of the metrics ``names`` (exact names, any labels) in a scrape."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(names):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in names:
                total += float(line.rsplit(" ", 1)[1])
    return total


def stable_series(text: str) -> dict[str, str]:
    """The series a restart must give back unchanged: counters, histograms, backlog gauges."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        series, _, value = line.rpartition(" ")
        name = series.split("{", 1)[0]
        if (name.endswith(STABLE_SUFFIXES) or name in STABLE_GAUGES) and not name.startswith(
            PROCESS_MEASURES
        ):
            out[series] = value
    return out


async def poll(check: Callable[[], Any], timeout: float, what: str, every: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if await check():
            return
        await asyncio.sleep(every)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def say(text: str) -> None:
    tqdm.write(text, file=sys.stderr)


def progress(total: int, what: str) -> Any:
    """A progress bar on stderr (``unit`` events)."""
    return tqdm(total=total, desc=what, unit="ev", unit_scale=True, leave=False, file=sys.stderr)

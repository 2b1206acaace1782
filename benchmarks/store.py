"""Table stores compared: a worker's events/s and its restart-to-exact time, memory:// vs rocksdb://.

``python -m benchmarks.store`` publishes one simulated event set (``benchmarks.run.record``) on
an embedded broker, then for each store runs one worker of its own app (its own consumer group,
tables and data directory) over the whole set:

- ``events/s``: the events counted between the first scrape after the worker's first ``/ready``
  and the scrape that counts the whole set, over the time between them (the start-up before
  ``/ready`` is reported on its own, and so is start → every event counted);
- ``restart → exact``: once its numbers have settled (every EWT error booked: two scrapes
  agree), the worker is stopped (SIGTERM) and started again on the same data directory; seconds
  from the new process's start to the first ``/metrics`` whose stable series
  (``benchmarks.failover.stable``) equal those before the stop. ``memory://`` reads both
  changelogs from their start; ``rocksdb://`` opens its databases and reads only what is newer
  (its log says how many records: ``rocksdb store <table>: read N changelog records``).

Nothing asserts timing; a run fails only if a worker never serves the same numbers again.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import aiohttp

from benchmarks import parts
from benchmarks.failover import stable
from stream.config import Settings
from stream.dev.broker import EmbeddedBroker

ROOT: Final = Path(__file__).resolve().parent.parent
STORES: Final = ("memory://", "rocksdb://")
IDLE_SECONDS: Final = 2.0
_READ: Final = re.compile(r"rocksdb store \w+: read (\d+) changelog records at recovery")


@dataclass(frozen=True, slots=True)
class StoreRun:
    """The figures of one store (seconds, events/s)."""

    store: str
    events: int
    ready_seconds: float
    all_counted_seconds: float
    """From the process's start to the scrape counting every event."""
    rate: float
    rss_bytes: int
    """The worker's resident set once it has counted every event."""
    restart_ready_seconds: float
    restart_exact_seconds: float
    changelog_records_read: int | None
    """At the restart (rocksdb:// only: from its log)."""


async def settled(
    worker: parts.Worker, session: aiohttp.ClientSession, timeout: float
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The stable series once two scrapes ``2 × IDLE_SECONDS`` apart agree: the numbers the
    worker holds once every EWT error it will book is booked (the truth a restart must meet)."""
    deadline = time.perf_counter() + timeout
    last = stable([await worker.get(session, "/metrics") or ""])
    while time.perf_counter() < deadline:
        await asyncio.sleep(2 * IDLE_SECONDS)
        now = stable([await worker.get(session, "/metrics") or ""])
        if now == last:
            return now
        last = now
    raise RuntimeError(f"the worker's numbers did not settle within {timeout:.0f} s")


async def measure(
    settings: Settings, store: str, total: int, run_dir: Path, timeout: float
) -> StoreRun:
    """One worker on ``store`` over the published set, stopped and started again."""
    name = f"bench-store-{store.partition(':')[0]}"
    worker = parts.Worker(settings, name, run_dir)
    worker.env["STREAM_STORE"] = store
    # Idle partitions let the watermark pass soon, so the EWT errors (booked once it passes an
    # answer) settle within seconds of the last event, as in the integration tests.
    worker.env["STREAM_IDLE_SECONDS"] = str(IDLE_SECONDS)
    async with aiohttp.ClientSession() as session:
        try:
            started = worker.start()
            await worker.wait_ready(session, timeout)
            ready = time.perf_counter()
            first: list[tuple[float, float]] = []  # (when, events counted) at the first scrape

            async def counted() -> bool:
                n = await worker.processed(session)
                if n is not None and not first:
                    first.append((time.perf_counter(), n))
                return n == total

            await parts.poll(counted, timeout, f"{store}: every event counted", 0.05)
            done = time.perf_counter()
            rss = worker.rss()
            ((t0, n0),) = first
            rate = (total - n0) / (done - t0) if done > t0 and total > n0 else 0.0
            truth = await settled(worker, session, timeout)
            worker.stop()
            reads_before = len(_READ.findall(worker.log_path.read_text(errors="replace")))

            restarted = worker.start()
            await worker.wait_ready(session, timeout)
            restart_ready = time.perf_counter()

            async def exact() -> bool:
                body = await worker.get(session, "/metrics")
                return body is not None and stable([body]) == truth

            await parts.poll(exact, timeout, f"{store}: the same numbers after a restart", 0.05)
            restart_exact = time.perf_counter()
        finally:
            worker.stop()
    reads = [int(n) for n in _READ.findall(worker.log_path.read_text(errors="replace"))]
    return StoreRun(
        store=store,
        events=total,
        ready_seconds=ready - started,
        all_counted_seconds=done - started,
        rate=rate,
        rss_bytes=rss,
        restart_ready_seconds=restart_ready - restarted,
        restart_exact_seconds=restart_exact - restarted,
        changelog_records_read=sum(reads[reads_before:]) if reads else None,
    )


async def main_async(args: argparse.Namespace) -> list[StoreRun]:
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    plan = parts.Plan(events=args.events, queues=args.queues)
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        data = work / "events.ndjson"
        total = await asyncio.to_thread(parts.record, data, plan, datetime.now(UTC))
        settings = parts.topic_settings(broker, "store")
        await parts.publish_file(settings, data, total)
        runs = []
        for store in args.stores:
            run = await measure(settings, store, total, work, args.timeout)
            parts.say(row(run))
            runs.append(run)
        return runs


def row(run: StoreRun) -> str:
    read = "" if run.changelog_records_read is None else f", {run.changelog_records_read} read"
    return (
        f"{run.store}: {run.events} events, ready in {run.ready_seconds:.1f} s, all counted "
        f"{run.all_counted_seconds:.1f} s after the start ({run.rate:,.0f} events/s, "
        f"RSS {run.rss_bytes / 2**20:.0f} MiB); "
        f"restart: ready in {run.restart_ready_seconds:.1f} s, "
        f"exact in {run.restart_exact_seconds:.1f} s{read}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.store",
        description="A worker's events/s and restart-to-exact time with each table store.",
    )
    parser.add_argument("--events", type=int, default=200_000, help="size of the event set")
    parser.add_argument("--queues", type=int, default=40, help="queues in the event set")
    parser.add_argument("--stores", nargs="+", default=list(STORES), help="store URLs compared")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a step may take")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-store")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for run in asyncio.run(main_async(args)):
        print(row(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())

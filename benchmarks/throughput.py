"""``python -m benchmarks.throughput``: only the ceiling and throughput phases of ``make bench``.

Owns a quick reading of the worker's rate against the raw consumer's, without the rest of the
benchmark: the bench event set (``benchmarks.run.record``) published to an embedded broker, the
ceiling (``benchmarks.run.raw_consumer_rate``), then a cold worker through the set and its
restart (as ``benchmarks.run.throughput_and_recovery``), ``--repeat`` times, each on a fresh
broker. Besides the rates it reads the worker's CPU seconds per 1M events (user + system, from
its first processed event to its last): on a shared machine the rates move with the other load,
the CPU per event much less. It prints one line per run and the medians; it writes no report
(``make bench`` writes docs/benchmarks.md). Nothing here asserts timing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from benchmarks import parts
from stream.config import Settings
from stream.dev.broker import EmbeddedBroker


@dataclass(slots=True)
class Reading:
    """One run: the ceiling's and the worker's rates, the worker's CPU seconds (user + system,
    ``/proc/<pid>/stat``) from its first processed event to its last, and its restart."""

    ceiling_rate: float
    pipeline_rate: float
    cpu_seconds: float
    cold_seconds: float
    recovery_seconds: float
    events: int

    @property
    def ratio(self) -> float:
        return self.pipeline_rate / self.ceiling_rate if self.ceiling_rate else 0.0

    @property
    def cpu_per_million(self) -> float:
        """CPU seconds per 1,000,000 events: what a shared, noisy machine changes least."""
        return self.cpu_seconds * 1e6 / self.events if self.events else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(
    settings: Settings, total: int, run_dir: Path, plan: parts.Plan, *, restart: bool = True
) -> Reading:
    """A cold worker through the published set (``benchmarks.run.throughput_and_recovery``'s
    rate, and the worker's CPU time), then stopped and (``restart``) restarted until its metrics
    match."""
    worker = parts.Worker(settings, "bench-throughput", run_dir)
    async with aiohttp.ClientSession() as session:
        started = worker.start()
        assert worker.proc is not None
        first: float | None = None
        cpu_first = 0.0
        done = 0.0
        while done < total:
            await asyncio.sleep(0.25)
            count = await worker.processed(session)
            if count is None:
                continue
            if count and first is None:
                first, cpu_first = time.perf_counter(), cpu_seconds(worker.proc.pid)
            done = max(done, count)
            if time.perf_counter() - started > plan.timeout:
                raise RuntimeError(f"the worker processed {done}/{total}")
        if done != total:
            raise RuntimeError(f"the worker counted {done} events of {total}")
        finished, cpu_last = time.perf_counter(), cpu_seconds(worker.proc.pid)
        assert first is not None
        rate = total / max(finished - first + 0.25, 1e-9)  # as make bench counts it
        if not restart:
            worker.stop()
            return Reading(0.0, rate, cpu_last - cpu_first, finished - started, 0.0, total)
        before = parts.stable_series(await worker.get(session, "/metrics") or "")
        worker.stop()
        restarted = worker.start()

        async def same_again() -> bool:
            if not await worker.ready(session):
                return False
            return parts.stable_series(await worker.get(session, "/metrics") or "") == before

        await parts.poll(same_again, plan.timeout, "the restarted worker's metrics", 0.1)
        recovery = time.perf_counter() - restarted
        worker.stop()
    return Reading(0.0, rate, cpu_last - cpu_first, finished - started, recovery, total)


async def measure(
    plan: parts.Plan, repeat: int, work: Path, *, restart: bool = True
) -> list[Reading]:
    """``repeat`` readings, each on a fresh broker (the phase's topics and consumer group are
    fixed names) with the set published again and a fresh worker."""
    results: list[Reading] = []
    data = work / "events.ndjson"
    total = await asyncio.to_thread(parts.record, data, plan, datetime.now(UTC))
    for i in range(repeat):
        run_dir = work / f"run-{i}"
        run_dir.mkdir(parents=True, exist_ok=True)
        with EmbeddedBroker(log_path=run_dir / "broker.log") as broker:
            settings = parts.topic_settings(broker, "bench")
            await parts.publish_file(settings, data, total)
            ceiling = await parts.raw_consumer_rate(settings, total)
            out = await throughput(settings, total, run_dir, plan, restart=restart)
        out.ceiling_rate = ceiling
        results.append(out)
        print(
            f"run {i + 1}: ceiling {out.ceiling_rate:,.0f} events/s, pipeline "
            f"{out.pipeline_rate:,.0f} events/s ({out.ratio:.3f} of the ceiling), "
            f"{out.cpu_per_million:.1f} CPU s per 1M events, cold {out.cold_seconds:.1f} s, "
            f"recovery {out.recovery_seconds:.1f} s",
            flush=True,
        )
    return results


def build_parser() -> argparse.ArgumentParser:
    d = parts.Plan()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput",
        description="Only make bench's ceiling and throughput phases (and the restart after "
        "them), repeated on fresh brokers; prints the runs and the median ratio.",
    )
    parser.add_argument("--repeat", type=int, default=1, help="throughput phases to run")
    parser.add_argument("--events", type=int, default=d.events, help="size of the event set")
    parser.add_argument("--queues", type=int, default=d.queues, help="queues in the event set")
    parser.add_argument("--no-restart", action="store_true",
                        help="skip the restart (its full /metrics scrapes are slow on a loaded "
                        "machine)")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="broker and worker logs (default: a temporary directory)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = dataclasses.replace(parts.Plan(), events=args.events, queues=args.queues)
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(measure(plan, args.repeat, work, restart=not args.no_restart))
    ratios = [r.ratio for r in results]
    rates = [r.pipeline_rate for r in results]
    cpu = [r.cpu_per_million for r in results]
    print(f"median: {statistics.median(rates):,.0f} events/s, {statistics.median(ratios):.3f} of "
          f"the ceiling, {statistics.median(cpu):.1f} CPU s per 1M events "
          f"({len(results)} runs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

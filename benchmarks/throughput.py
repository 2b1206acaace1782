"""``python -m benchmarks.throughput``: only the ceiling and throughput phases of ``make bench``.

Owns a quick reading of the worker's rate against the raw consumer's, without the rest of the
benchmark: the bench event set (``benchmarks.run.record``) published to an embedded broker, the
ceiling (``benchmarks.run.raw_consumer_rate``), then a cold worker through the set and its
restart (``benchmarks.run.throughput_and_recovery``), ``--repeat`` times, each on a fresh
broker. It prints one line per run and the median ratio; it writes no report (``make bench``
writes docs/benchmarks.md). Nothing here asserts timing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import run as bench
from stream.broker import EmbeddedBroker


async def measure(plan: bench.Plan, repeat: int, work: Path) -> list[bench.Results]:
    """``repeat`` readings, each on a fresh broker (the phase's topics and consumer group are
    fixed names) with the set published again and a fresh worker."""
    results: list[bench.Results] = []
    data = work / "events.ndjson"
    total = await asyncio.to_thread(bench.record, data, plan, datetime.now(UTC))
    for i in range(repeat):
        run_dir = work / f"run-{i}"
        run_dir.mkdir(parents=True, exist_ok=True)
        out = bench.Results(plan)
        with EmbeddedBroker(log_path=run_dir / "broker.log") as broker:
            settings = bench.topic_settings(broker, "bench")
            out.publish_rate = await bench.publish_file(settings, data, total)
            out.ceiling_rate = await bench.raw_consumer_rate(settings, total)
            await bench.throughput_and_recovery(settings, total, run_dir, plan, out)
        results.append(out)
        print(
            f"run {i + 1}: ceiling {out.ceiling_rate:,.0f} events/s, pipeline "
            f"{out.pipeline_rate:,.0f} events/s ({out.ratio:.3f} of the ceiling), cold "
            f"{out.pipeline_cold_seconds:.1f} s, recovery {out.recovery_seconds:.1f} s",
            flush=True,
        )
    return results


def build_parser() -> argparse.ArgumentParser:
    d = bench.Plan()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput",
        description="Only make bench's ceiling and throughput phases (and the restart after "
        "them), repeated on fresh brokers; prints the runs and the median ratio.",
    )
    parser.add_argument("--repeat", type=int, default=1, help="throughput phases to run")
    parser.add_argument("--events", type=int, default=d.events, help="size of the event set")
    parser.add_argument("--queues", type=int, default=d.queues, help="queues in the event set")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="broker and worker logs (default: a temporary directory)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = dataclasses.replace(bench.Plan(), events=args.events, queues=args.queues)
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(measure(plan, args.repeat, work))
    ratios = [r.ratio for r in results]
    rates = [r.pipeline_rate for r in results]
    print(f"median: {statistics.median(rates):,.0f} events/s, {statistics.median(ratios):.3f} of "
          f"the ceiling ({len(results)} runs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

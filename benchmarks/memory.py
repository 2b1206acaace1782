"""``python -m benchmarks.memory``: only the memory phase of ``make bench``, repeated.

Owns a quick reading of the bytes a worker keeps per open contact, without the rest of the
benchmark: ``--repeat`` times ``benchmarks.run.memory`` (a fresh worker's ``VmRSS`` idle, then
with the open tickets awaiting a first response and the waiting calls, the difference ÷
contacts), each on an embedded broker of its own. It prints one line per run and the median; it
writes no report (``make bench`` writes docs/benchmarks.md). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import parts
from benchmarks import run as bench
from stream.dev.broker import EmbeddedBroker


async def measure(plan: parts.Plan, repeat: int, work: Path) -> list[bench.Results]:
    """``repeat`` memory phases, each on a fresh broker (the phase's topics and group are
    fixed names) with a fresh worker."""
    results: list[bench.Results] = []
    for i in range(repeat):
        run_dir = work / f"run-{i}"
        run_dir.mkdir(parents=True, exist_ok=True)
        out = bench.Results(plan)
        with EmbeddedBroker(log_path=run_dir / "broker.log") as broker:
            await bench.memory(broker, run_dir, plan, out)
        results.append(out)
        print(
            f"run {i + 1}: {out.rss_before / 2**20:.1f} MiB -> {out.rss_after / 2**20:.1f} MiB,"
            f" {out.bytes_per_contact:,.0f} bytes per open contact",
            flush=True,
        )
    return results


def build_parser() -> argparse.ArgumentParser:
    d = parts.Plan()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description="Only make bench's memory phase: a fresh worker's VmRSS idle and with the "
        "open contacts, bytes per open contact, repeated; prints the runs and their median.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="memory phases to run")
    parser.add_argument("--open-tickets", type=int, default=d.open_tickets)
    parser.add_argument("--waiting-calls", type=int, default=d.waiting_calls)
    parser.add_argument("--queues", type=int, default=d.queues)
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="broker and worker logs (default: a temporary directory)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = dataclasses.replace(
        parts.Plan(),
        open_tickets=args.open_tickets,
        waiting_calls=args.waiting_calls,
        queues=args.queues,
    )
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(measure(plan, args.repeat, work))
    per = [r.bytes_per_contact for r in results]
    print(f"median: {statistics.median(per):,.0f} bytes per open contact "
          f"(min {min(per):,.0f}, max {max(per):,.0f}, {len(per)} runs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

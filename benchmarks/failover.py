"""Failover: two workers of one app, one SIGKILLed; how long until the other serves exact numbers.

Owns the failover measurement of ``make bench`` (``benchmarks.run`` calls `failover`) and runs
on its own: ``python -m benchmarks.failover``. On one embedded broker it publishes a simulated
event set (``benchmarks.run.record``), starts two workers of one consumer group, waits until
they split the partitions and have counted every event, and takes the truth: their counters,
histograms and backlog gauges added together. Then, ``kills`` times, it SIGKILLs one of them
(alternately) and polls the survivor's ``/ready`` and ``/metrics`` every 50 ms:

- ``detected``: the survivor stops being ready (the group noticed and started a rebalance);
- ``owned``: the survivor is ready again and owns every partition;
- ``exact``: and every stable series equals the truth — the takeover time (taken when the
  proving ``/metrics`` answer arrived, before this process parses it: ~0.4 s for 40 queues).

The killed worker is started again (same data directory) and the pair splits again before the
next kill. The survivor's own log is kept in the work directory for the details. Nothing here
asserts timing; the run fails only if the survivor never serves the truth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import parts
from stream.config import Settings
from stream.dev.broker import EmbeddedBroker

ROOT: Final = Path(__file__).resolve().parent.parent
POLL_SECONDS: Final = 0.05


@dataclass(frozen=True, slots=True)
class Takeover:
    """Seconds from the SIGKILL to each step of one takeover."""

    detected: float
    owned: float
    exact: float


@dataclass(slots=True)
class FailoverResults:
    """The takeovers of one run and the settings they ran with."""

    events: int
    session_timeout_seconds: float
    takeovers: list[Takeover] = field(default_factory=list)

    @property
    def median_exact(self) -> float:
        return statistics.median(t.exact for t in self.takeovers) if self.takeovers else 0.0

    @property
    def median_detected(self) -> float:
        return statistics.median(t.detected for t in self.takeovers) if self.takeovers else 0.0

    @property
    def median_owned(self) -> float:
        return statistics.median(t.owned for t in self.takeovers) if self.takeovers else 0.0


def stable(texts: Sequence[str]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The stable series (``benchmarks.run.stable_series``) of several workers, added up."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name.startswith(parts.PROCESS_MEASURES):
                    continue  # each worker's own arrivals: not the traffic's
                if s.name.endswith(parts.STABLE_SUFFIXES) or s.name in parts.STABLE_GAUGES:
                    key = (s.name, frozenset(s.labels.items()))
                    out[key] = out.get(key, 0.0) + s.value
    return out


def difference(
    truth: dict[tuple[str, frozenset[tuple[str, str]]], float],
    seen: dict[tuple[str, frozenset[tuple[str, str]]], float],
    most: int = 10,
) -> str:
    """The series that differ (truth → seen), at most ``most`` of them, for the failure."""
    keys = sorted(k for k in truth.keys() | seen.keys() if truth.get(k) != seen.get(k))
    shown = [
        f"{name}{{{','.join(f'{k}={v}' for k, v in sorted(labels))}}}: "
        f"{truth.get((name, labels))} → {seen.get((name, labels))}"
        for name, labels in keys[:most]
    ]
    families = sorted({name for name, _ in keys})
    return f"{len(keys)} series of {families} differ: " + "; ".join(shown)


async def _ready_doc(worker: parts.Worker, session: aiohttp.ClientSession) -> dict[str, object]:
    body = await worker.get(session, "/ready")
    if body is None:
        return {}
    try:
        doc: dict[str, object] = json.loads(body)
    except json.JSONDecodeError:
        return {}
    return doc


async def _owned(worker: parts.Worker, session: aiohttp.ClientSession) -> set[int] | None:
    doc = await _ready_doc(worker, session)
    if not doc.get("ready"):
        return None
    owned = doc.get("partitions")
    return set(owned) if isinstance(owned, list) else None


async def _split(pair: Sequence[parts.Worker], session: aiohttp.ClientSession) -> bool:
    a, b = [await _owned(w, session) for w in pair]
    everything = set(range(parts.PARTITIONS))
    return bool(a and b) and (a | b) == everything and not (a & b)  # type: ignore[operator]


def _kill(worker: parts.Worker) -> None:
    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)


async def takeover(
    survivor: parts.Worker,
    victim: parts.Worker,
    truth: dict[tuple[str, frozenset[tuple[str, str]]], float],
    session: aiohttp.ClientSession,
    timeout: float,
) -> Takeover:
    """SIGKILL ``victim``; seconds until ``survivor`` notices, owns everything, serves the truth."""
    everything = set(range(parts.PARTITIONS))
    killed = time.perf_counter()
    _kill(victim)
    detected = owned = None
    last_diff = "the survivor never owned every partition"
    while True:
        now = time.perf_counter() - killed
        if now > timeout:
            raise RuntimeError(f"no exact takeover within {timeout:.0f} s: {last_diff}")
        doc = await _ready_doc(survivor, session)
        if detected is None and not doc.get("ready"):
            detected = now
        listed = doc.get("partitions")
        if doc.get("ready") and isinstance(listed, list) and set(listed) == everything:
            if owned is None:
                owned = now
            body = await survivor.get(session, "/metrics")
            served = time.perf_counter() - killed  # not counting our own parsing of the answer
            if body is not None:
                seen = stable([body])
                if seen == truth:
                    return Takeover(detected if detected is not None else owned, owned, served)
                last_diff = difference(truth, seen)
        await asyncio.sleep(POLL_SECONDS)


SETTLE_SECONDS: Final = 3.0
"""Two readings this far apart must agree before the truth is taken: once every event is
counted, the watermark still has to pass the last answers before their EWT errors are settled
(``contact_centre_ewt_error_seconds``), which takes a progress report or two."""


async def reading(
    pair: Sequence[parts.Worker], session: aiohttp.ClientSession
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The pair's stable series now, added up (``stable``)."""
    return stable([await w.get(session, "/metrics") or "" for w in pair])


async def settled(
    pair: Sequence[parts.Worker], session: aiohttp.ClientSession, timeout: float
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The pair's stable series once two readings ``SETTLE_SECONDS`` apart are equal."""
    readings = [await reading(pair, session)]  # the last two

    async def agree() -> bool:
        await asyncio.sleep(SETTLE_SECONDS)
        readings[:] = [readings[-1], await reading(pair, session)]
        return readings[-1] == readings[-2]

    await parts.poll(agree, timeout, "the pair's numbers to settle", 0.0)
    return readings[-1]


async def failover(
    settings: Settings,
    total: int,
    run_dir: Path,
    kills: int,
    timeout: float = 180.0,
    extra_env: dict[str, str] | None = None,
) -> FailoverResults:
    """Two workers on the set already published under ``settings``; ``kills`` takeovers."""
    pair = [parts.Worker(settings, "bench-failover", run_dir) for _ in range(2)]
    for i, w in enumerate(pair):
        w.log_path = run_dir / f"bench-failover-{i}.log"
        w.env["STREAM_DATA_DIR"] = str(run_dir / f"bench-failover-{i}")
        w.env.update(extra_env or {})
    session_timeout = float(pair[0].env.get("STREAM_SESSION_TIMEOUT_SECONDS", "10"))
    out = FailoverResults(total, session_timeout)
    async with aiohttp.ClientSession() as session:
        try:
            for w in pair:
                w.start()

            async def counted() -> bool:
                counts = [await w.processed(session) for w in pair]
                return await _split(pair, session) and sum(c or 0 for c in counts) == total

            await parts.poll(counted, timeout, "two workers to split and count the set", 0.25)
            truth = await settled(pair, session, timeout)
            for k in range(kills):
                victim, survivor = pair[k % 2], pair[1 - k % 2]
                t = await takeover(survivor, victim, truth, session, timeout)
                out.takeovers.append(t)
                parts.say(
                    f"takeover {k + 1}/{kills}: detected {t.detected:.2f} s, "
                    f"owned {t.owned:.2f} s, exact {t.exact:.2f} s"
                )
                if k + 1 < kills:
                    victim.start()

                    async def split_and_exact() -> bool:
                        if not await _split(pair, session):
                            return False
                        return await reading(pair, session) == truth

                    await parts.poll(split_and_exact, timeout, "the pair to split again", 0.25)
        finally:
            for w in pair:
                w.stop()
    return out


def report_rows(out: FailoverResults) -> list[tuple[str, str, str, str]]:
    """Rows for the table of ``docs/benchmarks.md``."""
    n = len(out.takeovers)
    each = ", ".join(f"{t.exact:.1f}" for t in out.takeovers)
    return [
        (f"Failover: one of two workers SIGKILLed → the other exact for all partitions "
         f"(median of {n}; each: {each} s)", f"{out.median_exact:.1f} s", "<= 5 s",
         "yes" if out.median_exact <= 5.0 else "**no**"),
        ("Failover: kill → the group noticed, → the survivor owns every partition (medians)",
         f"{out.median_detected:.1f} s, {out.median_owned:.1f} s", "", ""),
    ]  # fmt: skip


async def main_async(args: argparse.Namespace) -> FailoverResults:
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    plan = parts.Plan(events=args.events, queues=args.queues)
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        data = work / "events.ndjson"
        total = await asyncio.to_thread(parts.record, data, plan, datetime.now(UTC))
        settings = parts.topic_settings(broker, "failover")
        await parts.publish_file(settings, data, total)
        extra = dict(kv.split("=", 1) for kv in args.env)
        return await failover(settings, total, work, args.kills, extra_env=extra)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.failover",
        description="Two workers, one SIGKILLed: seconds until the other serves exact numbers.",
    )
    parser.add_argument("--events", type=int, default=200_000, help="size of the event set")
    parser.add_argument("--queues", type=int, default=40, help="queues in the event set")
    parser.add_argument("--kills", type=int, default=5, help="takeovers measured")
    parser.add_argument("--env", action="append", default=[], metavar="STREAM_X=VALUE",
                        help="an extra worker setting (repeatable)")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-failover")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = asyncio.run(main_async(args))
    for row in report_rows(out):
        print(f"{row[0]}: {row[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Queue cardinality at the limit: ``/metrics`` of a worker holding ``STREAM_MAX_QUEUES`` queues.

Owns the ``## Queue cardinality`` section of ``docs/benchmarks.md``. One worker (8 partitions)
gets calls and tickets of exactly as many queues as its shares admit (``stream.core.admission``):
every partition full. Then 20,000 further queue names, one call each, which must all be
rejected (``too_many_queues``) without adding a series. Measured: ``/metrics`` scrape time
(median and max of several full scrapes, one after the other), its size and series count, the
series of one queue, and the worker's resident size idle, full, and after the refused names.

Runs inside ``make bench`` (``benchmarks.run``) or alone: ``python -m benchmarks.cardinality``
(its own embedded broker; rewrites only its section of the report). Nothing here asserts timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiokafka import AIOKafkaProducer

from benchmarks.parts import PARTITIONS, ROOT, Worker, poll, topic_settings
from benchmarks.report import replace_section
from stream.broker import create_topics
from stream.config import Settings
from stream.core.admission import DEFAULT_MAX_QUEUES, share
from stream.dev.broker import EmbeddedBroker
from stream.stages.pipeline import queue_partition

HEADING: Final = "## Queue cardinality"
REFUSED_QUEUES: Final = 20_000
SCRAPES: Final = 10
_REJECTED: Final = 'contact_centre_events_rejected_total{reason="too_many_queues"}'


@dataclass(slots=True)
class Cardinality:
    """The figures of one run."""

    max_queues: int = DEFAULT_MAX_QUEUES
    partitions: int = PARTITIONS
    queues: int = 0
    refused_queues: int = 0
    refused_events: float = 0.0
    events: int = 0
    series: int = 0
    series_per_queue: int = 0
    series_without_queues: int = 0
    bytes: int = 0
    scrape_median: float = 0.0
    scrape_max: float = 0.0
    scrape_times: list[float] = field(default_factory=list)
    series_after_refused: int = 0
    rss_idle: int = 0
    rss_full: int = 0
    rss_after_refused: int = 0


def admitted_names(max_queues: int, partitions: int) -> list[str]:
    """Queue names that fill every partition's share exactly (``queue_partition``)."""
    wanted = {p: share(max_queues, partitions, p) for p in range(partitions)}
    out: list[str] = []
    i = 0
    while any(wanted.values()):
        name = f"queue-{i:05d}"
        p = queue_partition(name, partitions)
        if wanted[p]:
            wanted[p] -= 1
            out.append(name)
        i += 1
    return out


def _events(queue: str, at: datetime) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """A call (queued, answered, ended, wrapped up) and an answered, surveyed email ticket."""

    def t(seconds: float) -> str:
        return (at + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    cid, tid = f"{queue}-c", f"{queue}-t"
    call = {"call_id": cid}
    for i, (type_, extra) in enumerate((
        ("call.queued", {"queue": queue}),
        ("call.answered", {"agent_id": "a1"}),
        ("call.ended", {}),
        ("call.wrapup_completed", {}),
    )):  # fmt: skip
        yield "calls", cid, {"type": type_, "event_id": f"{cid}-{i}", "occurred_at": t(10 * i),
                             **call, **extra}  # fmt: skip
    ticket = {"ticket_id": tid}
    steps: tuple[tuple[str, dict[str, Any]], ...] = (
        ("ticket.created", {"queue": queue, "channel": "email"}),
        ("ticket.message_added", {"author": "agent", "agent_id": "a1"}),
        ("survey.responded", {"kind": "csat", "score": 5}),
    )
    for i, (step, fields) in enumerate(steps):
        yield "tickets", tid, {"type": step, "event_id": f"{tid}-{i}",
                               "occurred_at": t(5 + 10 * i), **ticket, **fields}  # fmt: skip


async def _publish(settings: Settings, messages: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
    topics = {"calls": settings.topic_calls, "tickets": settings.topic_tickets}
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        for kind, key, body in messages:
            await producer.send(topics[kind], key=key.encode(), value=json.dumps(body).encode())
        await producer.flush()
    finally:
        await producer.stop()
    return len(messages)


def _series(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


async def _scrape(worker: Worker, session: aiohttp.ClientSession) -> tuple[float, str]:
    started = time.perf_counter()
    async with session.get(worker.url + "/metrics", timeout=aiohttp.ClientTimeout(60)) as r:
        body = await r.text()
    return time.perf_counter() - started, body


async def _settled_rss(worker: Worker) -> int:
    await asyncio.sleep(worker_trim_seconds() + 1.0)  # the heap trimmed after the burst
    return worker.rss()


def worker_trim_seconds() -> float:
    return Settings().heap_trim_seconds


async def measure(
    broker: EmbeddedBroker,
    work: Path,
    *,
    max_queues: int = DEFAULT_MAX_QUEUES,
    refused_queues: int = REFUSED_QUEUES,
    scrapes: int = SCRAPES,
    timeout: float = 300.0,
) -> Cardinality:
    out = Cardinality(max_queues=max_queues, refused_queues=refused_queues)
    settings = topic_settings(broker, "cardinality")
    await create_topics(settings.bootstrap_servers, settings.input_topics, PARTITIONS)
    work.mkdir(parents=True, exist_ok=True)
    worker = Worker(settings, "bench-cardinality", work)
    worker.env["STREAM_MAX_QUEUES"] = str(max_queues)
    worker.start()
    try:
        async with aiohttp.ClientSession() as session:
            await worker.wait_ready(session, timeout)
            out.rss_idle = await _settled_rss(worker)
            at = datetime.now(UTC) - timedelta(minutes=10)
            names = admitted_names(max_queues, PARTITIONS)
            out.queues = len(names)
            messages = [m for q in names for m in _events(q, at)]
            sent = await _publish(settings, messages)
            await poll(lambda: _processed(worker, session, sent), timeout, "the queues", 0.25)
            out.rss_full = await _settled_rss(worker)
            bodies: list[str] = []
            for _ in range(scrapes):
                seconds, body = await _scrape(worker, session)
                out.scrape_times.append(seconds)
                bodies.append(body)
            body = bodies[-1]
            out.bytes = len(body.encode())
            series = _series(body)
            out.series = len(series)
            out.series_per_queue = sum(f'queue="{names[0]}"' in line for line in series)
            out.series_without_queues = sum('queue="' not in line for line in series)
            out.scrape_median = statistics.median(out.scrape_times)
            out.scrape_max = max(out.scrape_times)
            refused = [
                ("calls", f"r{i}", {"type": "call.queued", "event_id": f"r{i}",
                                    "occurred_at": at.isoformat().replace("+00:00", "Z"),
                                    "call_id": f"r{i}", "queue": f"unplanned-{i:05d}"})
                for i in range(refused_queues)
            ]  # fmt: skip
            total = sent + await _publish(settings, refused)
            await poll(lambda: _processed(worker, session, total), timeout, "the refused", 0.25)
            out.events = total
            out.rss_after_refused = await _settled_rss(worker)
            _, body = await _scrape(worker, session)
            out.series_after_refused = len(_series(body))
            out.refused_events = sum(
                float(line.rpartition(" ")[2])
                for line in _series(body)
                if line.startswith(_REJECTED)
            )
            if out.refused_events != refused_queues:
                raise RuntimeError(f"{out.refused_events} refused, expected {refused_queues}")
    finally:
        worker.stop()
    return out


async def _processed(worker: Worker, session: aiohttp.ClientSession, expected: int) -> bool:
    return await worker.processed(session) == expected


def section(c: Cardinality) -> str:
    """The report's section (heading to the end of the file)."""
    mib = 2**20
    rows = [
        (f"`/metrics` scrape at {c.queues} queues: median, max of {len(c.scrape_times)}",
         f"{c.scrape_median * 1000:.0f} ms, {c.scrape_max * 1000:.0f} ms", "< 1 s",
         "yes" if c.scrape_max < 1.0 else "**no**"),
        ("`/metrics` size, series", f"{c.bytes / mib:.1f} MiB, {c.series:,} series", "", ""),
        ("Series per queue (every channel of the contract; gauges)", f"{c.series_per_queue}",
         "", ""),
        ("Series without a queue label", f"{c.series_without_queues}", "", ""),
        (f"After {c.refused_queues:,} further queue names: series; rejected `too_many_queues`",
         f"{c.series_after_refused:,}; {c.refused_events:,.0f}",
         "+1 (the rejected counter); all",
         "yes" if c.series_after_refused == c.series + 1 and c.refused_events == c.refused_queues
         else "**no**"),
        ("Resident size: idle → full → after the refused names",
         f"{c.rss_idle / mib:.0f} → {c.rss_full / mib:.0f} → {c.rss_after_refused / mib:.0f} MiB",
         "", ""),
        ("Resident bytes per refused queue name (its one open call: route, dead letter)",
         f"{(c.rss_after_refused - c.rss_full) / max(c.refused_queues, 1):,.0f} B", "", ""),
    ]  # fmt: skip
    return "\n".join([
        HEADING,
        "",
        f"Written by `python -m benchmarks.cardinality` (also part of `make bench`). One worker, "
        f"{c.partitions} partitions, `STREAM_MAX_QUEUES={c.max_queues}` (the default): queue "
        f"names chosen to fill every partition's share exactly, each with a completed call on "
        "phone and an answered, surveyed email ticket; then the further names, one "
        "`call.queued` each. Scrapes are full `/metrics` GETs one after the other (the "
        "machine is shared: the max is the noisy one). A known queue — in the targets file or "
        "admitted — exports every counter and histogram for each of the contract's 6 channels "
        "from the start, at 0 until its first count, so most of its series are those "
        "(`docs/reliability.md`).",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {t} | {m} |" for a, b, t, m in rows),
        "",
    ])  # fmt: skip


def write_section(doc: Path, c: Cardinality) -> None:
    """Replace (or append) the section in ``doc``; the rest of the report stays as it is."""
    replace_section(doc, HEADING, section(c))


async def _alone(args: argparse.Namespace) -> Cardinality:
    with EmbeddedBroker(log_path=args.work_dir / "broker.log") as broker:
        return await measure(
            broker, args.work_dir, max_queues=args.max_queues, refused_queues=args.refused
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cardinality",
        description="Measure /metrics of one worker at STREAM_MAX_QUEUES queues and update its "
        "section of docs/benchmarks.md.",
    )
    parser.add_argument("--max-queues", type=int, default=DEFAULT_MAX_QUEUES)
    parser.add_argument("--refused", type=int, default=REFUSED_QUEUES,
                        help="further queue names sent after the limit is reached")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-cardinality")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(_alone(args))
    write_section(args.doc, result)
    (args.work_dir / "cardinality.json").write_text(json.dumps(asdict(result), indent=2))
    print(section(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

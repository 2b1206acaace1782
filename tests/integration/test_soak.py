"""Soak: a bounded run at a steady rate; the worker's memory is flat after warm-up, nothing is lost.

Run with ``make soak`` (excluded from ``make test``). Settings (environment variables):

* ``SOAK_SECONDS`` (default 1200) and ``SOAK_RATE`` (events/s, default 2000);
* ``SOAK_RETENTION_SECONDS`` (default 10): finished contacts, and with them their de-duplication
  entries and routes, are forgotten this long after their last event (the expiry timer runs
  every 60 s), so per-contact memory must stop growing;
* ``SOAK_WARMUP_SECONDS`` (default: a third of the run, at least retention + 90 s);
* ``SOAK_RSS_TOLERANCE`` (default 0.10): allowed RSS growth after warm-up, as a fraction.

Traffic is call and ticket lifecycles in 20 queues with event time = wall time (no frozen clock),
plus 1 % re-sent duplicates and 0.1 % bad messages. The worker's RSS (``/proc``), what was
published and what the worker accounted for are sampled every 5 s and written to
``test-output/soak/rss.csv`` and ``rss.png``.
"""

from __future__ import annotations

import asyncio
import csv
import heapq
import json
import os
import statistics
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import WorkerProcess, accounted, rss_bytes, total, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.soak]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "soak"
QUEUES = [f"soak-{i}" for i in range(20)]
SAMPLE_EVERY = 5.0
MIB = 1024 * 1024


def setting(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class Traffic:
    """Contacts whose next events fall due as the wall clock passes their times."""

    def __init__(self) -> None:
        self.n = 0
        self.due: list[tuple[float, int, str, str, dict[str, Any]]] = []  # a heap
        self.good = self.duplicates = self.bad = 0
        self.recent: deque[tuple[str, str, bytes]] = deque(maxlen=200)

    def _start_contact(self, now: float) -> None:
        self.n += 1
        queue = QUEUES[self.n % len(QUEUES)]
        if self.n % 3:  # calls: queued, answered 2 s later (or abandoned), ended, wrapped up
            cid = f"c{self.n}"
            steps: list[tuple[float, str, dict[str, Any]]] = [(0, "call.queued", {"queue": queue})]
            if self.n % 10 == 0:
                steps.append((3, "call.abandoned", {}))
            else:
                steps += [(2, "call.answered", {"agent_id": "a"}), (4, "call.ended", {}),
                          (5, "call.wrapup_completed", {})]  # fmt: skip
            for i, (dt, type_, extra) in enumerate(steps):
                body = {"type": type_, "event_id": f"{cid}-{i}", "call_id": cid, **extra}
                heapq.heappush(self.due, (now + dt, self.n * 10 + i, "calls", cid, body))
        else:  # tickets: created, answered, solved, closed
            tid = f"t{self.n}"
            tsteps: list[tuple[float, str, dict[str, Any]]] = [
                (0, "ticket.created", {"queue": queue, "channel": "email"}),
                (1, "ticket.message_added", {"author": "agent"}),
                (3, "ticket.status_changed", {"status": "solved"}),
                (5, "ticket.status_changed", {"status": "closed"}),
            ]
            for i, (dt, type_, extra) in enumerate(tsteps):
                body = {"type": type_, "event_id": f"{tid}-{i}", "ticket_id": tid, **extra}
                heapq.heappush(self.due, (now + dt, self.n * 10 + i, "tickets", tid, body))

    def take(self, now: float, count: int) -> list[tuple[str, str, bytes]]:
        """Up to ``count`` messages: due lifecycle events first, new contacts to fill up."""
        out: list[tuple[str, str, bytes]] = []
        while len(out) < count:
            if not self.due or self.due[0][0] > now:
                self._start_contact(now)
                continue
            at, _, topic, key, body = heapq.heappop(self.due)
            msg = (topic, key, json.dumps({**body, "occurred_at": iso(at)}).encode())
            self.recent.append(msg)
            self.good += 1
            out.append(msg)
            if self.good % 100 == 0 and len(out) < count:
                out.append(self.recent[0])
                self.duplicates += 1
            if self.good % 1000 == 0 and len(out) < count:
                out.append(("calls", "bad", b"{not json"))
                self.bad += 1
        return out


async def drive(
    bootstrap: str, worker: WorkerProcess, seconds: float, rate: float
) -> tuple[Traffic, list[tuple[float, float, int, float]]]:
    """Publish at ``rate`` for ``seconds``; sample (elapsed, RSS MiB, published, accounted)."""
    traffic = Traffic()
    samples: list[tuple[float, float, int, float]] = []
    assert worker.proc is not None
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    published = 0
    try:
        start = time.monotonic()
        next_sample = start
        while (now_m := time.monotonic()) - start < seconds:
            target = int((now_m - start) * rate)
            for topic, key, value in traffic.take(time.time(), target - published):
                await producer.send(topic, key=key.encode(), value=value)
                published += 1
            if now_m >= next_sample:
                scraped = await asyncio.to_thread(worker.scrape)
                rss = rss_bytes(worker.proc.pid) / MIB
                samples.append((now_m - start, rss, published, accounted(scraped)))
                next_sample += SAMPLE_EVERY
            await asyncio.sleep(0.02)
        await producer.flush()
    finally:
        await producer.stop()
    return traffic, samples


def write_outputs(samples: list[tuple[float, float, int, float]], warmup: float) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with (OUTPUT / "rss.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["elapsed_seconds", "rss_mib", "published", "accounted"])
        out.writerows((round(t, 1), round(r, 2), p, int(a)) for t, r, p, a in samples)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot([s[0] / 60 for s in samples], [s[1] for s in samples], label="worker RSS")
    ax.axvline(warmup / 60, color="grey", linestyle="--", label="end of warm-up")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")
    ax.set_title("Soak: worker memory over time")
    fig.tight_layout()
    fig.savefig(OUTPUT / "rss.png", dpi=100)
    plt.close(fig)


def test_soak_memory_is_flat_and_nothing_is_lost(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    seconds = setting("SOAK_SECONDS", 1200)
    rate = setting("SOAK_RATE", 2000)
    retention = setting("SOAK_RETENTION_SECONDS", 10)
    warmup = setting("SOAK_WARMUP_SECONDS", max(seconds / 3, retention + 90))
    tolerance = setting("SOAK_RSS_TOLERANCE", 0.10)
    assert warmup < seconds - 30, "the run must outlast the warm-up by at least 30 s"
    w = workers(frozen_time="", STREAM_RETENTION_SECONDS=str(retention))
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")

    traffic, samples = asyncio.run(drive(broker.bootstrap, w, seconds, rate))
    published = traffic.good + traffic.duplicates + traffic.bad
    wait_until(lambda: accounted(w.scrape()) == published, 180, "every message accounted for")
    m = w.scrape()
    assert total(m, "contact_centre_events_total") == traffic.good
    assert total(m, "contact_centre_events_duplicate_total") == traffic.duplicates
    assert total(m, "contact_centre_events_rejected_total") == traffic.bad
    write_outputs(samples, warmup)

    after = [s[1] for s in samples if s[0] >= warmup]
    third = max(1, len(after) // 3)
    early, late = statistics.median(after[:third]), statistics.median(after[-third:])
    print(
        f"\nsoak: {seconds:.0f} s at {rate:.0f}/s, {published} messages; RSS MiB: start "
        f"{samples[0][1]:.1f}, after warm-up {early:.1f}, end {late:.1f}, max "
        f"{max(s[1] for s in samples):.1f}; lag at the end of publishing "
        f"{samples[-1][2] - samples[-1][3]:.0f}; output in {OUTPUT}"
    )
    assert late <= early * (1 + tolerance), f"RSS grew from {early:.1f} to {late:.1f} MiB"

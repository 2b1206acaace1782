"""``make bench``'s backlog phase: the recorded set read as a backlog, windows checked exact.

Owns the reference and the comparison: the same NDJSON set fed in event-time order through the
pipeline's own pure code in this process (one source, so no watermark can be outrun) gives every
window's totals; a worker reading the published set from its partitions — as after an outage or
a backfill — must publish each of those windows once, with the same totals, and count nothing
late. It runs with event-time alignment on (``STREAM_ALIGNMENT_SECONDS``) and off, and records
the catch-up rate, the peak resident size and the peak number of open windows of each.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiokafka import AIOKafkaConsumer

from stream.config import Settings, TargetBook
from stream.contract.topics import route
from stream.stages.pipeline import Pipeline
from stream.stages.route import Message

if TYPE_CHECKING:
    from benchmarks.parts import Worker

_BATCH = 5000
_TOPICS = {"calls": "calls", "tickets": "tickets", "agents": "agents", "customers": "customers"}


@dataclass(slots=True)
class Backlog:
    """One backlog read: catch-up rate, peaks, and how many windows came out exact."""

    alignment_seconds: float
    rate: float = 0.0
    peak_rss: int = 0
    peak_windows_open: int = 0
    late: float = 0.0
    windows_exact: int = 0
    windows_expected: int = 0
    windows_wrong: int = 0
    """Published windows that differ from the reference, or that it does not have."""
    got: dict[str, Any] = field(default_factory=dict)
    """The windows the worker published, by key (``None``: published more than once)."""


def reference_windows(path: Path, settings: Settings) -> tuple[dict[str, Any], float]:
    """Every window of the set as the pure pipeline computes it from the events in time order,
    by key (``queue|kind|start``), and the event time before which windows are final (the newest
    event minus the grace period)."""
    lines = [raw for raw in path.read_bytes().splitlines() if raw.strip()]
    routed = [(r, raw) for raw in lines if (r := route(raw)) is not None]
    routed.sort(key=lambda item: item[0][2] or 0.0)  # stable: a contact's order is kept
    newest = max((r[2] or -math.inf) for r, _ in routed)
    pipeline = Pipeline.create(
        topic_kinds=_TOPICS,
        targets=TargetBook.default(),
        clock=lambda: newest,
        grace_seconds=settings.grace_seconds,
        idle_seconds=math.inf,
        retention_seconds=settings.retention_seconds,
        max_event_bytes=settings.max_event_bytes,
        future_skew_seconds=math.inf,
        forward_partitions=1,
    )
    windows: dict[str, Any] = {}
    offsets = dict.fromkeys(_TOPICS, 0)

    def perform(effects: Any) -> list[bytes]:
        forwards = []
        for out in effects.messages:
            if out.role == "forward":
                forwards.append(out.value)
            elif out.role == "window":
                windows[out.key.decode()] = json.loads(out.value)
        return forwards

    for i in range(0, len(routed), _BATCH):
        batch = []
        for (kind, key, _at), raw in routed[i : i + _BATCH]:
            batch.append(Message(kind, 0, offsets[kind], key.encode(), raw))
            offsets[kind] += 1
        forwards = perform(pipeline.route(batch))
        # In time order every source is caught up after each batch: nothing later is older.
        forwards += perform(pipeline.progress({f"{k}/0": (n, n) for k, n in offsets.items()}))
        perform(pipeline.aggregate(0, forwards))
    final = pipeline.agg_parts[0].progress.watermark or -math.inf
    pipeline.clock = lambda: math.inf  # every window closes: the rest of the reference
    pipeline.aggregator.idle_seconds = 0.0
    perform(pipeline.tick())
    return windows, final


async def read_windows(bootstrap: str, topic: str, settle: float = 3.0) -> dict[str, Any]:
    """Every message of ``topic`` by key, read until nothing new came for ``settle`` seconds;
    a key published twice is kept as ``None`` (a window must be published once)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    got: dict[str, Any] = {}
    try:
        quiet = time.perf_counter()
        while time.perf_counter() - quiet < settle:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    key = (r.key or b"").decode()
                    got[key] = None if key in got else json.loads(r.value)
                    quiet = time.perf_counter()
    finally:
        await consumer.stop()
    return got


def compare(got: dict[str, Any], expected: dict[str, Any], final: float, out: Backlog) -> None:
    """Count the worker's windows that equal the reference's; every reference window that ended
    by ``final`` must be there (the worker may close later ones on its wall clock: they must be
    right too)."""
    due = {k for k, doc in expected.items() if doc["end"] <= final}
    out.windows_expected = len(due)
    for key, doc in got.items():
        ref = expected.get(key)
        if doc is None or ref is None or not _same(doc, ref):
            out.windows_wrong += 1
        elif key in due:
            out.windows_exact += 1


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if [a[k] for k in ("queue", "window", "start", "end")] != [
        b[k] for k in ("queue", "window", "start", "end")
    ]:
        return False
    ta, tb = a["totals"], b["totals"]  # sums of durations: another order of adding may differ
    return ta.keys() == tb.keys() and all(math.isclose(ta[k], tb[k], rel_tol=1e-12) for k in ta)


async def read_backlog(
    worker: Worker, total: int, timeout: float, out: Backlog, names: tuple[str, ...]
) -> None:
    """Run ``worker`` (already configured) through the published set; fill rate and peaks."""
    from benchmarks.parts import sums

    async with aiohttp.ClientSession() as session:
        worker.start()
        first: float | None = None
        done = 0.0
        started = time.perf_counter()
        while done < total:
            await asyncio.sleep(0.25)
            body = await worker.get(session, "/metrics", (*names, "contact_centre_windows_open"))
            if body is None:
                continue
            out.peak_rss = max(out.peak_rss, worker.rss())
            out.peak_windows_open = max(
                out.peak_windows_open, int(sums(body, ("contact_centre_windows_open",)))
            )
            done = sums(body, names)
            if done and first is None:
                first = time.perf_counter()
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"the backlog worker processed {done}/{total}")
        assert first is not None
        out.rate = total / max(time.perf_counter() - first + 0.25, 1e-9)
        body = await worker.get(session, "/metrics", ("contact_centre_events_late_total",)) or ""
        out.late = sums(body, ("contact_centre_events_late_total",))

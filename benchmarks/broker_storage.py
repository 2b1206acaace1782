"""``python -m benchmarks.broker_storage``: the embedded broker's rates in memory and on disk.

Owns one comparison: the same recorded event set published (``stream replay``'s code) and read
back (``benchmarks.run``'s raw consumer) on the embedded broker with its memory engine and with
its durable one (``EmbeddedBroker(data_dir=...)``: Tansu's S3 engine on `stream.dev.object_store`,
with and without fsync), for ``stream replay``'s producer batches (up to 256 KiB) and for one
record per batch (what workers send on Tansu, ``STREAM_PRODUCER_MAX_BATCH_BYTES=1``). The
durable broker is then restarted and the set read again from its files. Prints a Markdown
table; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

from benchmarks.parts import (
    PARTITIONS,
    Plan,
    publish_file,
    raw_consumer_rate,
    record,
    topic_settings,
)
from stream.broker import create_topics
from stream.config import Settings
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port

_REPLAY = 262_144  # stream replay's producer batches (and 20 ms linger)


def _disk(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


async def _publish_batches_of_one(settings: Settings, events: Path, total: int) -> float:
    """Each event in a record batch of its own (as a worker's changelog writes on Tansu)."""
    await create_topics(settings.bootstrap_servers, settings.input_topics, PARTITIONS)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=0, max_batch_size=1
    )
    await producer.start()
    try:
        started = time.perf_counter()
        topics = settings.input_topics
        for i, line in enumerate(events.read_bytes().splitlines()):
            await producer.send(topics[i % len(topics)], line.rstrip(b"\n"))
        await producer.flush()
        return total / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _measure(
    events: Path, total: int, batch_bytes: int, storage: str, work: Path
) -> list[str]:
    data_dir = None if storage == "memory" else work / f"broker-{storage}-{batch_bytes}"
    broker = EmbeddedBroker(
        find_free_port(), data_dir=data_dir, object_store_fsync=storage == "disk, fsync"
    )
    broker.start()
    try:
        settings = topic_settings(broker, f"bench-{batch_bytes}")
        if batch_bytes == _REPLAY:
            publish = await publish_file(settings, events, total)
        else:
            publish = await _publish_batches_of_one(settings, events, total)
        read = await raw_consumer_rate(settings, total)
        cells = [storage, f"{batch_bytes}", f"{total}", f"{publish:,.0f}", f"{read:,.0f}"]
        if data_dir is None:
            return [*cells, "-", "-", "-"]
        started = time.monotonic()
        broker.stop()
        broker.start()
        restart = time.monotonic() - started
        again = await raw_consumer_rate(settings, total)
        files, size = _disk(data_dir)
        return [*cells, f"{again:,.0f}", f"{restart:.2f}", f"{files:,} / {size / 1e6:.1f} MB"]
    finally:
        broker.stop()


async def run(total: int, single_total: int) -> str:
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="broker-storage-") as tmp:
        work = Path(tmp)
        plan = Plan(events=total, queues=8)
        events = work / "events.ndjson"
        record(events, plan, datetime.now(UTC))
        lines = events.read_bytes().splitlines(keepends=True)
        single = work / "single.ndjson"
        single.write_bytes(b"".join(lines[:single_total]))
        for storage in ("memory", "disk", "disk, fsync"):
            rows.append(await _measure(events, total, _REPLAY, storage, work))
            rows.append(await _measure(single, single_total, 1, storage, work))
            shutil.rmtree(work / f"broker-{storage}-{_REPLAY}", ignore_errors=True)
    header = [
        "storage",
        "producer batch (max bytes)",
        "events",
        "publish events/s",
        "read events/s",
        "read after restart events/s",
        "restart s",
        "files / bytes on disk",
    ]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broker_storage")
    parser.add_argument("--events", type=int, default=100_000, help="multi-record batches")
    parser.add_argument("--single-events", type=int, default=10_000, help="one per batch")
    args = parser.parse_args(argv)
    print(asyncio.run(run(args.events, args.single_events)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

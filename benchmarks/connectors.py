"""Connector throughput, runnable alone: ``python -m benchmarks.connectors``.

Asterisk: a queue_log written by the generator for the simulator's contact centre
(``stream.connectors.asterisk.generator``), then

- ``translator``: lines/s through ``parse`` + ``Translator.translate`` alone (pure, one core),
  and with each event checked against the contract (``publish.prepare``) as the connector does;
- ``end to end``: lines/s from the file through the connector (``Connector.once``: parse,
  translate, check, publish) to the embedded broker's acknowledgement of every event.

Every run checks its counts (no line rejected, every event acknowledged) before it reports a
rate. Prints one JSON document; nothing here asserts timing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import time
from datetime import UTC, datetime
from typing import Any

from stream.broker import EmbeddedBroker, create_topics
from stream.config import Settings
from stream.connectors.asterisk.connector import Connector
from stream.connectors.asterisk.generator import asterisk_profiles, config_yaml, generate
from stream.connectors.asterisk.queue_log import Line, parse
from stream.connectors.asterisk.settings import parse_config
from stream.connectors.asterisk.translator import Translator
from stream.connectors.publish import prepare
from stream.events import Rejection

START = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def asterisk(hours: float, rate: float, repeats: int) -> dict[str, Any]:
    profiles = asterisk_profiles()
    generated = generate(7, START, int(hours * 3600), rate_multiplier=rate, queues=profiles)
    lines = [line.encode() for line in generated.lines]
    config = parse_config(config_yaml(profiles, rate))
    settings = Settings.from_env({})
    best_alone = best_checked = 0.0
    events = 0
    for _ in range(repeats):
        translator = Translator(config)
        t = time.perf_counter()
        events = 0
        for raw in lines:
            parsed = parse(raw)
            assert isinstance(parsed, Line)
            events += len(translator.translate(parsed).events)
        best_alone = max(best_alone, len(lines) / (time.perf_counter() - t))
        translator = Translator(config)
        t = time.perf_counter()
        for raw in lines:
            parsed = parse(raw)
            assert isinstance(parsed, Line)
            for event in translator.translate(parsed).events:
                assert not isinstance(prepare(settings, event), Rejection)
        best_checked = max(best_checked, len(lines) / (time.perf_counter() - t))
    body = b"".join(raw + b"\n" for raw in lines)
    with EmbeddedBroker() as broker:
        asyncio.run(
            create_topics(
                broker.bootstrap,
                ["tickets", "calls", "agents", "customers", "kpi-ingest-dead-letter"],
                4,
            )
        )
        broker_settings = Settings.from_env(
            {"STREAM_BROKER_URL": broker.url, "STREAM_PARTITIONS": "4"}
        )

        async def run() -> tuple[float, int, int]:
            connector = Connector(broker_settings, config)
            try:
                await connector.publisher.start()
                t = time.perf_counter()
                stats = await connector.once(io.BytesIO(body), "queue_log")
                elapsed = time.perf_counter() - t
            finally:
                await connector.publisher.stop()
            return elapsed, stats.events, stats.rejected

        elapsed, published, rejected = asyncio.run(run())
    assert rejected == 0, rejected
    assert published >= events, (published, events)  # + the wrap-ups due by the last line
    return {
        "lines": len(lines),
        "events": published,
        "hours_of_traffic": hours,
        "rate_multiplier": rate,
        "translator_lines_per_second": round(best_alone),
        "translator_checked_lines_per_second": round(best_checked),
        "end_to_end_lines_per_second": round(len(lines) / elapsed),
        "end_to_end_events_per_second": round(published / elapsed),
        "end_to_end_seconds": round(elapsed, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0, help="simulated hours (default 8)")
    parser.add_argument("--rate", type=float, default=10.0, help="traffic multiplier (10)")
    parser.add_argument("--repeats", type=int, default=3, help="translator runs, best kept")
    args = parser.parse_args()
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "asterisk": asterisk(args.hours, args.rate, args.repeats),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

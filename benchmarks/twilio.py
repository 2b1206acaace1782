"""Throughput of the Twilio TaskRouter connector: callbacks per second, HTTP to broker ack.

Runs alone, ``python -m benchmarks.twilio [--minutes M] [--rate X] [--concurrency N]``: an
embedded broker, the connector in this process (signature check, translation, per-task order,
publish with ``acks=all``), and a client that posts the simulator's traffic as signed
callbacks — each task's callbacks at once, in shuffled order, like TaskRouter — with at most
``--concurrency`` requests in flight. A callback counts when it was answered 204, which happens
only after the broker acknowledged its events. Prints one JSON document; asserts nothing on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import aiohttp

from stream.broker import create_topics
from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.twilio.generate import TWIN_CONFIG_YAML, by_group, callbacks, contract_twin
from stream.connectors.twilio.server import CallbackHandler, ServerOptions, start, stop
from stream.connectors.twilio.settings import load_config
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.dev.simulate import Simulation

TOKEN = "benchmark-token"


async def measure(
    broker: EmbeddedBroker, minutes: float, rate: float, concurrency: int, hold: float
) -> dict[str, Any]:
    """Post the simulator's traffic as signed callbacks to a connector on ``broker``."""
    settings = Settings.from_env({"STREAM_BROKER_URL": broker.url, "STREAM_PARTITIONS": "4"})
    await create_topics(broker.bootstrap, [*settings.input_topics,
                                           settings.topic_ingest_dead_letter], 4)  # fmt: skip
    port = find_free_port()
    url = f"http://127.0.0.1:{port}/twilio/events"
    sim = Simulation(seed=1, start=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
                     rate_multiplier=rate, flows=False)  # fmt: skip
    made = callbacks(
        contract_twin(sim.events(until=sim.start + minutes * 60)), token=TOKEN, url=url
    )
    rng = random.Random(1)
    groups = []
    for items in by_group(made).values():
        items = list(items)
        if not items[0].group.startswith("WK"):
            rng.shuffle(items)
        groups.append(items)
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "twilio.yaml"
        path.write_text(TWIN_CONFIG_YAML)
        config = load_config(path)
    options = ServerOptions(port=port, public_url=url, auth_token=Secret(TOKEN),
                            hold_seconds=hold)  # fmt: skip
    handler = CallbackHandler(settings, options, config)
    runner = await start(handler)
    latencies: list[float] = []
    limit = asyncio.Semaphore(concurrency)
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency)
        ) as session:

            async def one(cb: Any) -> None:
                async with limit:
                    t = time.perf_counter()
                    async with session.post(
                        url, data=cb.form, headers={"X-Twilio-Signature": cb.signature}
                    ) as r:
                        assert r.status == 204, (r.status, await r.text())
                    latencies.append(time.perf_counter() - t)

            async def group(items: list[Any]) -> None:
                if items[0].group.startswith("WK"):
                    for cb in items:
                        await one(cb)
                else:
                    await asyncio.gather(*(one(cb) for cb in items))

            t0 = time.perf_counter()
            await asyncio.gather(*(group(g) for g in groups))
            elapsed = time.perf_counter() - t0
    finally:
        await stop(handler, runner)
    latencies.sort()
    translated = round(sum(
        sample.value
        for family in handler.metrics.registry.collect()
        if family.name == "contact_centre_connector_translated"
        for sample in family.samples
        if sample.name.endswith("_total")
    ))  # fmt: skip
    return {
        "callbacks": len(made),
        "tasks_and_workers": len(groups),
        "seconds": round(elapsed, 2),
        "callbacks_per_second": round(len(made) / elapsed, 1),
        "events": translated,
        "events_per_second": round(translated / elapsed, 1),
        "latency_median_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "held": handler.order.held,
        "released_unordered": handler.order.released_unordered,
        "concurrency": concurrency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes")
    parser.add_argument("--rate", type=float, default=4.0, help="simulator rate multiplier")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--hold-seconds", type=float, default=2.0)
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        result = asyncio.run(
            measure(broker, args.minutes, args.rate, args.concurrency, args.hold_seconds)
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

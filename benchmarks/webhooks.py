"""Throughput and latency of the webhook gateway: requests/s while p99 stays under 50 ms.

Runs alone, ``python -m benchmarks.webhooks [--minutes M] [--rate X]``, or as part of
``python -m benchmarks.connectors`` (``make bench``). On an embedded broker, the gateway in this
process (``stream.connectors.webhooks.server.Gateway``, default ``settle_seconds``) serves:

- ``/webhooks/chatwoot``: the simulator's tickets as signed Chatwoot deliveries
  (``chatwoot_generate``); the deliveries of one conversation are posted one after the other
  (each after the previous was answered), as a helpdesk sends events seconds apart, and
  ``concurrency`` conversations at a time. Each answer (200) comes only after the broker
  acknowledged its events. The run is repeated at each concurrency of ``levels``; the report
  keeps the highest requests/s whose p99 is under ``P99_TARGET_MS``.
- ``/v1/events``: the same traffic's contract events as NDJSON bodies of ``batch`` events,
  ``concurrency`` bodies in flight: events/s of the generic route.

Every run checks its counts (every answer 200, every event translated or accepted) before it
reports a rate. Prints one JSON document; asserts nothing on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp

from stream.broker import create_topics
from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.webhooks.chatwoot import ChatwootSource
from stream.connectors.webhooks.chatwoot_generate import Delivery, TwinEvent, by_group, generate
from stream.connectors.webhooks.config import GatewayConfig
from stream.connectors.webhooks.server import Gateway, start, stop
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.dev.simulate import Simulation

SECRET: Final = "benchmark-chatwoot-secret"
TOKEN: Final = "benchmark-generic-token"
P99_TARGET_MS: Final = 50.0


def _p(latencies: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of sorted ``latencies``, in ms."""
    return round(latencies[max(0, int(len(latencies) * q) - 1)] * 1000, 1)


def _counted(gateway: Gateway, family: str) -> int:
    return round(sum(
        sample.value
        for f in gateway.registry.collect()
        if f.name == family
        for sample in f.samples
        if sample.name.endswith("_total")
    ))  # fmt: skip


async def _chatwoot(
    settings: Settings, groups: Sequence[Sequence[Delivery]], concurrency: int
) -> dict[str, Any]:
    port = find_free_port()
    url = f"http://127.0.0.1:{port}/webhooks/chatwoot"
    gateway = Gateway(settings, GatewayConfig(port=port, generic_token=Secret(TOKEN)),
                      [ChatwootSource("chatwoot", Secret(SECRET))])  # fmt: skip
    runner = await start(gateway)
    latencies: list[float] = []
    limit = asyncio.Semaphore(concurrency)
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency)
        ) as session:

            async def conversation(items: Sequence[Delivery]) -> None:
                async with limit:
                    for d in items:
                        t = time.perf_counter()
                        headers = d.headers(SECRET, time.time())
                        async with session.post(url, data=d.body, headers=headers) as r:
                            assert r.status == 200, (r.status, await r.text())
                        latencies.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            await asyncio.gather(*(conversation(g) for g in groups))
            elapsed = time.perf_counter() - t0
    finally:
        await stop(gateway, runner)
    latencies.sort()
    requests = sum(len(g) for g in groups)
    assert len(latencies) == requests
    return {
        "concurrency": concurrency,
        "requests": requests,
        "requests_per_second": round(requests / elapsed, 1),
        "events_per_second": round(
            _counted(gateway, "contact_centre_connector_translated") / elapsed, 1
        ),
        "latency_median_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": _p(latencies, 0.99),
    }


async def _generic(
    settings: Settings, twin: Sequence[TwinEvent], batch: int, concurrency: int
) -> dict[str, Any]:
    port = find_free_port()
    url = f"http://127.0.0.1:{port}/v1/events"
    gateway = Gateway(settings, GatewayConfig(port=port, generic_token=Secret(TOKEN)), [])
    runner = await start(gateway)
    lines = [json.dumps(e.doc).encode() for e in twin]
    bodies = [b"\n".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    latencies: list[float] = []
    accepted = 0
    limit = asyncio.Semaphore(concurrency)
    try:
        async with aiohttp.ClientSession() as session:

            async def one(body: bytes) -> None:
                nonlocal accepted
                async with limit:
                    t = time.perf_counter()
                    async with session.post(url, data=body, headers=headers) as r:
                        assert r.status == 200, (r.status, await r.text())
                        answer = await r.json()
                    latencies.append(time.perf_counter() - t)
                    assert answer["rejected"] == 0, answer
                    accepted += answer["accepted"]

            t0 = time.perf_counter()
            await asyncio.gather(*(one(b) for b in bodies))
            elapsed = time.perf_counter() - t0
    finally:
        await stop(gateway, runner)
    assert accepted == len(lines), (accepted, len(lines))
    latencies.sort()
    return {
        "batch": batch,
        "concurrency": concurrency,
        "requests": len(bodies),
        "events": accepted,
        "events_per_second": round(accepted / elapsed, 1),
        "latency_median_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": _p(latencies, 0.99),
    }


async def measure(
    broker: EmbeddedBroker,
    minutes: float,
    rate: float,
    levels: Sequence[int] = (1, 4, 16, 64),
    batch: int = 100,
) -> dict[str, Any]:
    """The gateway's figures on ``broker`` (its input topics created here if missing)."""
    settings = Settings.from_env({"STREAM_BROKER_URL": broker.url, "STREAM_PARTITIONS": "4"})
    await create_topics(broker.bootstrap, [*settings.input_topics,
                                           settings.topic_ingest_dead_letter], 4)  # fmt: skip
    sim = Simulation(seed=3, start=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
                     rate_multiplier=rate)  # fmt: skip
    made, twin = generate(sim.events(until=sim.start + minutes * 60))
    groups = list(by_group(made).values())
    runs = [await _chatwoot(settings, groups, c) for c in levels]
    within = [r for r in runs if r["latency_p99_ms"] < P99_TARGET_MS]
    best = max(within, key=lambda r: r["requests_per_second"]) if within else None
    return {
        "deliveries": len(made),
        "conversations": len(groups),
        "settle_seconds": GatewayConfig().settle_seconds,
        "p99_target_ms": P99_TARGET_MS,
        "chatwoot": runs,
        "best_within_p99": best,
        "generic": await _generic(settings, twin, batch, max(levels)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes")
    parser.add_argument("--rate", type=float, default=4.0, help="simulator rate multiplier")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16, 64],
                        help="conversations in flight, one run each")  # fmt: skip
    parser.add_argument("--batch", type=int, default=100, help="events per /v1/events body")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        result = asyncio.run(measure(broker, args.minutes, args.rate, args.levels, args.batch))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Connector throughput against a raw producer, in one run: ``python -m benchmarks.connectors``.

On one embedded broker:

- ``raw producer``: an aiokafka producer (``acks=all``) sending the Asterisk traffic's contract
  events, encoded and routed beforehand, and awaiting every acknowledgement: the ceiling a
  connector publishes against;
- ``asterisk``: a queue_log written by the generator for the simulator's contact centre
  (``stream.connectors.asterisk.generator``): lines/s through ``parse`` +
  ``Translator.translate`` alone (pure, one core), with each event checked against the contract
  (``publish.prepare``) as the connector does, and end to end from the file through the connector
  (``Connector.once``: parse, translate, check, publish) to the broker's acknowledgement of
  every event;
- ``twilio``: the simulator's traffic posted as signed TaskRouter callbacks to the connector in
  this process (``benchmarks.twilio``): callbacks/s, answered 204 only after the broker's acks;
- ``webhooks``: the webhook gateway (``benchmarks.webhooks``): signed Chatwoot deliveries at
  several concurrencies, the highest requests/s whose p99 stays under 50 ms, and the generic
  ``/v1/events`` route's events/s.

Every run checks its counts (no line rejected, every event acknowledged, every callback 204)
before it reports a rate. It writes its section of ``docs/benchmarks.md`` (also part of
``make bench``) and prints the figures as JSON; nothing here asserts timing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaProducer

from benchmarks import twilio, webhooks
from benchmarks.report import replace_section
from stream.broker import create_topics
from stream.config import Settings
from stream.connectors.asterisk.connector import Connector
from stream.connectors.asterisk.generator import asterisk_profiles, config_yaml, generate
from stream.connectors.asterisk.queue_log import Line, parse
from stream.connectors.asterisk.settings import AsteriskConfig, parse_config
from stream.connectors.asterisk.translator import Translator
from stream.connectors.publish import Prepared, prepare
from stream.contract.decoder import Rejection
from stream.dev.broker import EmbeddedBroker

ROOT: Final = Path(__file__).resolve().parent.parent
HEADING: Final = "## Connectors"
START: Final = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
PARTITIONS: Final = 4


@dataclass(frozen=True, slots=True)
class Plan:
    """How much traffic each part of the run gets."""

    asterisk_hours: float = 8.0
    asterisk_rate: float = 10.0
    repeats: int = 3
    twilio_minutes: float = 60.0
    twilio_rate: float = 4.0
    twilio_concurrency: int = 64
    webhooks_minutes: float = 120.0
    webhooks_rate: float = 4.0
    webhooks_levels: tuple[int, ...] = (1, 4, 16, 64)


SMOKE: Final = Plan(asterisk_hours=0.25, asterisk_rate=1.0, repeats=1, twilio_minutes=5.0,
                    twilio_rate=1.0, twilio_concurrency=8, webhooks_minutes=10.0,
                    webhooks_rate=1.0, webhooks_levels=(4,))  # fmt: skip


@dataclass(slots=True)
class Connectors:
    """The figures of one run."""

    plan: Plan
    lines: int = 0
    events: int = 0
    raw_events_per_second: float = 0.0
    translator_lines_per_second: float = 0.0
    translator_checked_lines_per_second: float = 0.0
    asterisk_lines_per_second: float = 0.0
    asterisk_events_per_second: float = 0.0
    twilio: dict[str, Any] | None = None
    webhooks: dict[str, Any] | None = None


def _settings(broker: EmbeddedBroker) -> Settings:
    return Settings.from_env(
        {"STREAM_BROKER_URL": broker.url, "STREAM_PARTITIONS": str(PARTITIONS)}
    )


def _translate(config: AsteriskConfig, lines: Sequence[bytes], check: Settings | None) -> int:
    translator, events = Translator(config), 0
    for raw in lines:
        parsed = parse(raw)
        assert isinstance(parsed, Line)
        for event in translator.translate(parsed).events:
            events += 1
            if check is not None:
                assert not isinstance(prepare(check, event), Rejection)
    return events


def _prepared(settings: Settings, config: AsteriskConfig, lines: Sequence[bytes]) -> list[Prepared]:
    translator, out = Translator(config), []
    for raw in lines:
        parsed = parse(raw)
        assert isinstance(parsed, Line)
        for event in translator.translate(parsed).events:
            ready = prepare(settings, event)
            assert isinstance(ready, Prepared)
            out.append(ready)
    return out


async def raw_producer_rate(settings: Settings, records: Sequence[Prepared]) -> float:
    """Events/s of a bare ``acks=all`` producer sending ``records`` and awaiting every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                max_request_size=settings.producer_max_request_bytes)  # fmt: skip
    await producer.start()
    try:
        for topic in {r.topic for r in records}:  # metadata first, as a started connector has it
            await producer.partitions_for(topic)
        t = time.perf_counter()
        futures = [await producer.send(r.topic, r.value, key=r.key) for r in records]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - t)
    finally:
        await producer.stop()


async def measure(broker: EmbeddedBroker, plan: Plan) -> Connectors:
    """Every figure of the section, on ``broker``."""
    settings = _settings(broker)
    topics = [*settings.input_topics, settings.topic_ingest_dead_letter]
    await create_topics(broker.bootstrap, topics, PARTITIONS)
    profiles = asterisk_profiles()
    made = generate(7, START, int(plan.asterisk_hours * 3600),
                    rate_multiplier=plan.asterisk_rate, queues=profiles)  # fmt: skip
    lines = [line.encode() for line in made.lines]
    config = parse_config(config_yaml(profiles, plan.asterisk_rate))
    out = Connectors(plan, lines=len(lines))
    for _ in range(plan.repeats):
        t = time.perf_counter()
        out.events = _translate(config, lines, None)
        out.translator_lines_per_second = max(out.translator_lines_per_second,
                                              len(lines) / (time.perf_counter() - t))  # fmt: skip
        t = time.perf_counter()
        _translate(config, lines, settings)
        out.translator_checked_lines_per_second = max(
            out.translator_checked_lines_per_second, len(lines) / (time.perf_counter() - t)
        )
    out.raw_events_per_second = await raw_producer_rate(
        settings, _prepared(settings, config, lines)
    )

    connector = Connector(settings, config)
    try:
        await connector.publisher.start()
        t = time.perf_counter()
        stats = await connector.once(
            io.BytesIO(b"".join(raw + b"\n" for raw in lines)), "queue_log"
        )
        elapsed = time.perf_counter() - t
    finally:
        await connector.publisher.stop()
    assert stats.rejected == 0, stats.rejected
    assert stats.events >= out.events, (stats.events, out.events)  # + wrap-ups due at the end
    out.asterisk_lines_per_second = len(lines) / elapsed
    out.asterisk_events_per_second = stats.events / elapsed
    out.twilio = await twilio.measure(broker, plan.twilio_minutes, plan.twilio_rate,
                                      plan.twilio_concurrency, hold=2.0)  # fmt: skip
    out.webhooks = await webhooks.measure(broker, plan.webhooks_minutes, plan.webhooks_rate,
                                          plan.webhooks_levels)  # fmt: skip
    return out


def section(c: Connectors) -> str:
    """The report's section (heading to the next one)."""
    raw = c.raw_events_per_second
    t, w = c.twilio or {}, c.webhooks or {}
    rows = [
        ("Raw aiokafka producer, `acks=all`, the same events pre-encoded (ceiling)",
         f"{raw:,.0f} events/s", "1.000"),
        ("Asterisk translator alone (parse + translate, one core)",
         f"{c.translator_lines_per_second:,.0f} lines/s", ""),
        ("Asterisk translator + contract check of every event",
         f"{c.translator_checked_lines_per_second:,.0f} lines/s", ""),
        ("Asterisk `queue_log` → broker acks, end to end",
         f"{c.asterisk_lines_per_second:,.0f} lines/s = {c.asterisk_events_per_second:,.0f} "
         "events/s", f"{c.asterisk_events_per_second / raw:.3f}"),
        (f"Twilio signed callbacks → 204 after the broker's acks, {t.get('concurrency')} in "
         "flight", f"{t.get('callbacks_per_second', 0):,.0f} callbacks/s = "
         f"{t.get('events_per_second', 0):,.0f} events/s",
         f"{t.get('events_per_second', 0) / raw:.3f}"),
        ("Twilio callback latency, median / p99",
         f"{t.get('latency_median_ms', 0):.1f} ms / {t.get('latency_p99_ms', 0):.1f} ms", ""),
        *_webhook_rows(c.webhooks or {}, raw),
    ]  # fmt: skip
    return "\n".join([
        HEADING,
        "",
        f"Written by `python -m benchmarks.connectors` (also part of `make bench`), one embedded "
        f"broker, {PARTITIONS} partitions. Asterisk: {c.lines:,} `queue_log` lines "
        f"({c.plan.asterisk_hours:g} h of the simulator's contact centre at rate "
        f"{c.plan.asterisk_rate:g}, {c.events:,} contract events), best of {c.plan.repeats} "
        "for the translator. Twilio: "
        f"{t.get('callbacks', 0):,} callbacks ({c.plan.twilio_minutes:g} simulated minutes at "
        f"rate {c.plan.twilio_rate:g}), each task's callbacks posted at once in shuffled order "
        "as TaskRouter does, held until their predecessors are published. Webhook gateway: "
        f"{w.get('deliveries', 0):,} signed Chatwoot deliveries of {w.get('conversations', 0):,} "
        f"conversations ({c.plan.webhooks_minutes:g} simulated minutes at rate "
        f"{c.plan.webhooks_rate:g}), each conversation's deliveries one after the other, "
        f"`settle_seconds` {w.get('settle_seconds')} (the default); the generic route gets the "
        "same traffic's contract events as NDJSON bodies. Ratios are events/s against the raw "
        "producer of the same run. Every count is checked before a rate is reported.",
        "",
        "| measure | result | ÷ raw producer |",
        "|---|---|---|",
        *(f"| {a} | {b} | {r} |" for a, b, r in rows),
        "",
    ])  # fmt: skip


def _webhook_rows(w: dict[str, Any], raw: float) -> list[tuple[str, str, str]]:
    """One row per Chatwoot concurrency, the best under the p99 target, the generic route."""
    rows = [
        (f"Webhook gateway, Chatwoot deliveries → 200 after the broker's acks, "
         f"{r['concurrency']} conversations in flight",
         f"{r['requests_per_second']:,.0f} requests/s, median {r['latency_median_ms']:.1f} ms, "
         f"p99 {r['latency_p99_ms']:.1f} ms", f"{r['events_per_second'] / raw:.3f}")
        for r in w.get("chatwoot", [])
    ]  # fmt: skip
    best = w.get("best_within_p99")
    target = w.get("p99_target_ms", 0)
    rows.append((
        f"Webhook gateway: requests/s at p99 < {target:g} ms",
        f"{best['requests_per_second']:,.0f} requests/s ({best['concurrency']} in flight)"
        if best else f"none of the runs had p99 < {target:g} ms", "",
    ))  # fmt: skip
    g = w.get("generic")
    if g:
        rows.append((
            f"Webhook gateway, `/v1/events` NDJSON bodies of {g['batch']} events, "
            f"{g['concurrency']} in flight",
            f"{g['events_per_second']:,.0f} events/s, p99 {g['latency_p99_ms']:.1f} ms per body",
            f"{g['events_per_second'] / raw:.3f}",
        ))  # fmt: skip
    return rows


def write_section(doc: Path, c: Connectors) -> None:
    """Replace (or append) the section in ``doc``; the rest of the report stays as it is."""
    replace_section(doc, HEADING, section(c))


def main(argv: Sequence[str] | None = None) -> int:
    d = Plan()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.connectors",
        description="Measure the Asterisk and Twilio connectors against a raw producer on the "
        "embedded broker and update their section of docs/benchmarks.md.",
    )
    parser.add_argument("--hours", type=float, default=d.asterisk_hours,
                        help="simulated hours of queue_log (default %(default)s)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=d.asterisk_rate,
                        help="queue_log traffic multiplier (default %(default)s)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=d.repeats,
                        help="translator runs, best kept (default %(default)s)")  # fmt: skip
    parser.add_argument("--twilio-minutes", type=float, default=d.twilio_minutes)
    parser.add_argument("--twilio-rate", type=float, default=d.twilio_rate)
    parser.add_argument("--concurrency", type=int, default=d.twilio_concurrency,
                        help="callbacks in flight (default %(default)s)")  # fmt: skip
    parser.add_argument("--webhooks-minutes", type=float, default=d.webhooks_minutes)
    parser.add_argument("--webhooks-rate", type=float, default=d.webhooks_rate)
    parser.add_argument("--webhooks-levels", type=int, nargs="+", default=d.webhooks_levels,
                        help="gateway: conversations in flight, one run each")  # fmt: skip
    parser.add_argument("--smoke", action="store_true", help="a tiny run (used by the tests)")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else Plan(args.hours, args.rate, args.repeats,
                                         args.twilio_minutes, args.twilio_rate,
                                         args.concurrency, args.webhooks_minutes,
                                         args.webhooks_rate,
                                         tuple(args.webhooks_levels))  # fmt: skip
    with EmbeddedBroker() as broker:
        result = asyncio.run(measure(broker, plan))
    write_section(args.doc, result)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
    print(json.dumps({"machine": machine, **asdict(result)}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

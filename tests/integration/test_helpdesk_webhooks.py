"""Zendesk and Zammad through the webhook gateway, on the real embedded broker and real workers.

* The simulator's tickets sent as contract events, and the same traffic sent as signed Zendesk
  (or Zammad) webhooks over HTTP — shuffled and concurrent within each ticket (in two rounds), a
  fifth delivered twice, the gateway restarted half-way — give every ticket metric equal, and
  the same accepted events by type. Zendesk's NEW → OPEN and Zammad's repeated states are
  counted as ignored, not sent; the Zammad repeats that still reach the worker (the first
  ``open`` after ``new`` of a ticket, a first repeat after the restart) are counted from the
  topic, and the worker's count of status changes is exactly the twin's plus those.
* A missing, wrong, tampered or (Zendesk) replayed signature is 401 / 403, counted by reason
  and kept in the ingest dead-letter topic; the signed delivery is accepted.
* The README's command serves Zendesk and Zammad routes next to Chatwoot's from one config.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.webhooks import zammad_generate, zendesk_generate
from stream.connectors.webhooks.chatwoot_generate import TwinEvent
from stream.connectors.webhooks.config import GatewayConfig
from stream.connectors.webhooks.server import Gateway, start, stop
from stream.connectors.webhooks.source import SourceConfig, WebhookSource
from stream.connectors.webhooks.zammad import build as build_zammad
from stream.connectors.webhooks.zendesk import build as build_zendesk
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.dev.simulate import SimEvent, Simulation
from tests.integration.conftest import INPUT_TOPICS, WorkerFactory
from tests.integration.harness import (
    Publishable,
    consume_all,
    isolated,
    kpis,
    parse,
    publish,
    renamed,
    total,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration
SECRET = "helpdesk-secret-0123456789abcdef"
TOKEN = "generic-token-fedcba9876543210"
UNCHANGED = "ticket.status_changed:unchanged"


class Delivery(Protocol):
    @property
    def group(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    def headers(self, secret: str, now: float) -> dict[str, str]: ...


@dataclass(frozen=True)
class Vendor:
    name: str
    generate: Callable[[Any], tuple[Sequence[Delivery], list[TwinEvent]]]
    source: Callable[[list[TwinEvent]], WebhookSource]


def _zendesk(twin: list[TwinEvent]) -> WebhookSource:
    queues = {t.doc["queue"] for t in twin if t.doc["type"] == "ticket.created"}
    config = SourceConfig("zendesk", "zendesk", Secret(SECRET), zendesk_generate.options(queues))
    return build_zendesk(config)


def _zammad(_twin: list[TwinEvent]) -> WebhookSource:
    return build_zammad(SourceConfig("zammad", "zammad", Secret(SECRET)))


VENDORS = {
    "zendesk": Vendor("zendesk", zendesk_generate.generate, _zendesk),
    "zammad": Vendor("zammad", zammad_generate.generate, _zammad),
}


def _settings(bootstrap: str, env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {"STREAM_BROKER_URL": f"kafka://{bootstrap}", "STREAM_PARTITIONS": "4", **env}
    )


async def _deliver(
    session: aiohttp.ClientSession, url: str, d: Delivery, statuses: list[int]
) -> None:
    """POST one delivery until it is answered 2xx, as the vendor retries (connection refused
    while the gateway restarts, 503 while it stops); signed at the time of sending."""
    while True:
        try:
            async with session.post(url, data=d.body, headers=d.headers(SECRET, time.time())) as r:
                statuses.append(r.status)
                if r.status < 300:
                    return
                assert r.status == 503, (r.status, await r.text())
        except aiohttp.ClientConnectionError:
            statuses.append(0)
        await asyncio.sleep(0.05)


def _noop_statuses(records: Sequence[Any]) -> int:
    """Status changes on a tickets topic that change nothing in the worker: read in topic
    order per ticket (one partition per key), each event id once, from ``open`` at creation."""
    seen: set[str] = set()
    status: dict[bytes, str] = {}
    noops = 0
    for r in records:
        doc = json.loads(r.value)
        if doc["event_id"] in seen:
            continue
        seen.add(doc["event_id"])
        if doc["type"] == "ticket.created":
            status[r.key] = "open"
        elif doc["type"] == "ticket.status_changed":
            if status.get(r.key) == doc["status"]:
                noops += 1
            status[r.key] = doc["status"]
    return noops


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_helpdesk_webhooks_give_the_same_ticket_metrics_as_the_contract_events(
    broker: EmbeddedBroker, workers: WorkerFactory, vendor: str
) -> None:
    v = VENDORS[vendor]
    # six hours, slowly: whole lifecycles (reopens, surveys, closes), not only their starts
    sim = Simulation(seed=16, start=datetime(2026, 11, 22, 9, 0, tzinfo=UTC), rate_multiplier=0.3)
    events: list[SimEvent] = list(sim.events(until=sim.start + 6 * 3600))
    made, twin = v.generate(events)
    direct = isolated(broker.bootstrap, f"{vendor}-direct", INPUT_TOPICS)
    via = isolated(broker.bootstrap, vendor, INPUT_TOPICS)
    via["STREAM_TOPIC_INGEST_DEAD_LETTER"] = f"{vendor}-ingest-dead-letter"
    # the workers' clock: half an hour after the traffic (events ahead of it are refused)
    frozen = "2026-11-22T15:30:00Z"
    w_direct, w_via = workers(frozen, **direct), workers(frozen, **via)
    messages: list[Publishable] = [(e.kind, e.key, e.doc) for e in twin]
    publish(broker.bootstrap, renamed(messages, f"{vendor}-direct"))

    rng = random.Random(16)
    groups: list[list[list[Delivery]]] = []
    by_ticket: dict[str, list[Delivery]] = {}
    for d in made:
        by_ticket.setdefault(d.group, []).append(d)
    for items in by_ticket.values():
        rounds = []
        for part in (items[: (len(items) + 1) // 2], items[(len(items) + 1) // 2 :]):
            part = part + [d for d in part if rng.random() < 0.2]  # retried: delivered twice
            rng.shuffle(part)
            rounds.append(part)
        groups.append([r for r in rounds if r])
    port = find_free_port()
    url = f"http://127.0.0.1:{port}/webhooks/{vendor}"
    settings = _settings(broker.bootstrap, via)
    config = GatewayConfig(port=port, generic_token=Secret(TOKEN), hold_seconds=2.0,
                           settle_seconds=0.5)  # fmt: skip
    statuses: list[int] = []
    gateways: list[Gateway] = []

    def gateway() -> Gateway:
        gateways.append(Gateway(settings, config, [v.source(twin)]))
        return gateways[-1]

    async def run() -> float:
        runners = [await start(gateway())]
        limit = asyncio.Semaphore(48)
        half = sum(len(r) for g in groups for r in g) // 2
        t = time.perf_counter()
        try:
            # no client-side connection limit: a ticket's round is sent at once, not queued
            # behind other tickets' requests (which would split it over settle windows)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def group(rounds: Sequence[Sequence[Delivery]]) -> None:
                    async with limit:
                        for part in rounds:
                            await asyncio.gather(
                                *(_deliver(session, url, d, statuses) for d in part)
                            )

                async def restart_half_way() -> None:
                    while statuses.count(200) < half:
                        await asyncio.sleep(0.01)
                    await stop(gateways[-1], runners[-1])
                    runners.append(await start(gateway()))

                await asyncio.gather(restart_half_way(), *(group(g) for g in groups))
        finally:
            await stop(gateways[-1], runners[-1])
        return time.perf_counter() - t

    seconds = asyncio.run(run())
    sent = sum(len(r) for g in groups for r in g)

    def gateway_total(name: str, **labels: str) -> float:
        return sum(
            value(parse(g.metrics[vendor].render().decode()), name, connector=vendor, **labels)
            or 0.0
            for g in gateways
        )

    translated = "contact_centre_connector_translated_total"
    published = sum(total(parse(g.metrics[vendor].render().decode()), translated) for g in gateways)
    on_topic = consume_all(broker.bootstrap, f"{vendor}-tickets", int(published))
    assert len(on_topic) == published
    noops = _noop_statuses(on_topic)
    unchanged = gateway_total("contact_centre_connector_ignored_total", kind=UNCHANGED)
    print(f"\n{vendor}: {sent} deliveries ({len(made)} distinct) answered in {seconds:.1f} s: "
          f"{sent / seconds:.0f}/s; {statuses.count(0)} refused and {statuses.count(503)} "
          f"answered 503 around the restart; {len(twin)} twin events, {len(on_topic)} "
          f"published; unchanged statuses not sent {unchanged:.0f}, sent anyway {noops}; held "
          f"{sum(g.order.held for g in gateways)}, released unordered "
          f"{sum(g.order.released_unordered for g in gateways)}, not sent again "
          f"{sum(g.order.duplicates for g in gateways)}")  # fmt: skip

    expected = len(twin) + noops
    wait_until(
        lambda: total(w_direct.scrape(), "contact_centre_events_total") == len(twin), 20, "x"
    )
    wait_until(lambda: total(w_direct.scrape(), "contact_centre_events_total") == len(twin), 90,
               "the direct pipeline")  # fmt: skip
    wait_until(lambda: total(w_via.scrape(), "contact_centre_events_total") == expected, 90,
               "the gateway's pipeline")  # fmt: skip
    a, b = w_direct.scrape(), w_via.scrape()
    rejected = {k: x for k, x in b.items() if k[0] == "contact_centre_events_rejected_total" and x}
    assert rejected == {}
    by_type = "contact_centre_events_total"
    got = {k: v for k, v in b.items() if k[0] == by_type}
    want = {k: v for k, v in a.items() if k[0] == by_type}
    status_key = next(k for k in want if ("type", "ticket.status_changed") in k[1])
    want[status_key] += noops
    assert got == want
    ka, kb = kpis(a), kpis(b)
    assert total(ka, "contact_centre_tickets_created_total") == sum(
        1 for e in twin if e.doc["type"] == "ticket.created"
    )
    for family in ("solved", "reopened"):
        assert total(ka, f"contact_centre_tickets_{family}_total") > 0
    if vendor == "zendesk":
        assert total(ka, "contact_centre_survey_responses_total") > 0
    assert ka == kb
    assert gateway_total("contact_centre_connector_received_total") == len(
        statuses
    ) - statuses.count(0)
    assert statuses.count(200) == sent
    not_sent = sum(g.order.unchanged for g in gateways)
    if vendor == "zendesk":
        # Zendesk says what the status was: NEW -> OPEN is ignored by the source, every copy
        # of it each time it is received; nothing unchanged is left for the gateway's order
        opened = sum(1 for g in groups for r in g for d in r if b'"previous":"NEW"' in d.body)
        assert opened > 0 and unchanged == opened
        assert not_sent == 0 and noops == 0
    else:
        assert unchanged == not_sent > 0


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_helpdesk_signatures_missing_wrong_tampered_or_replayed_are_refused_and_counted(
    broker: EmbeddedBroker, vendor: str
) -> None:
    v = VENDORS[vendor]
    sim = Simulation(seed=3, start=datetime(2026, 11, 22, 9, 50, tzinfo=UTC))
    made, twin = v.generate(sim.events(until=sim.start + 900))
    first = made[0]
    port = find_free_port()
    dead = f"{vendor}-sec-dl"
    tickets = f"{vendor}-sec-tickets"
    env = {"STREAM_TOPIC_INGEST_DEAD_LETTER": dead, "STREAM_TOPIC_TICKETS": tickets}
    settings = _settings(broker.bootstrap, env)
    gateway = Gateway(settings, GatewayConfig(port=port, generic_token=Secret(TOKEN)),
                      [v.source(twin)])  # fmt: skip
    url = f"http://127.0.0.1:{port}/webhooks/{vendor}"
    now = time.time()
    good = first.headers(SECRET, now)
    signature = next(k for k in good if k.endswith("Signature"))
    tries: list[tuple[str, dict[str, str], bytes]] = [
        ("missing", {k: x for k, x in good.items() if k != signature}, first.body),
        ("wrong", first.headers("not-the-secret", now), first.body),
        ("tampered", good, first.body.replace(b"}", b" }", 1)),
    ]
    if vendor == "zendesk":  # Zendesk signs a timestamp: an old one is a replay
        tries.append(("replayed", first.headers(SECRET, now - 3600), first.body))
    tries.append(("signed", good, first.body))

    async def run() -> list[tuple[int, Any]]:
        runner = await start(gateway)
        out = []
        try:
            async with aiohttp.ClientSession() as s:
                for _, headers, body in tries:
                    async with s.post(url, data=body, headers=headers) as r:
                        out.append((r.status, await r.json()))
        finally:
            await stop(gateway, runner)
        return out

    answers = asyncio.run(run())
    refused = {
        "missing": (401, "missing_signature"),
        "wrong": (403, "bad_signature"),
        "tampered": (403, "bad_signature"),
        "replayed": (403, "stale_timestamp"),
    }
    for (label, _, _), (status, answer) in zip(tries, answers, strict=True):
        if label == "signed":
            assert status == 200 and answer["accepted"] >= 1, answer
        else:
            assert (status, answer["error"]) == refused[label], (label, answer)
    reasons = [refused[label][1] for label, _, _ in tries if label != "signed"]
    samples = parse(gateway.metrics[vendor].render().decode())
    for reason in set(reasons):
        assert value(samples, "contact_centre_connector_rejected_total", connector=vendor,
                     reason=reason) == reasons.count(reason)  # fmt: skip
    assert value(samples, "contact_centre_connector_received_total", connector=vendor) == len(tries)
    kept = consume_all(broker.bootstrap, dead, len(reasons))
    assert sorted(dict(r.headers)["reason"].decode() for r in kept) == sorted(reasons)
    assert all(SECRET.encode() not in r.value for r in kept)
    got = consume_all(broker.bootstrap, tickets, 1)
    assert json.loads(got[0].value)["type"] == "ticket.created"


def test_the_readme_command_serves_zendesk_and_zammad_next_to_chatwoot(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    import urllib.error
    import urllib.request

    port = find_free_port()
    for name in ("chatwoot", "zendesk", "zammad"):
        (tmp_path / f"{name}.secret").write_text(SECRET)
    config = tmp_path / "webhooks.yaml"
    config.write_text(
        f"port: {port}\nsources:\n"
        f"  chatwoot:\n    secret_file: {tmp_path / 'chatwoot.secret'}\n"
        f"  zendesk:\n    secret_file: {tmp_path / 'zendesk.secret'}\n"
        f"    groups:\n      '{zendesk_generate.group_id('billing')}': billing\n"
        f"  zammad:\n    secret_file: {tmp_path / 'zammad.secret'}\n"
    )
    command = [sys.executable, "-m", "stream", "connect", "webhooks", "--config", str(config)]
    env = {k: x for k, x in os.environ.items() if not k.startswith("STREAM_")}
    env.update(STREAM_BROKER_URL=broker.url, STREAM_PARTITIONS="4",
               STREAM_TOPIC_TICKETS="readme-helpdesk-tickets")  # fmt: skip
    sim = Simulation(seed=5, start=datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    events = list(sim.events(until=sim.start + 900))
    firsts: dict[str, Delivery] = {
        "zendesk": zendesk_generate.generate(events)[0][0],
        "zammad": zammad_generate.generate(events)[0][0],
    }
    base = f"http://127.0.0.1:{port}"

    def post(path: str, body: bytes, headers: dict[str, str]) -> int | None:
        request = urllib.request.Request(base + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, ConnectionError):
            return None

    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        wait_until(lambda: post("/webhooks/zendesk", b"{}", {}) == 401, 30, "the gateway")
        assert post("/webhooks/zammad", b"{}", {}) == 401
        for name, d in firsts.items():
            assert post(f"/webhooks/{name}", d.body, d.headers(SECRET, time.time())) == 200
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
            samples = parse(r.read().decode())
        for name in firsts:
            assert value(samples, "contact_centre_connector_translated_total", connector=name,
                         type="ticket.created") == 1  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    text = log_path.read_text()
    assert "/webhooks/chatwoot, /webhooks/zendesk, /webhooks/zammad" in text
    assert SECRET not in text
    got = consume_all(broker.bootstrap, "readme-helpdesk-tickets", 3)  # zammad: + 1st article
    assert sorted(json.loads(r.value)["type"] for r in got) == [
        "ticket.created", "ticket.created", "ticket.message_added"]  # fmt: skip

"""The webhook gateway end to end on the real embedded broker and real workers.

* The simulator's tickets sent as contract events, and the same traffic sent as signed Chatwoot
  webhooks over HTTP — shuffled and concurrent within each conversation (in two rounds), a
  fifth delivered twice, the gateway restarted half-way — give every ticket metric equal.
* ``POST /v1/events``: a JSON array and NDJSON, each line answered accepted or rejected with
  its reason; rejected lines are kept in the ingest dead-letter topic; a missing or wrong
  bearer token is 401 / 403.
* A missing, wrong or replayed Chatwoot signature is 401 / 403, counted and kept; oversized
  bodies are 413, a body that never ends is 408; the served OpenAPI document is the checked-in
  one; no secret appears in the logs.
* With the broker down a delivery is answered 503 with ``Retry-After``; the retry, once the
  broker is back, is accepted and nothing is lost.
* The README's command serves the config's routes and refuses unsigned routes off loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.webhooks import openapi
from stream.connectors.webhooks.chatwoot import ChatwootSource
from stream.connectors.webhooks.chatwoot_generate import Delivery, by_group, generate, sign
from stream.connectors.webhooks.config import GatewayConfig
from stream.connectors.webhooks.server import Gateway, start, stop
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.dev.simulate import Simulation
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
SECRET = "chatwoot-secret-0123456789abcdef"
TOKEN = "generic-token-fedcba9876543210"
ROOT = Path(__file__).resolve().parents[2]


def _settings(bootstrap: str, env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {"STREAM_BROKER_URL": f"kafka://{bootstrap}", "STREAM_PARTITIONS": "4", **env}
    )


def _config(port: int, **fields: Any) -> GatewayConfig:
    return GatewayConfig(port=port, generic_token=Secret(TOKEN), **fields)


async def _deliver(
    session: aiohttp.ClientSession, url: str, d: Delivery, statuses: list[int]
) -> None:
    """POST one delivery until it is answered 2xx, as Chatwoot's job retries (connection
    refused while the gateway restarts, 503 while it stops); signed at the time of sending."""
    while True:
        try:
            headers = d.headers(SECRET, time.time())
            async with session.post(url, data=d.body, headers=headers) as r:
                statuses.append(r.status)
                if r.status < 300:
                    return
                assert r.status == 503, (r.status, await r.text())
                assert r.headers["Retry-After"] == "5"
        except aiohttp.ClientConnectionError:
            statuses.append(0)
        await asyncio.sleep(0.05)


def test_chatwoot_webhooks_give_the_same_ticket_metrics_as_the_contract_events(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    begin = datetime(2026, 11, 22, 9, 50, tzinfo=UTC)
    sim = Simulation(seed=16, start=begin, rate_multiplier=2, flows=False)  # as before flows
    made, twin = generate(sim.events(until=sim.start + 1800))
    direct = isolated(broker.bootstrap, "direct", INPUT_TOPICS)
    via = isolated(broker.bootstrap, "chatwoot", INPUT_TOPICS)
    via["STREAM_TOPIC_INGEST_DEAD_LETTER"] = "chatwoot-ingest-dead-letter"
    w_direct, w_via = workers(**direct), workers(**via)
    messages: list[Publishable] = [(e.kind, e.key, e.doc) for e in twin]
    publish(broker.bootstrap, renamed(messages, "direct"))

    rng = random.Random(16)
    groups: list[list[list[Delivery]]] = []
    for items in by_group(made).values():
        # two rounds, one after the other, each shuffled and sent at once: a conversation can
        # then straddle the restart (its creation sent by the first process, the rest by the
        # second)
        rounds = []
        for part in (items[: (len(items) + 1) // 2], items[(len(items) + 1) // 2 :]):
            part = part + [d for d in part if rng.random() < 0.2]  # Chatwoot retried: twice
            rng.shuffle(part)
            rounds.append(part)
        groups.append([r for r in rounds if r])
    port = find_free_port()
    url = f"http://127.0.0.1:{port}/webhooks/chatwoot"
    settings = _settings(broker.bootstrap, via)
    # deliveries of one conversation sent at once arrive within the settle time here
    config = _config(port, hold_seconds=2.0, settle_seconds=0.5)
    statuses: list[int] = []
    gateways: list[Gateway] = []

    def gateway() -> Gateway:
        gateways.append(Gateway(settings, config, [ChatwootSource("chatwoot", Secret(SECRET))]))
        return gateways[-1]

    async def run() -> float:
        runners = [await start(gateway())]

        async def restart() -> None:
            await stop(gateways[-1], runners[-1])
            runners.append(await start(gateway()))

        limit = asyncio.Semaphore(48)
        half = sum(len(r) for g in groups for r in g) // 2
        t = time.perf_counter()
        try:
            async with aiohttp.ClientSession() as session:

                async def group(rounds: Sequence[Sequence[Delivery]]) -> None:
                    async with limit:
                        for part in rounds:
                            await asyncio.gather(
                                *(_deliver(session, url, d, statuses) for d in part)
                            )

                async def restart_half_way() -> None:
                    while statuses.count(200) < half:
                        await asyncio.sleep(0.01)
                    await restart()

                await asyncio.gather(restart_half_way(), *(group(g) for g in groups))
        finally:
            await stop(gateways[-1], runners[-1])
        return time.perf_counter() - t

    seconds = asyncio.run(run())
    sent = sum(len(r) for g in groups for r in g)
    print(f"\n{sent} deliveries ({len(made)} distinct) answered in {seconds:.1f} s: "
          f"{sent / seconds:.0f}/s; {statuses.count(0)} refused and {statuses.count(503)} "
          f"answered 503 around the restart; held {sum(g.order.held for g in gateways)}, "
          f"released unordered {sum(g.order.released_unordered for g in gateways)}, not sent "
          f"again {sum(g.order.duplicates for g in gateways)}")  # fmt: skip

    expected = len(twin)
    wait_until(lambda: total(w_direct.scrape(), "contact_centre_events_total") == expected, 90,
               "the direct pipeline")  # fmt: skip
    wait_until(lambda: total(w_via.scrape(), "contact_centre_events_total") == expected, 90,
               "the gateway's pipeline")  # fmt: skip
    a, b = w_direct.scrape(), w_via.scrape()
    assert total(b, "contact_centre_events_rejected_total") == 0
    by_type = "contact_centre_events_total"
    assert {k: v for k, v in a.items() if k[0] == by_type} == {
        k: v for k, v in b.items() if k[0] == by_type
    }
    ka, kb = kpis(a), kpis(b)
    assert total(ka, "contact_centre_tickets_created_total") == sum(
        1 for e in twin if e.doc["type"] == "ticket.created"
    )
    assert total(ka, "contact_centre_tickets_solved_total") > 0
    assert ka == kb
    received = sum(
        value(parse(g.metrics["chatwoot"].render().decode()),
              "contact_centre_connector_received_total", connector="chatwoot") or 0.0
        for g in gateways
    )  # fmt: skip
    assert received == len(statuses) - statuses.count(0)
    assert statuses.count(200) == sent


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async def run() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
            return r.status, await r.json()

    return asyncio.run(run())


def test_the_generic_route_answers_per_line_and_keeps_rejected_lines(
    broker: EmbeddedBroker,
) -> None:
    port = find_free_port()
    settings = _settings(broker.bootstrap, {"STREAM_TOPIC_INGEST_DEAD_LETTER": "generic-dl"})
    gateway = Gateway(settings, _config(port), [])
    created = {"type": "ticket.created", "event_id": "g-1", "occurred_at": "2026-11-22T10:00:00Z",
               "ticket_id": "T-1", "queue": "support", "channel": "email"}  # fmt: skip
    message = {"type": "ticket.message_added", "event_id": "g-2", "ticket_id": "T-1",
               "occurred_at": "2026-11-22T10:01:00Z", "author": "agent"}  # fmt: skip
    no_queue = {k: v for k, v in created.items() if k != "queue"} | {"event_id": "g-3"}
    url = f"http://127.0.0.1:{port}/v1/events"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def run() -> list[tuple[int, Any]]:
        runner = await start(gateway)
        out = []
        try:
            async with aiohttp.ClientSession() as s:
                for body, headers in (
                    (json.dumps([created, no_queue]).encode(), auth),
                    (json.dumps(message).encode() + b"\n\n{not json\n", auth),
                    (b"[1, 2", auth),
                    (json.dumps([created]).encode(), {}),
                    (json.dumps([created]).encode(), {"Authorization": "Bearer wrong"}),
                ):
                    async with s.post(url, data=body, headers=headers) as r:
                        out.append((r.status, await r.json()))
        finally:
            await stop(gateway, runner)
        return out

    answers = asyncio.run(run())
    assert [status for status, _ in answers] == [200, 200, 400, 401, 403]
    first, second = answers[0][1], answers[1][1]
    assert (first["accepted"], first["rejected"]) == (1, 1)
    assert first["results"][0] == {"line": 1, "status": "accepted", "event_id": "g-1"}
    assert first["results"][1]["line"] == 2 and first["results"][1]["status"] == "rejected"
    assert first["results"][1]["reason"] == "missing_field"
    assert [r["line"] for r in second["results"]] == [1, 3]
    assert [r["status"] for r in second["results"]] == ["accepted", "rejected"]
    assert second["results"][1]["reason"] == "invalid_json"
    assert answers[2][1]["error"] == "invalid_json"
    assert answers[3][1]["error"] == "missing_token" and answers[4][1]["error"] == "bad_token"
    got = consume_all(broker.bootstrap, "tickets", 2)
    assert [(r.key, json.loads(r.value)["event_id"]) for r in got] == [(b"T-1", "g-1"),
                                                                      (b"T-1", "g-2")]  # fmt: skip
    kept = consume_all(broker.bootstrap, "generic-dl", 3)
    assert sorted(dict(r.headers)["reason"] for r in kept) == [b"invalid_json", b"invalid_json",
                                                               b"missing_field"]  # fmt: skip
    assert {r.value for r in kept} >= {b"{not json", b"[1, 2"}
    samples = parse(gateway.metrics["generic"].render().decode())
    c = {"connector": "generic"}
    assert value(samples, "contact_centre_connector_received_total", **c) == 5
    assert value(samples, "contact_centre_connector_translated_total", type="ticket.created",
                 **c) == 1  # fmt: skip
    for reason, n in (("missing_field", 1), ("invalid_json", 2), ("missing_token", 1),
                      ("bad_token", 1)):  # fmt: skip
        assert value(samples, "contact_centre_connector_rejected_total", reason=reason, **c) == n


def test_signatures_sizes_and_slow_bodies_are_refused_and_no_secret_is_logged(
    broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = find_free_port()
    settings = _settings(broker.bootstrap, {"STREAM_TOPIC_INGEST_DEAD_LETTER": "sec-dl"})
    config = _config(port, max_body_bytes=4096, body_timeout_seconds=0.5)
    gateway = Gateway(settings, config, [ChatwootSource("chatwoot", Secret(SECRET))])
    url = f"http://127.0.0.1:{port}/webhooks/chatwoot"
    body = json.dumps({"event": "contact_created", "id": 1, "account": {"id": 1}}).encode()
    now = time.time()

    async def slow_body() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /webhooks/chatwoot HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                     b"Content-Type: application/json\r\n\r\n{\"event\":")  # fmt: skip
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(200), 30)
        writer.close()
        return answer

    async def run() -> tuple[list[tuple[int, Any]], bytes, Any]:
        runner = await start(gateway)
        out = []
        try:
            async with aiohttp.ClientSession() as s:

                async def chunks() -> Any:
                    for _ in range(10):
                        yield b"x" * 1024

                for data, headers in (
                    (body, {}),
                    (body, sign(body, "not-the-secret", now)),
                    (body, sign(body, SECRET, now - 3600)),  # replayed an hour later
                    (body + b" ", sign(body, SECRET, now)),
                    (b"x" * 5000, sign(b"x" * 5000, SECRET, now)),
                    (chunks(), {}),
                    (body, sign(body, SECRET, now)),
                ):
                    async with s.post(url, data=data, headers=headers) as r:
                        out.append((r.status, await r.json()))
                async with s.get(f"http://127.0.0.1:{port}/openapi.json") as r:
                    served = await r.json()
            slow = await slow_body()
        finally:
            await stop(gateway, runner)
        return out, slow, served

    answers, slow, served = asyncio.run(run())
    assert [s for s, _ in answers] == [401, 403, 403, 403, 413, 413, 200]
    refused = ["missing_signature", "bad_signature", "stale_timestamp", "bad_signature"]
    assert [a.get("error") for _, a in answers[:4]] == refused
    assert answers[6][1] == {"ignored": "contact_created"}
    assert slow.startswith(b"HTTP/1.1 408")
    checked_in = json.loads((ROOT / "docs/connectors/webhooks.openapi.json").read_text())
    assert served == checked_in == openapi.document()
    samples = parse(gateway.metrics["chatwoot"].render().decode())
    c = {"connector": "chatwoot"}
    for reason, n in (("missing_signature", 1), ("bad_signature", 2), ("stale_timestamp", 1),
                      ("too_large", 2), ("body_timeout", 1)):  # fmt: skip
        assert value(samples, "contact_centre_connector_rejected_total", reason=reason, **c) == n
    assert value(samples, "contact_centre_connector_ignored_total", kind="contact_created",
                 **c) == 1  # fmt: skip
    assert value(samples, "contact_centre_connector_received_total", **c) == 8
    kept = consume_all(broker.bootstrap, "sec-dl", 4)
    assert sorted(dict(r.headers)["reason"] for r in kept) == [
        b"bad_signature", b"bad_signature", b"missing_signature", b"stale_timestamp"]  # fmt: skip
    everything = caplog.text + json.dumps(answers) + repr(gateway.sources) + repr(config)
    assert SECRET not in everything and TOKEN not in everything
    for r in kept:
        assert SECRET.encode() not in r.value
        assert all(SECRET.encode() not in v for _, v in r.headers)


def test_broker_down_is_503_with_retry_after_then_the_retry_is_accepted() -> None:
    broker_port, port = find_free_port(), find_free_port()
    settings = _settings(f"127.0.0.1:{broker_port}", {})
    gateway = Gateway(settings, _config(port, settle_seconds=0.0),
                      [ChatwootSource("chatwoot", Secret(SECRET))])  # fmt: skip
    for p in gateway.publishers.values():
        p.timeout = 2.0
    conversation = {"event": "conversation_created", "id": 77, "account_id": 3, "inbox_id": 1,
                    "channel": "Channel::WebWidget", "status": "open", "created_at": 1795341000,
                    "updated_at": 1795341000.0,
                    "meta": {"team": {"id": 1, "name": "sales"}}}  # fmt: skip
    body = json.dumps(conversation).encode()
    url = f"http://127.0.0.1:{port}/webhooks/chatwoot"
    broker = EmbeddedBroker(port=broker_port)

    async def run() -> list[tuple[int, str | None]]:
        runner = await start(gateway)
        out = []
        try:
            async with aiohttp.ClientSession() as s:
                for attempt in range(2):
                    if attempt == 1:
                        broker.start()
                    async with s.post(url, data=body, headers=sign(body, SECRET, time.time())) as r:
                        out.append((r.status, r.headers.get("Retry-After")))
        finally:
            await stop(gateway, runner)
        return out

    try:
        answers = asyncio.run(run())
        assert answers == [(503, "5"), (200, None)]
        got = consume_all(broker.bootstrap, "tickets", 1)
        assert [(r.key, json.loads(r.value)["event_id"]) for r in got] == [
            (b"chatwoot-3-77", "chatwoot:3:77:created")]  # fmt: skip
    finally:
        broker.stop()
    samples = parse(gateway.metrics["chatwoot"].render().decode())
    assert value(samples, "contact_centre_connector_translated_total", connector="chatwoot",
                 type="ticket.created") == 1  # fmt: skip
    assert (value(samples, "contact_centre_connector_publish_failures_total",
                  connector="chatwoot") or 0) >= 1  # fmt: skip


def test_the_readme_command_serves_the_configured_routes(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    import urllib.error
    import urllib.request

    (tmp_path / "chatwoot.secret").write_text(SECRET)
    port = find_free_port()
    config = tmp_path / "webhooks.yaml"
    secret_file = tmp_path / "chatwoot.secret"
    config.write_text(f"port: {port}\ngeneric:\n  token_env: INGEST_TOKEN\nsources:\n"
                      f"  chatwoot:\n    secret_file: {secret_file}\n")  # fmt: skip
    command = [sys.executable, "-m", "stream", "connect", "webhooks", "--config", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    env.update(STREAM_BROKER_URL=broker.url, STREAM_PARTITIONS="4", INGEST_TOKEN=TOKEN)
    missing = subprocess.run(command, env={**env, "INGEST_TOKEN": ""}, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert missing.returncode == 2
    assert f"{config}:3: generic.token_env: the variable INGEST_TOKEN" in missing.stderr
    open_config = tmp_path / "open.yaml"
    open_config.write_text("sources:\n  chatwoot:\n    unsigned: true\n")
    wide = subprocess.run([*command[:-1], str(open_config), "--host", "0.0.0.0"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert wide.returncode == 2 and "loopback" in wide.stderr

    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
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

    try:
        wait_until(lambda: post("/webhooks/chatwoot", b"{}", {}) == 401, 30, "the gateway")
        body = json.dumps({"event": "conversation_created", "id": 5, "account_id": 1,
                           "inbox_id": 2, "channel": "Channel::Email", "status": "open",
                           "created_at": 1795341000, "updated_at": 1795341000.0,
                           "meta": {}}).encode()  # fmt: skip
        assert post("/webhooks/chatwoot", body, sign(body, SECRET, time.time())) == 200
        event = {"type": "ticket.message_added", "event_id": "cli-1", "ticket_id": "chatwoot-1-5",
                 "occurred_at": "2026-11-22T09:51:00Z", "author": "customer"}  # fmt: skip
        assert post("/v1/events", json.dumps([event]).encode(),
                    {"Authorization": f"Bearer {TOKEN}"}) == 200  # fmt: skip
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
            samples = parse(r.read().decode())
        assert value(samples, "contact_centre_connector_translated_total", connector="chatwoot",
                     type="ticket.created") == 1  # fmt: skip
        assert value(samples, "contact_centre_connector_translated_total", connector="generic",
                     type="ticket.message_added") == 1  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    text = log_path.read_text()
    assert "webhooks gateway on http://127.0.0.1" in text
    assert SECRET not in text and TOKEN not in text
    got = consume_all(broker.bootstrap, "tickets", 2)
    assert sorted(json.loads(r.value)["event_id"] for r in got) == ["chatwoot:1:5:created",
                                                                   "cli-1"]  # fmt: skip

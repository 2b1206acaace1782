"""The Twilio TaskRouter connector end to end on the real embedded broker and real workers.

* The simulator's calls and agents sent as contract events, and the same traffic sent as signed
  TaskRouter callbacks over HTTP — shuffled and concurrent within each task and each worker, a
  fifth delivered twice, the connector restarted half-way — give every calls and agents sample
  equal.
* A missing or wrong ``X-Twilio-Signature`` is a 403, counted and dead-lettered, and the auth
  token appears nowhere in the logs.
* With the broker down a callback is answered 503 with ``Retry-After``; once the broker is back
  the retried callback is accepted and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.metrics import ConnectorMetrics
from stream.connectors.publish import Publisher
from stream.connectors.twilio.generate import (
    TWIN_CONFIG_YAML,
    Callback,
    by_group,
    callbacks,
    contract_twin,
    with_variety,
)
from stream.connectors.twilio.server import CallbackHandler, ServerOptions, start, stop
from stream.connectors.twilio.settings import TwilioConfig, load_config
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.dev.simulate import Simulation
from tests.integration.conftest import INPUT_TOPICS, WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    consume_all,
    isolated,
    kpis,
    parse,
    publish,
    renamed,
    total,
    value,
    wait_same_ewt_scoring,
    wait_until,
)

pytestmark = pytest.mark.integration
FROZEN = "2026-11-22T10:30:00Z"
TOKEN = "test-auth-token-0123456789abcdef"
PATH = "/twilio/events"


def _settings(bootstrap: str, env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {"STREAM_BROKER_URL": f"kafka://{bootstrap}", "STREAM_PARTITIONS": "4", **env}
    )


async def _deliver(
    session: aiohttp.ClientSession, url: str, cb: Callback, statuses: list[int]
) -> None:
    """POST one callback until it is answered 2xx, as a vendor retries (connection refused
    while the connector restarts, 503 while it stops or the broker is down)."""
    while True:
        try:
            async with session.post(
                url, data=cb.form, headers={"X-Twilio-Signature": cb.signature}
            ) as r:
                statuses.append(r.status)
                if r.status < 300:
                    return
                assert r.status == 503, (r.status, await r.text())
                assert r.headers["Retry-After"] == "5"
        except aiohttp.ClientConnectionError:
            statuses.append(0)
        await asyncio.sleep(0.05)


async def _send_all(
    url: str, groups: Sequence[list[list[Callback]]], restart: Any, statuses: list[int]
) -> None:
    """Each task's (worker's) callbacks at once: the arrival order is whatever the server sees.
    ``restart`` is awaited once half of the callbacks were answered 204, the rest in flight."""
    limit = asyncio.Semaphore(48)
    half = sum(len(r) for g in groups for r in g) // 2
    async with aiohttp.ClientSession() as session:

        async def group(rounds: list[list[Callback]]) -> None:
            async with limit:
                for part in rounds:  # one round after the other, each round's callbacks at once
                    await asyncio.gather(*(_deliver(session, url, cb, statuses) for cb in part))

        async def restart_half_way() -> None:
            while statuses.count(204) < half:
                await asyncio.sleep(0.01)
            await restart()

        await asyncio.gather(restart_half_way(), *(group(rounds) for rounds in groups))


# Rings are compared apart (``_rings``): callbacks of one task may overtake each other (a
# reservation.accepted before its reservation.created), and the worker books a ring only while
# the call is queued, so the booked offers depend on arrival order (a known gap, reported).
RING_FAMILIES = ("contact_centre_agent_offers", "contact_centre_calls_ringing",
                 "contact_centre_agents_ringing")  # fmt: skip


def _calls_and_agents(samples: Samples) -> Samples:
    return {k: v for k, v in kpis(samples).items() if "ticket" not in k[0] and "survey" not in k[0]
            and "csat" not in k[0] and "nps" not in k[0] and "customer" not in k[0]
            and "order" not in k[0] and "churn" not in k[0]
            and not k[0].startswith(RING_FAMILIES)}  # fmt: skip


def _same_metrics_both_ways(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path, *, variety: bool
) -> None:
    begin = datetime(2026, 11, 22, 9, 50, tzinfo=UTC)
    sim = Simulation(seed=15, start=begin, rate_multiplier=2, flows=False)  # as before flows
    events = list(sim.events(until=sim.start + 1800))
    twin = contract_twin(events)
    if variety:
        twin = with_variety(twin, seed=15)
    port = find_free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    made = callbacks(twin, token=TOKEN, url=url)
    assert made == callbacks(twin, token=TOKEN, url=url)  # same traffic, same callbacks

    direct = isolated(broker.bootstrap, "direct", INPUT_TOPICS)
    via = isolated(broker.bootstrap, "twilio", INPUT_TOPICS)
    via["STREAM_TOPIC_INGEST_DEAD_LETTER"] = "twilio-ingest-dead-letter"
    # Idle after 2 s: the watermark then passes every answer, and every call's EWT is scored.
    w_direct = workers(STREAM_IDLE_SECONDS="2", **direct)
    w_via = workers(STREAM_IDLE_SECONDS="2", **via)
    messages: list[Publishable] = [(e.kind, e.key, e.doc) for e in twin]
    publish(broker.bootstrap, renamed(messages, "direct"))

    rng = random.Random(15)
    groups: list[list[list[Callback]]] = []
    for items in by_group(made).values():  # a task's or a worker's callbacks
        items = list(items)
        items += [cb for cb in items if rng.random() < 0.2]  # delivered twice
        rng.shuffle(items)
        kinds = [cb.form["EventType"] for cb in items]
        if "task.transfer-initiated" in kinds:
            # TaskRouter sends the transfer as it starts, the wrap-up after the agent left the
            # call; a wrap-up first would end the talk (docs/connectors/twilio.md): this task's
            # wrap-up and completion are sent once the rest (shuffled, at once) was answered
            later = ("task.wrapup", "task.completed")
            first = [cb for cb in items if cb.form["EventType"] not in later]
            then = [cb for cb in items if cb.form["EventType"] in later]
            groups.append([first, then])
            continue
        groups.append([items])
    config_path = tmp_path / "twilio.yaml"
    config_path.write_text(TWIN_CONFIG_YAML)
    config = load_config(config_path)
    settings = _settings(broker.bootstrap, via)
    options = ServerOptions(port=port, public_url=url, auth_token=Secret(TOKEN), hold_seconds=2.0)
    statuses: list[int] = []
    handlers: list[CallbackHandler] = []

    async def run() -> float:
        handlers.append(CallbackHandler(settings, options, config))
        runners = [await start(handlers[0])]

        async def restart() -> None:
            await stop(handlers[-1], runners[-1])
            handlers.append(CallbackHandler(settings, options, config))
            runners.append(await start(handlers[-1]))

        t = time.perf_counter()
        try:
            await _send_all(url, groups, restart, statuses)
        finally:
            await stop(handlers[-1], runners[-1])
        return time.perf_counter() - t

    seconds = asyncio.run(run())
    sent = sum(len(r) for g in groups for r in g)
    print(f"\n{sent} callbacks ({len(made)} distinct) answered in {seconds:.1f} s: "
          f"{sent / seconds:.0f}/s; {statuses.count(0)} refused and "
          f"{statuses.count(503)} answered 503 around the restart; held "
          f"{sum(h.order.held for h in handlers)}, released unordered "
          f"{sum(h.order.released_unordered for h in handlers)}")  # fmt: skip

    expected = len(twin)
    wait_until(lambda: total(w_direct.scrape(), "contact_centre_events_total") == expected, 90,
               "the direct pipeline")  # fmt: skip
    wait_until(lambda: total(w_via.scrape(), "contact_centre_events_total") == expected, 90,
               "the connector's pipeline")  # fmt: skip
    # Each call's EWT error is booked once the watermark passes its answer, and the watermarks
    # differ while the two pipelines' partitions do: wait until both are idle at the same one.
    wait_same_ewt_scoring(w_direct, w_via)
    a, b = w_direct.scrape(), w_via.scrape()
    assert total(b, "contact_centre_events_rejected_total") == 0
    by_type = "contact_centre_events_total"
    assert {k: v for k, v in a.items() if k[0] == by_type} == {
        k: v for k, v in b.items() if k[0] == by_type
    }
    ca, cb_ = _calls_and_agents(a), _calls_and_agents(b)
    assert total(ca, "contact_centre_calls_offered_total") == sum(
        1 for e in twin if e.kind == "calls" and e.doc["type"] == "call.queued"
    )
    assert total(ca, "contact_centre_calls_abandoned_total") > 0
    if variety:
        for family in (
            "contact_centre_calls_exited_total",
            "contact_centre_calls_transferred_total",
            "contact_centre_call_offers_missed_total",
        ):
            assert total(ca, family) > 0, family
    assert ca == cb_
    # every distinct callback was received at least once; restarts and duplicates only add
    received = sum(
        value(parse(h.metrics.render().decode()), "contact_centre_connector_received_total",
              connector="twilio") or 0.0 for h in handlers
    )  # fmt: skip
    assert received == len(statuses) - statuses.count(0)  # refused connections never arrived
    assert statuses.count(204) == sent


def test_taskrouter_callbacks_give_the_same_metrics_as_the_contract_events(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    _same_metrics_both_ways(broker, workers, tmp_path, variety=False)


def test_missed_offers_queue_timeouts_and_transfers_give_the_same_metrics_too(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    _same_metrics_both_ways(broker, workers, tmp_path, variety=True)


def test_bad_signature_is_refused_counted_and_kept_and_no_secret_is_logged(
    broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = find_free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    settings = _settings(broker.bootstrap, {})
    options = ServerOptions(port=port, public_url=url, auth_token=Secret(TOKEN))
    form = {"EventType": "task.wrapup", "TaskSid": "WT1", "TimestampMs": "1764066612345"}
    good = RequestValidator(TOKEN).compute_signature(url, form)
    wrong = RequestValidator("another-token").compute_signature(url, form)
    other_url = RequestValidator(TOKEN).compute_signature(url + "x", form)
    handler = CallbackHandler(settings, options, TwilioConfig())

    async def run() -> list[tuple[int, str]]:
        runner = await start(handler)
        out = []
        try:
            async with aiohttp.ClientSession() as s:
                for headers, body in (
                    ({}, form),
                    ({"X-Twilio-Signature": wrong}, form),
                    ({"X-Twilio-Signature": other_url}, form),
                    ({"X-Twilio-Signature": good}, {**form, "TaskSid": "WT2"}),  # body changed
                    ({"X-Twilio-Signature": good}, "x" * (70 * 1024)),
                    ({"X-Twilio-Signature": good}, form),
                ):
                    async with s.post(url, data=body, headers=headers) as r:
                        out.append((r.status, await r.text()))
        finally:
            await stop(handler, runner)
        return out

    answers = asyncio.run(run())
    assert [status for status, _ in answers] == [403, 403, 403, 403, 413, 204]
    samples = parse(handler.metrics.render().decode())
    assert value(samples, "contact_centre_connector_rejected_total", connector="twilio",
                 reason="bad_signature") == 4  # fmt: skip
    assert value(samples, "contact_centre_connector_rejected_total", connector="twilio",
                 reason="too_large") == 1  # fmt: skip
    assert value(samples, "contact_centre_connector_received_total", connector="twilio") == 6
    kept = consume_all(broker.bootstrap, settings.topic_ingest_dead_letter, 4)
    assert len(kept) == 4
    assert {dict(r.headers)["reason"] for r in kept} == {b"bad_signature"}
    assert all(dict(r.headers)["connector"] == b"twilio" for r in kept)
    everything = caplog.text + "".join(text for _, text in answers) + repr(handler.options)
    assert TOKEN not in everything
    for r in kept:
        assert TOKEN.encode() not in r.value and all(TOKEN.encode() not in v for _, v in r.headers)


def test_broker_down_is_503_with_retry_after_then_the_retry_is_accepted(tmp_path: Path) -> None:
    broker_port, port = find_free_port(), find_free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    settings = _settings(f"127.0.0.1:{broker_port}", {})
    metrics = ConnectorMetrics("twilio")
    publisher = Publisher(settings, connector="twilio", metrics=metrics, timeout=2.0)
    options = ServerOptions(port=port, public_url=url, auth_token=Secret(TOKEN))
    handler = CallbackHandler(settings, options, TwilioConfig(), metrics=metrics,
                              publisher=publisher)  # fmt: skip
    form = {"EventType": "task-queue.entered", "TaskSid": "WT1", "TimestampMs": "1764066612345",
            "TaskQueueName": "billing", "TaskChannelUniqueName": "voice"}  # fmt: skip
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    broker = EmbeddedBroker(port=broker_port)

    async def run() -> list[tuple[int, str | None]]:
        runner = await start(handler)
        out = []
        try:
            async with aiohttp.ClientSession() as s:
                for attempt in range(2):
                    if attempt == 1:
                        broker.start()
                    async with s.post(
                        url, data=form, headers={"X-Twilio-Signature": signature}
                    ) as r:
                        out.append((r.status, r.headers.get("Retry-After")))
        finally:
            await stop(handler, runner)
        return out

    try:
        answers = asyncio.run(run())
        assert answers == [(503, "5"), (204, None)]
        got = consume_all(broker.bootstrap, "calls", 1)
        assert len(got) == 1 and got[0].key == b"WT1"
        assert b'"event_id":"twilio:WT1:call.queued"' in got[0].value
    finally:
        broker.stop()
    samples = parse(metrics.render().decode())
    assert value(samples, "contact_centre_connector_translated_total", connector="twilio",
                 type="call.queued") == 1  # fmt: skip
    assert (value(samples, "contact_centre_connector_publish_failures_total",
                  connector="twilio") or 0) >= 1  # fmt: skip


def test_the_readme_command_serves_signed_callbacks_and_refuses_to_start_without_a_token(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.parse
    import urllib.request

    public = "https://kpi.example.com/twilio/events"
    port = find_free_port()
    command = [sys.executable, "-m", "stream", "connect", "twilio", "--public-url", public,
               "--port", str(port)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "TWILIO_"))}
    env.update(STREAM_BROKER_URL=broker.url, STREAM_PARTITIONS="4")
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "no auth token" in refused.stderr
    # --insecure-loopback is refused on an address that is not loopback
    wide = subprocess.run([*command, "--insecure-loopback", "--host", "0.0.0.0"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert wide.returncode == 2

    log_path = tmp_path / "connector.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env={**env, "TWILIO_AUTH_TOKEN": TOKEN}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        form = {"EventType": "task-queue.entered", "TaskSid": "WTcli", "TaskQueueName": "billing",
                "TaskChannelUniqueName": "voice", "TimestampMs": "1764066612345"}  # fmt: skip
        signature = RequestValidator(TOKEN).compute_signature(public, form)
        url = f"http://127.0.0.1:{port}{PATH}"

        def post(sig: str) -> int | None:
            request = urllib.request.Request(
                url, data=urllib.parse.urlencode(form).encode(),
                headers={"X-Twilio-Signature": sig,
                         "Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=30) as r:
                    return int(r.status)
            except urllib.error.HTTPError as exc:
                return int(exc.code)
            except (urllib.error.URLError, ConnectionError):
                return None

        wait_until(lambda: post("wrong") == 403, 30, "the connector to answer")
        assert post(signature) == 204
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            samples = parse(r.read().decode())
        assert value(samples, "contact_centre_connector_translated_total", connector="twilio",
                     type="call.queued") == 1  # fmt: skip
        assert value(samples, "contact_centre_connector_rejected_total", connector="twilio",
                     reason="bad_signature") is not None  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert TOKEN not in log_path.read_text()
    got = consume_all(broker.bootstrap, "calls", 1)
    assert [r.key for r in got] == [b"WTcli"]

"""The connectors' shared publisher on the real embedded broker: contract events land on their
topics keyed by contact, only after the broker's acknowledgement; translator mistakes and vendor
records that cannot be translated land in the ingest dead-letter topic with their reason and are
counted; a broker that is down is reported, never silently skipped."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from stream.config import Settings
from stream.connectors.metrics import ConnectorMetrics
from stream.connectors.publish import MAX_DEAD_LETTER_BYTES, BrokerUnavailable, Publisher
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from tests.integration.harness import consume_all, parse, value

QUEUED = {
    "type": "call.queued",
    "event_id": "asterisk:1.1:ENTERQUEUE:1764000000",
    "occurred_at": "2026-11-22T10:00:00Z",
    "call_id": "1.1",
    "queue": "billing",
    "channel": "phone",
}
STATE = {
    "type": "agent.state_changed",
    "event_id": "asterisk:SIP/201:ADDMEMBER:1764000000",
    "occurred_at": "2026-11-22T10:00:00Z",
    "agent_id": "a201",
    "state": "available",
    "queues": ["billing"],
}


def _settings(bootstrap: str) -> Settings:
    return Settings.from_env(
        {"STREAM_BROKER_URL": f"kafka://{bootstrap}", "STREAM_PARTITIONS": "2"}
    )


def test_events_go_to_their_topics_keyed_by_contact_and_bad_ones_to_the_ingest_dead_letters(
    broker: EmbeddedBroker,
) -> None:
    metrics = ConnectorMetrics("asterisk")

    async def run() -> int:
        p = Publisher(_settings(broker.bootstrap), connector="asterisk", metrics=metrics)
        try:
            sent = await p.publish([QUEUED, STATE])
            # a translator mistake (no call_id): the vendor record is kept, not the event
            bad = {k: v for k, v in QUEUED.items() if k != "call_id"}
            sent += await p.publish(
                [bad], origin=b"1764000000|1.1|billing|NONE|ENTERQUEUE||", source="queue_log:42"
            )
            await p.dead_letter(b"\xff\xfe not utf-8", "not_utf8", "byte 0", source="queue_log:99")
            await p.dead_letter(b"x" * (MAX_DEAD_LETTER_BYTES + 10), "too_long", "", source="s")
            return sent
        finally:
            await p.stop()

    assert asyncio.run(run()) == 2
    calls = consume_all(broker.bootstrap, "calls", 1)
    assert [(r.key, msgspec.json.decode(r.value)) for r in calls] == [(b"1.1", QUEUED)]
    agents = consume_all(broker.bootstrap, "agents", 1)
    assert [(r.key, msgspec.json.decode(r.value)) for r in agents] == [(b"a201", STATE)]
    dead = consume_all(broker.bootstrap, "kpi-ingest-dead-letter", 3)
    assert len(dead) == 3
    headers = [dict(r.headers) for r in sorted(dead, key=lambda r: (r.partition, r.offset))]
    by_reason = {
        h["reason"]: (h, r)
        for h, r in zip(headers, sorted(dead, key=lambda r: (r.partition, r.offset)), strict=True)
    }
    h, r = by_reason[b"invalid_translation"]
    assert r.value == b"1764000000|1.1|billing|NONE|ENTERQUEUE||"
    assert h["connector"] == b"asterisk" and h["source"] == b"queue_log:42"
    assert b"call_id" in h["detail"]
    assert by_reason[b"not_utf8"][1].value == b"\xff\xfe not utf-8"
    h, r = by_reason[b"too_long"]
    assert len(r.value) == MAX_DEAD_LETTER_BYTES
    assert h["truncated_from_bytes"] == str(MAX_DEAD_LETTER_BYTES + 10).encode()

    samples = parse(metrics.render().decode())
    c = {"connector": "asterisk"}
    assert value(samples, "contact_centre_connector_translated_total", type="call.queued", **c) == 1
    assert (
        value(samples, "contact_centre_connector_translated_total", type="agent.state_changed", **c)
        == 1
    )
    for reason in ("invalid_translation", "not_utf8", "too_long"):
        assert value(samples, "contact_centre_connector_rejected_total", reason=reason, **c) == 1
    assert value(samples, "contact_centre_connector_publish_seconds_count", **c) == 1
    assert value(samples, "contact_centre_connector_publish_failures_total", **c) == 0


def test_a_broker_that_is_down_raises_and_counts_then_the_same_publisher_recovers() -> None:
    port = find_free_port()
    metrics = ConnectorMetrics("twilio")
    b = EmbeddedBroker(port=port)

    async def run() -> int:
        p = Publisher(_settings(f"127.0.0.1:{port}"), connector="twilio", metrics=metrics,
                      timeout=2.0)  # fmt: skip
        try:
            with pytest.raises(BrokerUnavailable):
                await p.publish([QUEUED])
            with pytest.raises(BrokerUnavailable):
                await p.dead_letter(b"x", "bad_signature", "", source="http")
            samples = parse(metrics.render().decode())
            failures = "contact_centre_connector_publish_failures_total"
            assert value(samples, failures, connector="twilio") == 2
            b.start()
            p.timeout = 10.0
            return await p.publish([QUEUED])
        finally:
            await p.stop()

    try:
        assert asyncio.run(run()) == 1
        assert [r.key for r in consume_all(b.bootstrap, "calls", 1)] == [b"1.1"]
    finally:
        b.stop()
    samples = parse(metrics.render().decode())
    translated = "contact_centre_connector_translated_total"
    assert value(samples, translated, connector="twilio", type="call.queued") == 1

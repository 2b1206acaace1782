"""The webhook gateway fuzzed from its own OpenAPI document (schemathesis) on the real broker.

Every operation of ``/openapi.json`` gets generated requests — any JSON for a vendor route,
arrays of half-valid events for ``/v1/events``, odd headers — and no answer may be a server
error (with the broker up, not even 503), and every answer must match the document (status
codes, content types, bodies; a schema-valid body may still be a documented 400). The vendor
route runs unsigned here (loopback), so that the generated bodies reach the Chatwoot
translator instead of stopping at the signature check.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.webhooks import openapi
from stream.connectors.webhooks.chatwoot import ChatwootSource
from stream.connectors.webhooks.config import GatewayConfig
from stream.connectors.webhooks.server import Gateway, start, stop
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port

pytestmark = pytest.mark.integration
TOKEN = "fuzz-token-0123456789"

_document = copy.deepcopy(openapi.document())
# generated path parameters would only ever find 404: aim at the configured source
_document["paths"]["/webhooks/{source}"]["post"]["parameters"][0]["schema"] = {
    "type": "string",
    "enum": ["chatwoot"],
}
schema = schemathesis.openapi.from_dict(_document)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_context: Any, value: Any) -> bytes:
    """NDJSON bodies are generated as text (the document says ``type: string``)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "replace")


@pytest.fixture
def gateway_url(broker: EmbeddedBroker) -> Iterator[str]:
    """A gateway on its own event loop in a thread (schemathesis calls it synchronously)."""
    port = find_free_port()
    env = {"STREAM_BROKER_URL": f"kafka://{broker.bootstrap}", "STREAM_PARTITIONS": "4"}
    config = GatewayConfig(port=port, generic_token=Secret(TOKEN), settle_seconds=0.0,
                           hold_seconds=0.0, max_body_bytes=64 * 1024)  # fmt: skip
    gateway = Gateway(Settings.from_env(env), config, [ChatwootSource("chatwoot")])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = asyncio.run_coroutine_threadsafe(start(gateway), loop).result(30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(gateway, runner), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_gets_a_server_error(case: Any, gateway_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"} if case.path == "/v1/events" else {}
    response = case.call(base_url=gateway_url, headers=headers, timeout=30)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    # a schema-valid body may still be refused: a vendor body is any object, and only the
    # source knows which it can translate (400, documented); /v1/events answers invalid events
    # line by line in a 200 (the design: the valid lines of the same body are published)
    excluded = [checks.positive_data_acceptance]
    if case.path == "/v1/events":
        excluded.append(checks.negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)

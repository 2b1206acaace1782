"""The gateway's HTTP server: vendor routes, the generic route, ``/openapi.json``, ``/metrics``.

``POST /webhooks/<name>`` (one per configured source, ``source.WebhookSource``):

1. the body is read within ``body_timeout_seconds`` (else 408) and up to ``max_body_bytes``
   (else 413; a ``Content-Length`` over the limit is refused before reading);
2. the source verifies the vendor's signature (401 missing, 403 bad or stale), counted by reason
   and kept in the ingest dead-letter topic;
3. the JSON body is translated (a ``TranslationError`` or invalid JSON: 400, dead-lettered; a
   vendor event with no KPI meaning: 200 ``{"ignored": kind}``, counted);
4. the events go out in the vendor's order per contact (``order.ContactOrder``) and the answer,
   200 ``{"accepted": n}``, comes only after the broker acknowledged them; with the broker down
   it is 503 with ``Retry-After`` (vendors retry: nothing is lost, and the retry makes the same
   event ids, so nothing is counted twice); a status change to the status the ticket already
   has is not sent and is counted as ignored (``<type>:unchanged``).

``POST /v1/events`` (``generic``): contract events as a JSON array or NDJSON, with
``Authorization: Bearer <token>``. Each event is checked by the contract decoder on its own: the
answer (200) lists per line ``accepted`` or ``rejected`` with the decoder's reason, and every
rejected line is kept in the ingest dead-letter topic with that reason. The accepted events are
published in the order given and acknowledged before the answer.

Every route counts into one ``ConnectorMetrics`` family set, labelled by route (the source's
name, ``generic``), plus ``contact_centre_connector_request_seconds`` and
``contact_centre_connector_unordered_total``. Headers and secrets are never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec
from aiohttp import web
from prometheus_client import Counter, Histogram

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.metrics import PUBLISH_BUCKETS, ConnectorMetrics
from stream.connectors.publish import BrokerUnavailable, Publisher
from stream.connectors.webhooks import openapi
from stream.connectors.webhooks.config import GatewayConfig
from stream.connectors.webhooks.order import Closing, ContactOrder
from stream.connectors.webhooks.source import TranslationError, Verdict, WebhookSource
from stream.contract.decoder import Rejection, decode

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 5
GENERIC: Final = "generic"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Gateway:
    """The routes of one gateway process and their shared metrics."""

    def __init__(
        self,
        settings: Settings,
        config: GatewayConfig,
        sources: Sequence[WebhookSource],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self.sources = {s.name: s for s in sources}
        first = ConnectorMetrics(GENERIC)
        self.metrics: dict[str, ConnectorMetrics] = {GENERIC: first}
        for name in self.sources:
            self.metrics[name] = ConnectorMetrics(name, share=first)
        self.registry = first.registry
        self.publishers = {
            name: Publisher(settings, connector=name, metrics=m) for name, m in self.metrics.items()
        }
        self.order = ContactOrder(config.hold_seconds, config.settle_seconds)
        self._seconds = Histogram(
            "contact_centre_connector_request_seconds",
            "Time from a request's arrival to its answer, by route (after the broker's acks).",
            ["connector"],
            buckets=PUBLISH_BUCKETS,
            registry=self.registry,
        )
        self._unordered = Counter(
            "contact_centre_connector_unordered",
            "Deliveries published after the hold time without their contact's creation.",
            ["connector"],
            registry=self.registry,
        )
        for name in self.metrics:  # zero-started series per route
            self._seconds.labels(name)
            self._unordered.labels(name)

    # --- shared steps -------------------------------------------------------------------------

    async def _body(self, request: web.Request, route: str) -> bytes | web.Response:
        metrics = self.metrics[route]
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            metrics.rejected("too_large")
            return _error(413, "too_large", f"the body is over {limit} bytes")
        try:
            return await asyncio.wait_for(request.read(), self.config.body_timeout_seconds)
        except web.HTTPRequestEntityTooLarge:
            metrics.rejected("too_large")
            return _error(413, "too_large", f"the body is over {limit} bytes")
        except TimeoutError:
            metrics.rejected("body_timeout")
            return _error(408, "body_timeout", "the body was not sent in time")

    async def _refuse(self, route: str, body: bytes, verdict: Verdict, detail: str) -> web.Response:
        """An unauthenticated request: counted and kept (if the broker is up), then refused."""
        try:
            await self.publishers[route].dead_letter(body, verdict.reason, detail, source=route)
        except BrokerUnavailable:
            self.metrics[route].rejected(verdict.reason)
        return _error(verdict.status, verdict.reason, detail)

    async def _reject(self, route: str, body: bytes, reason: str, detail: str) -> web.Response:
        try:
            await self.publishers[route].dead_letter(body, reason, detail, source=route)
        except BrokerUnavailable:
            return _unavailable()
        return _error(400, reason, detail)

    def _observe(self, route: str, started: float) -> None:
        self._seconds.labels(route).observe(time.perf_counter() - started)

    # --- vendor routes --------------------------------------------------------------------------

    async def handle_source(self, request: web.Request) -> web.Response:
        name = request.match_info["source"]
        source = self.sources.get(name)
        if source is None:
            return _error(404, "unknown_source", f"no source named {name!r} is configured")
        started = time.perf_counter()
        try:
            return await self._source(request, source)
        finally:
            self._observe(name, started)

    async def _source(self, request: web.Request, source: WebhookSource) -> web.Response:
        route = source.name
        metrics = self.metrics[route]
        metrics.received()
        body = await self._body(request, route)
        if isinstance(body, web.Response):
            return body
        verdict = source.verify(request.headers, body, self.clock())
        if not verdict.ok:
            return await self._refuse(route, body, verdict, f"the {route} signature check")
        try:
            payload = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            return await self._reject(route, body, "invalid_json", str(exc))
        try:
            translation = source.translate(payload)
        except TranslationError as exc:
            return await self._reject(route, body, exc.reason, exc.detail)
        if translation.ignored is not None and not translation.events:
            metrics.ignored(translation.ignored)
            return web.json_response({"ignored": translation.ignored})
        publisher = self.publishers[route]

        async def publish(events: Sequence[Mapping[str, Any]]) -> int:
            return await publisher.publish(events, origin=body, source=route)

        before = self.order.released_unordered
        try:
            sent = await self.order.publish(
                translation.events, publish, lambda e: metrics.ignored(f"{e['type']}:unchanged")
            )
        except BrokerUnavailable as exc:
            log.warning("%s: broker unavailable, answered 503: %s", route, exc)
            return _unavailable()
        except Closing:
            return _unavailable("stopping")
        finally:
            if self.order.released_unordered != before:
                self._unordered.labels(route).inc()
        return web.json_response({"accepted": len(translation.events), "sent": sent})

    # --- the generic route ----------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> Verdict:
        token = self.config.generic_token
        if token is None:
            return Verdict(True)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return Verdict(False, "missing_token", 401)
        if not _same_secret(given.strip(), token):
            return Verdict(False, "bad_token", 403)
        return Verdict(True)

    async def handle_generic(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await self._generic(request)
        finally:
            self._observe(GENERIC, started)

    async def _generic(self, request: web.Request) -> web.Response:
        metrics = self.metrics[GENERIC]
        publisher = self.publishers[GENERIC]
        metrics.received()
        if not self.config.generic_enabled:
            return _error(404, "disabled", "the generic route is not configured")
        verdict = self._authorized(request)
        if not verdict.ok:  # before reading: an unauthenticated body is not kept
            metrics.rejected(verdict.reason)
            return _error(verdict.status, verdict.reason, "Authorization: Bearer <token>")
        body = await self._body(request, GENERIC)
        if isinstance(body, web.Response):
            return body
        if not body.strip():
            return await self._reject(GENERIC, body, "empty_body", "no events in the body")
        lines = split_events(body)
        if isinstance(lines, Rejection):
            return await self._reject(GENERIC, body, lines.reason, lines.detail)
        results: list[dict[str, Any]] = []
        accepted: list[dict[str, Any]] = []
        rejected: list[tuple[bytes, str, str]] = []
        for number, raw in lines:
            event = decode(raw, max_bytes=self.settings.max_event_bytes)
            if isinstance(event, Rejection):
                rejected.append((raw, event.reason, event.detail))
                results.append({"line": number, "status": "rejected",
                                "reason": event.reason, "detail": event.detail})  # fmt: skip
                continue
            accepted.append(msgspec.json.decode(raw))
            results.append({"line": number, "status": "accepted", "event_id": event.event_id})
        try:
            for raw, reason, detail in rejected:
                await publisher.dead_letter(raw, reason, detail, source=GENERIC)
            if accepted:
                await publisher.publish(accepted, source=GENERIC)
        except BrokerUnavailable as exc:
            log.warning("generic: broker unavailable, answered 503: %s", exc)
            return _unavailable()
        return web.json_response(
            {"accepted": len(accepted), "rejected": len(rejected), "results": results}
        )

    # --- the application ------------------------------------------------------------------------

    async def handle_openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(openapi.document())

    async def handle_metrics(self, request: web.Request) -> web.Response:
        return await self.metrics[GENERIC].handle_metrics(request)

    def app(self) -> web.Application:
        # aiohttp's own limit is one byte over ours, so that our check answers with our body
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post("/webhooks/{source}", self.handle_source)
        app.router.add_post("/v1/events", self.handle_generic)
        app.router.add_get("/openapi.json", self.handle_openapi)
        app.router.add_get("/metrics", self.handle_metrics)
        app.router.add_get("/healthz", _healthz)
        return app


def split_events(body: bytes) -> list[tuple[int, bytes]] | Rejection:
    """The events of a generic body with their 1-based line (array item) numbers: a JSON
    array of objects, or NDJSON (one object per line; blank lines skipped)."""
    text = body.lstrip()
    if text.startswith(b"["):
        try:
            items = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            return Rejection("invalid_json", str(exc))
        if not isinstance(items, list):
            return Rejection("invalid_json", "expected an array of events")
        return [(i, msgspec.json.encode(item)) for i, item in enumerate(items, 1)]
    return [(i, line.strip()) for i, line in enumerate(body.split(b"\n"), 1) if line.strip()]


def _same_secret(given: str, secret: Secret) -> bool:
    return hmac.compare_digest(given.encode(), secret.reveal().encode())


def _error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)


def _unavailable(why: str = "broker unavailable") -> web.Response:
    return web.json_response(
        {"error": "unavailable", "detail": why},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def start(gateway: Gateway) -> web.AppRunner:
    """Serve ``gateway`` on its configured host and port; stop with ``stop``."""
    runner = web.AppRunner(gateway.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, gateway.config.host, gateway.config.port).start()
    return runner


async def stop(gateway: Gateway, runner: web.AppRunner) -> None:
    """Refuse waiting deliveries (503: vendors retry), finish the rest, close the producers."""
    gateway.order.close()
    await runner.cleanup()
    for publisher in gateway.publishers.values():
        await publisher.stop()


def unsigned_routes(config: GatewayConfig) -> list[str]:
    """Routes that would accept requests without a signature or token."""
    routes = [f"/webhooks/{s.name}" for s in config.sources if s.secret is None]
    if config.generic_enabled and config.generic_token is None:
        routes.append("/v1/events")
    return routes


async def serve(
    settings: Settings, config: GatewayConfig, sources: Sequence[WebhookSource], until: Any
) -> None:
    """Serve until the awaitable ``until`` completes; producers connect on first use."""
    open_routes = unsigned_routes(config)
    if open_routes and not is_loopback(config.host):
        raise SystemExit(
            f"webhooks: {', '.join(open_routes)} unsigned: only on a loopback address, "
            f"not {config.host}"
        )
    gateway = Gateway(settings, config, sources)
    runner = await start(gateway)
    where = f"http://{config.host}:{config.port}"
    routes = [f"/webhooks/{name}" for name in gateway.sources]
    if config.generic_enabled:
        routes.append("/v1/events")
    print(
        f"webhooks gateway on {where}: {', '.join(routes) or 'no routes'}; "
        f"/openapi.json, /metrics"
        + (f"; NOT signed: {', '.join(open_routes)}" if open_routes else ""),
        flush=True,
    )
    try:
        await until
    finally:
        await stop(gateway, runner)

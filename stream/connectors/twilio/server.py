"""The TaskRouter Event Callback URL: ``python -m stream connect twilio`` (aiohttp).

``POST <path>`` (form fields, as TaskRouter sends them): the body is limited (413 past
``max_body_bytes``); ``X-Twilio-Signature`` is checked with the ``twilio`` package's
``RequestValidator`` against ``public_url`` — the URL as Twilio calls it, since a proxy changes
scheme, host and port — and a missing or wrong one is a 403, counted and kept in the ingest
dead-letter topic (the auth token is never logged). A callback that cannot be translated is
dead-lettered and answered 400 (Twilio's debugger shows why); one with no KPI meaning is counted
as ignored and answered 204. The rest is held in lifecycle order (``order.TaskOrder``), published,
and answered 204 only after the broker acknowledged every event; with the broker down the answer
is 503 with ``Retry-After``, so the callback is not lost. ``GET /metrics`` and ``/healthz`` are
the connector's own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from prometheus_client import Counter

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.metrics import ConnectorMetrics
from stream.connectors.publish import BrokerUnavailable, Publisher
from stream.connectors.twilio.order import Closing, TaskOrder
from stream.connectors.twilio.settings import TwilioConfig
from stream.connectors.twilio.translate import Ignored, translate
from stream.contract.decoder import Rejection

log = logging.getLogger(__name__)

CONNECTOR: Final = "twilio"
RETRY_AFTER_SECONDS: Final = 5
DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How the callback endpoint is reached and checked."""

    host: str = "127.0.0.1"
    port: int = 8089
    path: str = "/twilio/events"
    public_url: str | None = None
    """The callback URL exactly as configured in TaskRouter (scheme, host, path)."""
    auth_token: Secret | None = None
    """None: signatures are not checked (only with ``--insecure-loopback``)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    hold_seconds: float = 2.0


class CallbackHandler:
    """The callback route: verify, translate, order, publish, answer."""

    def __init__(
        self,
        settings: Settings,
        options: ServerOptions,
        config: TwilioConfig,
        *,
        metrics: ConnectorMetrics | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self.options = options
        self.config = config
        self.metrics = metrics if metrics is not None else ConnectorMetrics(CONNECTOR)
        self.publisher = publisher or Publisher(settings, connector=CONNECTOR, metrics=self.metrics)
        self.order = TaskOrder(options.hold_seconds)
        self._validator: Any = None
        if options.auth_token is not None:
            from twilio.request_validator import RequestValidator

            self._validator = RequestValidator(options.auth_token.reveal())
        self._unordered = Counter(
            "contact_centre_connector_unordered",
            "Callbacks published after the hold time without all of their task's predecessors.",
            ["connector"],
            registry=self.metrics.registry,
        ).labels(CONNECTOR)

    def _url(self, request: web.Request) -> str:
        base = self.options.public_url or str(request.url.with_query(None))
        return base + (f"?{request.query_string}" if request.query_string else "")

    def _signed(self, request: web.Request, form: Mapping[str, str]) -> bool:
        if self._validator is None:
            return True
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return False
        return bool(self._validator.validate(self._url(request), dict(form), signature))

    async def _reject(
        self, body: bytes, reason: str, detail: str, status: int, *, key: bytes | None = None
    ) -> web.Response:
        try:
            await self.publisher.dead_letter(body, reason, detail, source="callback", key=key)
        except BrokerUnavailable:
            if status == 403:  # an unsigned request is refused whether or not it can be kept
                self.metrics.rejected(reason)
                return web.Response(status=403, text=f"{reason}\n")
            return _unavailable()
        return web.Response(status=status, text=f"{reason}: {detail}\n")

    async def handle(self, request: web.Request) -> web.Response:
        self.metrics.received()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.metrics.rejected("too_large")
            return web.Response(status=413, text="body too large\n")
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = None
        if form is None:
            if self._validator is not None:  # the signature covers the form: none to verify
                return await self._reject(body, "bad_signature", "body is not UTF-8", 403)
            return await self._reject(body, "invalid_utf8", "body is not UTF-8", 400)
        if not self._signed(request, form):
            return await self._reject(body, "bad_signature", "X-Twilio-Signature", 403)
        result = translate(form, self.config)
        if isinstance(result, Rejection):
            key = form.get("TaskSid", "").encode() or None
            return await self._reject(body, result.reason, result.detail, 400, key=key)
        if isinstance(result, Ignored):
            self.metrics.ignored(result.kind)
            return _no_content()
        try:
            if result.task_sid is None:
                await self.publisher.publish(result.events, origin=body, source=result.kind)
            else:
                before = self.order.released_unordered

                async def publish(events: Any) -> int:
                    return await self.publisher.publish(events, origin=body, source=result.kind)

                await self.order.publish(result.task_sid, result.events, publish)
                if self.order.released_unordered != before:
                    self._unordered.inc()
        except BrokerUnavailable as exc:
            log.warning("broker unavailable, answered 503: %s", exc)
            return _unavailable()
        except Closing:
            return _unavailable("stopping")
        return _no_content()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.options.max_body_bytes)
        app.router.add_post(self.options.path, self.handle)
        app.router.add_get("/metrics", self.metrics.handle_metrics)
        app.router.add_get("/healthz", _healthz)
        return app


def _no_content() -> web.Response:
    return web.Response(status=204, headers={"Content-Type": "application/json"})


def _unavailable(why: str = "broker unavailable") -> web.Response:
    return web.Response(
        status=503, text=f"{why}\n", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def start(handler: CallbackHandler) -> web.AppRunner:
    """Serve ``handler`` on its host and port; stop with ``stop(handler, runner)``."""
    runner = web.AppRunner(handler.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, handler.options.host, handler.options.port).start()
    return runner


async def stop(handler: CallbackHandler, runner: web.AppRunner) -> None:
    """Refuse held callbacks (503: Twilio retries them), finish the rest, close the producer."""
    handler.order.close()
    await runner.cleanup()
    await handler.publisher.stop()


async def serve(
    settings: Settings, options: ServerOptions, config: TwilioConfig, until: Any
) -> None:
    """Serve until the awaitable ``until`` completes; the producer connects on first use."""
    handler = CallbackHandler(settings, options, config)
    runner = await start(handler)
    where = f"http://{options.host}:{options.port}"
    print(
        f"twilio connector: callbacks on {where}{options.path} (signed URL "
        f"{options.public_url or 'as requested'}), metrics on {where}/metrics"
        + ("" if options.auth_token else "; signatures NOT checked (--insecure-loopback)"),
        flush=True,
    )
    try:
        await until
    finally:
        await stop(handler, runner)

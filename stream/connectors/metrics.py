"""A connector's own Prometheus metrics and the small HTTP server that exposes them.

Each connector process counts what it received, translated, rejected (by reason) and ignored
(by vendor event kind), times its publishes (to the broker's acknowledgement) and, for a file
source, how far its checkpoint is behind the end of the file. Label values are bounded: the
``type`` of a translated event and a rejection ``reason`` come from this code; an ignored
vendor event ``kind`` comes from the source, so at most ``MAX_KINDS`` distinct kinds get their
own series and the rest count as ``other`` (a source that invents event names cannot blow up
Prometheus).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

MAX_KINDS: Final = 64
"""Distinct ignored event kinds with a series of their own per connector; more are ``other``."""

PUBLISH_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ConnectorMetrics:
    """The ``contact_centre_connector_*`` families of one connector, in a registry of their own."""

    def __init__(
        self,
        connector: str,
        registry: CollectorRegistry | None = None,
        *,
        share: ConnectorMetrics | None = None,
    ) -> None:
        """``share``: count as ``connector`` in the families of another instance (one
        ``/metrics`` for several routes of one process, e.g. the webhook gateway)."""
        self.connector = connector
        self.registry: CollectorRegistry
        self._families: _Families
        if share is not None:
            self.registry = share.registry
            families = share._families
        else:
            self.registry = registry if registry is not None else CollectorRegistry()
            families = _families(self.registry)
        self._families = families
        received, self._translated, self._rejected, self._ignored, publish, failures, lag = families
        self._received = received.labels(connector)
        self._publish = publish.labels(connector)
        self._publish_failures = failures.labels(connector)
        self._lag = lag.labels(connector)
        self._kinds: set[str] = set()

    def received(self, n: int = 1) -> None:
        self._received.inc(n)

    def translated(self, event_type: str, n: int = 1) -> None:
        self._translated.labels(self.connector, event_type).inc(n)

    def rejected(self, reason: str, n: int = 1) -> None:
        self._rejected.labels(self.connector, reason).inc(n)

    def ignored(self, kind: str, n: int = 1) -> None:
        if kind not in self._kinds:
            if len(self._kinds) >= MAX_KINDS:
                kind = "other"
            else:
                self._kinds.add(kind)
        self._ignored.labels(self.connector, kind).inc(n)

    def published(self, seconds: float) -> None:
        self._publish.observe(seconds)

    def publish_failed(self) -> None:
        self._publish_failures.inc()

    def checkpoint_lag(self, size: int) -> None:
        self._lag.set(size)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def handle_metrics(self, _request: web.Request) -> web.Response:
        """An aiohttp handler for ``GET /metrics`` (for a connector that serves HTTP anyway)."""
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def serve(self, host: str, port: int) -> web.AppRunner:
        """Serve ``/metrics`` and ``/healthz`` on ``host:port``; stop: ``runner.cleanup()``."""
        app = web.Application()
        app.router.add_get("/metrics", self.handle_metrics)
        app.router.add_get("/healthz", _healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        return runner


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


_Families = tuple[Counter, Counter, Counter, Counter, Histogram, Counter, Gauge]


def _families(r: CollectorRegistry) -> _Families:
    return (
        Counter(
            "contact_centre_connector_received",
            "Vendor records (lines, callbacks) the connector received.",
            ["connector"],
            registry=r,
        ),
        Counter(
            "contact_centre_connector_translated",
            "Contract events made from vendor records and acknowledged by the broker, by type.",
            ["connector", "type"],
            registry=r,
        ),
        Counter(
            "contact_centre_connector_rejected",
            "Vendor records that could not be translated (kept in the ingest dead-letter topic).",
            ["connector", "reason"],
            registry=r,
        ),
        Counter(
            "contact_centre_connector_ignored",
            "Vendor records with no KPI meaning, by the vendor's event kind (bounded).",
            ["connector", "kind"],
            registry=r,
        ),
        Histogram(
            "contact_centre_connector_publish_seconds",
            "Time from handing events to the producer to the broker's acknowledgement of all.",
            ["connector"],
            buckets=PUBLISH_BUCKETS,
            registry=r,
        ),
        Counter(
            "contact_centre_connector_publish_failures",
            "Publishes that the broker did not acknowledge in time (retried by the transport).",
            ["connector"],
            registry=r,
        ),
        Gauge(
            "contact_centre_connector_checkpoint_lag_bytes",
            "Bytes of the followed file after the committed checkpoint (file sources).",
            ["connector"],
            registry=r,
        ),
    )

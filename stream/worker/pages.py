"""The worker's own web pages: ``/metrics`` (the Prometheus scrape) and ``/ready``.

``/metrics`` renders the wiring's registry (or the families named by ``name[]``, as
prometheus_client's own handler does); ``/ready`` answers 200 once the tables are recovered, no
rebalance is under way and the partitions held are the ones assigned, with the loads per
partition (``stream.store.ownership``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST

from stream.export.metrics import render

if TYPE_CHECKING:
    from stream.worker.app import Wiring


def install(wiring: Wiring) -> None:
    """Add ``/metrics`` and ``/ready`` to the wiring's app."""
    app = wiring.app

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        names = request.query.getall("name[]", [])  # as prometheus_client's own handler
        registry = wiring.registry.restricted_registry(names) if names else wiring.registry
        body = render(registry)  # generate_latest's bytes, faster (stream.export.metrics)
        return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/ready")
    async def ready(web: Any, request: Any) -> Any:
        held = wiring.ownership.held
        ok = wiring.ownership.recoveries > 0 and not app.rebalancing and wiring.owned() == held
        loads = {str(p): n for p, n in sorted(wiring.ownership.loads.items())}
        doc = {"ready": ok, "partitions": sorted(held), "loads": loads}
        return web.json(doc, status=200 if ok else 503)

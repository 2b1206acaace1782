"""The worker's timers: closing windows and reporting progress every second, expiring records
every minute, trimming the heap, publishing wallboard snapshots.

Each skips its work while the group rebalances (the partitions here are about to change), but
for the heap trim, which touches no state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stream.export.queue_snapshot import build_snapshots
from stream.export.snapshots import PUBLISH_INTERVAL_SECONDS
from stream.worker import heap

if TYPE_CHECKING:
    from stream.worker.app import Wiring


def install(wiring: Wiring) -> None:
    """Add the timers to the wiring's app (the snapshot timer only with a publisher)."""
    app, s = wiring.app, wiring.settings

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def close_windows() -> None:
        if not app.rebalancing:
            wiring.enqueue(wiring.report_progress())
            await wiring.perform(wiring.pipeline.tick())

    if s.heap_trim_seconds > 0:

        @app.timer(s.heap_trim_seconds)  # type: ignore[untyped-decorator]
        async def trim_heap() -> None:
            heap.trim()

    @app.timer(60.0)  # type: ignore[untyped-decorator]
    async def expire() -> None:
        if not app.rebalancing:
            await wiring.perform(wiring.pipeline.expire())

    publisher = wiring.publisher
    if publisher is not None:

        @app.timer(PUBLISH_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]
        async def publish_snapshots() -> None:
            if not app.rebalancing:
                await publisher.tick(
                    build_snapshots(
                        wiring.view,
                        wiring.targets,
                        wiring.clock(),
                        agents_shown=wiring.settings.wallboard_agents,
                    )
                )

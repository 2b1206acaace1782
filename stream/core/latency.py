"""Publish → booked latency: how long an accepted event took from its source record's Kafka
timestamp to being booked into its queue's state, observed by the worker itself.

An item (``stream.stages.forward.Item``) carries its source record's timestamp (the producer's
create
time, or the broker's append time when the topic says so); the aggregating stage observes
``wall clock − timestamp`` for each item it books (calls and tickets; agent and customer facts
travel apart). It is the worker's own measure of freshness: with the producers' and the workers'
clocks in step it is the time an event took to be counted; a backlog read after an outage shows
as the age of the backlog, which is the truth about those events. A negative difference (a
producer's clock ahead of the worker's) counts as 0. Since the worker started; not stored.
Pure: no framework.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

from stream.core.kpis.histogram import Histogram, observe

__all__ = ["LATENCY_BOUNDS", "Stamped", "observe_booked"]

LATENCY_BOUNDS: Final[tuple[float, ...]] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
    10.0, 30.0, 60.0, 300.0, 3600.0,
)  # fmt: skip
"""Fine up to the 250 ms publish → booked target, coarse beyond (backlogs, outages)."""


class Stamped(Protocol):
    """What is read of an item (``stream.stages.forward.Item``): its source record's timestamp."""

    @property
    def published_ms(self) -> int | None: ...


def observe_booked(hist: Histogram, items: Iterable[Stamped], now: float) -> None:
    """Observe each item's latency at ``now`` (wall clock, epoch seconds); items without a
    timestamp (written before it travelled) are left out."""
    now_ms = now * 1000.0
    for it in items:
        if it.published_ms is not None:
            observe(hist, LATENCY_BOUNDS, max(0.0, now_ms - it.published_ms) / 1000.0)

"""Which partitions the worker's pipeline holds, moved by Faust's rebalance hooks alone.

What Faust (faust-streaming 0.15, aiokafka driver) calls, and when, for every rebalance
(``faust/app/base.py``, ``faust/tables/recovery.py``):

1. ``on_partitions_revoked`` with the *whole* current assignment: aiokafka's eager protocol
   revokes everything before the group agrees on the next one, so it tells nothing about what
   moves. Nothing happens here.
2. ``on_partitions_assigned`` once the group has agreed; the assignor's actives are then the
   new ones. `Ownership.assigned` drops the partitions that are no longer active here, at once
   (their series leave with them), and keeps the others exactly as they are.
3. Table recovery reads the changelogs of the active and standby partitions up to their end,
   then calls each table's ``on_recovery_completed`` and its recover callbacks.
   `Ownership.recovered` loads from the tables the partitions active now that the pipeline does
   not hold, and those it holds whose changelog records it did not write were applied meanwhile
   (another writer, e.g. a zombie that owned them for a while: ``KeyedTable.take_changed``).
   Nothing else is decoded again.

A rebalance that starts again before recovery completes (Faust's ``RebalanceAgain``) repeats 2,
and 3 runs once, for the last assignment: a partition revoked and assigned back meanwhile is
loaded once. `loads` counts, per partition, how often its state was built from the tables.

No timer compares the assignment with what is held (the wiring polled every second before):
in the two-worker, failover, restart, durable-broker and broker-outage tests such a check
(logging and reloading) never found a difference, so none is kept. ``/ready`` still answers
503 while the held partitions differ from the assignment.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from stream.stages.pipeline import Pipeline

log = logging.getLogger("stream.store.ownership")

Items = Iterable[tuple[bytes | str, bytes]]


class Ownership:
    """The partitions whose state ``pipeline`` holds, and how often each was loaded."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.held: set[int] = set()
        """Partitions loaded into the pipeline and not revoked since."""
        self.loads: Counter[int] = Counter()
        """Per partition, how many times its state was built from the tables."""
        self.recoveries = 0
        """Completed recoveries (the worker is not ready before the first)."""

    def assigned(self, actives: set[int]) -> set[int]:
        """The group agreed on a new assignment: drop the partitions not active here any more;
        returns them."""
        gone = self.held - actives
        if gone:
            self.pipeline.revoke(gone)
            self.held -= gone
            log.info("partitions revoked", extra={"partitions": sorted(gone)})
        return gone

    def recovered(
        self, actives: set[int], route_items: Items, aggregate_items: Items, changed: set[int]
    ) -> set[int]:
        """The tables are recovered for ``actives``: load what is new here or was changed by
        another writer (``changed``: partitions changelog records were applied to since the
        last call); returns the partitions loaded."""
        self.recoveries += 1
        self.assigned(actives)
        fresh = (actives - self.held) | (changed & self.held)
        if fresh:
            self.pipeline.load(actives, route_items, aggregate_items, keep=actives - fresh)
            self.loads.update(fresh)
        self.held = set(actives)
        log.info(
            "partitions loaded",
            extra={"partitions": sorted(actives), "loaded": sorted(fresh)},
        )
        return fresh

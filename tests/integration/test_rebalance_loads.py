"""Rebalances through Faust's hooks (stream.store.ownership), counted: a worker decodes a
partition's
state from the tables when the partition comes to it, and never again while it keeps it.

One worker owns all four partitions; a second joins and takes some; the second stops (SIGTERM)
and the first takes them back. ``/ready``'s ``loads`` (per partition, how often its state was
built) must then be exactly: 1 for what the first kept all along, 2 for what went and came
back, 1 on the second for what it held. Totals stay exact throughout.
"""

from __future__ import annotations

import time

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import WorkerProcess, accounted, merged, publish, wait_until
from tests.integration.test_two_workers import assert_truth, split, traffic

pytestmark = pytest.mark.integration

ALL = {0, 1, 2, 3}


def loads(w: WorkerProcess) -> dict[int, int]:
    doc = w.ready()
    assert doc is not None
    return {int(p): n for p, n in doc["loads"].items()}


def test_each_partition_is_loaded_once_per_arrival(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    a = workers()
    wait_until(lambda: a.partitions() == ALL, 120, "the first worker to own every partition")
    n = publish(broker.bootstrap, traffic())
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted")
    assert loads(a) == dict.fromkeys(ALL, 1)

    b = workers()
    joined = time.monotonic()
    wait_until(lambda: split(a, b), 120, "two workers owning disjoint halves of the partitions")
    print(f"split {time.monotonic() - joined:.1f} s after the second worker started")
    kept, moved = a.partitions(), b.partitions()
    assert kept is not None and moved is not None
    assert loads(a) == dict.fromkeys(ALL, 1)  # nothing kept was decoded again
    assert loads(b) == dict.fromkeys(moved, 1)
    n += publish(broker.bootstrap, traffic(1))
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    assert_truth(a.scrape(), b.scrape(), rounds=2)

    b.stop()
    left = time.monotonic()
    wait_until(lambda: a.partitions() == ALL, 90, "the first worker to own everything again")
    print(f"all back {time.monotonic() - left:.1f} s after the second worker stopped")
    assert loads(a) == {p: 1 if p in kept else 2 for p in ALL}
    n += publish(broker.bootstrap, traffic(2))
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted by the first")
    assert_truth(a.scrape(), rounds=3)
    assert loads(a) == {p: 1 if p in kept else 2 for p in ALL}

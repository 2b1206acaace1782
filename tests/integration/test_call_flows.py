"""End to end on the real broker: transfers out / in, abandons on hold, callbacks and priorities
give exact figures, also after the worker is killed and restarted (the callbacks waiting and the
priorities come back from the call and ticket records of the changelog, the counts from the
queue records).

The scenario is the unit tests' (``tests.unit.test_flows.SCENARIO``: a transfer from billing to
support with its new leg, one from the previous quarter hour, a caller hanging up on hold,
callbacks waiting / not answered / connected, waiting calls and open tickets of every kind of
priority, two refused callback events), and so are the expected samples: the same numbers in
process and through Kafka.
"""

from __future__ import annotations

import time

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, Samples, accounted, publish, wait_until
from tests.unit.test_flows import EXPECTED, FAMILIES, SCENARIO

pytestmark = pytest.mark.integration
FROZEN = "2026-11-22T10:14:30Z"  # NOW of the unit tests: T0 + 870
EVENTS: list[Publishable] = [
    (topic, (key or b"").decode(), value) for topic, key, value in SCENARIO
]
WANTED = {(name, frozenset(labels)): v for (name, labels), v in EXPECTED.items()}


def flows(m: Samples) -> Samples:
    return {k: v for k, v in m.items() if k[0] in FAMILIES}


def rejected(m: Samples) -> dict[str, float]:
    return {dict(labels)["reason"]: v for (name, labels), v in m.items()
            if name == "contact_centre_events_rejected_total"}  # fmt: skip


def test_flows_and_priorities_exact_and_after_a_restart(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    env = {"STREAM_GRACE_SECONDS": "1800"}  # the 09:43 transfer is not late
    first = workers(frozen_time=FROZEN, **env)
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, EVENTS)
    assert n == len(EVENTS) == 41
    t = time.monotonic()
    wait_until(lambda: accounted(first.scrape()) == n, 60, f"{n} messages accounted for")
    print(f"\n{n} events accounted for {time.monotonic() - t:.2f} s after publishing")
    m = first.scrape()
    assert flows(m) == WANTED
    assert rejected(m) == {"invalid_transition": 1, "unknown_contact": 1}
    first.kill()
    second = workers(frozen_time=FROZEN, **env)
    t = time.monotonic()
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 120, "the restarted worker")
    wait_until(lambda: accounted(second.scrape()) == n, 90, "the changelog restored")
    print(f"restarted worker exact again {time.monotonic() - t:.2f} s after it started")
    m = second.scrape()
    assert flows(m) == WANTED
    assert rejected(m) == {"invalid_transition": 1, "unknown_contact": 1}

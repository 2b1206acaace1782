"""The worker's own publish → booked latency (``contact_centre_event_latency_seconds``) on the
real broker: every accepted call and ticket event is observed once, from its record's Kafka
timestamp; records stamped two hours ago (a backlog) land beyond the last bound, records
published now within it. Counts only: no timed assertion."""

from __future__ import annotations

import time

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.factories import Events, Publishable
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import publish, total, value, wait_until

pytestmark = pytest.mark.integration

LATENCY = "contact_centre_event_latency_seconds"
ev = Events("lat", day=time.strftime("%Y-%m-%d", time.gmtime()))


def calls(prefix: str, n: int) -> list[Publishable]:
    out: list[Publishable] = []
    for i in range(n):
        cid = f"{prefix}{i}"
        out += ev.call_steps(cid, ("call.queued", "00:00:01"), ("call.answered", "00:00:09"),
                             queue="billing")  # fmt: skip
    return out


def test_latency_counts_each_booked_event_from_its_record_timestamp(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    worker = workers(frozen_time=f"{ev.day}T00:10:00Z")
    wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 120, "the worker ready")

    ticket = ev.ticket("t1", "ticket.created", "00:00:02", queue="billing", channel="email")
    old = [*calls("old", 10), ticket]
    two_hours_ago = int((time.time() - 7200) * 1000)
    assert publish(broker.bootstrap, old, timestamp_ms=two_hours_ago) == 21
    wait_until(lambda: total(worker.scrape(), "contact_centre_events_total") == 21, 60,
               "the backlog booked")  # fmt: skip
    got = worker.scrape(process_measures=True)
    assert value(got, f"{LATENCY}_count") == 21
    assert value(got, f"{LATENCY}_bucket", le="3600.0") == 0  # all two hours old
    assert value(got, f"{LATENCY}_bucket", le="+Inf") == 21
    assert (value(got, f"{LATENCY}_sum") or 0) >= 21 * 7200

    assert publish(broker.bootstrap, calls("new", 5)) == 10  # stamped now by the producer
    wait_until(lambda: total(worker.scrape(), "contact_centre_events_total") == 31, 60,
               "the live events booked")  # fmt: skip
    got = worker.scrape(process_measures=True)
    assert value(got, f"{LATENCY}_count") == 31
    assert value(got, f"{LATENCY}_bucket", le="3600.0") == 10  # booked within the hour
    assert value(got, f"{LATENCY}_bucket", le="+Inf") == 31

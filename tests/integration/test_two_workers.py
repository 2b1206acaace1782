"""Two workers of one app split the partitions: sums equal the truth, no queue is exported twice."""

from __future__ import annotations

import pytest

from stream.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    accounted,
    merged,
    publish,
    total,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration

QUEUES = [f"queue-{i}" for i in range(12)]


def traffic() -> list[Publishable]:
    """Per queue q (index i): i+1 calls queued; the first i answered after 10 s; tickets too."""
    out: list[Publishable] = []
    for i, q in enumerate(QUEUES):
        for n in range(i + 1):
            cid = f"{q}-call-{n}"
            out.append(("calls", cid, {"type": "call.queued", "event_id": f"{cid}-q",
                                       "occurred_at": "2026-11-22T10:31:00Z", "call_id": cid,
                                       "queue": q}))  # fmt: skip
            if n < i:
                out.append(("calls", cid, {"type": "call.answered", "event_id": f"{cid}-a",
                                           "occurred_at": "2026-11-22T10:31:10Z",
                                           "call_id": cid, "agent_id": "a"}))  # fmt: skip
        tid = f"{q}-ticket"
        out.append(("tickets", tid, {"type": "ticket.created", "event_id": f"{tid}-c",
                                     "occurred_at": "2026-11-22T10:32:00Z", "ticket_id": tid,
                                     "queue": q, "channel": "email"}))  # fmt: skip
    return out


def queues_of(samples: Samples) -> set[str]:
    return {
        dict(labels)["queue"]
        for (name, labels), _ in samples.items()
        if name == "contact_centre_calls_offered_total"
    }


def test_two_workers_split_partitions_and_sum_to_the_truth(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    a = workers()
    b = workers()

    def split() -> bool:
        pa, pb = a.partitions(), b.partitions()
        return bool(pa) and bool(pb) and pa | pb == {0, 1, 2, 3} and not pa & pb  # type: ignore[operator]

    wait_until(split, 120, "two workers owning disjoint halves of the partitions")
    events = traffic()
    n = publish(broker.bootstrap, events)
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    ma, mb = a.scrape(), b.scrape()

    qa, qb = queues_of(ma), queues_of(mb)
    assert qa and qb, "each worker owns some queues"
    assert not qa & qb, f"queues exported twice: {qa & qb}"
    assert qa | qb == set(QUEUES)

    both = merged(ma, mb)
    for i, q in enumerate(QUEUES):
        phone = {"queue": q, "channel": "phone"}
        assert value(both, "contact_centre_calls_offered_total", **phone) == i + 1
        answered = value(both, "contact_centre_calls_answered_total", **phone)
        assert (answered or 0) == i
        assert value(both, "contact_centre_calls_waiting", queue=q) == 1
        assert value(both, "contact_centre_tickets_created_total", queue=q, channel="email") == 1
    assert total(both, "contact_centre_calls_offered_total") == sum(range(1, 13))
    assert total(both, "contact_centre_answer_wait_seconds_sum") == 10 * sum(range(12))

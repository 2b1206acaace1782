"""Two workers of one app split the partitions: sums equal the truth, no queue is exported twice.

Then one is killed (SIGKILL): the survivor takes every partition and exports every queue, with
exact totals including traffic published meanwhile; the killed one starts again, partitions move
back, and the two still sum to the truth without exporting any queue twice.
"""

from __future__ import annotations

import os
import signal

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    WorkerProcess,
    accounted,
    merged,
    publish,
    total,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration

QUEUES = [f"queue-{i}" for i in range(12)]


def traffic(round_: int = 0) -> list[Publishable]:
    """Per queue q (index i): i+1 calls queued; the first i answered after 10 s; tickets too."""
    out: list[Publishable] = []
    for i, q in enumerate(QUEUES):
        for n in range(i + 1):
            cid = f"{q}-call-{n}-r{round_}"
            out.append(("calls", cid, {"type": "call.queued", "event_id": f"{cid}-q",
                                       "occurred_at": "2026-11-22T10:31:00Z", "call_id": cid,
                                       "queue": q}))  # fmt: skip
            if n < i:
                out.append(("calls", cid, {"type": "call.answered", "event_id": f"{cid}-a",
                                           "occurred_at": "2026-11-22T10:31:10Z",
                                           "call_id": cid, "agent_id": "a"}))  # fmt: skip
        tid = f"{q}-ticket-r{round_}"
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
    wait_until(lambda: split(a, b), 120, "two workers owning disjoint halves of the partitions")
    n = publish(broker.bootstrap, traffic())
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    assert_truth(a.scrape(), b.scrape(), rounds=1)

    # SIGKILL one: the survivor takes all partitions and the killed one's queues.
    b.kill()
    wait_until(lambda: a.partitions() == {0, 1, 2, 3}, 90, "the survivor to own everything")
    n += publish(broker.bootstrap, traffic(1))
    wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted by the survivor")
    assert_truth(a.scrape(), rounds=2)

    # The killed worker comes back (same settings and data directory): partitions move back.
    b.start()
    wait_until(lambda: split(a, b), 120, "the partitions to be split again")
    n += publish(broker.bootstrap, traffic(2))
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    assert_truth(a.scrape(), b.scrape(), rounds=3)


def test_a_frozen_worker_loses_its_partitions_and_rejoins_without_double_counting(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    """A worker frozen (SIGSTOP) past the session timeout is a zombie when it wakes up: the
    other has taken its partitions and counted what arrived meanwhile; nothing may be counted
    twice once the zombie rejoins and partitions are split again."""
    a = workers()
    b = workers()
    wait_until(lambda: split(a, b), 120, "two workers owning disjoint halves of the partitions")
    n = publish(broker.bootstrap, traffic())
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    assert b.proc is not None
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        n += publish(broker.bootstrap, traffic(1))  # half of it for the frozen worker's queues
        wait_until(lambda: a.partitions() == {0, 1, 2, 3}, 90, "the other to own everything")
        wait_until(lambda: accounted(a.scrape()) == n, 60, "all events counted by the other")
        assert_truth(a.scrape(), rounds=2)
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
    wait_until(lambda: split(a, b), 120, "the woken worker to rejoin and take partitions back")
    n += publish(broker.bootstrap, traffic(2))
    wait_until(lambda: accounted(merged(a.scrape(), b.scrape())) == n, 60, "all events counted")
    assert_truth(a.scrape(), b.scrape(), rounds=3)


def split(a: WorkerProcess, b: WorkerProcess) -> bool:
    """Both ready, owning disjoint non-empty sets of partitions that cover all four."""
    pa, pb = a.partitions(), b.partitions()
    return bool(pa and pb) and pa | pb == {0, 1, 2, 3} and not pa & pb  # type: ignore[operator]


def assert_truth(*scrapes: Samples, rounds: int) -> None:
    """Each queue exported by exactly one worker; their sum is ``rounds`` times `traffic`."""
    exported = [queues_of(m) for m in scrapes]
    assert all(exported), "each worker owns some queues"
    assert sum(map(len, exported)) == len(QUEUES), f"queues exported twice: {exported}"
    assert set().union(*exported) == set(QUEUES)

    both = merged(*scrapes)
    for i, q in enumerate(QUEUES):
        phone = {"queue": q, "channel": "phone"}
        assert value(both, "contact_centre_calls_offered_total", **phone) == rounds * (i + 1)
        answered = value(both, "contact_centre_calls_answered_total", **phone)
        assert (answered or 0) == rounds * i
        assert value(both, "contact_centre_calls_waiting", queue=q) == rounds
        tickets = value(both, "contact_centre_tickets_created_total", queue=q, channel="email")
        assert tickets == rounds
    assert total(both, "contact_centre_calls_offered_total") == rounds * sum(range(1, 13))
    assert total(both, "contact_centre_answer_wait_seconds_sum") == rounds * 10 * sum(range(12))
    assert total(both, "contact_centre_worker_partitions") == 4
    assert total(both, "contact_centre_events_duplicate_total") == 0

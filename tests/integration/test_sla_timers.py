"""SLA timers and backlog by age on the real broker: exact counts at a frozen 10:30:00, and the
same counts from a worker SIGKILLed and restarted (the deadlines are rebuilt from the changelog's
contact records, never stored on their own)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, Samples, accounted, publish, value, wait_until

pytestmark = pytest.mark.integration
_ids = itertools.count(1)
Q = {"queue": "sla"}


def ev(topic: str, key: str, type_: str, at: str, **fields: Any) -> Publishable:
    day, _, clock = at.rpartition(" ")
    body = {"type": type_, "event_id": f"sla-{next(_ids)}",
            "occurred_at": f"2026-{day or '11-22'}T{clock}Z", **fields}  # fmt: skip
    return (topic, key, body)


def call(cid: str, type_: str, at: str, **fields: Any) -> Publishable:
    return ev("calls", cid, type_, at, call_id=cid, **fields)


def ticket(tid: str, type_: str, at: str, **fields: Any) -> Publishable:
    return ev("tickets", tid, type_, at, ticket_id=tid, **fields)


REPLY = {"author": "agent"}
# Default targets: answer 20 s; first response 60 s chat, 24 h email/web; resolution 2 days.
EVENTS: list[Publishable] = [
    call("k1", "call.queued", "10:29:50", **Q),  # due 10:30:10: at risk
    call("k2", "call.queued", "10:29:30", **Q),  # due 10:29:50: breached
    call("k3", "call.queued", "10:29:00", **Q),
    call("k3", "call.answered", "10:29:15", agent_id="a"),  # answered: no deadline
    ticket("t1", "ticket.created", "10:29:30", channel="chat", **Q),  # reply due 10:30:30
    ticket("t2", "ticket.created", "10:20:00", channel="chat", **Q),  # reply due 10:21: breached
    ticket("t3", "ticket.created", "11-21 10:35:00", channel="email", **Q),  # reply due 10:35
    ticket("t4", "ticket.created", "11-20 10:40:00", channel="email", **Q),  # solve due 10:40
    ticket("t4", "ticket.message_added", "11-20 11:00:00", **REPLY),
    ticket("t5", "ticket.created", "11-10 09:00:00", channel="web", **Q),  # 7-30 days old
    ticket("t5", "ticket.message_added", "11-10 10:00:00", **REPLY),
    ticket("t5", "ticket.status_changed", "11-10 11:00:00", status="pending"),
    ticket("t6", "ticket.created", "10-01 09:00:00", channel="email", **Q),  # > 30 days old
    ticket("t6", "ticket.message_added", "10-01 10:00:00", **REPLY),
    ticket("t7", "ticket.created", "10:00:00", channel="email", **Q),
    ticket("t7", "ticket.message_added", "10:05:00", **REPLY),
    ticket("t7", "ticket.status_changed", "10:10:00", status="solved"),  # no deadline left
]
EXPECTED = {
    ("sla_breached", "answer"): 1,
    ("sla_at_risk", "answer"): 1,
    ("sla_breached", "first_response"): 1,  # t2
    ("sla_at_risk", "first_response"): 2,  # t1, t3
    ("sla_breached", "resolution"): 2,  # t5, t6
    ("sla_at_risk", "resolution"): 1,  # t4
}
AGES = {"<1d": 3, "1-3d": 1, "3-7d": 0, "7-30d": 1, ">30d": 1}


def check(m: Samples) -> None:
    for (name, kind), n in EXPECTED.items():
        assert value(m, f"contact_centre_{name}", kind=kind, **Q) == n, (name, kind)
    for age, n in AGES.items():
        assert value(m, "contact_centre_tickets_open_by_age", age=age, **Q) == n, age


def test_sla_timers_exact_and_rebuilt_after_a_kill(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    first = workers()  # frozen at 2026-11-22T10:30:00Z
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, EVENTS)
    assert n == len(EVENTS)
    wait_until(lambda: accounted(first.scrape()) == n, 60, f"{n} messages accounted for")
    check(first.scrape())
    first.kill()
    second = workers()
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 120, "the restarted worker")
    wait_until(lambda: accounted(second.scrape()) == n, 60, "the state recovered")
    check(second.scrape())

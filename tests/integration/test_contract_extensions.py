"""End to end on the real broker: exits, transfers and missed offers give exact counters, also
after a worker restart (the counts come back from the changelog, nothing is counted twice).

Known events of every new type: ``call.exited`` (each reason), ``call.transferred`` (each kind,
once from hold), ``call.offer_missed`` (each reason, in several phases), ``agent.state_changed``
with a ``reason``, and invalid transitions of the new types (dead-lettered
``invalid_transition``).
"""

from __future__ import annotations

from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.factories import Events
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, accounted, publish, value, wait_until

pytestmark = pytest.mark.integration


ev = Events("x").call

B = {"queue": "billing"}
AWAY: Publishable = ("agents", "a9", {"type": "agent.state_changed", "event_id": "x-agent",
                                      "occurred_at": "2026-11-22T10:30:00Z", "agent_id": "a9",
                                      "state": "away", "queues": ["billing"],
                                      "reason": "lunch"})  # fmt: skip
EVENTS: list[Publishable] = [
    # three exits, one per reason; e3 also missed an offer while waiting
    ev("e1", "call.queued", "10:30:00", **B),
    ev("e1", "call.exited", "10:31:00", reason="timeout", position=2),
    ev("e2", "call.queued", "10:30:00", **B),
    ev("e2", "call.exited", "10:30:40", reason="empty"),
    ev("e3", "call.queued", "10:30:00", **B),
    ev("e3", "call.offer_missed", "10:30:15", agent_id="a1", reason="no_answer", ring_seconds=15),
    ev("e3", "call.exited", "10:30:50", reason="key", key="0"),
    # a blind transfer; a missed offer (canceled) on the talking call
    ev("t1", "call.queued", "10:31:00", **B),
    ev("t1", "call.offer_missed", "10:31:05", agent_id="a2", reason="rejected"),
    ev("t1", "call.answered", "10:31:10", agent_id="a1"),
    ev("t1", "call.offer_missed", "10:31:11", agent_id="a3", reason="canceled"),
    ev("t1", "call.transferred", "10:33:10", kind="blind", to="2001", agent_id="a1"),
    ev("t1", "call.wrapup_completed", "10:34:10"),
    # an attended transfer from hold
    ev("t2", "call.queued", "10:32:00", channel="chat", **B),
    ev("t2", "call.answered", "10:32:05", agent_id="a1"),
    ev("t2", "call.hold_started", "10:33:00"),
    ev("t2", "call.transferred", "10:34:00", kind="attended"),
    AWAY,
    # invalid: exit after answer, transfer of a waiting call, exit after exit
    ev("t1", "call.exited", "10:35:00", reason="timeout"),
    ev("w1", "call.queued", "10:36:00", **B),
    ev("w1", "call.transferred", "10:36:30", kind="blind"),
    ev("e1", "call.exited", "10:37:00", reason="key"),
]


def check(m: dict[Any, float]) -> None:
    def v(name: str, **labels: str) -> float | None:
        return value(m, f"contact_centre_{name}", **labels)

    bp = {"queue": "billing", "channel": "phone"}
    bc = {"queue": "billing", "channel": "chat"}
    assert v("calls_offered_total", **bp) == 5
    assert v("calls_offered_total", **bc) == 1
    assert v("calls_exited_total", reason="timeout", **bp) == 1
    assert v("calls_exited_total", reason="empty", **bp) == 1
    assert v("calls_exited_total", reason="key", **bp) == 1
    assert v("calls_exited_total", reason="key", **bc) == 0  # zero-started
    assert v("calls_abandoned_total", **bp) == 0  # exits are not abandons
    assert v("calls_answered_total", **bp) == 1
    assert v("calls_transferred_total", kind="blind", **bp) == 1
    assert v("calls_transferred_total", kind="attended", **bc) == 1
    assert v("calls_transferred_total", kind="attended", **bp) == 0
    assert v("call_offers_missed_total", reason="no_answer", **bp) == 1
    assert v("call_offers_missed_total", reason="rejected", **bp) == 1
    assert v("call_offers_missed_total", reason="canceled", **bp) == 1
    assert v("handle_time_seconds_count", **bp) == 1
    assert v("handle_time_seconds_sum", **bp) == 180  # 10:31:10 → 10:34:10
    assert v("calls_waiting", queue="billing") == 1  # w1 only: exits left the waiting calls
    assert v("events_rejected_total", reason="invalid_transition") == 3


def test_new_types_give_exact_counters_and_survive_a_restart(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    first = workers(frozen_time="2026-11-22T10:40:00Z", STREAM_GRACE_SECONDS="1800")
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, EVENTS)
    assert n == len(EVENTS) == 22
    wait_until(lambda: accounted(first.scrape()) == n, 60, f"{n} messages accounted for")
    wait_until(
        lambda: (
            value(
                first.scrape(),
                "contact_centre_agents",
                queue="billing",
                state="away",
                reason="other",
            )
            == 1
        ),
        30,
        "the away agent in billing",
    )
    before = first.scrape()
    check(before)
    first.kill()
    second = workers(frozen_time="2026-11-22T10:40:00Z", STREAM_GRACE_SECONDS="1800")
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 120, "the restarted worker")
    wait_until(lambda: accounted(second.scrape()) == n, 90, "the changelog restored")
    check(second.scrape())

"""Duplicates, arrival order and late data on the real broker, with exact comparisons.

* The whole stream published twice changes no sample but the duplicate counter.
* Events out of order across contacts, late but within the grace period, give exactly the
  samples of the same events in order (two independent pipelines side by side).
* Events later than the grace period are counted in ``events_late_total`` and still reach the
  all-time counters and the windows that are still open; the closed ones do not change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import INPUT_TOPICS, WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    accounted,
    isolated,
    publish,
    renamed,
    total,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration
FROZEN = "2026-11-22T10:40:00Z"
START = datetime(2026, 11, 22, 10, 31, tzinfo=UTC)
QUEUES = ("billing", "support", "sales")


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def ev(cid: str, n: int, type_: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "event_id": f"{cid}-{n}", "occurred_at": at(seconds), **fields}


def contacts() -> list[list[tuple[float, Publishable]]]:
    """Per contact, its events in order with their times (seconds after 10:31): calls that are
    answered (some wrapped up), abandoned or still waiting, tickets with responses and surveys;
    every event between 10:31 and 10:38."""
    out: list[list[tuple[float, Publishable]]] = []
    for qi, queue in enumerate(QUEUES):
        for i in range(8):
            cid = f"{queue}-call-{i}"
            t0 = 20.0 * i + 7 * qi
            steps: list[tuple[str, float, dict[str, Any]]] = [
                ("call.queued", t0, {"queue": queue, "channel": "phone" if i % 3 else "chat"})
            ]
            if i % 4 == 1:
                steps.append(("call.abandoned", t0 + 3 + 4 * i, {}))
            elif i % 4 != 3:
                steps.append(("call.answered", t0 + 5 * i, {"agent_id": f"a{i}"}))
                if i % 2 == 0:
                    steps += [
                        ("call.ended", t0 + 5 * i + 90, {}),
                        ("call.wrapup_completed", t0 + 5 * i + 130 + i, {}),
                    ]
            out.append(
                [
                    (t, ("calls", cid, ev(cid, n, type_, t, call_id=cid, **f)))
                    for n, (type_, t, f) in enumerate(steps)
                ]
            )
        for i in range(4):
            tid = f"{queue}-ticket-{i}"
            t0 = 45.0 * i + 11 * qi
            tsteps: list[tuple[str, float, dict[str, Any]]] = [
                ("ticket.created", t0, {"queue": queue, "channel": "email"}),
                ("ticket.message_added", t0 + 30 * i + 10, {"author": "agent"}),
            ]
            if i % 2:
                tsteps += [
                    ("ticket.status_changed", t0 + 200, {"status": "solved"}),
                    ("survey.responded", t0 + 260, {"kind": "csat", "score": 2 + i}),
                ]
            out.append(
                [
                    (t, ("tickets", tid, ev(tid, n, type_, t, ticket_id=tid, **f)))
                    for n, (type_, t, f) in enumerate(tsteps)
                ]
            )
    out.append([(15.0, ("agents", "a1", ev("a1", 0, "agent.state_changed", 15, agent_id="a1",
                                           state="available", queues=["billing"])))])  # fmt: skip
    out.append([(25.0, ("customers", "u1", ev("u1", 0, "order.placed", 25, customer_id="u1",
                                              value=10)))])  # fmt: skip
    return out


def in_order() -> list[Publishable]:
    """Every event sorted by its time."""
    return [m for _, m in sorted((e for c in contacts() for e in c), key=lambda e: e[0])]


def out_of_order() -> list[Publishable]:
    """Contacts with the latest first event first, each contact's events in its own order: the
    earliest events arrive up to 7 min after the newest of their queue."""
    ordered = sorted(contacts(), key=lambda c: -c[0][0])
    return [m for c in ordered for _, m in c]


def without(samples: Samples, *names: str) -> Samples:
    return {k: v for k, v in samples.items() if k[0] not in names}


def test_publishing_the_whole_stream_twice_changes_only_the_duplicate_counter(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    w = workers(frozen_time=FROZEN, STREAM_GRACE_SECONDS="600")
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    stream = in_order()
    n = publish(broker.bootstrap, stream)
    wait_until(lambda: accounted(w.scrape()) == n, 60, "the stream counted once")
    once = w.scrape()
    assert publish(broker.bootstrap, stream) == n
    wait_until(lambda: accounted(w.scrape()) == 2 * n, 60, "the stream counted twice")
    twice = w.scrape()
    dup = "contact_centre_events_duplicate_total"
    assert value(once, dup) == 0
    assert value(twice, dup) == n
    assert without(twice, dup) == without(once, dup)
    assert total(once, "contact_centre_events_total") == n
    assert total(once, "contact_centre_calls_offered_total") == 24


def test_out_of_order_within_grace_equals_in_order_and_late_data_is_counted(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    settings = {"STREAM_GRACE_SECONDS": "600"}
    shuffled_env = isolated(broker.bootstrap, "shuffled", INPUT_TOPICS)
    straight = workers(frozen_time=FROZEN, **settings)
    shuffled = workers(frozen_time=FROZEN, **settings, **shuffled_env)
    wait_until(
        lambda: all(w.partitions() == {0, 1, 2, 3} for w in (straight, shuffled)),
        120,
        "each worker owning every partition of its pipeline",
    )
    ordered, disordered = in_order(), out_of_order()
    assert sorted(map(repr, ordered)) == sorted(map(repr, disordered))
    assert ordered != disordered
    n = publish(broker.bootstrap, ordered)
    assert publish(broker.bootstrap, renamed(disordered, "shuffled")) == n
    wait_until(
        lambda: all(accounted(w.scrape()) == n for w in (straight, shuffled)), 60, "all counted"
    )
    a, b = straight.scrape(), shuffled.scrape()
    assert a == b
    assert value(a, "contact_centre_events_late_total") == 0
    assert total(a, "contact_centre_events_rejected_total") == 0
    assert value(a, "contact_centre_calls_offered_total", queue="billing", channel="phone") == 5

    # 10:05 is over half an hour behind billing's newest event, past the 10 min grace: the
    # 15m window 10:00–10:15 is closed, the 1h and today windows are still open.
    late: list[Publishable] = [
        ("calls", "late-1", {"type": "call.queued", "event_id": "late-1-q", "call_id": "late-1",
                             "occurred_at": "2026-11-22T10:05:00Z", "queue": "billing"}),
        ("calls", "late-1", {"type": "call.answered", "event_id": "late-1-a", "call_id": "late-1",
                             "occurred_at": "2026-11-22T10:05:10Z", "agent_id": "a1"}),
    ]  # fmt: skip
    assert publish(broker.bootstrap, late) == 2
    wait_until(lambda: accounted(straight.scrape()) == n + 2, 60, "the late events counted")
    after = straight.scrape()
    assert value(after, "contact_centre_events_late_total") == 2
    bp = {"queue": "billing", "channel": "phone"}
    changed = {
        "contact_centre_calls_offered_total": 1,
        "contact_centre_calls_answered_total": 1,
        "contact_centre_calls_answered_within_target_total": 1,
        "contact_centre_answer_wait_seconds_count": 1,
        "contact_centre_answer_wait_seconds_sum": 10,
    }
    for name, delta in changed.items():
        assert value(after, name, **bp) == (value(a, name, **bp) or 0) + delta, name
    for kind in ("call.queued", "call.answered"):
        got = value(after, "contact_centre_events_total", type=kind)
        assert got == (value(a, "contact_centre_events_total", type=kind) or 0) + 1
    # The current 15m window (10:30–10:45) and every other queue are exactly as before.
    for (name, labels), v in a.items():
        d = dict(labels)
        if d.get("window") == "15m" or d.get("queue") not in (None, "billing"):
            assert after.get((name, labels)) == v, (name, d)
    # The open windows took the late call: billing's 1h abandon rate went down.
    rate = "contact_centre_abandon_rate_ratio"
    before_1h = value(a, rate, queue="billing", window="1h")
    after_1h = value(after, rate, queue="billing", window="1h")
    assert before_1h is not None and after_1h is not None and after_1h < before_1h

"""Trends against the previous window and full resolution time on the real broker.

The 10:15 window's events are published first; those of 10:30 afterwards, so the watermark
(grace 60 s) closes the 10:15 window and the trends read it from the queue record's newest
closed window. A SIGKILL and restart must give the same values from the changelog.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import (
    Publishable,
    Samples,
    accounted,
    consume_all,
    publish,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration
_ids = itertools.count(1)
Q = {"queue": "trend"}


def ticket(tid: str, type_: str, at: str, **fields: Any) -> Publishable:
    body = {"type": type_, "event_id": f"tr-{next(_ids)}",
            "occurred_at": f"2026-11-22T{at}Z", "ticket_id": tid, **fields}  # fmt: skip
    return ("tickets", tid, body)


def created(tid: str, at: str, category: str | None = None) -> Publishable:
    extra = {} if category is None else {"category": category}
    return ticket(tid, "ticket.created", at, channel="email", **Q, **extra)


def rated(tid: str, at: str, kind: str, score: int) -> Publishable:
    return ticket(tid, "survey.responded", at, kind=kind, score=score)


BEFORE: list[Publishable] = [  # 10:15–10:30: complaints 1 of 4, CSAT 1 of 2, NPS +100
    created("p1", "10:16:00", "complaint"),
    created("p2", "10:17:00"),
    created("p3", "10:18:00", "billing"),
    created("p4", "10:19:00"),
    rated("p1", "10:20:00", "csat", 5),
    rated("p2", "10:21:00", "csat", 2),
    rated("p1", "10:22:00", "nps", 10),
    ticket("p1", "ticket.status_changed", "10:25:00", status="solved"),
    ticket("p1", "ticket.status_changed", "10:26:00", status="closed"),  # full resolution 540 s
]
NOW: list[Publishable] = [  # 10:30–10:45: complaints 2 of 2, CSAT 1 of 1, NPS −100
    created("n1", "10:31:00", "complaint"),
    created("n2", "10:32:00", "complaint"),
    rated("n1", "10:33:00", "csat", 4),
    rated("n2", "10:34:00", "nps", 3),
]


def check(m: Samples) -> None:
    def v(name: str) -> float | None:
        return value(m, f"contact_centre_{name}", window="15m", **Q)

    assert v("complaint_rate_ratio") == 1.0
    assert v("complaint_rate_change_ratio") == 0.75  # 1 − 1/4
    assert v("csat_ratio_change") == 0.5  # 1 − 1/2
    assert v("nps_score_change") == -200.0  # −100 − (+100)
    assert v("csat_responses") == 1
    labels = {"channel": "email", **Q}
    assert value(m, "contact_centre_full_resolution_seconds_count", **labels) == 1
    assert value(m, "contact_centre_full_resolution_seconds_sum", **labels) == 540.0


def test_trends_read_the_closed_previous_window_and_survive_a_kill(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    first = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, BEFORE)
    wait_until(lambda: accounted(first.scrape()) == n, 60, "the 10:15 window's events")
    n += publish(broker.bootstrap, NOW)
    wait_until(lambda: accounted(first.scrape()) == n, 60, "the 10:30 window's events")
    m = first.scrape()
    assert value(m, "contact_centre_events_late_total") is None or (
        value(m, "contact_centre_events_late_total") == 0
    )
    check(m)
    # The 10:15 window is final (published), so the trends above came from the closed window.
    closed = consume_all(broker.bootstrap, "kpi-windows", 1)
    start = 1795342500  # 2026-11-22T10:15:00Z
    assert [r.key for r in closed] == [f"trend|15m|{start}".encode()]
    first.kill()
    second = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 120, "the restarted worker")
    wait_until(lambda: accounted(second.scrape()) == n, 60, "the state recovered")
    check(second.scrape())

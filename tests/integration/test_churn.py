"""Churn, retention and conversion on the real broker: exact under duplicates, reordering and a
SIGKILL restart.

Tickets are keyed by ticket, churns and orders by customer, so the joins cross
partitions: the router forwards a fact per contact and churn to the customer's partition of the
forward topic (``stream.core.kpis.customers``). This checks that whole path, the changelog and
recovery, with exact values of ``contact_centre_customers_churned*`` and
``contact_centre_contacts_{with_customer,converted}_total``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, Samples, accounted, publish, value, wait_until

pytestmark = pytest.mark.integration
_ids = itertools.count(1)


def created(ticket_id: str, at: str, customer: str | None) -> Publishable:
    doc: dict[str, Any] = {"type": "ticket.created", "event_id": f"tc-{next(_ids)}",
                           "occurred_at": at, "ticket_id": ticket_id, "queue": "billing",
                           "channel": "email"}  # fmt: skip
    if customer is not None:
        doc["customer_id"] = customer
    return ("tickets", ticket_id, doc)


def churned(customer: str, at: str) -> Publishable:
    doc = {"type": "customer.churned", "event_id": f"ch-{next(_ids)}", "occurred_at": at,
           "customer_id": customer, "reason": "price"}  # fmt: skip
    return ("customers", customer, doc)


def ordered(customer: str, at: str) -> Publishable:
    doc = {"type": "order.placed", "event_id": f"or-{next(_ids)}", "occurred_at": at,
           "customer_id": customer, "value": 40.0}  # fmt: skip
    return ("customers", customer, doc)


def churn(m: Samples) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "churned": value(m, "contact_centre_customers_churned_total"),
        "after": value(m, "contact_centre_customers_churned_after_contact_total"),
        "contacts": value(m, "contact_centre_contacts_with_customer_total", queue="billing"),
        "converted": value(m, "contact_centre_contacts_converted_total", queue="billing"),
        "active": value(m, "contact_centre_customers_active"),
    }
    for w in ("15m", "1h", "today"):
        out[w] = value(m, "contact_centre_customers_churned_in_window", window=w)
        out[f"{w}_after"] = value(
            m, "contact_centre_customers_churned_after_contact_in_window", window=w
        )
    return out


C1 = churned("u1", "2026-11-22T10:31:00Z")
FIRST = [
    created("t1", "2026-11-02T09:00:00Z", "u1"),  # 20 days before u1 churns
    C1,
    C1,  # a publisher retry: the same event again
    churned("u2", "2026-11-22T10:32:00Z"),  # never contacted support
    churned("u3", "2026-11-22T09:10:00Z"),  # earlier today: not in 15m/1h
    created("t2", "2026-10-01T09:00:00Z", "u2"),  # 52 days before u2 churns: does not count
    created("t3", "2026-11-22T10:33:00Z", None),  # no customer
    ordered("u1", "2026-11-05T10:00:00Z"),  # 3 days after t1: converts it
    ordered("u2", "2026-10-10T09:00:00Z"),  # 9 days after t2: too late
]
O4 = ordered("u4", "2026-11-22T10:38:00Z")
SECOND = [
    ordered("u3", "2026-11-22T10:37:00Z"),  # converts t4, published before it
    created("t4", "2026-11-21T12:00:00Z", "u3"),  # arrives after u3's churn, happened before
    C1,  # a duplicate from before the restart
    churned("u4", "2026-11-22T10:35:00Z"),
    created("t5", "2026-11-22T10:36:00Z", "u4"),  # after u4 churned: does not count
    O4,  # converts t5
    O4,  # a publisher retry
]


def test_churn_after_contact_is_exact_across_a_sigkill(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    first = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    assert publish(broker.bootstrap, FIRST) == 9
    wait_until(lambda: accounted(first.scrape()) == 9, 60, "9 messages accounted for")
    # active: u1 (contact 20 days before its partition's newest fact); u2's is 52 days old
    want: dict[str, float | None] = {"churned": 3, "after": 1, "contacts": 2, "converted": 1,
                                     "active": 1,
                                     "15m": 2, "1h": 2, "today": 3,
                                     "15m_after": 1, "1h_after": 1, "today_after": 1}  # fmt: skip
    wait_until(lambda: churn(first.scrape()) == want, 60, f"churn {want}")
    m = first.scrape()
    assert value(m, "contact_centre_events_total", type="customer.churned") == 3
    assert value(m, "contact_centre_events_duplicate_total") == 1

    first.kill()
    assert publish(broker.bootstrap, SECOND) == 7
    second = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 90, "the second worker ready")
    wait_until(lambda: accounted(second.scrape()) == 16, 90, "16 messages accounted for")
    want = {"churned": 4, "after": 2, "contacts": 4, "converted": 3, "active": 3,  # + u3, u4
            "15m": 3, "1h": 3, "today": 4,
            "15m_after": 1, "1h_after": 1, "today_after": 2}  # fmt: skip
    wait_until(lambda: churn(second.scrape()) == want, 60, f"churn {want}")
    m = second.scrape()
    assert value(m, "contact_centre_events_total", type="customer.churned") == 4
    assert value(m, "contact_centre_events_total", type="order.placed") == 4
    assert value(m, "contact_centre_events_duplicate_total") == 3
    assert value(m, "contact_centre_tickets_created_total", queue="billing", channel="email") == 5

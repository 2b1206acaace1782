"""Every metric the deployment reads exists in a real worker's /metrics.

A worker on the real embedded broker, publishing wallboard snapshots to a real Redis as in the
compose stack, gets a small event set that touches every KPI family (answered, abandoned,
short-abandoned and completed calls; tickets answered, solved, reopened, escalated, surveyed, a
complaint solved in one touch and closed; surveys, a ticket and a handled call in the previous
quarter hour for the changes against it and the agents required; agents' states; a customer's
contact, order and churn; one rejected message), then one scrape must contain every metric name
that any Grafana panel or any
recording/alert rule expression reads. Names that the recording rules create count as present;
``EXTERNAL_METRICS`` (Prometheus' own ``up`` and scrape series, kafka-exporter's lag) are the
only others allowed.

Prometheus stores histogram samples as ``<name>_bucket``, ``_sum`` and ``_count`` and counters
with ``_total``: the expressions use those sample names, so they are compared with the sample
names of the scrape, never with the family names.
"""

from __future__ import annotations

from typing import Any

import pytest

from deploy.grafana.generate import EXTERNAL_METRICS
from stream.dev.broker import EmbeddedBroker
from stream.dev.redis_server import RedisServer
from tests.deploy.expressions import all_expressions, metric_names, recorded_names
from tests.factories import Events
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, accounted, publish, wait_until

pytestmark = pytest.mark.integration


ev = Events("deploy")

call, ticket = ev.call_steps, ev.ticket_steps


agent = ev.agent


def customer(customer_id: str, type_: str, at: str, **fields: Any) -> Publishable:
    return ("customers", customer_id, ev(type_, at, customer_id=customer_id, **fields))


Q = {"queue": "billing"}
EVENTS: list[Publishable] = [
    # Answered within target, held, completed: handle time, ASA, service level.
    *call("d1", ("call.queued", "10:31:00"), ("call.answered", "10:31:10"),
          ("call.hold_started", "10:32:00"), ("call.hold_ended", "10:32:20"),
          ("call.ended", "10:34:00"), ("call.wrapup_completed", "10:35:00"), **Q),
    # Answered late; abandoned after 30 s; short abandon after 2 s; still waiting.
    *call("d2", ("call.queued", "10:32:00"), ("call.answered", "10:33:00"), **Q),
    *call("d3", ("call.queued", "10:33:00"), ("call.abandoned", "10:33:30"), **Q),
    *call("d4", ("call.queued", "10:34:00"), ("call.abandoned", "10:34:02"), **Q),
    *call("d5", ("call.queued", "10:38:00"), **Q),
    # Chat ticket answered within 60 s, solved, surveyed, reopened, escalated.
    *ticket("e1",
        ("ticket.created", "10:30:00", {**Q, "channel": "chat"}),
        ("ticket.message_added", "10:30:30", {"author": "agent", "agent_id": "a2"}),
        ("ticket.status_changed", "10:31:00", {"status": "solved"}),
        ("survey.responded", "10:31:30", {"kind": "csat", "score": 5}),
        ("survey.responded", "10:31:40", {"kind": "nps", "score": 9}),
        ("ticket.status_changed", "10:32:00", {"status": "open"}),
        ("ticket.escalated", "10:33:00", {"level": 2})),
    # Email ticket still awaiting its first response; a pending one.
    *ticket("e2", ("ticket.created", "10:36:00", {**Q, "channel": "email"})),
    *ticket("e3",
        ("ticket.created", "10:37:00", {**Q, "channel": "web"}),
        ("ticket.message_added", "10:37:30", {"author": "agent"}),
        ("ticket.status_changed", "10:38:00", {"status": "pending"})),
    # A complaint of a customer, solved with one agent message and closed: complaints,
    # one-touch solves, full resolution time; the customer's order and churn after it:
    # contacts with a customer, conversions, churn after contact.
    *ticket("e4",
        ("ticket.created", "10:34:00",
         {**Q, "channel": "email", "category": "complaint", "customer_id": "k1"}),
        ("ticket.message_added", "10:34:30", {"author": "agent", "agent_id": "a2"}),
        ("ticket.status_changed", "10:35:00", {"status": "solved"}),
        ("ticket.status_changed", "10:35:30", {"status": "closed"})),
    customer("k1", "order.placed", "10:36:00", value=40.0),
    customer("k1", "customer.churned", "10:39:00", reason="price"),
    # The quarter hour before: a ticket and its surveys, for the changes against it; a call
    # handled in it, for the agents required under the last full 15-minute window.
    *call("d0", ("call.queued", "10:20:00"), ("call.answered", "10:20:10"),
          ("call.ended", "10:22:00"), ("call.wrapup_completed", "10:23:00"), **Q),
    *ticket("e0",
        ("ticket.created", "10:20:00", {**Q, "channel": "chat"}),
        ("survey.responded", "10:21:00", {"kind": "csat", "score": 2}),
        ("survey.responded", "10:21:10", {"kind": "nps", "score": 3})),
    # Agents of the queue: states, occupancy, contacts per staffed agent-hour.
    agent("a1", "available", "10:25:00", queues=["billing"]),
    agent("a1", "busy", "10:31:10"),
    agent("a2", "available", "10:25:00", queues=["billing"]),
    ("calls", "bad", b"{not json"),
]  # fmt: skip


def test_every_metric_of_the_dashboards_and_rules_is_exported(
    broker: EmbeddedBroker, workers: WorkerFactory, redis_server: RedisServer
) -> None:
    w = workers(
        frozen_time="2026-11-22T10:40:00Z",
        STREAM_GRACE_SECONDS="1800",
        STREAM_REDIS_URL=redis_server.url,
    )
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, EVENTS)
    wait_until(lambda: accounted(w.scrape()) == n, 60, f"{n} messages accounted for")
    scraped = {name for name, _ in w.scrape(process_measures=True)}

    present = scraped | recorded_names() | set(EXTERNAL_METRICS)
    missing: dict[str, list[str]] = {}
    expressions = all_expressions()
    for expression in expressions:
        for name in sorted(metric_names(expression.promql) - present):
            missing.setdefault(name, []).append(expression.where)
    assert not missing, f"read but not exported: {missing}"

    # The check has teeth: the expressions read real exported series, histograms included.
    read = set().union(*(metric_names(e.promql) for e in expressions))
    assert {
        "contact_centre_first_response_seconds_bucket",
        "contact_centre_handle_time_seconds_bucket",
        "contact_centre_calls_short_abandoned_total",
        "contact_centre_service_level_ratio",
        "contact_centre_worker_partitions",
        "contact_centre_full_resolution_seconds_bucket",
        "contact_centre_tickets_complaints_total",
        "contact_centre_csat_ratio_change",
        "contact_centre_complaint_rate_change_ratio",
        "contact_centre_agents",
        "contact_centre_occupancy_ratio",
        "contact_centre_customers_churned_in_window",
        "contact_centre_customers_active",
        "contact_centre_sla_breached",
        "contact_centre_snapshot_errors_total",
    } <= read & scraped
    assert "contact_centre_no_such_metric" not in present

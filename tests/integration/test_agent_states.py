"""Agents by state per queue on the real broker: exact under moves, duplicates, late events and a
SIGKILL restart.

``contact_centre_agents{queue,state}`` is stage-2 state fed by stage 1 (agents are keyed by
agent, the gauge by queue), so this checks the whole path: the agents topic, the router's agent
records, the forwarded per-queue slots, the changelog and recovery.
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
STATES = ("available", "busy", "after_call_work", "away")


def agent(agent_id: str, state: str, at: str, queues: list[str] | None = None) -> Publishable:
    doc: dict[str, Any] = {"type": "agent.state_changed", "event_id": f"ag-{next(_ids)}",
                           "occurred_at": f"2026-11-22T{at}Z", "agent_id": agent_id,
                           "state": state}  # fmt: skip
    if queues is not None:
        doc["queues"] = queues
    return ("agents", agent_id, doc)


def agents(m: Samples) -> dict[str, dict[str, float]]:
    """Queue → state → agents, as exported."""
    out: dict[str, dict[str, float]] = {}
    for (name, labels), v in m.items():
        if name == "contact_centre_agents":
            d = dict(labels)
            out.setdefault(d["queue"], {})[d["state"]] = v
    return out


def exported(**queues: dict[str, int]) -> dict[str, dict[str, float]]:
    return {q: {s: float(counts.get(s, 0)) for s in STATES} for q, counts in queues.items()}


A1 = agent("a1", "available", "10:30:00", ["billing"])
A3 = agent("a3", "available", "10:32:00", ["support"])
FIRST = [
    A1,
    agent("a2", "busy", "10:31:00", ["billing", "support"]),
    A3,
    A1,  # a publisher retry: the same event again
    agent("a3", "after_call_work", "10:35:00"),  # no queues: stays in support
    agent("a2", "available", "10:36:00", ["support"]),  # leaves billing
    agent("a2", "busy", "10:33:00", ["billing"]),  # late and older: changes nothing
    agent("a4", "offline", "10:30:00", ["billing"]),  # not exported
]
SECOND = [
    agent("a1", "away", "10:37:00"),
    A3,  # a duplicate from before the restart
    agent("a4", "available", "10:38:00"),
]


def test_agents_by_state_are_exact_across_a_sigkill(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    first = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    assert publish(broker.bootstrap, FIRST) == 8
    want = exported(billing={"available": 1}, support={"available": 1, "after_call_work": 1})
    wait_until(lambda: accounted(first.scrape()) == 8, 60, "8 messages accounted for")
    wait_until(lambda: agents(first.scrape()) == want, 60, f"agents {want}")
    m = first.scrape()
    assert value(m, "contact_centre_events_total", type="agent.state_changed") == 7
    assert value(m, "contact_centre_events_duplicate_total") == 1

    first.kill()
    assert publish(broker.bootstrap, SECOND) == 3
    second = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 90, "the second worker ready")
    wait_until(lambda: accounted(second.scrape()) == 11, 90, "11 messages accounted for")
    want = exported(
        billing={"away": 1, "available": 1}, support={"available": 1, "after_call_work": 1}
    )
    wait_until(lambda: agents(second.scrape()) == want, 60, f"agents {want}")
    m = second.scrape()
    assert value(m, "contact_centre_events_total", type="agent.state_changed") == 9
    assert value(m, "contact_centre_events_duplicate_total") == 2

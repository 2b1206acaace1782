"""Agent productivity on the real broker: occupancy and contacts per staffed agent-hour per queue
and window, exact under a duplicate, a late event and a SIGKILL restart.

Agents are keyed by agent; their timelines travel with their slots to the queue's partition
(``stream.core.kpis.productivity``), where the solved tickets and completed calls of the window are.
The worker's clock is frozen at 10:40, so the open states last until then.
"""

from __future__ import annotations

from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.factories import Events
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, Samples, accounted, publish, value, wait_until

pytestmark = pytest.mark.integration


ev = Events("p").on


def agent(agent_id: str, state: str, at: str, queues: list[str] | None = None) -> Publishable:
    extra: dict[str, Any] = {} if queues is None else {"queues": queues}
    return ev("agents", agent_id, "agent.state_changed", at, agent_id=agent_id, state=state,
              **extra)  # fmt: skip


def rates(m: Samples) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for w in ("15m", "1h", "today"):
        out[f"occ_{w}"] = value(m, "contact_centre_occupancy_ratio", queue="billing", window=w)
        out[f"per_hour_{w}"] = value(
            m, "contact_centre_contacts_per_staffed_agent_hour", queue="billing", window=w
        )
    return out


A2 = agent("a2", "away", "10:30:00", ["billing"])
FIRST = [
    agent("a1", "available", "10:20:00", ["billing"]),
    agent("a1", "busy", "10:35:00"),
    A2,
    ev(
        "tickets",
        "t1",
        "ticket.created",
        "10:31:00",
        ticket_id="t1",
        queue="billing",
        channel="email",
    ),
    ev("tickets", "t1", "ticket.status_changed", "10:33:00", ticket_id="t1", status="solved"),
    ev("calls", "c1", "call.queued", "10:32:00", call_id="c1", queue="billing", channel="phone"),
    ev("calls", "c1", "call.answered", "10:32:10", call_id="c1", agent_id="a1"),
    ev("calls", "c1", "call.ended", "10:34:00", call_id="c1"),
    ev("calls", "c1", "call.wrapup_completed", "10:36:00", call_id="c1"),
]
SECOND = [
    A2,  # a duplicate from before the restart
    agent("a2", "busy", "10:25:00", ["billing"]),  # late: a2 was busy in billing 10:25-10:30
]


def test_productivity_is_exact_across_a_sigkill(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    first = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    assert publish(broker.bootstrap, FIRST) == 9
    wait_until(lambda: accounted(first.scrape()) == 9, 60, "9 messages accounted for")
    # 15m [10:30, 10:40): a1 available 300 s, busy 300 s; a2 away 600 s; 2 contacts / (1/3 h).
    # 1h and today [10:00, 10:40): a1 available 900 s, busy 300 s; a2 away 600 s (0.5 h staffed).
    want = {"occ_15m": 0.5, "per_hour_15m": 6.0, "occ_1h": 0.25, "per_hour_1h": 4.0,
            "occ_today": 0.25, "per_hour_today": 4.0}  # fmt: skip
    wait_until(lambda: rates(first.scrape()) == pytest.approx(want), 60, f"productivity {want}")

    first.kill()
    assert publish(broker.bootstrap, SECOND) == 2
    second = workers(frozen_time="2026-11-22T10:40:00Z")
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 90, "the second worker ready")
    wait_until(lambda: accounted(second.scrape()) == 11, 90, "11 messages accounted for")
    # a2's late busy 10:25-10:30 is outside 15m; in 1h: handling 600 s of 1500 s, staffed 2100 s.
    want = {"occ_15m": 0.5, "per_hour_15m": 6.0, "occ_1h": 0.4, "per_hour_1h": 2 / (2100 / 3600),
            "occ_today": 0.4, "per_hour_today": 2 / (2100 / 3600)}  # fmt: skip
    wait_until(lambda: rates(second.scrape()) == pytest.approx(want), 60, f"productivity {want}")
    m = second.scrape()
    for family in ("tickets_solved", "calls_completed"):  # t1 and c1: one each
        name = f"contact_centre_{family}_per_staffed_agent_hour"
        assert value(m, name, queue="billing", window="15m") == pytest.approx(3.0)
        assert value(m, name, queue="billing", window="1h") == pytest.approx(1 / (2100 / 3600))
    assert value(m, "contact_centre_events_duplicate_total") == 1
    assert value(m, "contact_centre_agents", queue="billing", state="busy") == 1
    assert value(m, "contact_centre_agents", queue="billing", state="away", reason="other") == 1

"""End to end on the real broker: away reasons, rings and staffing give exact figures, also after
the worker is killed and restarted (the reasons ride in the stored agent events, the rings in
the call records: both come back from the changelog).

Five agents of billing, some away for a listed reason (``lunch``), an unlisted one
(``dentist``: ``other``) or none; a call rung, missed, rung again and answered; a call ringing
two agents; one ringing one; one waiting. The targets file lists ``agent_reasons: [lunch,
break]``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, Samples, accounted, publish, value, wait_until

pytestmark = pytest.mark.integration
_ids = itertools.count(1)
FROZEN = "2026-11-22T10:40:00Z"  # 600 s after the first event, 10:30:00


def at(seconds: int) -> str:
    minutes, s = divmod(seconds, 60)
    return f"2026-11-22T10:{30 + minutes:02d}:{s:02d}Z"


def agent(seconds: int, agent_id: str, state: str, **fields: Any) -> Publishable:
    body = {"type": "agent.state_changed", "event_id": f"r-{next(_ids)}",
            "occurred_at": at(seconds), "agent_id": agent_id, "state": state, **fields}  # fmt: skip
    return ("agents", agent_id, body)


def call(seconds: int, call_id: str, type_: str, **fields: Any) -> Publishable:
    body = {"type": type_, "event_id": f"r-{next(_ids)}", "occurred_at": at(seconds),
            "call_id": call_id, **fields}  # fmt: skip
    return ("calls", call_id, body)


B = ["billing"]
EVENTS: list[Publishable] = [
    *(agent(0, a, "available", queues=B) for a in ("a1", "a2", "a4", "a5")),
    agent(0, "a3", "busy", queues=B),
    agent(100, "a1", "away", reason="lunch"),
    agent(200, "a2", "away", reason="dentist"),
    agent(300, "a3", "away"),
    agent(400, "a4", "offline"),
    agent(450, "a2", "away", reason="lunch"),
    agent(500, "a3", "available", reason="lunch"),  # a reason on available is not kept
    call(10, "call-1", "call.queued", queue="billing"),
    call(12, "call-1", "call.offered", agent_id="a5"),
    call(27, "call-1", "call.offer_missed", agent_id="a5", reason="no_answer", ring_seconds=15),
    call(28, "call-1", "call.offered", agent_id="a5"),
    call(30, "call-1", "call.answered", agent_id="a5"),
    call(500, "call-2", "call.queued", queue="billing"),
    call(501, "call-2", "call.offered", agent_id="a3"),
    call(502, "call-2", "call.offered", agent_id="a1"),
    call(510, "call-3", "call.queued", queue="billing"),
    call(511, "call-3", "call.offered", agent_id="a3"),
    call(520, "call-4", "call.queued", queue="billing"),
]
Q = {"queue": "billing"}
LIVE: dict[tuple[str, tuple[tuple[str, str], ...]], float | None] = {
    ("contact_centre_agents", (("state", "available"),)): 2,
    ("contact_centre_agents", (("state", "busy"),)): 0,
    ("contact_centre_agents", (("state", "after_call_work"),)): 0,
    ("contact_centre_agents", (("state", "away"), ("reason", "lunch"))): 2,
    ("contact_centre_agents", (("state", "away"), ("reason", "break"))): 0,
    ("contact_centre_agents", (("state", "away"), ("reason", "other"))): 0,
    ("contact_centre_agents_staffed", ()): 4,
    ("contact_centre_agents_on_queue", ()): 2,
    ("contact_centre_agents_available", ()): 2,
    ("contact_centre_calls_ringing", ()): 2,
    ("contact_centre_agents_ringing", ()): 3,
    ("contact_centre_calls_waiting", ()): 3,
    ("contact_centre_agent_offers_total", (("channel", "phone"),)): 5,
    ("contact_centre_agent_offers_answered_total", (("channel", "phone"),)): 1,
    ("contact_centre_call_offers_missed_total", (("channel", "phone"), ("reason", "no_answer"))): 1,
    **{("contact_centre_agent_offers_in_window", (("window", w),)): 5 for w in ("15m", "1h")},
    **{
        ("contact_centre_agent_offers_answered_in_window", (("window", w),)): 1
        for w in ("15m", "1h")
    },
}
# Agent-seconds 10:30:00 → 10:40:00: a1 available 100, lunch 500; a2 available 200, other
# (dentist) 250, lunch 150; a3 busy 300, other 200, available 100; a4 available 400, then offline
# (not counted); a5 available 600.
SECONDS = {
    (("state", "available"),): 100 + 200 + 100 + 400 + 600,
    (("state", "busy"),): 300,
    (("state", "after_call_work"),): 0,
    (("state", "away"), ("reason", "lunch")): 500 + 150,
    (("state", "away"), ("reason", "break")): 0,
    (("state", "away"), ("reason", "other")): 250 + 200,
}


def live(m: Samples) -> dict[tuple[str, tuple[tuple[str, str], ...]], float | None]:
    return {(name, labels): value(m, name, **Q, **dict(labels)) for name, labels in LIVE}


def check(m: Samples) -> None:
    assert live(m) == LIVE
    for window in ("15m", "1h", "today"):
        seconds = {
            labels: value(
                m, "contact_centre_agent_state_seconds", **Q, window=window, **dict(labels)
            )
            for labels in SECONDS
        }
        assert seconds == SECONDS, window
    # "the share of staffed time on lunch today", as the README's query computes it
    staffed = sum(
        v for (name, labels), v in m.items()
        if name == "contact_centre_agent_state_seconds" and ("window", "today") in labels
    )  # fmt: skip
    assert staffed == 2800
    assert SECONDS[(("state", "away"), ("reason", "lunch"))] / staffed == 650 / 2800


def test_reasons_rings_and_staffing_exact_and_after_a_restart(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("agent_reasons: [lunch, break]\n")
    env = {"STREAM_GRACE_SECONDS": "1800", "STREAM_TARGETS_FILE": str(targets)}
    first = workers(frozen_time=FROZEN, **env)
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, EVENTS)
    assert n == len(EVENTS) == 22
    wait_until(lambda: accounted(first.scrape()) == n, 60, f"{n} messages accounted for")
    wait_until(lambda: live(first.scrape()) == LIVE, 30, "the agents' events in billing")
    check(first.scrape())
    first.kill()
    second = workers(frozen_time=FROZEN, **env)
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 120, "the restarted worker")
    wait_until(lambda: accounted(second.scrape()) == n, 90, "the changelog restored")
    wait_until(lambda: live(second.scrape()) == LIVE, 30, "the agents restored")
    check(second.scrape())

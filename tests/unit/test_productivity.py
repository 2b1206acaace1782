"""Agent productivity (``stream.core.kpis.productivity``): time in state per queue and window,
occupancy and contacts per staffed agent-hour.

Pure rows first (histories in every order, each event twice, pruning), then through the
in-memory pipeline of ``test_aggregator`` (agents keyed by agent, their events forwarded with
their slots to the queue's partition): one event per batch and all in one, reversed, after a
restart from the stored segments, and with every input batch and forward delivered again.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from stream.core.kpis.productivity import (
    HISTORY_SECONDS,
    HistoryEvent,
    QueueEvent,
    TimelinePoint,
    contacts_per_staffed_hour,
    insert_event,
    occupancy,
    seconds_by_state,
    seen_from,
    timeline,
    total_seconds,
)
from tests.pipeline_harness import MIDNIGHT, NOW, T0, Harness, Input, body, status, ticket

# --- pure --------------------------------------------------------------------------------------

Ev = tuple[float, str, str, list[str] | None]  # seconds after T0, event id, state, queues


def history_of(events: list[Ev]) -> list[HistoryEvent]:
    history: list[HistoryEvent] = []
    for seconds, eid, state, queues in events:
        insert_event(history, (T0 + seconds, eid.encode(), state, queues))
    return history


def queue_timeline(history: list[HistoryEvent], queue: str) -> list[TimelinePoint]:
    """The timeline as the queue's owner derives it: from the events seen from the queue, which
    it keeps (and prunes) on its own, in the order they arrive."""
    seen: list[QueueEvent] = []
    for event in history:
        insert_event(seen, seen_from(event, queue))
    return timeline(seen)


B = ["billing"]
# (id, events of one agent, seconds by state in billing within [T0, T0 + 1000))
PURE: list[tuple[str, list[Ev], dict[str, float]]] = [
    ("no events", [], {}),
    ("never in the queue", [(0, "e1", "available", ["support"])], {}),
    ("one state until the end", [(0, "e1", "available", B)], {"available": 1000}),
    ("carried in from before the window", [(-500, "e1", "busy", B)], {"busy": 1000}),
    (
        "changes",
        [(0, "e1", "available", B), (100, "e2", "busy", None), (400, "e3", "available", None)],
        {"available": 700, "busy": 300},
    ),
    (
        "leaves the queue and comes back",
        [(0, "e1", "available", B), (100, "e2", "available", []), (300, "e3", "busy", B)],
        {"available": 100, "busy": 700},
    ),
    (
        "before its first queue list an agent is in no queue",
        [(0, "e1", "busy", None), (100, "e2", "available", B)],
        {"available": 900},
    ),
    ("offline is a state (not staffed)", [(0, "e1", "offline", B)], {"offline": 1000}),
    (
        "same instant: the event-id hash decides, in any order",
        [(0, "e1", "available", B), (0, "e2", "busy", B)],
        seconds_by_state(
            queue_timeline(
                history_of([(0, "e1", "available", B), (0, "e2", "busy", B)]), "billing"
            ),
            T0,
            T0 + 1000,
        ),
    ),
]


@pytest.mark.parametrize(
    ("events", "expected"), [pytest.param(e, x, id=name) for name, e, x in PURE]
)
def test_time_in_state_in_any_order_with_duplicates(
    events: list[Ev], expected: dict[str, float]
) -> None:
    for order in itertools.permutations(events):
        for doubled in (list(order), [e for ev in order for e in (ev, ev)]):
            got = seconds_by_state(queue_timeline(history_of(doubled), "billing"), T0, T0 + 1000)
            assert got == expected


def test_pruning_keeps_the_state_at_the_cut() -> None:
    day = 86400.0
    events: list[Ev] = [
        (-5 * day, "e1", "available", B),
        (-4 * day, "e2", "busy", None),  # the newest state before the cut
        (-3.5 * day, "e3", "away", ["support"]),  # leaves billing, stays the newest queue list
        (-3.2 * day, "e4", "busy", None),
        (0, "e5", "available", B),
    ]
    for order in itertools.permutations(events):
        history = history_of(list(order))
        assert len(history) < len(events)
        assert all(e[0] >= T0 - HISTORY_SECONDS for e in history[2:])
        for queue, expected in (("billing", {"available": 100}), ("support", {"busy": 1.5 * day})):
            got = seconds_by_state(queue_timeline(history, queue), T0 - 1.5 * day, T0 + 100)
            assert got == expected
            seen: list[QueueEvent] = []  # the queue's owner, fed in this order, prunes alike
            for seconds, eid, state, queues in order:
                insert_event(seen, seen_from((T0 + seconds, eid.encode(), state, queues), queue))
            assert [e[:2] for e in seen] == [e[:2] for e in history]


def test_insert_event_reports_what_it_stored_and_dropped() -> None:
    history: list[HistoryEvent] = []
    e1: HistoryEvent = (T0, b"e1", "available", B)
    assert insert_event(history, e1) == (True, [])
    assert insert_event(history, e1) == (False, [])  # a duplicate
    e0: HistoryEvent = (T0 - 10, b"e0", "busy", B)
    assert insert_event(history, e0) == (True, [])  # a late event changes the past
    e2: HistoryEvent = (T0 + HISTORY_SECONDS + 20, b"e2", "away", None)
    assert insert_event(history, e2) == (True, [e0])  # e1: the newest state before the cut
    stale: HistoryEvent = (T0 - 5, b"e9", "busy", None)
    assert insert_event(history, stale) == (True, [stale])  # too old to matter: dropped at once
    assert history == [e1, e2]


def test_formulas() -> None:
    assert occupancy({}) is None
    assert occupancy({"away": 10.0, "offline": 5.0}) is None
    assert occupancy({"busy": 30.0, "after_call_work": 10.0, "available": 60.0}) == 0.4
    assert contacts_per_staffed_hour(3, 0, {}) is None
    assert contacts_per_staffed_hour(0, 0, {"offline": 3600.0}) is None
    assert contacts_per_staffed_hour(2, 1, {"available": 1800.0, "away": 1800.0}) == 3.0
    assert total_seconds([{"busy": 1.0}, {"busy": 2.0, "away": 1.0}]) == {"busy": 3.0, "away": 1.0}


# --- through the pipeline ----------------------------------------------------------------------


def agent(eid: str, seconds: float, agent_id: str, state: str, queues: Any = None) -> Input:
    fields: dict[str, Any] = {"agent_id": agent_id, "state": state}
    if queues is not None:
        fields["queues"] = queues
    return ("agents", agent_id.encode(), body(eid, "agent.state_changed", seconds, **fields))


SCENARIO: list[Input] = [
    agent("a1", -600, "a1", "available", B),
    agent("a2", 100, "a1", "busy"),
    agent("a3", 400, "a1", "after_call_work"),
    agent("a4", 500, "a1", "available"),
    agent("a4", 500, "a1", "available"),  # a duplicate
    agent("b1", 0, "a2", "away", B),
    agent("b2", 300, "a2", "offline"),
    agent("c1", 0, "a3", "busy", ["support"]),  # another queue
    ticket("t1", "ticket.created", 10, "T1", queue="billing", channel="email"),
    status("t2", 200, "T1", "solved"),
]
WINDOWS = ("15m", "1h", "today")
# NOW is T0 + 870. In [T0, NOW): a1 available 100 + 370, busy 300, ACW 100; a2 away 300.
# Since midnight: a1 available 700 + 370 (from 09:50), the rest as above.
EXPECTED = {
    ("occupancy_ratio", "billing", "15m"): 400 / 870,
    ("occupancy_ratio", "billing", "1h"): 400 / 870,
    ("occupancy_ratio", "billing", "today"): 400 / 1470,
    ("contacts_per_staffed_agent_hour", "billing", "15m"): 1 / (1170 / 3600),
    ("contacts_per_staffed_agent_hour", "billing", "1h"): 1 / (1170 / 3600),
    ("contacts_per_staffed_agent_hour", "billing", "today"): 1 / (1770 / 3600),
    ("occupancy_ratio", "support", "15m"): 1.0,
    ("occupancy_ratio", "support", "1h"): 1.0,
    ("occupancy_ratio", "support", "today"): 1.0,
    ("contacts_per_staffed_agent_hour", "support", "15m"): 0.0,
    ("contacts_per_staffed_agent_hour", "support", "1h"): 0.0,
    ("contacts_per_staffed_agent_hour", "support", "today"): 0.0,
    # the split: t1 is the only contact (a solve, no completed call)
    **{
        ("tickets_solved_per_staffed_agent_hour", "billing", w): 1 / (staffed / 3600)
        for w, staffed in (("15m", 1170), ("1h", 1170), ("today", 1770))
    },
    **{("calls_completed_per_staffed_agent_hour", "billing", w): 0.0 for w in WINDOWS},
    **{("tickets_solved_per_staffed_agent_hour", "support", w): 0.0 for w in WINDOWS},
    **{("calls_completed_per_staffed_agent_hour", "support", w): 0.0 for w in WINDOWS},
}


def productivity_samples(h: Harness) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for (name, labels), v in h.samples().items():
        short = name.removeprefix("contact_centre_")
        if short == "occupancy_ratio" or short.endswith("_per_staffed_agent_hour"):
            d = dict(labels)
            out[(short, d["queue"], d["window"])] = v
    return out


def close(got: dict[tuple[str, str, str], float]) -> bool:
    return got.keys() == EXPECTED.keys() and all(
        abs(got[k] - v) < 1e-9 for k, v in EXPECTED.items()
    )


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_productivity_through_the_pipeline(batch_size: int) -> None:
    assert NOW - T0 == 870 and T0 - MIDNIGHT == 36000
    h = Harness()
    h.run(SCENARIO, batch_size=batch_size)
    assert close(productivity_samples(h)), productivity_samples(h)
    h = Harness()
    # Agent events reversed (a ticket's status cannot precede its creation: kept in order).
    h.run([*reversed(SCENARIO[:-2]), *SCENARIO[-2:]], batch_size=batch_size)
    assert close(productivity_samples(h)), productivity_samples(h)


def test_no_agents_no_samples() -> None:
    h = Harness()
    h.run(SCENARIO[-2:])
    assert productivity_samples(h) == {}


def test_productivity_survives_a_restart() -> None:
    h = Harness()
    h.run(SCENARIO, batch_size=2)
    h.restart()  # Pipeline.load from the stored segments only
    assert close(productivity_samples(h))
    later = [agent("z1", 700, "a1", "busy"), agent("z0", 50, "a2", "busy")]  # z0: late
    h.run(later)
    reference = Harness()
    reference.run([*SCENARIO, *later], batch_size=2)
    assert productivity_samples(h) == productivity_samples(reference)
    assert productivity_samples(h) != EXPECTED


def test_replays_and_redelivered_forwards_change_nothing() -> None:
    h = Harness()
    h.run_with_redeliveries(SCENARIO)
    assert close(productivity_samples(h))


def test_a_late_event_changes_the_past_exactly() -> None:
    late = agent("x1", 50, "a1", "away")  # between available (T0-600) and busy (T0+100)
    h = Harness()
    h.run([*SCENARIO, late])
    got = productivity_samples(h)
    assert got[("occupancy_ratio", "billing", "15m")] == pytest.approx(400 / 820)
    h = Harness()
    h.run([late, *SCENARIO], batch_size=1)
    assert productivity_samples(h) == got

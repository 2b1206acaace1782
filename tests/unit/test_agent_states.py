"""Agents by state per queue: ``contact_centre_agents{queue,state}`` and the wallboard's tile.

Table-driven through the in-memory pipeline of ``test_aggregator`` (router → forwarded batches →
aggregator → table → collector): every row is a list of ``agent.state_changed`` events and the
exact counts per queue. Each row also runs one event per batch and all in one batch, after a
restart from the stored segments, with every batch fed twice (replays), with the forwarded
batches delivered twice, and in reverse arrival order (the result depends on event time only).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from stream.config import TargetBook
from stream.core.kpis.agents import AgentRecord, AgentSlot, add_events, agents_by_state, tell
from stream.core.kpis.productivity import HistoryEvent, insert_event, seen_from
from stream.export.queue_snapshot import build_snapshots
from stream.read import ReadView
from stream.stages.forward import decode_batch
from stream.stages.pipeline import FORWARD_CHUNK_BYTES
from tests.pipeline_harness import NOW, Harness, Input, body, call

Counts = dict[str, dict[str, int]]  # queue → state → agents (only the non-zero states)


def agent(eid: str, seconds: float, agent_id: str, state: str, queues: Any = None) -> Input:
    fields: dict[str, Any] = {"agent_id": agent_id, "state": state}
    if queues is not None:
        fields["queues"] = queues
    return ("agents", agent_id.encode(), body(eid, "agent.state_changed", seconds, **fields))


B, S = ["billing"], ["support"]

# (id, events, agents by state per queue)
CASES: list[tuple[str, list[Input], Counts]] = [
    ("no agent events: no series", [], {}),
    ("an agent without queues is in none", [agent("e1", 0, "a1", "available")], {}),
    ("one agent", [agent("e1", 0, "a1", "available", B)], {"billing": {"available": 1}}),
    (
        "two queues at once",
        [agent("e1", 0, "a1", "busy", ["billing", "support"])],
        {"billing": {"busy": 1}, "support": {"busy": 1}},
    ),
    (
        "an event without queues keeps the queues",
        [agent("e1", 0, "a1", "available", B), agent("e2", 10, "a1", "after_call_work")],
        {"billing": {"after_call_work": 1}},
    ),
    (
        "moves between queues: the old queue loses the agent",
        [agent("e1", 0, "a1", "available", B), agent("e2", 10, "a1", "available", S)],
        {"billing": {}, "support": {"available": 1}},
    ),
    (
        "an empty queue list leaves every queue",
        [
            agent("e1", 0, "a1", "available", ["billing", "support"]),
            agent("e2", 10, "a1", "away", []),
        ],
        {"billing": {}, "support": {}},
    ),
    (
        "offline agents are not counted",
        [agent("e1", 0, "a1", "available", B), agent("e2", 10, "a1", "offline")],
        {"billing": {}},
    ),
    (
        "duplicates (same event_id) count once",
        [
            agent("e1", 0, "a1", "available", B),
            agent("e1", 0, "a1", "available", B),
            agent("e2", 0, "a2", "busy", B),
            agent("e2", 0, "a2", "busy", B),
        ],
        {"billing": {"available": 1, "busy": 1}},
    ),
    (
        "out of order: a late older state does not overwrite a newer one",
        [agent("e2", 20, "a1", "busy", B), agent("e1", 10, "a1", "available", B)],
        {"billing": {"busy": 1}},
    ),
    (
        "out of order: the newest queue list wins, whatever arrives last",
        [
            agent("e1", 0, "a1", "available", B),
            agent("e3", 30, "a1", "busy"),
            agent("e2", 20, "a1", "away", S),
        ],
        {"billing": {}, "support": {"busy": 1}},
    ),
    (
        "several agents and states",
        [
            agent("e1", 0, "a1", "available", B),
            agent("e2", 1, "a2", "available", B),
            agent("e3", 2, "a3", "busy", ["billing", "support"]),
            agent("e4", 3, "a2", "busy"),
            agent("e5", 4, "a4", "after_call_work", S),
            agent("e6", 5, "a4", "away"),
        ],
        {"billing": {"available": 1, "busy": 2}, "support": {"busy": 1, "away": 1}},
    ),
]


def agent_samples(h: Harness) -> Counts:
    out: Counts = {}
    for (name, labels), value in h.samples().items():
        if name == "contact_centre_agents":
            d = dict(labels)
            out.setdefault(d["queue"], {})[d["state"]] = int(value)
    return out


def full(expected: Counts) -> Counts:
    """Exported series: every state but offline, 0 when none, per queue that ever had agents."""
    return {queue: agents_by_state(counts) for queue, counts in expected.items()}


def ids(cases: list[tuple[str, list[Input], Counts]]) -> list[Any]:
    return [pytest.param(events, expected, id=name) for name, events, expected in cases]


@pytest.mark.parametrize(("events", "expected"), ids(CASES))
@pytest.mark.parametrize("batch_size", [1, 100])
def test_agents_by_state(events: list[Input], expected: Counts, batch_size: int) -> None:
    h = Harness()
    h.run(events, batch_size=batch_size)
    assert agent_samples(h) == full(expected)


@pytest.mark.parametrize(("events", "expected"), ids(CASES))
def test_agents_by_state_survive_a_restart(events: list[Input], expected: Counts) -> None:
    h = Harness()
    h.run(events, batch_size=2)
    h.restart()  # Pipeline.load from the stored segments only
    assert agent_samples(h) == full(expected)
    # ... and go on from there: a restored agent moves on exactly.
    h.run([agent("z1", 100, "a1", "available", S)])
    reference = Harness()
    reference.run([*events, agent("z1", 100, "a1", "available", S)], batch_size=2)
    assert agent_samples(h) == agent_samples(reference)


@pytest.mark.parametrize(("events", "expected"), ids(CASES))
def test_replays_and_redelivered_forwards_change_nothing(
    events: list[Input], expected: Counts
) -> None:
    h = Harness()
    h.run_with_redeliveries(events)
    assert agent_samples(h) == full(expected)


@pytest.mark.parametrize(("events", "expected"), ids(CASES))
def test_arrival_order_does_not_matter(events: list[Input], expected: Counts) -> None:
    h = Harness()
    h.run(list(reversed(events)), batch_size=1)
    assert agent_samples(h) == full(expected)


def test_input_batches_replayed_after_a_crash_are_exact() -> None:
    """The router's writes of the last batch are lost; the batch is redelivered and replayed."""
    events = CASES[-1][1]
    reference = Harness()
    reference.run(events, batch_size=3)

    h = Harness()
    h.run(events[:3], batch_size=3)
    last = h.publish(events[3:])
    routes_before = dict(h.route_store)
    h.aggregate(h.route(last))  # forwarded and applied; then the router's writes are lost
    h.route_store = routes_before
    h.restart()
    h.feed(last)
    assert agent_samples(h) == agent_samples(reference) == full(CASES[-1][2])
    # Replayed again with everything stored: nothing changes.
    table = h.table
    h.feed(last)
    assert h.table == table


def test_lost_forward_is_resent_by_the_replay() -> None:
    """A crash after the router stored its writes but before the forward reached stage 2."""
    h = Harness()
    h.run([agent("e1", 0, "a1", "available", B)])
    last = h.publish([agent("e2", 10, "a1", "busy", S)])
    h.route(last)  # stored, forwards lost
    h.restart()
    h.feed(last)  # redelivered: a replay for the router
    assert agent_samples(h) == full({"billing": {}, "support": {"busy": 1}})


def test_agents_do_not_touch_the_event_counters_of_a_queue() -> None:
    h = Harness()
    h.run([agent("e1", 0, "a1", "available", B), agent("e1", 0, "a1", "available", B)])
    q = h.queue("billing")
    assert q.events == {} and q.applied == {} and q.duplicates == 0
    stats = [st for part in h.pipeline.router_parts.values() for st in part.stats.values()]
    assert sum(st.accepted.get("agent.state_changed", 0) for st in stats) == 1
    assert sum(st.duplicates for st in stats) == 1


def test_the_wallboard_shows_agents_available() -> None:
    h = Harness()
    h.run(
        [
            call("c1-q", "call.queued", 0, "c1", queue="support"),
            agent("e1", 0, "a1", "available", B),
            agent("e2", 1, "a2", "available", B),
            agent("e3", 2, "a3", "busy", B),
        ]
    )
    snaps = {s.queue: s for s in build_snapshots(ReadView(h.pipeline), TargetBook.default(), NOW)}
    assert snaps["billing"].agents_available == 2
    assert snaps["support"].agents_available is None  # no agent ever named it
    before = snaps["billing"].version
    h.run([agent("e4", 3, "a1", "busy")])
    snap = {s.queue: s for s in build_snapshots(ReadView(h.pipeline), TargetBook.default(), NOW)}[
        "billing"
    ]
    assert snap.agents_available == 1
    assert snap.version > before  # a newer agent state is never refused by the Lua guard


# --- pure: the state from the events ----------------------------------------------------------


def test_the_state_in_a_queue_does_not_depend_on_the_arrival_order() -> None:
    events: list[HistoryEvent] = [
        (0.0, b"1", "available", ["billing"]),
        (30.0, b"3", "busy", None),
        (20.0, b"2", "away", ["billing", "support"]),
        (20.0, b"0", "offline", None),  # same time as "away": the hash breaks the tie
    ]
    results = set()
    for order in itertools.permutations(events):
        history: list[HistoryEvent] = []
        slots = {q: AgentSlot(q, "a1") for q in ("billing", "support")}
        for event in order:
            insert_event(history, event)
            for queue, slot in slots.items():
                add_events(slot, [seen_from(event, queue)])
        results.add((slots["billing"].state, slots["support"].state, len(history)))
    assert results == {("busy", "busy", 4)}


def test_add_events_reports_the_move_and_skips_known_events() -> None:
    slot = AgentSlot("billing", "a1")
    e1, e2 = (0.0, b"1", "available", True), (10.0, b"2", "busy", None)
    assert add_events(slot, [e1]) == ([e1], [], (None, "available"))
    assert add_events(slot, [e1]) == ([], [], ("available", "available"))  # known: nothing
    assert add_events(slot, [e2, e1]) == ([e2], [], ("available", "busy"))
    left = (20.0, b"3", "busy", False)  # a list without the queue: not in it any more
    assert add_events(slot, [left]) == ([left], [], ("busy", None))
    assert slot.timeline() == [(0.0, "available"), (10.0, "busy"), (20.0, None)]


def test_told_grows_with_every_queue_named() -> None:
    rec = AgentRecord()
    assert tell(rec, ("support",)) and rec.told == ["support"]
    assert not tell(rec, None) and not tell(rec, ("support",)) and not tell(rec, ())
    assert tell(rec, ("billing", "support")) and rec.told == ["billing", "support"]


def test_a_busy_batch_forwards_each_agent_once_within_the_size_bound() -> None:
    """Thousands of state changes in one batch: one slot per agent and queue, no forward over
    the chunk bound (each slot carries the agent's events of the batch), same result as in
    many batches."""
    states = ["available", "busy", "after_call_work"]
    events = [
        agent(f"b{i}", i / 100, f"a{i % 20}", states[i % 3], ["billing"] if i < 20 else None)
        for i in range(24000)
    ]
    h = Harness()
    forwards = h.route(h.publish(events))
    slots = [slot for _, payload in forwards for slot in decode_batch(payload).agent_events]
    assert sorted(agent_id for _, agent_id, _ in slots) == sorted(f"a{i}" for i in range(20))
    assert len(forwards) > 1  # the events did not fit one forward
    assert max(len(payload) for _, payload in forwards) <= 2 * FORWARD_CHUNK_BYTES
    h.aggregate(forwards)
    reference = Harness()
    reference.run(events, batch_size=997)  # many batches, each agent's slot sent per batch
    assert h.samples() == reference.samples()

"""Agents on queue by instant for a whole queue (``stream.core.kpis.staffing.QueueStaffing``): kept
as agents' events are booked in any order, with duplicates and prunes, it gives exactly the
per-agent count (``on_queue_at``) at every instant."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.kpis.agents import AgentSlot, add_events
from stream.core.kpis.productivity import HISTORY_SECONDS, QueueEvent
from stream.core.kpis.staffing import QueueStaffing, on_queue_at

STATES = ["available", "busy", "after_call_work", "away", "away:lunch", "offline"]

event = st.tuples(
    st.integers(0, 4),  # agent
    st.one_of(st.integers(0, 40).map(float), st.just(HISTORY_SECONDS * 3.0)),  # at (ties too)
    st.integers(0, 3).map(lambda n: bytes([n])),  # hash: duplicates when equal
    st.sampled_from(STATES),
    st.sampled_from([None, True, False]),  # in the queue's list, or no list
)


def instants(slots: list[AgentSlot]) -> list[float]:
    points = sorted({at for s in slots for at in s.on_queue_steps()[0]})
    return [-1.0, *points, *(t + 0.5 for t in points), *(t - 0.5 for t in points)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(event, max_size=6), max_size=8))
def test_the_queue_step_function_equals_the_per_agent_count(batches: list[list[Any]]) -> None:
    slots = {a: AgentSlot("q", f"a{a}") for a in range(5)}
    staffing = QueueStaffing()
    for batch in batches:  # as Aggregator.apply_agents books a batch: agent by agent
        by_agent: dict[int, list[QueueEvent]] = {}
        for agent, at, h, state, in_queue in batch:
            by_agent.setdefault(agent, []).append((at, h, state, in_queue))
        for agent, evs in by_agent.items():
            slot = slots[agent]
            before = slot.on_queue_steps()
            stored, _, _ = add_events(slot, evs)
            if stored:
                staffing.move(before, slot.on_queue_steps())
        every = list(slots.values())
        for t in instants(every):
            assert staffing.at(t) == on_queue_at(every, t)
        rebuilt = QueueStaffing.build(s.on_queue_steps() for s in every)
        assert (rebuilt.times, rebuilt.counts) == (staffing.times, staffing.counts)
        assert len(set(staffing.times)) == len(staffing.times)


def test_a_hand_computed_queue() -> None:
    a1, a2 = AgentSlot("q", "a1"), AgentSlot("q", "a2")
    staffing = QueueStaffing()
    for slot, evs in (
        (a1, [(10.0, b"1", "available", True), (20.0, b"2", "away", None)]),
        (a2, [(15.0, b"3", "busy", True)]),
        (a1, [(30.0, b"4", "after_call_work", None)]),
        (a2, [(5.0, b"5", "available", True)]),  # late: a2 was on queue from 5 s
    ):
        before = slot.on_queue_steps()
        add_events(slot, evs)
        staffing.move(before, slot.on_queue_steps())
    assert (staffing.times, staffing.counts) == ([5.0, 10.0, 20.0, 30.0], [1, 2, 1, 2])
    assert [staffing.at(t) for t in (4.9, 5.0, 19.9, 20.0, 29.0, 31.0)] == [0, 1, 2, 1, 1, 2]

"""Agents on queue at an instant (``stream.core.kpis.staffing.on_queue_at``): one binary search per
agent on its cached on-queue steps gives what each agent's state at the instant says."""

from __future__ import annotations

import random

from stream.core.kpis.agents import ON_QUEUE_STATES, AgentSlot, add_events
from stream.core.kpis.reasons import base_state, with_reason
from stream.core.kpis.staffing import on_queue_at, state_at

STATES = ["available", "busy", "after_call_work", "away", "offline"]


def by_states(slots: list[AgentSlot], t: float) -> int:
    """The definition: agents whose state in the queue at ``t`` is an on-queue state."""
    states = [state_at(slot, t) for slot in slots]
    return sum(s is not None and base_state(s) in ON_QUEUE_STATES for s in states)


def test_on_queue_at_counts_what_each_agents_state_at_the_instant_says() -> None:
    rng = random.Random(20)
    slots = []
    for a in range(12):
        slot = AgentSlot("billing", f"a{a}")
        events = []
        for i in range(40):
            state = rng.choice(STATES)
            if state == "away" and rng.random() < 0.5:
                state = with_reason(state, "lunch")
            in_queue = rng.choice([True, False, None, None])
            events.append((float(rng.randrange(0, 400)), i.to_bytes(8, "big"), state, in_queue))
        add_events(slot, events)
        slots.append(slot)
    instants = [t / 2 for t in range(-2, 810)]
    counts = [on_queue_at(slots, t) for t in instants]
    assert counts == [by_states(slots, t) for t in instants]
    assert max(counts) > 0 and min(counts) == 0
    # new events invalidate the cached steps like the timeline
    for slot in slots:
        add_events(slot, [(401.0, b"late-one", "available", True)])
    assert on_queue_at(slots, 401.0) == by_states(slots, 401.0) == 12

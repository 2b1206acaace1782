"""Agent reasons, rings and staffing (issue 17, items 1-3), pure and through the pipeline.

* ``stream.core.kpis.reasons``: the reason rides in the stored state, labels are bounded;
* ``agent_reasons:`` of the targets file, its errors with file and line;
* ``call.offered`` / ``call.offer_missed`` / ``call.answered``: rings and offer facts;
* the in-memory pipeline of ``test_aggregator``: ``contact_centre_agents{queue,state,reason}``,
  staffed / on-queue / available, calls and agents ringing, the offer counts per window and the
  agent-seconds per state and reason — exact, in any batching, after a restart from the stored
  segments and under redelivery.
"""

from __future__ import annotations

from typing import Any

import pytest

from stream.config import TargetsError, parse_targets
from stream.contract.decoder import Rejection
from stream.contract.events import CallAnswered, CallOffered, CallOfferMissed, CallQueued
from stream.core.kpis.agents import agents_by_state, staffing
from stream.core.kpis.productivity import contacts_per_staffed_hour, occupancy
from stream.core.kpis.reasons import base_state, by_state_and_reason, label, reason_of, with_reason
from stream.core.lifecycle import CallRecord
from tests.factories import CallEvents, run_calls
from tests.pipeline_harness import NOW, T0, Harness, Input, body, call

# --- the stored state ----------------------------------------------------------------------


def test_a_reason_rides_with_away_only() -> None:
    assert with_reason("away", "lunch") == "away|lunch"
    assert with_reason("away", None) == "away"
    assert with_reason("busy", "lunch") == "busy"  # a reason says why an agent is away
    assert with_reason("away", "a|b") == "away|a|b"
    for stored, state, reason in (
        ("away|lunch", "away", "lunch"),
        ("away", "away", None),
        ("available", "available", None),
        ("away|a|b", "away", "a|b"),
    ):
        assert base_state(stored) == state and reason_of(stored) == reason


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("away|lunch", "lunch"),
        ("away|dentist", "other"),
        ("away", "other"),
        ("busy", ""),
        ("available", ""),
        ("away|Lunch", "other"),
    ],
)
def test_labels_are_bounded_by_the_list(stored: str, expected: str) -> None:
    assert label(stored, ("lunch", "break")) == expected


def test_counts_by_state_and_reason_are_zero_started_and_leave_offline_out() -> None:
    counts = {"away|lunch": 2, "away|dentist": 1, "away": 1, "busy": 3, "offline": 4}
    states = ("available", "busy", "after_call_work", "away")
    assert by_state_and_reason(counts, states, ("lunch", "break")) == {
        ("available", ""): 0,
        ("busy", ""): 3,
        ("after_call_work", ""): 0,
        ("away", "lunch"): 2,
        ("away", "break"): 0,
        ("away", "other"): 2,
    }
    assert by_state_and_reason({}, ("away",), ()) == {("away", "other"): 0}


def test_agents_by_state_and_staffing_fold_the_reasons() -> None:
    by_state = agents_by_state({"away|lunch": 2, "away": 1, "busy": 3, "available": 1})
    assert by_state == {"available": 1, "busy": 3, "after_call_work": 0, "away": 3}
    assert staffing(by_state) == {"staffed": 7, "on_queue": 4, "available": 1}
    assert staffing(agents_by_state({})) == {"staffed": 0, "on_queue": 0, "available": 0}


def test_productivity_counts_reasoned_away_as_staffed_not_handling() -> None:
    seconds = {"away|lunch": 1800.0, "away": 600.0, "available": 1200.0, "busy": 0.0}
    assert contacts_per_staffed_hour(3, 0, seconds) == 3 / (3600 / 3600)
    assert occupancy(seconds) == 0.0


# --- the targets file ----------------------------------------------------------------------


def test_agent_reasons_of_the_targets_file() -> None:
    book = parse_targets("agent_reasons: [break, lunch, 'team meeting']\n")
    assert book.agent_reasons() == ("break", "lunch", "team meeting")
    assert parse_targets("defaults: {}\n").agent_reasons() == ()
    assert parse_targets("agent_reasons:\n").agent_reasons() == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "agent_reasons: lunch\n",
            "t.yaml:1: agent_reasons: expected a list of reasons, got 'lunch'",
        ),
        (
            "agent_reasons:\n  - break\n  - break\n",
            "t.yaml:3: agent_reasons[1]: 'break' is listed twice",
        ),
        (
            "agent_reasons:\n  - break\n  - other\n",
            "t.yaml:3: agent_reasons[1]: 'other' is the label of every unlisted reason",
        ),
        (
            "agent_reasons: [break, '']\n",
            "t.yaml:1: agent_reasons[1]: expected a reason of 1..64 characters, got ''",
        ),
        (
            "agent_reasons: [break, 12]\n",
            "t.yaml:1: agent_reasons[1]: expected a reason of 1..64 characters, got 12",
        ),
        (
            "agent_reasons: [" + ", ".join(f"r{i}" for i in range(33)) + "]\n",
            "t.yaml:1: agent_reasons: at most 32 reasons, got 33",
        ),
    ],
)
def test_bad_agent_reasons_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(TargetsError) as caught:
        parse_targets(text, source="t.yaml")
    assert str(caught.value) == message


# --- rings in a call's lifecycle -----------------------------------------------------------


ev = CallEvents(T0)


def lifecycle(*events: Any) -> tuple[CallRecord, list[str]]:
    rec, facts = run_calls(*events)
    assert rec is not None and not any(isinstance(f, Rejection) for f in facts), facts
    return rec, [f[0] for f in facts]


QUEUED = ev(CallQueued, 0, queue="billing")


def test_a_ring_missed_then_rung_again_and_answered() -> None:
    rec, kinds = lifecycle(QUEUED, ev(CallOffered, 1, agent_id="a1"))
    assert rec.rings == 1 and kinds == ["offered", "offer"]
    rec, kinds = lifecycle(
        QUEUED,
        ev(CallOffered, 1, agent_id="a1"),
        ev(CallOfferMissed, 16, agent_id="a1", reason="no_answer", ring_seconds=15),
        ev(CallOffered, 17, agent_id="a2"),
    )
    assert rec.rings == 1
    assert kinds == ["offered", "offer", "offer_missed:no_answer", "offer"]
    rec, kinds = lifecycle(
        QUEUED,
        ev(CallOffered, 1, agent_id="a1"),
        ev(CallOffered, 1.5, agent_id="a2"),
        ev(CallAnswered, 4, agent_id="a2"),
    )
    assert rec.rings == 0  # the answer ends every ring of the call
    assert kinds == ["offered", "offer", "offer", "answered", "offer_answered"]


def test_an_answer_without_a_ring_is_no_answered_offer_and_a_late_ring_no_offer() -> None:
    rec, kinds = lifecycle(QUEUED, ev(CallAnswered, 4, agent_id="a1"))
    assert kinds == ["offered", "answered"]
    rec, kinds = lifecycle(
        QUEUED, ev(CallAnswered, 4, agent_id="a1"), ev(CallOffered, 5, agent_id="a2")
    )
    assert rec.rings == 0 and kinds == ["offered", "answered"]
    rec, kinds = lifecycle(  # a miss without its ring (a source that sends no rings)
        QUEUED, ev(CallOfferMissed, 3, agent_id="a1", reason="rejected")
    )
    assert rec.rings == 0 and kinds == ["offered", "offer_missed:rejected"]


# --- through the pipeline ------------------------------------------------------------------

B = ["billing"]
REASONS_FILE = "agent_reasons: [lunch, break]\n"


def agent(eid: str, s: float, agent_id: str, state: str, **kw: Any) -> Input:
    value = body(eid, "agent.state_changed", s, agent_id=agent_id, state=state, **kw)
    return ("agents", agent_id.encode(), value)


# NOW = T0 + 870 (10:14:30), T0 = 10:00 of a Sunday; today and 1h start at or before T0.
SCENARIO: list[Input] = [
    agent("a1", 0, "a1", "available", queues=B),
    agent("a2", 0, "a2", "available", queues=B),
    agent("a3", 0, "a3", "busy", queues=B),
    agent("a4", 0, "a4", "available", queues=B),
    agent("a5", 0, "a5", "available", queues=B),
    agent("a6", 100, "a1", "away", reason="lunch"),  # listed
    agent("a7", 200, "a2", "away", reason="dentist"),  # not listed: other
    agent("a8", 300, "a3", "away"),  # no reason: other
    agent("a9", 400, "a4", "offline"),
    agent("a10", 500, "a2", "away", reason="lunch"),  # a new reason, same state
    agent("a11", 600, "a3", "available", reason="lunch"),  # a reason on available: ignored
    call("c1", "call.queued", 10, "call-1", queue="billing"),
    call("c2", "call.offered", 12, "call-1", agent_id="a5"),
    call(
        "c3", "call.offer_missed", 27, "call-1", agent_id="a5", reason="no_answer", ring_seconds=15
    ),
    call("c4", "call.offered", 28, "call-1", agent_id="a5"),
    call("c5", "call.answered", 30, "call-1", agent_id="a5"),
    call("d1", "call.queued", 800, "call-2", queue="billing"),
    call("d2", "call.offered", 801, "call-2", agent_id="a3"),
    call("d3", "call.offered", 802, "call-2", agent_id="a1"),  # two agents ring at once
    call("e1", "call.queued", 810, "call-3", queue="billing"),
    call("e2", "call.offered", 811, "call-3", agent_id="a3"),
    call("f1", "call.queued", 820, "call-4", queue="billing"),  # waiting, rings nobody
]
E = 870.0  # seconds of the windows so far (all three start at or before T0; nothing before)
EXPECTED: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
    **{
        ("contact_centre_agents", (("queue", "billing"), ("state", s))): n
        for s, n in (("available", 2), ("busy", 0), ("after_call_work", 0))
    },
    ("contact_centre_agents", (("queue", "billing"), ("reason", "lunch"), ("state", "away"))): 2,
    ("contact_centre_agents", (("queue", "billing"), ("reason", "break"), ("state", "away"))): 0,
    ("contact_centre_agents", (("queue", "billing"), ("reason", "other"), ("state", "away"))): 0,
    ("contact_centre_agents_staffed", (("queue", "billing"),)): 4,
    ("contact_centre_agents_on_queue", (("queue", "billing"),)): 2,
    ("contact_centre_agents_available", (("queue", "billing"),)): 2,
    ("contact_centre_calls_ringing", (("queue", "billing"),)): 2,
    ("contact_centre_agents_ringing", (("queue", "billing"),)): 3,
    **{
        ("contact_centre_agent_offers_in_window", (("queue", "billing"), ("window", w))): 5
        for w in ("15m", "1h", "today")
    },
    **{
        ("contact_centre_agent_offers_answered_in_window", (("queue", "billing"), ("window", w))): 1
        for w in ("15m", "1h", "today")
    },
    ("contact_centre_agent_offers_total", (("channel", "phone"), ("queue", "billing"))): 5,
    ("contact_centre_agent_offers_answered_total", (("channel", "phone"), ("queue", "billing"))): 1,
}
# Agent-seconds in [T0, NOW): a1 available 100, away lunch 770; a2 available 200, away other
# (dentist) 300, away lunch 370; a3 busy 300, away other 300, available 270; a4 available 400
# (then offline: not counted); a5 available 870 (its call's answer is no agent event).
SECONDS = {
    ("available", ""): 100 + 200 + 270 + 400 + 870,
    ("busy", ""): 300,
    ("after_call_work", ""): 0,
    ("away", "lunch"): 770 + 370,
    ("away", "break"): 0,
    ("away", "other"): 300 + 300,
}


def reasons_harness() -> Harness:
    return Harness(targets=parse_targets(REASONS_FILE))


def agent_samples(h: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {k: v for k, v in h.samples().items() if k in EXPECTED}


def state_seconds(h: Harness, window: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for (name, labels), v in h.samples().items():
        d = dict(labels)
        if name == "contact_centre_agent_state_seconds" and d["window"] == window:
            assert d["queue"] == "billing"
            out[d["state"], d.get("reason", "")] = v
    return out


def check(h: Harness) -> None:
    assert agent_samples(h) == EXPECTED
    assert sum(E for _ in ("a1", "a2", "a3", "a5")) + 400 == sum(SECONDS.values())
    for window in ("15m", "1h", "today"):
        assert state_seconds(h, window) == SECONDS, window


@pytest.mark.parametrize("batch_size", [1, 4, 100])
def test_reasons_rings_and_staffing_through_the_pipeline(batch_size: int) -> None:
    assert NOW - T0 == E
    h = reasons_harness()
    h.run(SCENARIO, batch_size=batch_size)
    check(h)


def test_the_same_after_a_restart_and_under_redelivery() -> None:
    h = reasons_harness()
    h.run(SCENARIO, batch_size=3)
    h.restart()  # Pipeline.load from the stored segments only: reasons and rings come back
    check(h)
    h = reasons_harness()
    h.run_with_redeliveries(SCENARIO)
    check(h)


def test_agent_events_in_reverse_give_the_same_reasons() -> None:
    agents = [i for i in SCENARIO if i[0] == "agents"]
    calls = [i for i in SCENARIO if i[0] == "calls"]
    h = reasons_harness()
    h.run([*reversed(agents), *calls], batch_size=2)
    check(h)


def test_without_a_list_every_reason_is_other_and_the_state_sums_are_unchanged() -> None:
    h = Harness()
    h.run(SCENARIO)
    away = {
        dict(labels).get("reason"): v
        for (name, labels), v in h.samples().items()
        if name == "contact_centre_agents" and ("state", "away") in labels
    }
    assert away == {"other": 2}
    listed = reasons_harness()
    listed.run(SCENARIO)
    for state in ("available", "busy", "after_call_work", "away"):

        def total(x: Harness, s: str = state) -> float:
            return sum(
                v
                for (name, labels), v in x.samples().items()
                if name == "contact_centre_agents" and ("state", s) in labels
            )

        assert total(h) == total(listed)

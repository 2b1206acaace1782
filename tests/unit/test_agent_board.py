"""The agent part of a wallboard snapshot: the agent tiles equal /metrics, the bounded list of
agents longest in their state, handling runs, and the colours the targets file's
``wallboard_thresholds`` give.

Events go through the in-memory wiring of ``test_snapshots`` (router → aggregator, no broker).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stream.config import parse_targets
from stream.core.kpis.agents import AgentSlot
from stream.core.thresholds import TILE_FIELDS, Threshold, colour
from stream.export.queue_snapshot import QueueSnapshot, build_snapshots, statuses, thresholds_of
from stream.read import ReadView
from stream.read.agent_board import AgentRow, agent_rows
from tests.unit.test_snapshots import NOW, T0, Wiring, metric, samples

TARGETS = parse_targets(
    """
agent_reasons: [lunch, break]
wallboard_thresholds:
  agents_away: {warn: 1, bad: 3}
  agent_answer_rate_today: {warn: 90%, bad: 50%}
  agents_ringing: {warn: 5, bad: 10}
queues:
  billing:
    wallboard_thresholds:
      calls_waiting: {warn: 0, bad: 5}
      agents_ringing: {warn: 1, bad: 2}
""",
    source="targets.yaml",
)
B = ["billing"]


def scenario() -> Wiring:
    """The agents of the integration test ``test_agent_reasons_and_rings`` plus a6, busy from
    540 s and in after-call work from 570 s; NOW is 600 s after T0."""
    w = Wiring(TARGETS)

    def agent(seconds: float, agent_id: str, state: str, **fields: Any) -> None:
        w.send("agents", agent_id, "agent.state_changed", seconds, agent_id=agent_id,
               state=state, **fields)  # fmt: skip

    def call(seconds: float, call_id: str, type_: str, **fields: Any) -> None:
        w.send("calls", call_id, type_, seconds, call_id=call_id, **fields)

    for a in ("a1", "a2", "a4", "a5"):
        agent(0, a, "available", queues=B)
    agent(0, "a3", "busy", queues=B)
    agent(100, "a1", "away", reason="lunch")
    agent(200, "a2", "away", reason="dentist")
    agent(300, "a3", "away")
    agent(400, "a4", "offline")
    agent(450, "a2", "away", reason="lunch")
    agent(500, "a3", "available", reason="lunch")  # a reason on available is not kept
    agent(540, "a6", "busy", queues=B)
    agent(570, "a6", "after_call_work")
    call(10, "call-1", "call.queued", queue="billing")
    call(12, "call-1", "call.offered", agent_id="a5")
    call(27, "call-1", "call.offer_missed", agent_id="a5", reason="no_answer", ring_seconds=15)
    call(28, "call-1", "call.offered", agent_id="a5")
    call(30, "call-1", "call.answered", agent_id="a5")
    call(500, "call-2", "call.queued", queue="billing")
    call(501, "call-2", "call.offered", agent_id="a3")
    call(502, "call-2", "call.offered", agent_id="a1")
    call(510, "call-3", "call.queued", queue="billing")
    call(511, "call-3", "call.offered", agent_id="a3")
    call(520, "call-4", "call.queued", queue="billing")
    return w


def billing(w: Wiring, agents_shown: int = 20) -> QueueSnapshot:
    (snap,) = build_snapshots(ReadView(w.pipeline), TARGETS, NOW, agents_shown=agents_shown)
    assert snap.queue == "billing"
    return snap


def row(agent_id: str, state: str, reason: str | None, since: float, handling: float | None
        ) -> dict[str, Any]:  # fmt: skip
    return {"agent_id": agent_id, "state": state, "reason": reason, "since": T0 + since,
            "handling_since": None if handling is None else T0 + handling}  # fmt: skip


def test_agent_tiles_equal_the_metrics_and_the_hand_computed_values() -> None:
    w = scenario()
    s = billing(w)
    m = samples(w.pipeline)
    q = {"queue": "billing"}
    assert s.agents_staffed == metric(m, "agents_staffed", **q) == 5
    assert s.agents_on_queue == metric(m, "agents_on_queue", **q) == 3  # a3, a5, a6
    assert s.agents_available == metric(m, "agents_available", **q) == 2
    assert s.agents_away == 2
    assert s.agents_away_by_reason == {"lunch": 2, "break": 0, "other": 0}
    for reason, n in s.agents_away_by_reason.items():
        assert metric(m, "agents", **q, state="away", reason=reason) == n
    assert s.agents_ringing == metric(m, "agents_ringing", **q) == 3  # call-2 two, call-3 one
    assert s.offers_missed == 1
    assert metric(m, "call_offers_missed_total", **q, channel="phone", reason="no_answer") == 1
    # Rings answered ÷ rings today: 1 of 5, the recording rule's ratio of the window gauges.
    today = {**q, "window": "today"}
    offers = metric(m, "agent_offers_in_window", **today)
    answered = metric(m, "agent_offers_answered_in_window", **today)
    assert (answered, offers) == (1, 5)
    assert s.agent_answer_rate_today == answered / offers == 0.2


def test_the_list_is_the_agents_longest_in_their_state_bounded() -> None:
    s = billing(scenario())
    # a4 is offline: not listed. a2's state changed at 450 s (dentist → lunch is a change).
    assert s.agent_list == [
        row("a5", "available", None, 0, None),
        row("a1", "away", "lunch", 100, None),
        row("a2", "away", "lunch", 450, None),
        row("a3", "available", None, 500, None),
        row("a6", "after_call_work", None, 570, 540),
    ]
    assert s.agents_listed_of == 5
    short = billing(scenario(), agents_shown=2)
    assert short.agent_list == s.agent_list[:2]
    assert short.agents_listed_of == 5
    none = billing(scenario(), agents_shown=0)
    assert (none.agent_list, none.agents_listed_of) == ([], 5)


def test_the_list_does_not_change_while_only_the_clock_moves() -> None:
    w = scenario()
    (later,) = build_snapshots(ReadView(w.pipeline), TARGETS, NOW + 300)
    assert later.agent_list == billing(w).agent_list  # instants, not durations


def test_a_queue_without_agents_has_no_agent_tiles() -> None:
    w = Wiring(TARGETS)
    w.send("calls", "c1", "call.queued", 0, call_id="c1", queue="billing")
    s = billing(w)
    assert (s.agents_staffed, s.agents_on_queue, s.agents_away) == (None, None, None)
    assert s.agents_away_by_reason is None
    assert (s.agents_ringing, s.offers_missed, s.agent_answer_rate_today) == (0, 0, None)  # live
    assert (s.agent_list, s.agents_listed_of) == ([], 0)
    assert s.status["agents_away"] == "none"


def slot(agent_id: str, *events: tuple[float, str, bool | None]) -> AgentSlot:
    s = AgentSlot("q", agent_id)
    s.events = [(at, bytes([i]), state, member) for i, (at, state, member) in enumerate(events)]
    s.state = events[-1][1] if any(m for _, _, m in events) else None
    return s


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # busy → ACW → busy: one handling run from the first busy
        ([(0, "available", True), (10, "busy", None), (40, "after_call_work", None),
          (50, "busy", None)], AgentRow("x", "busy", None, 50, 10)),
        # available in between: the run starts again
        ([(0, "busy", True), (30, "available", None), (60, "busy", None)],
         AgentRow("x", "busy", None, 60, 60)),
        # away with a reason, then another reason: the state began at the second
        ([(0, "away|lunch", True), (30, "away|break", None)],
         AgentRow("x", "away", "break", 30, None)),
        # the same state again is no change
        ([(0, "available", True), (30, "available", None)],
         AgentRow("x", "available", None, 0, None)),
        ([(0, "available", True), (30, "offline", None)], None),
    ],
)  # fmt: skip
def test_rows(events: list[tuple[float, str, bool | None]], expected: AgentRow | None) -> None:
    rows, n = agent_rows([slot("x", *events)], 20)
    assert rows == ([] if expected is None else [expected])
    assert n == (0 if expected is None else 1)


def test_an_agent_not_in_the_queue_is_not_listed_and_ties_go_by_id() -> None:
    out = slot("gone", (0, "available", True), (5, "available", False))
    out.state = None  # left the queue: what current_state gives for these events
    b = slot("b", (0, "busy", True))
    a = slot("a", (0, "away", True))
    rows, n = agent_rows([out, b, a], 20)
    assert [r.agent_id for r in rows] == ["a", "b"]
    assert n == 2


def test_thresholds_of_the_targets_file_colour_the_tiles() -> None:
    s = billing(scenario())
    assert s.status["agents_away"] == "warn"  # 2: above 1, up to 3
    assert s.status["agent_answer_rate_today"] == "bad"  # 20 % below 50 %
    assert s.status["calls_waiting"] == "warn"  # billing's own: 3 above 0, up to 5
    assert s.status["agents_ringing"] == "bad"  # billing's own {1, 2} over the file's {5, 10}
    assert s.status["offers_missed"] == "none"  # no threshold
    assert (s.service_level_today, s.status["service_level_today"]) == (1.0, "good")  # built in
    assert s.thresholds["agents_ringing"] == [1.0, 2.0]
    assert s.thresholds["service_level_today"] == [0.8, 0.7]  # the default, from the goal
    assert "offers_missed" not in s.thresholds
    assert sorted(s.status) == sorted(TILE_FIELDS)


def test_a_file_threshold_replaces_a_built_in_one() -> None:
    book = parse_targets(
        "wallboard_thresholds:\n  abandon_rate_today: {warn: 2%, bad: 4%}\n", source="t.yaml"
    )
    snap = dataclasses.replace(billing(scenario()), abandon_rate_today=0.03)
    assert statuses(snap)["abandon_rate_today"] == "good"  # built in: warn above 5 %
    limits = thresholds_of(snap, book.thresholds("billing"))
    assert limits["abandon_rate_today"] == Threshold(0.02, 0.04)
    assert statuses(snap, limits)["abandon_rate_today"] == "warn"


@pytest.mark.parametrize(
    ("value", "threshold", "direction", "expected"),
    [
        (5, Threshold(5, 10), "above", "good"),
        (6, Threshold(5, 10), "above", "warn"),
        (10, Threshold(5, 10), "above", "warn"),
        (11, Threshold(5, 10), "above", "bad"),
        (0.9, Threshold(0.9, 0.5), "below", "good"),
        (0.5, Threshold(0.9, 0.5), "below", "warn"),
        (0.49, Threshold(0.9, 0.5), "below", "bad"),
        (3, Threshold(3, 3), "above", "good"),
        (4, Threshold(3, 3), "above", "bad"),  # warn == bad: two colours
        (None, Threshold(5, 10), "above", "none"),
        (7, None, "above", "none"),
    ],
)
def test_colour(value: float | None, threshold: Threshold | None, direction: Any, expected: str
                ) -> None:  # fmt: skip
    assert colour(value, threshold, direction) == expected

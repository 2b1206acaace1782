"""The traffic generator: deterministic, time-ordered, valid contract events, valid lifecycles."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stream.contract.decoder import Rejection, decode, encode
from stream.contract.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallCallbackCompleted,
    CallCallbackRequested,
    CallEnded,
    CallHoldEnded,
    CallHoldStarted,
    CallOffered,
    CallOfferMissed,
    CallQueued,
    CallTransferred,
    CallWrapupCompleted,
    CustomerChurned,
    OrderPlaced,
    SurveyResponded,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatusChanged,
    epoch_seconds,
)
from stream.contract.topics import route
from stream.dev.simulate import (
    AWAY_REASONS,
    DEFAULT_QUEUES,
    Contaminator,
    SimEvent,
    Simulation,
    start_ending_at,
    write_ndjson,
)

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
N_EVENTS = 12_000

CALL_TYPES = {
    CallQueued,
    CallCallbackRequested,
    CallCallbackCompleted,
    CallTransferred,
    CallOffered,
    CallOfferMissed,
    CallAnswered,
    CallAbandoned,
    CallHoldStarted,
    CallHoldEnded,
    CallEnded,
    CallWrapupCompleted,
}
TICKET_TYPES = {
    TicketCreated,
    TicketMessageAdded,
    TicketAssigned,
    TicketStatusChanged,
    TicketEscalated,
    SurveyResponded,
}
OTHER_TYPES = {AgentStateChanged, CustomerChurned, OrderPlaced}


@pytest.fixture(scope="module")
def events() -> list[SimEvent]:
    return Simulation(seed=42, start=START).take(N_EVENTS)


def test_same_seed_same_events(events: list[SimEvent]) -> None:
    again = Simulation(seed=42, start=START).take(N_EVENTS)
    assert [encode(e.event) for e in again] == [encode(e.event) for e in events]
    assert again == events


def test_other_seed_other_events(events: list[SimEvent]) -> None:
    other = Simulation(seed=43, start=START).take(200)
    assert [e.event for e in other] != [e.event for e in events[:200]]
    assert not {e.key for e in other if e.kind == "calls"} & {
        e.key for e in events if e.kind == "calls"
    }


def test_starts_at_start_and_is_in_event_time_order(events: list[SimEvent]) -> None:
    assert events[0].at == START.timestamp()
    times = [e.at for e in events]
    assert times == sorted(times)
    for e in events:
        assert e.at == epoch_seconds(e.event.occurred_at)


def test_every_event_is_a_valid_contract_event(events: list[SimEvent]) -> None:
    for e in events:
        decoded = decode(encode(e.event))
        assert not isinstance(decoded, Rejection), (decoded, e)
        assert decoded == e.event
        assert e.kind == decoded.topic_kind
        assert e.key == decoded.contact_id


def test_event_ids_are_unique(events: list[SimEvent]) -> None:
    ids = [e.event.event_id for e in events]
    assert len(set(ids)) == len(ids)


def test_the_mix_has_every_type(events: list[SimEvent]) -> None:
    seen = {type(e.event) for e in events}
    assert seen == CALL_TYPES | TICKET_TYPES | OTHER_TYPES
    queues = {e.event.queue for e in events if isinstance(e.event, CallQueued | TicketCreated)}
    assert queues == {q.name for q in DEFAULT_QUEUES}
    channels = {e.event.channel for e in events if isinstance(e.event, TicketCreated)}
    assert channels == {"chat", "email", "web", "social"}
    authors = {
        (e.event.author, e.event.public) for e in events if isinstance(e.event, TicketMessageAdded)
    }
    assert authors == {("agent", True), ("agent", False), ("customer", True), ("bot", True)}
    statuses = {e.event.status for e in events if isinstance(e.event, TicketStatusChanged)}
    assert statuses == {"pending", "open", "on_hold", "solved", "closed"}
    states = {e.event.state for e in events if isinstance(e.event, AgentStateChanged)}
    assert states == {"available", "busy", "after_call_work", "away"}
    kinds = {e.event.kind for e in events if isinstance(e.event, SurveyResponded)}
    assert kinds == {"csat", "nps"}


def by_contact(events: list[SimEvent], kind: str) -> dict[str, list[SimEvent]]:
    contacts: dict[str, list[SimEvent]] = defaultdict(list)
    for e in events:
        if e.kind == kind and not isinstance(e.event, SurveyResponded):
            contacts[e.key].append(e)
    return contacts


def test_call_lifecycles_are_valid(events: list[SimEvent]) -> None:
    calls = by_contact(events, "calls")
    assert len(calls) > 100
    for call_id, history in calls.items():
        rings = [e for e in history if isinstance(e.event, CallOffered | CallOfferMissed)]
        check_rings(call_id, history, rings)
        names = [type(e.event).__name__ for e in history if e not in rings]
        assert names[0] == "CallQueued", (call_id, names)
        assert names.count("CallQueued") == 1
        outcome = [
            n for n in names if n in ("CallAnswered", "CallAbandoned", "CallCallbackRequested")
        ]
        assert len(outcome) <= 1, (call_id, names)
        if outcome == ["CallAbandoned"]:
            assert names == ["CallQueued", "CallAbandoned"], (call_id, names)
            continue
        if outcome == ["CallCallbackRequested"]:  # the callback may come after the sample
            expected = ["CallQueued", "CallCallbackRequested", "CallCallbackCompleted"]
            assert names == expected[: len(names)], (call_id, names)
            continue
        # queued, answered, (hold started, hold ended)*, ended or transferred, wrapup (a hang-up
        # on hold ends the call in its last hold); the sample may end early
        holds = [n for n in names if n.startswith("CallHold")]
        assert holds == ["CallHoldStarted", "CallHoldEnded"] * (len(holds) // 2) + [
            "CallHoldStarted"
        ] * (len(holds) % 2), names
        end = "CallTransferred" if "CallTransferred" in names else "CallEnded"
        expected = ["CallQueued", "CallAnswered", *holds, end, "CallWrapupCompleted"]
        assert names == expected[: len(names)], (call_id, names)
        queued = history[0].event
        assert isinstance(queued, CallQueued)
        if queued.transferred_from is not None:  # the new leg of a transfer
            assert call_id.endswith(".t") and end == "CallEnded", (call_id, names)
            first = calls[call_id.removesuffix(".t")]
            transfer = next(e for e in first if isinstance(e.event, CallTransferred))
            assert isinstance(transfer.event, CallTransferred)
            assert transfer.event.to == queued.queue != queued.transferred_from
            assert transfer.at == history[0].at


def check_rings(call_id: str, history: list[SimEvent], rings: list[SimEvent]) -> None:
    """A connected call rings its agent first (``call.offered``), once more after a missed ring;
    an abandoned call rang nobody (the caller cannot leave while it rings)."""
    answered = [e.event for e in history if isinstance(e.event, CallAnswered)]
    names = [type(e.event).__name__ for e in rings]
    if not answered:
        assert names in ([], ["CallOffered"], ["CallOffered", "CallOfferMissed", "CallOffered"],
                         ["CallOffered", "CallOfferMissed"]), (call_id, names)  # fmt: skip
        return
    assert names in (["CallOffered"], ["CallOffered", "CallOfferMissed", "CallOffered"])
    (answer,) = answered
    assert {r.event.agent_id for r in rings if hasattr(r.event, "agent_id")} == {answer.agent_id}
    assert all(r.at <= history[[e.event for e in history].index(answer)].at for r in rings)


def test_rings_missed_rings_and_away_reasons_are_made_and_bounded(events: list[SimEvent]) -> None:
    offered = sum(isinstance(e.event, CallOffered) for e in events)
    missed = [e.event for e in events if isinstance(e.event, CallOfferMissed)]
    answered = sum(isinstance(e.event, CallAnswered) for e in events)
    assert offered == answered + len(missed) + sum(
        1 for c in by_contact(events, "calls").values()
        if isinstance(c[-1].event, CallOffered)  # still ringing when the sample ends
    )  # fmt: skip
    assert missed and {m.reason for m in missed} == {"no_answer", "rejected"}
    away = [
        e.event
        for e in events
        if isinstance(e.event, AgentStateChanged) and e.event.state == "away"
    ]
    assert away and {a.reason for a in away} == set(AWAY_REASONS)
    others = {e.event.reason for e in events if isinstance(e.event, AgentStateChanged)} - {
        *AWAY_REASONS
    }
    assert others == {None}


def test_calls_are_answered_by_an_agent_of_their_queue(events: list[SimEvent]) -> None:
    queue_of = {e.key: e.event.queue for e in events if isinstance(e.event, CallQueued)}
    agent_queues: dict[str, tuple[str, ...]] = {}
    for e in events:
        if isinstance(e.event, AgentStateChanged):
            assert e.event.queues is not None
            agent_queues[e.event.agent_id] = e.event.queues
        if isinstance(e.event, CallAnswered):
            assert queue_of[e.key] in agent_queues[e.event.agent_id]


def test_ticket_lifecycles_are_valid(events: list[SimEvent]) -> None:
    tickets = by_contact(events, "tickets")
    assert len(tickets) > 100
    reopened = 0
    for ticket_id, history in tickets.items():
        assert isinstance(history[0].event, TicketCreated), ticket_id
        assert sum(isinstance(e.event, TicketCreated) for e in history) == 1
        status = "open"
        for e in history[1:]:
            if isinstance(e.event, TicketStatusChanged):
                assert e.event.status != status, (ticket_id, status)
                if status in ("solved", "closed") and e.event.status == "open":
                    reopened += 1
                if e.event.status == "closed":
                    assert status == "solved", ticket_id
                status = e.event.status
    assert reopened > 0


def test_surveys_follow_their_contact(events: list[SimEvent]) -> None:
    ended_at: dict[str, float] = {}
    for e in events:
        if isinstance(e.event, CallWrapupCompleted):
            ended_at[e.key] = e.at
        elif isinstance(e.event, TicketStatusChanged) and e.event.status == "solved":
            ended_at.setdefault(e.key, e.at)
        elif isinstance(e.event, SurveyResponded):
            assert e.event.queue is not None
            assert e.key in ended_at and ended_at[e.key] <= e.at
            low, high = (1, 5) if e.event.kind == "csat" else (0, 10)
            assert low <= e.event.score <= high


def test_some_tickets_wait_long_for_a_first_response() -> None:
    sim = Simulation(seed=5, start=START, rate_multiplier=0.3)
    created: dict[str, float] = {}
    answered: set[str] = set()
    for e in sim.events(until=START.timestamp() + 12 * 3600):
        if isinstance(e.event, TicketCreated):
            created[e.key] = e.at
        elif (
            isinstance(e.event, TicketMessageAdded) and e.event.author == "agent" and e.event.public
        ):
            answered.add(e.key)
    early = [t for t, at in created.items() if at < START.timestamp() + 6 * 3600]
    unanswered = [t for t in early if t not in answered]
    assert 0 < len(unanswered) < len(early) / 4


def test_until_stops_before_the_end_and_rate_scales_traffic() -> None:
    end = START.timestamp() + 1800
    normal = list(Simulation(seed=9, start=START).events(until=end))
    busy = list(Simulation(seed=9, start=START, rate_multiplier=4).events(until=end))
    assert normal and all(e.at < end for e in normal)
    offered = sum(isinstance(e.event, CallQueued) for e in normal)
    offered_busy = sum(isinstance(e.event, CallQueued) for e in busy)
    assert 2.5 * offered < offered_busy < 6 * offered


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        Simulation(seed=1, start=START, rate_multiplier=0)
    with pytest.raises(ValueError):
        Simulation(seed=1, start=datetime(2026, 11, 22, 8, 0))  # naive: no offset
    with pytest.raises(ValueError):
        Contaminator(1.5, seed=1)


def test_contaminator_makes_rejects_and_exact_duplicates(events: list[SimEvent]) -> None:
    dirt = Contaminator(0.5, seed=3)
    labels: dict[str, int] = defaultdict(int)
    for e in events[:2000]:
        value = encode(e.event)
        for label, bad in dirt.after(e.kind, value):
            labels[label] += 1
            if label == "duplicate":
                assert bad == value
                continue
            rejection = decode(bad)
            assert isinstance(rejection, Rejection)
            assert rejection.reason == label
            routed = route(bad)
            if label != "invalid_json":  # a rejected message still routes to its topic and key
                assert routed is not None and routed[:2] == (e.kind, e.key)
    assert set(labels) == {"duplicate", "invalid_json", "unknown_type", "missing_field"}
    assert 800 < sum(labels.values()) < 1200
    assert Contaminator(0.0, seed=3).after("calls", b"{}") == []


def test_recorded_events_route_to_their_topic_and_key(events: list[SimEvent]) -> None:
    """What ``replay`` does with a recording (``stream.contract.topics.route``: test_topics.py)."""
    for e in events[:500]:
        assert route(encode(e.event)) == (e.kind, e.key, e.at)


def test_write_ndjson_records_the_events(tmp_path: Path, events: list[SimEvent]) -> None:
    path = tmp_path / "events.ndjson"
    assert write_ndjson(path, 1000, seed=42, start=START) == 1000
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1000
    assert lines == [encode(e.event) for e in events[:1000]]


def test_a_recording_can_end_now_with_the_same_events_shifted() -> None:
    end = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    start = start_ending_at(end, 500, seed=7)
    shifted = Simulation(seed=7, start=start).take(500)
    original = Simulation(seed=7, start=end).take(500)
    assert shifted[-1].at == epoch_seconds(end)
    offset = epoch_seconds(end) - epoch_seconds(start)
    assert [round(e.at + offset, 6) for e in shifted] == [round(e.at, 6) for e in original]
    assert [type(e.event) for e in shifted] == [type(e.event) for e in original]

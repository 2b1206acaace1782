"""Table-driven tests of stream/core/lifecycle.py: every call and ticket transition and its
facts."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from stream.contract.decoder import Rejection
from stream.contract.events import (
    Author,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHoldEnded,
    CallHoldStarted,
    CallQueued,
    CallWrapupCompleted,
    SurveyKind,
    SurveyResponded,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatus,
    TicketStatusChanged,
)
from stream.core.lifecycle import (
    ABANDONED,
    DONE,
    HOLD,
    QUEUED,
    TALKING,
    WRAPUP,
    CallRecord,
    Fact,
    TicketRecord,
    apply_call,
    apply_ticket,
    awaiting_first_response_since,
    backlog_status,
    finished,
    survey_fact,
    waiting_since,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Targets:
    answer_target_seconds: float = 20.0
    short_abandon_seconds: float = 5.0
    first_response_seconds: float = 60.0
    resolution_seconds: float = 3600.0
    handle_time_seconds: float = 360.0


TARGETS = Targets()


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


# --- events by short name: (name, seconds after T0) ----------------------------------------------

Step = tuple[str, float]


def call_event(name: str, seconds: float) -> Any:
    common: dict[str, Any] = {"event_id": f"{name}@{seconds}", "occurred_at": at(seconds)}
    common["call_id"] = "c1"
    if name == "queued":
        return CallQueued(queue="billing", channel="chat", **common)
    if name == "answered":
        return CallAnswered(agent_id="a1", **common)
    kinds = {
        "abandoned": CallAbandoned,
        "hold": CallHoldStarted,
        "unhold": CallHoldEnded,
        "ended": CallEnded,
        "wrapup": CallWrapupCompleted,
    }
    return kinds[name](**common)


def ticket_event(name: str, seconds: float) -> Any:
    common: dict[str, Any] = {"event_id": f"{name}@{seconds}", "occurred_at": at(seconds)}
    common["ticket_id"] = "t1"
    if name in ("created", "created_complaint"):
        category = "complaint" if name == "created_complaint" else "billing"
        return TicketCreated(queue="billing", channel="email", category=category, **common)
    messages: dict[str, tuple[Author, bool]] = {
        "reply": ("agent", True),
        "note": ("agent", False),
        "bot": ("bot", True),
        "customer": ("customer", True),
    }
    if name in messages:
        author, public = messages[name]
        return TicketMessageAdded(author=author, public=public, **common)
    if name == "assigned":
        return TicketAssigned(agent_id="a1", **common)
    if name == "escalated":
        return TicketEscalated(level=2, **common)
    return TicketStatusChanged(status=cast(TicketStatus, name), **common)


def run_call(steps: list[Step]) -> tuple[CallRecord, list[Fact]]:
    rec: CallRecord | None = None
    facts: list[Fact] = []
    for name, seconds in steps:
        # queue and channel passed in are the router's; they matter only on call.queued
        result = apply_call(
            rec, call_event(name, seconds), T0 + seconds, "billing", "chat", TARGETS
        )
        assert not isinstance(result, Rejection), (name, result)
        rec, new = result
        facts += new
    assert rec is not None
    return rec, facts


def run_ticket(steps: list[Step]) -> tuple[TicketRecord, list[Fact]]:
    rec: TicketRecord | None = None
    facts: list[Fact] = []
    for name, seconds in steps:
        ev = ticket_event(name, seconds)
        result = apply_ticket(rec, ev, T0 + seconds, "billing", "email", TARGETS)
        assert not isinstance(result, Rejection), (name, result)
        rec, new = result
        facts += new
    assert rec is not None
    return rec, facts


# --- calls ---------------------------------------------------------------------------------------

OFFERED: Fact = ("offered", "chat", 0.0, False)

# (events, facts, final phase, hold seconds)
CALLS: list[tuple[list[Step], list[Fact], int, float]] = [
    ([("queued", 0)], [OFFERED], QUEUED, 0.0),
    ([("queued", 0), ("answered", 12)], [OFFERED, ("answered", "chat", 12.0, True)], TALKING, 0.0),
    # the answer target is inclusive
    ([("queued", 0), ("answered", 20)], [OFFERED, ("answered", "chat", 20.0, True)], TALKING, 0.0),
    (
        [("queued", 0), ("answered", 20.5)],
        [OFFERED, ("answered", "chat", 20.5, False)],
        TALKING,
        0.0,
    ),
    # an answer stamped before the queue entry (clock skew) waits 0, not a negative time
    ([("queued", 10), ("answered", 8)], [OFFERED, ("answered", "chat", 0.0, True)], TALKING, 0.0),
    # short abandon: strictly under the threshold
    (
        [("queued", 0), ("abandoned", 4.5)],
        [OFFERED, ("abandoned", "chat", 4.5, True)],
        ABANDONED,
        0.0,
    ),
    (
        [("queued", 0), ("abandoned", 5)],
        [OFFERED, ("abandoned", "chat", 5.0, False)],
        ABANDONED,
        0.0,
    ),
    (
        [("queued", 0), ("answered", 10), ("ended", 100)],
        [OFFERED, ("answered", "chat", 10.0, True)],
        WRAPUP,
        0.0,
    ),
    # handle time = talk + ACW = wrapped − answered
    (
        [("queued", 0), ("answered", 10), ("ended", 100), ("wrapup", 130)],
        [OFFERED, ("answered", "chat", 10.0, True), ("handled", "chat", 120.0, True)],
        DONE,
        0.0,
    ),
    # the flag: handle time within the 360 s target, the boundary included
    (
        [("queued", 0), ("answered", 10), ("ended", 300), ("wrapup", 370)],
        [OFFERED, ("answered", "chat", 10.0, True), ("handled", "chat", 360.0, True)],
        DONE,
        0.0,
    ),
    (
        [("queued", 0), ("answered", 10), ("ended", 300), ("wrapup", 371)],
        [OFFERED, ("answered", "chat", 10.0, True), ("handled", "chat", 361.0, False)],
        DONE,
        0.0,
    ),
    # hold counts in handle time: talk 30 + hold 30 + talk 30 + ACW 30
    (
        [
            ("queued", 0),
            ("answered", 10),
            ("hold", 40),
            ("unhold", 70),
            ("ended", 100),
            ("wrapup", 130),
        ],
        [OFFERED, ("answered", "chat", 10.0, True), ("handled", "chat", 120.0, True)],
        DONE,
        30.0,
    ),
    # two holds; the call ends while on hold (the open hold is closed at the end)
    (
        [
            ("queued", 0),
            ("answered", 10),
            ("hold", 20),
            ("unhold", 25),
            ("hold", 40),
            ("ended", 70),
            ("wrapup", 100),
        ],
        [OFFERED, ("answered", "chat", 10.0, True), ("handled", "chat", 90.0, True)],
        DONE,
        35.0,
    ),
    (
        [("queued", 0), ("answered", 10), ("hold", 40)],
        [OFFERED, ("answered", "chat", 10.0, True)],
        HOLD,
        0.0,
    ),
]


@pytest.mark.parametrize(("steps", "facts", "phase", "hold"), CALLS)
def test_call_transitions(steps: list[Step], facts: list[Fact], phase: int, hold: float) -> None:
    rec, got = run_call(steps)
    assert got == facts
    assert rec.phase == phase
    assert rec.hold_seconds == hold
    assert (rec.queue, rec.channel, rec.queued_at) == ("billing", "chat", T0 + steps[0][1])
    assert rec.updated_at == T0 + steps[-1][1]


def test_call_record_fields_after_a_full_call() -> None:
    rec, _ = run_call([("queued", 0), ("answered", 10), ("hold", 40), ("ended", 70)])
    assert rec == CallRecord(
        queue="billing",
        channel="chat",
        queued_at=T0,
        phase=WRAPUP,
        answered_at=T0 + 10,
        ended_at=T0 + 70,
        hold_started_at=None,
        hold_seconds=30.0,
        updated_at=T0 + 70,
    )


# (events accepted before, the refused event)
INVALID_CALLS: list[tuple[list[Step], Step]] = [
    ([("queued", 0)], ("queued", 1)),
    ([("queued", 0), ("answered", 5)], ("queued", 6)),
    ([("queued", 0), ("answered", 5)], ("answered", 6)),
    ([("queued", 0), ("answered", 5)], ("abandoned", 6)),
    ([("queued", 0), ("abandoned", 5)], ("answered", 6)),
    ([("queued", 0), ("abandoned", 5)], ("abandoned", 6)),
    ([("queued", 0), ("abandoned", 5)], ("hold", 6)),
    ([("queued", 0), ("abandoned", 5)], ("ended", 6)),
    ([("queued", 0), ("abandoned", 5)], ("wrapup", 6)),
    ([("queued", 0)], ("hold", 1)),
    ([("queued", 0)], ("unhold", 1)),
    ([("queued", 0)], ("ended", 1)),
    ([("queued", 0)], ("wrapup", 1)),
    ([("queued", 0), ("answered", 5)], ("unhold", 6)),
    ([("queued", 0), ("answered", 5)], ("wrapup", 6)),
    ([("queued", 0), ("answered", 5), ("hold", 6)], ("hold", 7)),
    ([("queued", 0), ("answered", 5), ("hold", 6)], ("answered", 7)),
    ([("queued", 0), ("answered", 5), ("hold", 6)], ("wrapup", 7)),
    ([("queued", 0), ("answered", 5), ("ended", 6)], ("ended", 7)),
    ([("queued", 0), ("answered", 5), ("ended", 6)], ("hold", 7)),
    ([("queued", 0), ("answered", 5), ("ended", 6)], ("unhold", 7)),
    ([("queued", 0), ("answered", 5), ("ended", 6)], ("answered", 7)),
    ([("queued", 0), ("answered", 5), ("ended", 6), ("wrapup", 7)], ("wrapup", 8)),
    ([("queued", 0), ("answered", 5), ("ended", 6), ("wrapup", 7)], ("ended", 8)),
    ([("queued", 0), ("answered", 5), ("ended", 6), ("wrapup", 7)], ("answered", 8)),
    ([("queued", 0), ("answered", 5), ("ended", 6), ("wrapup", 7)], ("hold", 8)),
]


@pytest.mark.parametrize(("before", "bad"), INVALID_CALLS)
def test_invalid_call_transition_is_rejected_without_changing_the_record(
    before: list[Step], bad: Step
) -> None:
    rec, _ = run_call(before)
    snapshot = copy.deepcopy(rec)
    result = apply_call(rec, call_event(*bad), T0 + bad[1], "billing", "chat", TARGETS)
    assert isinstance(result, Rejection)
    assert result.reason == "invalid_transition"
    assert rec == snapshot


@pytest.mark.parametrize("name", ["answered", "abandoned", "hold", "unhold", "ended", "wrapup"])
def test_call_event_without_a_queued_call_is_an_unknown_contact(name: str) -> None:
    result = apply_call(None, call_event(name, 5), T0 + 5, "billing", "chat", TARGETS)
    assert isinstance(result, Rejection)
    assert result.reason == "unknown_contact"


def test_call_channel_and_queue_come_from_the_record() -> None:
    rec, _ = run_call([("queued", 0)])
    result = apply_call(rec, call_event("answered", 3), T0 + 3, "other", "phone", TARGETS)
    assert not isinstance(result, Rejection)
    assert result[1] == [("answered", "chat", 3.0, True)]
    assert (result[0].queue, result[0].channel) == ("billing", "chat")


def test_wrong_topic_events() -> None:
    call_rec, _ = run_call([("queued", 0)])
    ticket_rec, _ = run_ticket([("created", 0)])
    for result in (
        apply_call(call_rec, ticket_event("reply", 1), T0 + 1, "billing", "chat", TARGETS),
        apply_ticket(ticket_rec, call_event("answered", 1), T0 + 1, "billing", "email", TARGETS),
    ):
        assert isinstance(result, Rejection)
        assert result.reason == "wrong_topic"


# --- tickets -------------------------------------------------------------------------------------

CREATED: Fact = ("created", "email", 0.0, False)

# (events, facts, final status, first response at, first solved at, public agent messages,
#  reopened)
TICKETS: list[tuple[list[Step], list[Fact], str, float | None, float | None, int, int]] = [
    ([("created", 0)], [CREATED], "open", None, None, 0, 0),
    ([("created_complaint", 0)], [("created", "email", 0.0, True)], "open", None, None, 0, 0),
    # first response: the first public agent message; the target (60 s) is inclusive
    (
        [("created", 0), ("reply", 60)],
        [CREATED, ("first_response", "email", 60.0, True)],
        "open",
        60.0,
        None,
        1,
        0,
    ),
    (
        [("created", 0), ("reply", 61)],
        [CREATED, ("first_response", "email", 61.0, False)],
        "open",
        61.0,
        None,
        1,
        0,
    ),
    # bots, customers and private notes are never a first response
    (
        [("created", 0), ("customer", 5), ("bot", 10), ("note", 20), ("reply", 90), ("reply", 95)],
        [CREATED, ("first_response", "email", 90.0, False)],
        "open",
        90.0,
        None,
        2,
        0,
    ),
    (
        [("created", 0), ("bot", 10), ("note", 20), ("customer", 30)],
        [CREATED],
        "open",
        None,
        None,
        0,
        0,
    ),
    ([("created", 0), ("assigned", 5)], [CREATED], "open", None, None, 0, 0),
    # only the first escalation books
    (
        [("created", 0), ("escalated", 5), ("escalated", 9)],
        [CREATED, ("escalated", "email", 0.0, False)],
        "open",
        None,
        None,
        0,
        0,
    ),
    # the same status again changes nothing
    ([("created", 0), ("open", 5)], [CREATED], "open", None, None, 0, 0),
    ([("created", 0), ("pending", 5), ("on_hold", 9)], [CREATED], "on_hold", None, None, 0, 0),
    # solved: first resolution (creation → solved, target 3600 s inclusive) and a solve
    (
        [("created", 0), ("pending", 100), ("solved", 3600)],
        [CREATED, ("first_resolution", "email", 3600.0, True), ("solved", "email", 0.0, True)],
        "solved",
        None,
        3600.0,
        0,
        0,
    ),
    (
        [("created", 0), ("solved", 3601)],
        [CREATED, ("first_resolution", "email", 3601.0, False), ("solved", "email", 0.0, True)],
        "solved",
        None,
        3601.0,
        0,
        0,
    ),
    # solved → closed is not a reopen
    (
        [("created", 0), ("solved", 100), ("closed", 200)],
        [
            CREATED,
            ("first_resolution", "email", 100.0, True),
            ("solved", "email", 0.0, True),
            ("full_resolution", "email", 100.0, False),  # at the first close
        ],
        "closed",
        None,
        100.0,
        0,
        0,
    ),
    # solved → open is a reopen; the second solve is a solve but not a first resolution; the
    # first was one-touch (≤ 1 public agent message), the reopen within 7 days takes it back,
    # and a solve after a reopen is never one-touch
    (
        [("created", 0), ("solved", 100), ("open", 200), ("solved", 300)],
        [
            CREATED,
            ("first_resolution", "email", 100.0, True),
            ("solved", "email", 0.0, True),
            ("reopened", "email", 0.0, False),
            ("one_touch_reopened", "email", T0 + 100, False),
            ("solved", "email", 0.0, False),
        ],
        "solved",
        None,
        100.0,
        0,
        1,
    ),
    # closed → pending is a reopen too
    (
        [("created", 0), ("solved", 100), ("closed", 200), ("pending", 300)],
        [
            CREATED,
            ("first_resolution", "email", 100.0, True),
            ("solved", "email", 0.0, True),
            ("full_resolution", "email", 100.0, False),
            ("reopened", "email", 0.0, False),
            ("one_touch_reopened", "email", T0 + 100, False),
        ],
        "pending",
        None,
        100.0,
        0,
        1,
    ),
    # full resolution is created → last solved, observed once at the first close
    (
        [
            ("created", 0),
            ("solved", 100),
            ("open", 200),
            ("solved", 300),
            ("closed", 400),
            ("open", 500),
            ("solved", 600),
            ("closed", 700),
        ],
        [
            CREATED,
            ("first_resolution", "email", 100.0, True),
            ("solved", "email", 0.0, True),
            ("reopened", "email", 0.0, False),
            ("one_touch_reopened", "email", T0 + 100, False),
            ("solved", "email", 0.0, False),
            ("full_resolution", "email", 300.0, False),
            ("reopened", "email", 0.0, False),
            ("solved", "email", 0.0, False),
        ],
        "closed",
        None,
        100.0,
        0,
        2,
    ),
    # closed without ever being solved: no resolution
    ([("created", 0), ("closed", 100)], [CREATED], "closed", None, None, 0, 0),
    # a reopen does not restart the first response time
    (
        [("created", 0), ("reply", 30), ("solved", 100), ("open", 200), ("reply", 250)],
        [
            CREATED,
            ("first_response", "email", 30.0, True),
            ("first_resolution", "email", 100.0, True),
            ("solved", "email", 0.0, True),
            ("reopened", "email", 0.0, False),
            ("one_touch_reopened", "email", T0 + 100, False),
        ],
        "open",
        30.0,
        100.0,
        2,
        1,
    ),
    # two public replies: not one-touch; a one-touch solve reopened after 7 days stays one
    (
        [("created", 0), ("reply", 30), ("reply", 40), ("solved", 100)],
        [
            CREATED,
            ("first_response", "email", 30.0, True),
            ("first_resolution", "email", 100.0, True),
            ("solved", "email", 0.0, False),
        ],
        "solved",
        30.0,
        100.0,
        2,
        0,
    ),
    (
        [("created", 0), ("solved", 100), ("open", 100 + 7 * 86400 + 1)],
        [
            CREATED,
            ("first_resolution", "email", 100.0, True),
            ("solved", "email", 0.0, True),
            ("reopened", "email", 0.0, False),
        ],
        "open",
        None,
        100.0,
        0,
        1,
    ),
]


@pytest.mark.parametrize(
    ("steps", "facts", "status", "frt_at", "solved_at", "agent_messages", "reopened"), TICKETS
)
def test_ticket_transitions(
    steps: list[Step],
    facts: list[Fact],
    status: str,
    frt_at: float | None,
    solved_at: float | None,
    agent_messages: int,
    reopened: int,
) -> None:
    rec, got = run_ticket(steps)
    assert got == facts
    assert rec.status == status
    assert rec.first_response_at == (None if frt_at is None else T0 + frt_at)
    assert rec.first_solved_at == (None if solved_at is None else T0 + solved_at)
    assert rec.public_agent_messages == agent_messages
    assert rec.reopened == reopened
    assert (rec.queue, rec.channel, rec.created_at) == ("billing", "email", T0)


def test_ticket_updated_at_never_goes_back() -> None:
    rec, _ = run_ticket([("created", 0), ("pending", 100), ("note", 50)])
    assert rec.updated_at == T0 + 100


def test_ticket_created_twice_is_an_invalid_transition() -> None:
    rec, _ = run_ticket([("created", 0), ("pending", 5)])
    snapshot = copy.deepcopy(rec)
    result = apply_ticket(rec, ticket_event("created", 9), T0 + 9, "billing", "email", TARGETS)
    assert isinstance(result, Rejection)
    assert result.reason == "invalid_transition"
    assert rec == snapshot


@pytest.mark.parametrize("name", ["reply", "note", "assigned", "escalated", "solved", "closed"])
def test_ticket_event_without_a_created_ticket_is_an_unknown_contact(name: str) -> None:
    result = apply_ticket(None, ticket_event(name, 5), T0 + 5, "billing", "email", TARGETS)
    assert isinstance(result, Rejection)
    assert result.reason == "unknown_contact"


@pytest.mark.parametrize(
    ("kind", "score", "fact"),
    [("csat", 4, ("survey", "csat", 4.0, False)), ("nps", 0, ("survey", "nps", 0.0, False))],
)
def test_survey_fact(kind: SurveyKind, score: int, fact: Fact) -> None:
    ev = SurveyResponded(event_id="s", occurred_at=at(0), kind=kind, score=score, ticket_id="t1")
    assert survey_fact(ev) == fact


# --- what records contribute to the live gauges --------------------------------------------------


# (call events, waiting since, finished)
CALL_LIVE: list[tuple[list[Step], float | None, bool]] = [
    ([("queued", 7)], T0 + 7, False),
    ([("queued", 7), ("answered", 9)], None, False),
    ([("queued", 7), ("answered", 9), ("hold", 10)], None, False),
    ([("queued", 7), ("answered", 9), ("ended", 10)], None, False),
    ([("queued", 7), ("answered", 9), ("ended", 10), ("wrapup", 11)], None, True),
    ([("queued", 7), ("abandoned", 9)], None, True),
]


@pytest.mark.parametrize(("steps", "since", "done"), CALL_LIVE)
def test_call_live_contribution(steps: list[Step], since: float | None, done: bool) -> None:
    rec, _ = run_call(steps)
    assert waiting_since(rec) == since
    assert backlog_status(rec) is None
    assert awaiting_first_response_since(rec) is None
    assert finished(rec) is done


# (ticket events, backlog status, awaiting first response since, finished)
TICKET_LIVE: list[tuple[list[Step], str | None, float | None, bool]] = [
    ([("created", 0)], "open", T0, False),
    ([("created", 0), ("bot", 5)], "open", T0, False),
    ([("created", 0), ("reply", 5)], "open", None, False),
    ([("created", 0), ("pending", 5)], "pending", T0, False),
    ([("created", 0), ("on_hold", 5)], "on_hold", T0, False),
    ([("created", 0), ("solved", 5)], None, None, False),  # solved: out of backlog, not finished
    ([("created", 0), ("solved", 5), ("closed", 6)], None, None, True),
    ([("created", 0), ("closed", 6)], None, None, True),
    ([("created", 0), ("closed", 6), ("open", 7)], "open", T0, False),  # reopened
]


@pytest.mark.parametrize(("steps", "status", "since", "done"), TICKET_LIVE)
def test_ticket_live_contribution(
    steps: list[Step], status: str | None, since: float | None, done: bool
) -> None:
    rec, _ = run_ticket(steps)
    assert backlog_status(rec) == status
    assert awaiting_first_response_since(rec) == since
    assert waiting_since(rec) is None
    assert finished(rec) is done

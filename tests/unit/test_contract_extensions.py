"""The connectors' contract additions in the worker: exits, transfers and missed offers.

Each valid and invalid transition of ``stream.core.lifecycle.apply_call`` for ``call.exited``,
``call.transferred`` and ``call.offer_missed``, the facts they book, and their export as
``contact_centre_calls_exited_total``, ``..._calls_transferred_total`` and
``..._call_offers_missed_total`` (every reason/kind zero-started per channel).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from stream.contract.decoder import Rejection, decode, encode
from stream.contract.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallExited,
    CallHoldStarted,
    CallOfferMissed,
    CallQueued,
    CallTransferred,
    CallWrapupCompleted,
)
from stream.core.lifecycle import (
    EXITED,
    WRAPUP,
    finished,
    live_view,
)
from stream.export.metrics import CHANNELS, build
from stream.export.totals import TOTALS_FAMILIES
from stream.read import QueueAt, WorkerAt
from stream.stages.aggregate import Aggregator, QueueRecord, _book_fact
from tests.factories import CallEvents
from tests.factories import run_calls as run

T0 = 1_795_305_600.0
ev = CallEvents(T0)
at = ev.at


QUEUED = ev(CallQueued, 0, queue="billing")


@pytest.mark.parametrize("reason", ["timeout", "empty", "key"])
def test_a_waiting_call_exits_finished_and_not_waiting(reason: str) -> None:
    rec, facts = run(QUEUED, ev(CallExited, 42, reason=reason))
    assert rec is not None and rec.phase == EXITED
    assert facts == [("offered", "phone", 0.0, False), (f"exited:{reason}", "phone", 42.0, False)]
    assert finished(rec)
    assert live_view(rec) == (None, None, None)  # left the waiting calls


@pytest.mark.parametrize(
    "before",
    [
        [ev(CallAnswered, 5, agent_id="a1")],
        [ev(CallAnswered, 5, agent_id="a1"), ev(CallHoldStarted, 6)],
        [ev(CallAnswered, 5, agent_id="a1"), ev(CallEnded, 9)],
        [ev(CallAnswered, 5, agent_id="a1"), ev(CallEnded, 9), ev(CallWrapupCompleted, 12)],
        [ev(CallExited, 5, reason="timeout")],
    ],
)
def test_exit_of_a_call_not_waiting_is_an_invalid_transition(before: list[Any]) -> None:
    _, facts = run(QUEUED, *before, ev(CallExited, 30, reason="key", key="0"))
    assert isinstance(facts[-1], Rejection) and facts[-1].reason == "invalid_transition"
    assert "call exited in phase" in facts[-1].detail


def test_exit_of_an_unknown_call_is_unknown_contact() -> None:
    _, facts = run(ev(CallExited, 3, reason="empty"))
    assert facts == [Rejection("unknown_contact", "no call.queued seen for this call")]


@pytest.mark.parametrize("kind", ["blind", "attended"])
def test_transfer_ends_the_talk_and_wrapup_counts_handle_time(kind: str) -> None:
    rec, facts = run(
        QUEUED,
        ev(CallAnswered, 10, agent_id="a1"),
        ev(CallTransferred, 70, kind=kind, to="2001"),
        ev(CallWrapupCompleted, 100),
    )
    assert rec is not None and finished(rec)
    assert facts[1:] == [
        ("answered", "phone", 10.0, True),
        (f"transferred:{kind}", "phone", 0.0, False),
        ("handled", "phone", 90.0, True),
    ]


def test_transfer_on_hold_closes_the_hold() -> None:
    rec, _ = run(
        QUEUED,
        ev(CallAnswered, 10, agent_id="a1"),
        ev(CallHoldStarted, 20),
        ev(CallTransferred, 50, kind="attended"),
    )
    assert rec is not None and rec.phase == WRAPUP
    assert rec.hold_seconds == 30.0 and rec.hold_started_at is None and rec.ended_at == T0 + 50


@pytest.mark.parametrize(
    "before",
    [
        [],
        [ev(CallAnswered, 5, agent_id="a1"), ev(CallEnded, 9)],
        [ev(CallExited, 5, reason="timeout")],
    ],
)
def test_transfer_when_not_connected_is_an_invalid_transition(before: list[Any]) -> None:
    _, facts = run(QUEUED, *before, ev(CallTransferred, 30, kind="blind"))
    assert isinstance(facts[-1], Rejection) and facts[-1].reason == "invalid_transition"
    assert "call transferred in phase" in facts[-1].detail


@pytest.mark.parametrize(
    "before",
    [
        [],
        [ev(CallAnswered, 5, agent_id="a1")],
        [ev(CallAnswered, 5, agent_id="a1"), ev(CallEnded, 9), ev(CallWrapupCompleted, 12)],
        [ev(CallExited, 5, reason="timeout")],
    ],
)
@pytest.mark.parametrize("reason", ["no_answer", "rejected", "canceled"])
def test_a_missed_offer_in_any_phase_changes_no_phase(before: list[Any], reason: str) -> None:
    rec0, _ = run(QUEUED, *before)
    assert rec0 is not None
    phase = rec0.phase
    rec, facts = run(
        QUEUED, *before, ev(CallOfferMissed, 30, agent_id="a2", reason=reason, ring_seconds=15)
    )
    assert rec is not None and rec.phase == phase
    assert facts[-1] == (f"offer_missed:{reason}", "phone", 15.0, False)


def test_a_missed_offer_of_an_unknown_call_is_unknown_contact() -> None:
    _, facts = run(ev(CallOfferMissed, 3, agent_id="a2", reason="rejected"))
    assert isinstance(facts[0], Rejection) and facts[0].reason == "unknown_contact"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "call.exited"}, "missing_field"),
        ({"type": "call.exited", "reason": "bored"}, "invalid_enum"),
        ({"type": "call.exited", "reason": "key", "position": 0}, "out_of_range"),
        ({"type": "call.transferred", "kind": "warm"}, "invalid_enum"),
        ({"type": "call.transferred", "kind": "blind", "to": ""}, "invalid_field"),
        ({"type": "call.offer_missed", "reason": "no_answer"}, "missing_field"),
        ({"type": "call.offer_missed", "agent_id": "a", "reason": "x"}, "invalid_enum"),
        (
            {
                "type": "call.offer_missed",
                "agent_id": "a",
                "reason": "rejected",
                "ring_seconds": -1,
            },
            "out_of_range",
        ),
    ],
)
def test_bad_new_events_are_rejected_with_a_reason(event: dict[str, Any], reason: str) -> None:
    import json

    raw = {"event_id": "e", "occurred_at": "2026-11-22T14:00:00Z", "call_id": "c1", **event}
    result = decode(json.dumps(raw).encode())
    assert isinstance(result, Rejection) and result.reason == reason, result


def test_agent_reason_round_trips_and_is_bounded() -> None:
    e = AgentStateChanged(
        event_id="e", occurred_at=at(0), agent_id="a1", state="away", reason="lunch"
    )
    assert decode(encode(e)) == e
    too_long = encode(e).replace(b'"lunch"', b'"' + b"x" * 65 + b'"')
    result = decode(too_long)
    assert isinstance(result, Rejection) and result.reason == "invalid_field"


def test_export_zero_starts_every_reason_and_counts_exactly() -> None:
    q = QueueRecord("billing")
    for kind in ("exited:timeout", "exited:timeout", "exited:key", "transferred:blind",
                 "offer_missed:canceled"):  # fmt: skip
        _book_fact(q.totals, [], kind, "phone", 0.0, False)
    # Only the totals are read: the queue's view needs no aggregator for them.
    known = QueueAt(cast(Aggregator, None), q, None, None, 0.0)
    at = cast(WorkerAt, SimpleNamespace(known=[known]))
    counters = {f.name: build(f, at) for f in TOTALS_FAMILIES}

    def values(name: str) -> dict[tuple[str, ...], float]:
        return {
            tuple(s.labels.values()): s.value
            for s in counters[name].samples
            if s.name.endswith("_total")
        }

    exited = values("calls_exited")
    assert len(exited) == 3 * len(CHANNELS)
    assert exited[("billing", "phone", "timeout")] == 2
    assert exited[("billing", "phone", "key")] == 1
    assert exited[("billing", "phone", "empty")] == 0
    assert sum(exited.values()) == 3
    transferred = values("calls_transferred")
    assert len(transferred) == 2 * len(CHANNELS)
    assert transferred[("billing", "phone", "blind")] == 1 and sum(transferred.values()) == 1
    missed = values("call_offers_missed")
    assert len(missed) == 3 * len(CHANNELS)
    assert missed[("billing", "phone", "canceled")] == 1 and sum(missed.values()) == 1
    # exits are not abandons and not answered
    assert q.totals.counters.get("abandoned") is None and q.totals.counters.get("answered") is None

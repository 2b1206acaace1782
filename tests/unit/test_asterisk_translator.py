"""The Asterisk queue_log translator: real-shaped lines (as app_queue.c formats them) in,
exact contract event dicts out; bad lines rejected with a reason; state survives a dump/load."""

from __future__ import annotations

from typing import cast

import pytest

from stream.connectors.asterisk.call_state import dump, load
from stream.connectors.asterisk.queue_log import Line, Malformed, parse
from stream.connectors.asterisk.settings import (
    AsteriskConfig,
    AsteriskConfigError,
    parse_config,
)
from stream.connectors.asterisk.translator import Outcome, Translator

T0 = 1_796_000_000  # 2026-11-29T...Z
U = "1796000000.42"  # an Asterisk uniqueid: epoch.sequence
CONFIG = AsteriskConfig(
    wrapuptime=0,
    queue_names={"600": "sales"},
    wrapuptimes={"600": 15},
    agent_ids={"PJSIP/201": "ana", "Agent/1001": "bob", "1001": "bob"},
)


def _at(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(lines: list[str], config: AsteriskConfig = CONFIG) -> tuple[Translator, list[Outcome]]:
    translator = Translator(config)
    outcomes = []
    for text in lines:
        parsed = parse(text.encode())
        assert isinstance(parsed, Line), parsed
        outcomes.append(translator.translate(parsed))
    return translator, outcomes


def _types(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for o in outcomes:
        for e in o.events:
            detail = e.get("state") or e.get("reason") or e.get("kind") or ""
            rows.append((str(e["type"]), str(detail), str(e["occurred_at"])))
    return rows


ENTER = f"{T0}|{U}|600|NONE|ENTERQUEUE||0612345678|1|Alice"
CONNECT = f"{T0 + 12}|{U}|600|PJSIP/201|CONNECT|12|1796000012.43|3"


def test_a_call_from_queue_to_wrapup() -> None:
    translator, outcomes = _run(
        [
            f"{T0 - 5}|MANAGER|600|PJSIP/201|ADDMEMBER|",
            ENTER,
            CONNECT,
            f"{T0 + 100}|{U}|600|PJSIP/201|COMPLETECALLER|12|88|1",
            f"{T0 + 120}|NONE|NONE|NONE|QUEUESTART|",
        ]
    )
    assert outcomes[0].events == [
        {
            "type": "agent.state_changed",
            "event_id": f"asterisk:MANAGER:ADDMEMBER:{T0 - 5}:600:ana:state",
            "occurred_at": _at(T0 - 5),
            "agent_id": "ana",
            "state": "available",
            "queues": ["sales"],
        }
    ]
    assert outcomes[1].events == [
        {
            "type": "call.queued",
            "event_id": f"asterisk:{U}:ENTERQUEUE:{T0}",
            "occurred_at": _at(T0),
            "call_id": "1796000000.42",
            "queue": "sales",
            "channel": "phone",
        }
    ]
    assert outcomes[2].events[0] == {
        "type": "call.answered",
        "event_id": f"asterisk:{U}:CONNECT:{T0 + 12}",
        "occurred_at": _at(T0 + 12),
        "call_id": "1796000000.42",
        "agent_id": "ana",
    }
    assert _types(outcomes[2:]) == [
        ("call.answered", "", _at(T0 + 12)),
        ("agent.state_changed", "busy", _at(T0 + 12)),
        ("call.ended", "", _at(T0 + 100)),
        ("agent.state_changed", "after_call_work", _at(T0 + 100)),
        # the queue's wrapuptime (15 s) ends before the next line: fired by it, at its own time
        ("call.wrapup_completed", "", _at(T0 + 115)),
        ("agent.state_changed", "available", _at(T0 + 115)),
    ]
    assert outcomes[3].events[0]["ended_by"] == "customer"  # COMPLETECALLER: the caller hung up
    assert outcomes[4].ignored == "QUEUESTART"
    assert outcomes[4].events[0]["event_id"] == "asterisk:1796000000.42:WRAPUP:" + str(T0 + 115)
    assert translator.state.calls == {}


def test_wrapup_fires_on_the_clock_and_not_twice() -> None:
    translator, _ = _run([ENTER, CONNECT, f"{T0 + 100}|{U}|600|PJSIP/201|COMPLETEAGENT|12|88|1"])
    assert translator.advance(T0 + 115) == []  # due at +115: not before it
    events = translator.advance(T0 + 115, inclusive=True)
    assert [e["type"] for e in events] == ["call.wrapup_completed", "agent.state_changed"]
    assert translator.advance(T0 + 1000, inclusive=True) == []


def test_zero_wrapuptime_completes_at_once() -> None:
    _, outcomes = _run(
        [
            f"{T0}|77.1|support|NONE|ENTERQUEUE||555|1",
            f"{T0 + 3}|77.1|support|SIP/202|CONNECT|3|77.2|2",
            f"{T0 + 9}|77.1|support|SIP/202|COMPLETEAGENT|3|6|1",
        ]
    )
    assert _types(outcomes[2:]) == [
        ("call.ended", "", _at(T0 + 9)),
        ("call.wrapup_completed", "", _at(T0 + 9)),
        ("agent.state_changed", "available", _at(T0 + 9)),
    ]
    assert outcomes[2].events[0]["ended_by"] == "agent"  # COMPLETEAGENT: the member hung up
    # a static member (no ADDMEMBER) joins the queue of its call
    assert outcomes[1].events[1]["queues"] == ["support"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            f"{T0 + 30}|{U}|600|NONE|ABANDON|1|1|30",
            {"type": "call.abandoned"},
        ),
        (
            f"{T0 + 300}|{U}|600|NONE|EXITWITHTIMEOUT|2|1|300",
            {"type": "call.exited", "reason": "timeout", "position": 2},
        ),
        (
            f"{T0 + 5}|{U}|600|NONE|EXITEMPTY|1|1|5",
            {"type": "call.exited", "reason": "empty", "position": 1},
        ),
        (
            f"{T0 + 20}|{U}|600|NONE|EXITWITHKEY|5|3|1|20",
            {"type": "call.exited", "reason": "key", "key": "5", "position": 3},
        ),
    ],
)
def test_leaving_the_queue(line: str, expected: dict[str, object]) -> None:
    translator, outcomes = _run([ENTER, line])
    (event,) = outcomes[1].events
    epoch, _, _, _, name = line.split("|")[:5]
    assert event == {
        **expected,
        "event_id": f"asterisk:{U}:{name}:{epoch}",
        "occurred_at": _at(int(epoch)),
        "call_id": "1796000000.42",
    }
    assert translator.state.calls == {}


@pytest.mark.parametrize(
    ("line", "kind", "to"),
    [
        (f"{T0 + 50}|{U}|600|PJSIP/201|BLINDTRANSFER|2001|from-internal|12|38|1", "blind", "2001@from-internal"),  # noqa: E501
        (f"{T0 + 50}|{U}|600|PJSIP/201|TRANSFER|700|from-queue|12|38", "blind", "700@from-queue"),
        (f"{T0 + 50}|{U}|600|PJSIP/201|ATTENDEDTRANSFER|APP|VoiceMail|12|38|1", "attended", "VoiceMail"),  # noqa: E501
        (f"{T0 + 50}|{U}|600|PJSIP/201|ATTENDEDTRANSFER|LINK|PJSIP/201-0001|PJSIP/305-0002|12|38|1", "attended", "PJSIP/305-0002"),  # noqa: E501
        (f"{T0 + 50}|{U}|600|PJSIP/201|ATTENDEDTRANSFER|BRIDGE|9f1c0b2a|12|38|1", "attended", None),
    ],
)  # fmt: skip
def test_transfers_end_the_talk(line: str, kind: str, to: str | None) -> None:
    translator, outcomes = _run([ENTER, CONNECT, line])
    event = outcomes[2].events[0]
    expected: dict[str, object] = {
        "type": "call.transferred",
        "event_id": f"asterisk:{U}:{line.split('|')[4]}:{T0 + 50}",
        "occurred_at": _at(T0 + 50),
        "call_id": "1796000000.42",
        "agent_id": "ana",
        "kind": kind,
    }
    if to is not None:
        expected["to"] = to
    assert event == expected
    assert outcomes[2].events[1]["state"] == "after_call_work"
    assert [e["type"] for e in translator.advance(T0 + 65, inclusive=True)] == [
        "call.wrapup_completed",
        "agent.state_changed",
    ]


def test_missed_rings() -> None:
    _, outcomes = _run(
        [
            ENTER,
            f"{T0 + 15}|{U}|600|PJSIP/201|RINGNOANSWER|15000",
            f"{T0 + 16}|{U}|600|Agent/1001|RINGCANCELED|1250",
            f"{T0 + 17}|{U}|600|NONE|ABANDON|1|1|17",
            f"{T0 + 17}|{U}|600|SIP/209|RINGCANCELED|900",  # after the call closed
        ]
    )
    assert outcomes[1].events == [
        {
            "type": "call.offer_missed",
            "event_id": f"asterisk:{U}:RINGNOANSWER:{T0 + 15}:ana",
            "occurred_at": _at(T0 + 15),
            "call_id": "1796000000.42",
            "agent_id": "ana",
            "reason": "no_answer",
            "ring_seconds": 15.0,
        }
    ]
    assert outcomes[2].events[0]["reason"] == "canceled"
    assert outcomes[2].events[0]["ring_seconds"] == 1.25
    assert outcomes[2].events[0]["agent_id"] == "bob"
    assert outcomes[4].events[0]["agent_id"] == "SIP/209"
    assert outcomes[4].rejected is None


def test_pauses_members_and_logins() -> None:
    translator, outcomes = _run(
        [
            f"{T0}|1796000000.1|NONE|1001|AGENTLOGIN|PJSIP/301-00000001",
            f"{T0 + 1}|MANAGER|600|Agent/1001|ADDMEMBER|",
            f"{T0 + 2}|CLI|support|Agent/1001|ADDMEMBER|",
            f"{T0 + 3}|NONE|600|Agent/1001|PAUSE|Lunch",  # one queue of two: still available
            f"{T0 + 4}|NONE|NONE|Agent/1001|PAUSEALL|Lunch",
            f"{T0 + 4}|NONE|600|Agent/1001|PAUSE|Lunch",
            f"{T0 + 4}|NONE|support|Agent/1001|PAUSE|Lunch",
            f"{T0 + 60}|NONE|NONE|Agent/1001|UNPAUSEALL|",
            f"{T0 + 60}|NONE|600|Agent/1001|UNPAUSE|",
            f"{T0 + 70}|NONE|support|Agent/1001|REMOVEMEMBER|",
            f"{T0 + 80}|1796000000.1|NONE|1001|AGENTLOGOFF|PJSIP/301-00000001|80",
            f"{T0 + 90}|MANAGER|600|PJSIP/201|ADDMEMBER|PAUSED",
        ]
    )
    shown: list[tuple[object, ...]] = [
        (e["state"], tuple(cast(list[str], e["queues"])), e.get("reason"))
        for o in outcomes
        for e in o.events
    ]
    assert shown == [
        ("offline", (), None),
        ("available", ("sales",), None),
        ("available", ("sales", "support"), None),
        ("away", ("sales", "support"), "Lunch"),
        ("available", ("sales", "support"), None),
        ("available", ("sales",), None),
        ("offline", ("sales",), None),
        ("away", ("sales",), None),
    ]
    assert [len(o.events) for o in outcomes] == [1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1]
    assert outcomes[4].events[0]["event_id"] == f"asterisk:NONE:PAUSEALL:{T0 + 4}:NONE:bob:state"
    assert translator.state.agents["bob"].logged_off


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe|x|q|NONE|ENTERQUEUE|", "invalid_utf8"),
        (b"1796000000|1.1|q|NONE", "field_count"),
        (b"yesterday|1.1|q|NONE|ENTERQUEUE||1|1", "bad_epoch"),
        (b"17960000|1.1|q|NONE|ENTERQUEUE||1|1", "bad_epoch"),
        (b"1796000000|1.1|q|NONE|enter queue|", "unknown_event"),
        (b"1796000000||q|NONE|ENTERQUEUE|", "field_count"),
        (b"1796000000|" + b"x" * 9000, "too_long"),
    ],
)
def test_unparsable_lines(raw: bytes, reason: str) -> None:
    parsed = parse(raw)
    assert isinstance(parsed, Malformed)
    assert parsed.reason == reason


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([CONNECT], "unknown_call"),
        ([f"{T0}|9.9|600|NONE|ABANDON|1|1|3"], "unknown_call"),
        ([ENTER, ENTER], "call_already_queued"),
        ([ENTER, CONNECT, CONNECT], "invalid_transition"),
        ([ENTER, f"{T0 + 1}|{U}|600|PJSIP/201|COMPLETECALLER|1|1|1"], "invalid_transition"),
        ([ENTER, f"{T0 + 1}|{U}|600|PJSIP/201|RINGNOANSWER|soon"], "bad_data"),
        ([ENTER, f"{T0 + 1}|{U}|600|PJSIP/201|COMPLETECALLER|1"], "field_count"),
        ([f"{T0}|1.1|600|NONE|FOOBAR|1|2"], "unknown_event"),
    ],
)  # fmt: skip
def test_lines_that_cannot_be_translated(lines: list[str], reason: str) -> None:
    _, outcomes = _run(lines)
    rejected = outcomes[-1].rejected
    assert rejected is not None and rejected.reason == reason
    assert outcomes[-1].events == []


def test_requeued_channel_gets_a_new_call_id() -> None:
    _, outcomes = _run(
        [
            ENTER,
            f"{T0 + 300}|{U}|600|NONE|EXITWITHTIMEOUT|1|1|300",
            f"{T0 + 301}|{U}|overflow|NONE|ENTERQUEUE||0612345678|1",
        ]
    )
    assert outcomes[2].events[0]["call_id"] == f"{U}@{T0 + 301}"


def test_state_survives_dump_and_load() -> None:
    translator, _ = _run([f"{T0 - 5}|MANAGER|600|PJSIP/201|ADDMEMBER|", ENTER])
    restored = Translator(CONFIG, load(dump(translator.state)))
    parsed = parse(CONNECT.encode())
    assert isinstance(parsed, Line)
    out = restored.translate(parsed)
    assert [e["type"] for e in out.events] == ["call.answered", "agent.state_changed"]
    completed = parse(f"{T0 + 40}|{U}|600|PJSIP/201|COMPLETECALLER|12|28|1".encode())
    assert isinstance(completed, Line)
    restored.translate(completed)
    again = Translator(CONFIG, load(dump(restored.state)))
    assert [e["occurred_at"] for e in again.advance(T0 + 100)] == [_at(T0 + 55)] * 2


def test_config_errors_name_file_and_line() -> None:
    text = "wrapuptime: 5\nqueues:\n  '600':\n    name: sales\n    wrapuptime: soon\n"
    with pytest.raises(AsteriskConfigError) as error:
        parse_config(text, source="asterisk.yaml")
    assert str(error.value).startswith("asterisk.yaml:5: queues.600.wrapuptime: expected whole")
    with pytest.raises(AsteriskConfigError, match=r"asterisk.yaml:1: unknown key 'agent'"):
        parse_config("agent: {}\n", source="asterisk.yaml")
    config = parse_config(
        "wrapuptime: 5\nqueues:\n  '600': {name: sales, wrapuptime: 15}\n"
        "agents:\n  PJSIP/201: ana\n"
    )
    assert (config.queue("600"), config.wrapup_seconds("600"), config.wrapup_seconds("x")) == (
        "sales",
        15,
        5,
    )
    assert config.agent("PJSIP/201") == "ana"

"""Table-driven tests of the event contract: every type decodes, every rejection has its reason."""

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from stream.contract.decoder import (
    MAX_JSON_DEPTH,
    REASONS,
    Rejection,
    decode,
    decode_trusted,
    encode,
    json_depth,
)
from stream.contract.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHoldEnded,
    CallHoldStarted,
    CallQueued,
    CallWrapupCompleted,
    CustomerChurned,
    Event,
    OrderPlaced,
    SurveyResponded,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatusChanged,
    epoch_seconds,
)

OCCURRED_AT_TEXT = "2026-11-22T14:03:12.345Z"
OCCURRED_AT = datetime(2026, 11, 22, 14, 3, 12, 345000, tzinfo=UTC)
EID = "evt-1"
PLUS_TWO = timezone(timedelta(hours=2))


def msg(type_: str | None, *, drop: tuple[str, ...] = (), **fields: object) -> bytes:
    """Contract JSON for one event: the envelope plus ``fields``, without the ``drop`` keys."""
    doc: dict[str, object] = {"event_id": EID, "occurred_at": OCCURRED_AT_TEXT}
    if type_ is not None:
        doc["type"] = type_
    doc.update(fields)
    for key in drop:
        del doc[key]
    return msgspec.json.encode(doc)


def accepted(raw: bytes) -> Event:
    result = decode(raw)
    assert not isinstance(result, Rejection), result
    return result


# --- accepted events --------------------------------------------------------------------------

ACCEPTED: list[tuple[str, bytes, Event]] = [
    (
        "call.queued defaults channel to phone",
        msg("call.queued", call_id="c1", queue="billing"),
        CallQueued(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", queue="billing"),
    ),
    (
        "call.queued with channel",
        msg("call.queued", call_id="c1", queue="billing", channel="chat"),
        CallQueued(
            event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", queue="billing", channel="chat"
        ),
    ),
    (
        "call.answered",
        msg("call.answered", call_id="c1", agent_id="a7"),
        CallAnswered(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", agent_id="a7"),
    ),
    (
        "call.answered with optional queue and channel",
        msg("call.answered", call_id="c1", agent_id="a7", queue="billing", channel="sms"),
        CallAnswered(
            event_id=EID,
            occurred_at=OCCURRED_AT,
            call_id="c1",
            agent_id="a7",
            queue="billing",
            channel="sms",
        ),
    ),
    (
        "call.abandoned",
        msg("call.abandoned", call_id="c1"),
        CallAbandoned(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1"),
    ),
    (
        "call.hold_started",
        msg("call.hold_started", call_id="c1"),
        CallHoldStarted(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1"),
    ),
    (
        "call.hold_ended",
        msg("call.hold_ended", call_id="c1"),
        CallHoldEnded(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1"),
    ),
    (
        "call.ended",
        msg("call.ended", call_id="c1"),
        CallEnded(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1"),
    ),
    (
        "call.ended with explicit null queue",
        msg("call.ended", call_id="c1", queue=None),
        CallEnded(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1"),
    ),
    (
        "call.wrapup_completed",
        msg("call.wrapup_completed", call_id="c1"),
        CallWrapupCompleted(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1"),
    ),
    (
        "ticket.created minimal",
        msg("ticket.created", ticket_id="t1", queue="returns", channel="email"),
        TicketCreated(
            event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", queue="returns", channel="email"
        ),
    ),
    (
        "ticket.created full",
        msg(
            "ticket.created",
            ticket_id="t1",
            queue="returns",
            channel="web",
            priority="urgent",
            customer_id="cust-9",
            category="refund",
        ),
        TicketCreated(
            event_id=EID,
            occurred_at=OCCURRED_AT,
            ticket_id="t1",
            queue="returns",
            channel="web",
            priority="urgent",
            customer_id="cust-9",
            category="refund",
        ),
    ),
    (
        "ticket.message_added defaults public to true",
        msg("ticket.message_added", ticket_id="t1", author="customer"),
        TicketMessageAdded(
            event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", author="customer", public=True
        ),
    ),
    (
        "ticket.message_added private agent note",
        msg("ticket.message_added", ticket_id="t1", author="agent", public=False, agent_id="a7"),
        TicketMessageAdded(
            event_id=EID,
            occurred_at=OCCURRED_AT,
            ticket_id="t1",
            author="agent",
            public=False,
            agent_id="a7",
        ),
    ),
    (
        "ticket.message_added by a bot",
        msg("ticket.message_added", ticket_id="t1", author="bot"),
        TicketMessageAdded(event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", author="bot"),
    ),
    (
        "ticket.assigned",
        msg("ticket.assigned", ticket_id="t1", agent_id="a7"),
        TicketAssigned(event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", agent_id="a7"),
    ),
    (
        "ticket.status_changed",
        msg("ticket.status_changed", ticket_id="t1", status="on_hold"),
        TicketStatusChanged(
            event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", status="on_hold"
        ),
    ),
    (
        "ticket.escalated without level",
        msg("ticket.escalated", ticket_id="t1"),
        TicketEscalated(event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1"),
    ),
    (
        "ticket.escalated numeric level",
        msg("ticket.escalated", ticket_id="t1", level=2),
        TicketEscalated(event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", level=2),
    ),
    (
        "ticket.escalated named level",
        msg("ticket.escalated", ticket_id="t1", level="tier-3"),
        TicketEscalated(event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", level="tier-3"),
    ),
    (
        "survey csat low bound, tied to a ticket",
        msg("survey.responded", kind="csat", score=1, ticket_id="t1"),
        SurveyResponded(
            event_id=EID, occurred_at=OCCURRED_AT, kind="csat", score=1, ticket_id="t1"
        ),
    ),
    (
        "survey csat high bound, tied to a call, with queue",
        msg("survey.responded", kind="csat", score=5, call_id="c1", queue="billing"),
        SurveyResponded(
            event_id=EID,
            occurred_at=OCCURRED_AT,
            kind="csat",
            score=5,
            call_id="c1",
            queue="billing",
        ),
    ),
    (
        "survey nps low bound",
        msg("survey.responded", kind="nps", score=0, call_id="c1"),
        SurveyResponded(event_id=EID, occurred_at=OCCURRED_AT, kind="nps", score=0, call_id="c1"),
    ),
    (
        "survey nps high bound",
        msg("survey.responded", kind="nps", score=10, ticket_id="t1"),
        SurveyResponded(
            event_id=EID, occurred_at=OCCURRED_AT, kind="nps", score=10, ticket_id="t1"
        ),
    ),
    (
        "agent.state_changed without queues",
        msg("agent.state_changed", agent_id="a7", state="after_call_work"),
        AgentStateChanged(
            event_id=EID, occurred_at=OCCURRED_AT, agent_id="a7", state="after_call_work"
        ),
    ),
    (
        "agent.state_changed with queues",
        msg("agent.state_changed", agent_id="a7", state="available", queues=["billing", "vip"]),
        AgentStateChanged(
            event_id=EID,
            occurred_at=OCCURRED_AT,
            agent_id="a7",
            state="available",
            queues=("billing", "vip"),
        ),
    ),
    (
        "agent.state_changed with an empty queue list",
        msg("agent.state_changed", agent_id="a7", state="offline", queues=[]),
        AgentStateChanged(
            event_id=EID, occurred_at=OCCURRED_AT, agent_id="a7", state="offline", queues=()
        ),
    ),
    (
        "customer.churned without reason",
        msg("customer.churned", customer_id="cust-9"),
        CustomerChurned(event_id=EID, occurred_at=OCCURRED_AT, customer_id="cust-9"),
    ),
    (
        "customer.churned with reason",
        msg("customer.churned", customer_id="cust-9", reason="price"),
        CustomerChurned(
            event_id=EID, occurred_at=OCCURRED_AT, customer_id="cust-9", reason="price"
        ),
    ),
    (
        "order.placed without value",
        msg("order.placed", customer_id="cust-9"),
        OrderPlaced(event_id=EID, occurred_at=OCCURRED_AT, customer_id="cust-9"),
    ),
    (
        "order.placed zero value",
        msg("order.placed", customer_id="cust-9", value=0),
        OrderPlaced(event_id=EID, occurred_at=OCCURRED_AT, customer_id="cust-9", value=0.0),
    ),
    (
        "order.placed decimal value",
        msg("order.placed", customer_id="cust-9", value=19.99),
        OrderPlaced(event_id=EID, occurred_at=OCCURRED_AT, customer_id="cust-9", value=19.99),
    ),
    (
        "ids and queue at their maximum lengths",
        msg("call.queued", event_id="e" * 128, call_id="c" * 128, queue="q" * 64),
        CallQueued(event_id="e" * 128, occurred_at=OCCURRED_AT, call_id="c" * 128, queue="q" * 64),
    ),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [row[1:] for row in ACCEPTED], ids=[r[0] for r in ACCEPTED]
)
def test_decode_accepts(raw: bytes, expected: Event) -> None:
    assert decode(raw) == expected


def test_every_event_type_has_an_accepted_row() -> None:
    tags = {type(row[2]).__struct_config__.tag for row in ACCEPTED}
    assert tags == {
        "call.queued",
        "call.answered",
        "call.abandoned",
        "call.hold_started",
        "call.hold_ended",
        "call.ended",
        "call.wrapup_completed",
        "ticket.created",
        "ticket.message_added",
        "ticket.assigned",
        "ticket.status_changed",
        "ticket.escalated",
        "survey.responded",
        "agent.state_changed",
        "customer.churned",
        "order.placed",
    }


@pytest.mark.parametrize(
    ("raw", "expected"), [row[1:] for row in ACCEPTED], ids=[r[0] for r in ACCEPTED]
)
def test_encode_then_decode_is_identity(raw: bytes, expected: Event) -> None:
    assert decode(encode(expected)) == expected


@pytest.mark.parametrize("status", ["open", "pending", "on_hold", "solved", "closed"])
def test_every_ticket_status_decodes(status: str) -> None:
    event = accepted(msg("ticket.status_changed", ticket_id="t1", status=status))
    assert isinstance(event, TicketStatusChanged)
    assert event.status == status


@pytest.mark.parametrize("channel", ["phone", "chat", "email", "social", "web", "sms"])
def test_every_channel_decodes(channel: str) -> None:
    event = accepted(msg("ticket.created", ticket_id="t1", queue="q", channel=channel))
    assert isinstance(event, TicketCreated)
    assert event.channel == channel


@pytest.mark.parametrize("state", ["available", "busy", "after_call_work", "away", "offline"])
def test_every_agent_state_decodes(state: str) -> None:
    event = accepted(msg("agent.state_changed", agent_id="a7", state=state))
    assert isinstance(event, AgentStateChanged)
    assert event.state == state


@pytest.mark.parametrize(
    ("text", "expected", "offset"),
    [
        ("2026-11-22T14:03:12Z", datetime(2026, 11, 22, 14, 3, 12, tzinfo=UTC), timedelta(0)),
        (
            "2026-11-22T14:03:12.345Z",
            datetime(2026, 11, 22, 14, 3, 12, 345000, tzinfo=UTC),
            timedelta(0),
        ),
        (
            "2026-11-22T16:03:12.5+02:00",
            datetime(2026, 11, 22, 14, 3, 12, 500000, tzinfo=UTC),
            timedelta(hours=2),
        ),
        (
            "2026-11-22T08:33:12.123456-05:30",
            datetime(2026, 11, 22, 14, 3, 12, 123456, tzinfo=UTC),
            timedelta(hours=-5, minutes=-30),
        ),
        ("2026-11-22T14:03:12+00:00", datetime(2026, 11, 22, 14, 3, 12, tzinfo=UTC), timedelta(0)),
        ("2000-01-01T00:00:00Z", datetime(2000, 1, 1, tzinfo=UTC), timedelta(0)),
        ("2000-01-01T01:00:00+01:00", datetime(2000, 1, 1, tzinfo=UTC), timedelta(hours=1)),
    ],
)
def test_occurred_at_keeps_instant_and_offset(
    text: str, expected: datetime, offset: timedelta
) -> None:
    event = accepted(msg("call.abandoned", call_id="c1", occurred_at=text))
    assert event.occurred_at == expected
    assert event.occurred_at.utcoffset() == offset
    assert epoch_seconds(event.occurred_at) == epoch_seconds(expected)


def test_unknown_fields_are_ignored() -> None:
    raw = msg(
        "call.answered",
        call_id="c1",
        agent_id="a7",
        schema_version=3,
        tags=["x", {"nested": [1, 2.5, None, True]}],
        extra={"type": "not.a.type", "event_id": ""},
        note="héllo ✓",
    )
    assert decode(raw) == CallAnswered(
        event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", agent_id="a7"
    )


def deep_unknown_field(levels: int) -> bytes:
    """A call.answered with an unknown field nesting objects and arrays to ``levels`` in all
    (the event is level 1), with brackets and an escaped quote inside its strings."""
    inner = b'"[{\\"]"'
    for i in range(levels - 1):
        inner = b'{"a' + str(i).encode() + b'":' + inner + b"}" if i % 2 else b"[" + inner + b"]"
    return msg("call.answered", call_id="c1", agent_id="a7")[:-1] + b',"x_trace":' + inner + b"}"


@pytest.mark.parametrize("levels", [3, 100, MAX_JSON_DEPTH])
def test_nested_unknown_fields_are_ignored_up_to_the_depth_limit(levels: int) -> None:
    raw = deep_unknown_field(levels)
    assert json_depth(raw) == levels
    expected = CallAnswered(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", agent_id="a7")
    assert decode(raw) == expected


def test_the_depth_limit_does_not_depend_on_the_callers_stack() -> None:
    """msgspec recurses on the caller's stack (it ran out at about 990 levels from a shallow
    caller, and reported it as invalid JSON): at the limit a deep caller still decodes, one level
    over a shallow caller still rejects, and the recursion limit is left as it was."""
    at_limit, over = deep_unknown_field(MAX_JSON_DEPTH), deep_unknown_field(MAX_JSON_DEPTH + 1)
    limit = sys.getrecursionlimit()

    def nest(frames: int, raw: bytes, decoder: Callable[[bytes], object]) -> object:
        return decoder(raw) if frames == 0 else nest(frames - 1, raw, decoder)

    expected = CallAnswered(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", agent_id="a7")
    assert nest(600, at_limit, decode) == expected
    assert nest(600, at_limit, decode_trusted) == expected  # the aggregator's decoder
    assert decode(over) == Rejection(
        "too_deeply_nested", "objects and arrays nest 1001 levels deep, the limit is 1000"
    )
    assert sys.getrecursionlimit() == limit


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"{}", 1),
        (b'{"a":[1,{"b":[]}]}', 4),
        (b'{"a":"[[[{{{"}', 1),
        (b'{"a":"\\"}', 1),  # an escaped backslash closes the string
        (b'{"a":"\\"[[["}', 1),  # escaped backslash, escaped quote: still one string
        (b'[[["unterminated [[[', 3),
        (b"]]]", 0),
    ],
)
def test_json_depth(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth


def test_field_order_does_not_matter() -> None:
    raw = (
        b'{"call_id":"c1","queue":"q","occurred_at":"2026-11-22T14:03:12.345Z",'
        b'"event_id":"evt-1","type":"call.queued"}'
    )
    assert decode(raw) == CallQueued(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", queue="q")


@pytest.mark.parametrize(
    ("event", "contact_id", "topic_kind"),
    [
        (CallQueued(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", queue="q"), "c1", "calls"),
        (CallWrapupCompleted(event_id=EID, occurred_at=OCCURRED_AT, call_id="c2"), "c2", "calls"),
        (
            TicketAssigned(event_id=EID, occurred_at=OCCURRED_AT, ticket_id="t1", agent_id="a7"),
            "t1",
            "tickets",
        ),
        (
            SurveyResponded(
                event_id=EID, occurred_at=OCCURRED_AT, kind="csat", score=4, ticket_id="t1"
            ),
            "t1",
            "tickets",
        ),
        (
            SurveyResponded(
                event_id=EID, occurred_at=OCCURRED_AT, kind="nps", score=9, call_id="c1"
            ),
            "c1",
            "tickets",
        ),
        (
            AgentStateChanged(event_id=EID, occurred_at=OCCURRED_AT, agent_id="a7", state="busy"),
            "a7",
            "agents",
        ),
        (
            CustomerChurned(event_id=EID, occurred_at=OCCURRED_AT, customer_id="cust-9"),
            "cust-9",
            "customers",
        ),
        (
            OrderPlaced(event_id=EID, occurred_at=OCCURRED_AT, customer_id="cust-8", value=3.5),
            "cust-8",
            "customers",
        ),
    ],
)
def test_contact_id_and_topic_kind(event: Event, contact_id: str, topic_kind: str) -> None:
    assert event.contact_id == contact_id
    assert event.topic_kind == topic_kind


def test_events_are_frozen() -> None:
    event = CallAbandoned(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1")
    with pytest.raises(AttributeError):
        event.call_id = "c2"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            CallQueued(event_id=EID, occurred_at=OCCURRED_AT, call_id="c1", queue="billing"),
            b'{"type":"call.queued","event_id":"evt-1","occurred_at":"2026-11-22T14:03:12.345000Z",'
            b'"queue":"billing","call_id":"c1"}',
        ),
        (
            TicketMessageAdded(
                event_id=EID,
                occurred_at=datetime(2026, 11, 22, 16, 3, 12, tzinfo=PLUS_TWO),
                ticket_id="t1",
                author="agent",
                public=False,
            ),
            b'{"type":"ticket.message_added","event_id":"evt-1",'
            b'"occurred_at":"2026-11-22T16:03:12+02:00","ticket_id":"t1","author":"agent",'
            b'"public":false}',
        ),
    ],
)
def test_encode_writes_contract_json_without_defaults(event: Event, expected: bytes) -> None:
    assert encode(event) == expected


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0.0),
        (datetime(2000, 1, 1, tzinfo=UTC), 946684800.0),
        (datetime(2000, 1, 1, 2, tzinfo=PLUS_TWO), 946684800.0),
        (datetime(2026, 11, 22, 14, 3, 12, 500000, tzinfo=UTC), 1795356192.5),
    ],
)
def test_epoch_seconds(dt: datetime, expected: float) -> None:
    assert epoch_seconds(dt) == expected


def test_epoch_seconds_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        epoch_seconds(datetime(2026, 11, 22, 14, 3, 12))


# --- rejections -------------------------------------------------------------------------------

ONE_MIB_EVENT = msg("call.abandoned", call_id="c1", padding="x" * (1 << 20))

REJECTED: list[tuple[str, bytes, str, str]] = [
    # (id, raw, reason, a fragment the detail must contain: the JSON path where there is one)
    ("1 MiB payload", ONE_MIB_EVENT, "too_large", f"payload is {len(ONE_MIB_EVENT)} bytes"),
    ("one byte over the limit", b" " * 65536 + b"{", "too_large", "the limit is 65536"),
    ("invalid start byte", b"\xff\xfe{}", "invalid_utf8", "byte 0"),
    (
        "bad byte inside a field",
        msg("call.abandoned", call_id="c1")[:-2] + b'\xc3("}',
        "invalid_utf8",
        "byte",
    ),
    (
        "bad byte inside an ignored field",
        msg("call.abandoned", call_id="c1")[:-1] + b',"note":"\xed\xa0\x80"}',
        "invalid_utf8",
        "byte",
    ),
    ("truncated multi-byte sequence", b'{"type":"\xe2\x82', "invalid_utf8", "byte 9"),
    ("empty input", b"", "invalid_json", "truncated"),
    ("truncated object", b'{"type":"call.queued"', "invalid_json", "truncated"),
    ("unquoted word", b"nope", "invalid_json", "malformed"),
    ("trailing comma", b'{"type":"call.ended","call_id":"c1",}', "invalid_json", "malformed"),
    ("trailing garbage", msg("call.ended", call_id="c1") + b"x", "invalid_json", "trailing"),
    (
        "NaN literal",
        msg("order.placed", customer_id="c")[:-1] + b',"value":NaN}',
        "invalid_json",
        "malformed",
    ),
    (
        "truncation after an unknown type",
        b'{"type":"nope","event_id":',
        "invalid_json",
        "truncated",
    ),
    (
        "lone surrogate escape",
        b'{"type":"call.ended","call_id":"\\udc00"}',
        "invalid_json",
        "surrogate",
    ),
    (
        "nesting too deep in an ignored field",
        msg("call.ended", call_id="c1")[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "too_deeply_nested",
        "nest 5001 levels deep, the limit is 1000",
    ),
    (
        "one level too deep in an ignored field",
        msg("call.ended", call_id="c1")[:-1] + b',"x":' + b'{"a":' * 1000 + b"1" + b"}" * 1001,
        "too_deeply_nested",
        "nest 1001 levels deep, the limit is 1000",
    ),
    (
        "too deep and truncated",
        b'{"x":' + b"[" * 1500,
        "too_deeply_nested",
        "nest 1501 levels deep",
    ),
    (
        "deep but within the limit, truncated",
        b'{"x":' + b"[" * 990,
        "invalid_json",
        "truncated",
    ),
    (
        "deep, within the limit, a field error before it",
        msg("call.ended", call_id=7)[:-1] + b',"x":' + b"[" * 990 + b"]" * 990 + b"}",
        "wrong_field_type",
        "`$.call_id`",
    ),
    ("empty array", b"[]", "not_an_object", "got an array - at `$`"),
    (
        "array of an event",
        b"[" + msg("call.ended", call_id="c1") + b"]",
        "not_an_object",
        "an array",
    ),
    ("number", b"3", "not_an_object", "got a number - at `$`"),
    ("string", b'"x"', "not_an_object", "got a string - at `$`"),
    ("null", b"null", "not_an_object", "got null - at `$`"),
    ("boolean", b"true", "not_an_object", "got a boolean - at `$`"),
    ("missing type", msg(None, call_id="c1"), "missing_field", "`type`"),
    ("empty object", b"{}", "missing_field", "`type`"),
    (
        "missing event_id",
        msg("call.ended", call_id="c1", drop=("event_id",)),
        "missing_field",
        "`event_id`",
    ),
    (
        "missing occurred_at",
        msg("call.ended", call_id="c1", drop=("occurred_at",)),
        "missing_field",
        "`occurred_at`",
    ),
    ("missing call_id", msg("call.ended"), "missing_field", "`call_id`"),
    ("call.queued without queue", msg("call.queued", call_id="c1"), "missing_field", "`queue`"),
    (
        "ticket.created without channel",
        msg("ticket.created", ticket_id="t1", queue="q"),
        "missing_field",
        "`channel`",
    ),
    (
        "message without author",
        msg("ticket.message_added", ticket_id="t1"),
        "missing_field",
        "`author`",
    ),
    (
        "survey without score",
        msg("survey.responded", kind="csat", ticket_id="t1"),
        "missing_field",
        "`score`",
    ),
    ("answered without agent", msg("call.answered", call_id="c1"), "missing_field", "`agent_id`"),
    ("type is a number", msg(None, type=3, call_id="c1"), "wrong_field_type", "`$.type`"),
    (
        "event_id is a number",
        msg("call.ended", call_id="c1", event_id=5),
        "wrong_field_type",
        "`$.event_id`",
    ),
    ("call_id is null", msg("call.ended", call_id=None), "wrong_field_type", "`$.call_id`"),
    (
        "occurred_at is epoch seconds",
        msg("call.ended", call_id="c1", occurred_at=1795356192),
        "wrong_field_type",
        "`$.occurred_at`",
    ),
    (
        "public is a string",
        msg("ticket.message_added", ticket_id="t1", author="agent", public="yes"),
        "wrong_field_type",
        "`$.public`",
    ),
    (
        "score is a float",
        msg("survey.responded", kind="csat", score=4.0, ticket_id="t1"),
        "wrong_field_type",
        "`$.score`",
    ),
    (
        "score is a boolean",
        msg("survey.responded", kind="csat", score=True, ticket_id="t1"),
        "wrong_field_type",
        "`$.score`",
    ),
    (
        "queues is a string",
        msg("agent.state_changed", agent_id="a7", state="busy", queues="q"),
        "wrong_field_type",
        "`$.queues`",
    ),
    (
        "level is a float",
        msg("ticket.escalated", ticket_id="t1", level=1.5),
        "wrong_field_type",
        "`$.level`",
    ),
    (
        "value is a string",
        msg("order.placed", customer_id="c", value="10"),
        "wrong_field_type",
        "`$.value`",
    ),
    (
        "unknown type",
        msg("call.teleported", call_id="c1"),
        "unknown_type",
        "'call.teleported' - at `$.type`",
    ),
    ("empty type", msg("", call_id="c1"), "unknown_type", "`$.type`"),
    (
        "type in the wrong case",
        msg("CALL.QUEUED", call_id="c1", queue="q"),
        "unknown_type",
        "`$.type`",
    ),
    ("very long type is shortened", msg("x" * 5000), "unknown_type", "... - at `$.type`"),
    (
        "naive timestamp",
        msg("call.ended", call_id="c1", occurred_at="2026-11-22T14:03:12"),
        "invalid_timestamp",
        "timezone component - at `$.occurred_at`",
    ),
    (
        "naive timestamp with fraction",
        msg("call.ended", call_id="c1", occurred_at="2026-11-22T14:03:12.345"),
        "invalid_timestamp",
        "`$.occurred_at`",
    ),
    (
        "garbage timestamp",
        msg("call.ended", call_id="c1", occurred_at="yesterday"),
        "invalid_timestamp",
        "`$.occurred_at`",
    ),
    (
        "date without time",
        msg("call.ended", call_id="c1", occurred_at="2026-11-22"),
        "invalid_timestamp",
        "`$.occurred_at`",
    ),
    (
        "hour 25",
        msg("call.ended", call_id="c1", occurred_at="2026-11-22T25:00:00Z"),
        "invalid_timestamp",
        "`$.occurred_at`",
    ),
    (
        "offset out of range",
        msg("call.ended", call_id="c1", occurred_at="2026-11-22T14:00:00+25:00"),
        "invalid_timestamp",
        "`$.occurred_at`",
    ),
    (
        "one second before 2000",
        msg("call.ended", call_id="c1", occurred_at="1999-12-31T23:59:59.999Z"),
        "invalid_timestamp",
        "before 2000-01-01T00:00:00Z - at `$.occurred_at`",
    ),
    (
        "before 2000 only in UTC",
        msg("call.ended", call_id="c1", occurred_at="2000-01-01T00:59:59+01:00"),
        "invalid_timestamp",
        "`$.occurred_at`",
    ),
    (
        "year 1",
        msg("call.ended", call_id="c1", occurred_at="0001-01-01T00:00:00Z"),
        "invalid_timestamp",
        "`$.occurred_at`",
    ),
    (
        "unknown channel",
        msg("call.queued", call_id="c1", queue="q", channel="fax"),
        "invalid_enum",
        "'fax' - at `$.channel`",
    ),
    (
        "unknown status",
        msg("ticket.status_changed", ticket_id="t1", status="deleted"),
        "invalid_enum",
        "`$.status`",
    ),
    (
        "unknown author",
        msg("ticket.message_added", ticket_id="t1", author="system"),
        "invalid_enum",
        "`$.author`",
    ),
    (
        "unknown priority",
        msg("ticket.created", ticket_id="t1", queue="q", channel="web", priority="critical"),
        "invalid_enum",
        "`$.priority`",
    ),
    (
        "unknown agent state",
        msg("agent.state_changed", agent_id="a7", state="lunch"),
        "invalid_enum",
        "`$.state`",
    ),
    (
        "unknown survey kind",
        msg("survey.responded", kind="ces", score=3, ticket_id="t1"),
        "invalid_enum",
        "`$.kind`",
    ),
    (
        "csat 0",
        msg("survey.responded", kind="csat", score=0, ticket_id="t1"),
        "out_of_range",
        "csat score must be 1..5, got 0 - at `$.score`",
    ),
    (
        "csat 6",
        msg("survey.responded", kind="csat", score=6, ticket_id="t1"),
        "out_of_range",
        "csat score must be 1..5, got 6 - at `$.score`",
    ),
    (
        "nps 11",
        msg("survey.responded", kind="nps", score=11, call_id="c1"),
        "out_of_range",
        "nps score must be 0..10, got 11 - at `$.score`",
    ),
    (
        "nps -1",
        msg("survey.responded", kind="nps", score=-1, call_id="c1"),
        "out_of_range",
        "nps score must be 0..10, got -1 - at `$.score`",
    ),
    (
        "huge score",
        msg("survey.responded", kind="nps", score=10**30, call_id="c1"),
        "out_of_range",
        "`$.score`",
    ),
    (
        "negative order value",
        msg("order.placed", customer_id="c", value=-0.01),
        "out_of_range",
        "`$.value`",
    ),
    (
        "infinite order value",
        msg("order.placed", customer_id="c")[:-1] + b',"value":1e400}',
        "out_of_range",
        "`$.value`",
    ),
    (
        "empty event_id",
        msg("call.ended", call_id="c1", event_id=""),
        "invalid_field",
        "length >= 1 - at `$.event_id`",
    ),
    (
        "129-char event_id",
        msg("call.ended", call_id="c1", event_id="e" * 129),
        "invalid_field",
        "length <= 128 - at `$.event_id`",
    ),
    ("empty call_id", msg("call.ended", call_id=""), "invalid_field", "`$.call_id`"),
    (
        "65-char queue",
        msg("call.queued", call_id="c1", queue="q" * 65),
        "invalid_field",
        "length <= 64 - at `$.queue`",
    ),
    (
        "empty queue in queues",
        msg("agent.state_changed", agent_id="a7", state="busy", queues=["q", ""]),
        "invalid_field",
        "`$.queues[1]`",
    ),
    (
        "survey with both ids",
        msg("survey.responded", kind="csat", score=5, ticket_id="t1", call_id="c1"),
        "invalid_field",
        "exactly one of `ticket_id` and `call_id` - at `$`",
    ),
    (
        "survey with neither id",
        msg("survey.responded", kind="nps", score=9),
        "invalid_field",
        "exactly one of",
    ),
]


@pytest.mark.parametrize(
    ("raw", "reason", "detail_fragment"),
    [row[1:] for row in REJECTED],
    ids=[r[0] for r in REJECTED],
)
def test_decode_rejects(raw: bytes, reason: str, detail_fragment: str) -> None:
    result = decode(raw)
    assert isinstance(result, Rejection), result
    assert result.reason == reason
    assert detail_fragment in result.detail
    assert len(result.detail) <= 200


def test_every_reason_has_at_least_two_rows() -> None:
    counts = {reason: 0 for reason in REASONS}
    for _, _, reason, _ in REJECTED:
        counts[reason] += 1
    assert {reason for reason, count in counts.items() if count < 2} == set()


def test_max_bytes_is_a_parameter() -> None:
    raw = msg("call.ended", call_id="c1")
    assert decode(raw, max_bytes=len(raw)) == CallEnded(
        event_id=EID, occurred_at=OCCURRED_AT, call_id="c1"
    )
    assert decode(raw, max_bytes=len(raw) - 1) == Rejection(
        "too_large", f"payload is {len(raw)} bytes, the limit is {len(raw) - 1}"
    )


def test_exact_details_for_decoder_owned_messages() -> None:
    assert decode(msg("survey.responded", kind="csat", score=6, ticket_id="t1")) == Rejection(
        "out_of_range", "csat score must be 1..5, got 6 - at `$.score`"
    )
    assert decode(b"[]") == Rejection(
        "not_an_object", "expected a JSON object, got an array - at `$`"
    )
    assert decode(b"\xff") == Rejection(
        "invalid_utf8", "invalid UTF-8 at byte 0: invalid start byte"
    )

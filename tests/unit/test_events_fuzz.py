"""Property tests of the decoder: it never raises, its reasons stay bounded, events round-trip."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.contract.decoder import REASONS, Rejection, decode, encode
from stream.contract.events import (
    AgentState,
    AgentStateChanged,
    Author,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHoldEnded,
    CallHoldStarted,
    CallQueued,
    CallWrapupCompleted,
    Channel,
    CustomerChurned,
    Event,
    OrderPlaced,
    Priority,
    SurveyResponded,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatus,
    TicketStatusChanged,
)

# Decoding takes microseconds; these budgets keep the whole unit suite well under two seconds.
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Generating nested JSON is the slow part; the mutated-event test covers the deeper paths.
FEWER = settings(FAST, max_examples=50)

EVENT_CLASSES = get_args(Event)
TAGS = [cls.__struct_config__.tag for cls in EVENT_CLASSES]
FIELD_NAMES = sorted({name for cls in EVENT_CLASSES for name in cls.__struct_fields__} | {"type"})

# JSON cannot carry lone surrogates, so valid text excludes them.
CHARS = st.characters(exclude_categories=["Cs"])
ids = st.text(CHARS, min_size=1, max_size=128)
queue_names = st.text(CHARS, min_size=1, max_size=64)
channels = st.sampled_from(get_args(Channel))
# RFC 3339 offsets have minute resolution and stay within +-23:59.
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
occurred_ats = st.builds(
    lambda naive, tz: naive.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(9998, 12, 31)),
    offsets,
)
envelope = {
    "event_id": ids,
    "occurred_at": occurred_ats,
    "queue": st.none() | queue_names,
    "channel": st.none() | channels,
}
int64s = st.integers(-(2**63), 2**63 - 1)


@st.composite
def surveys(draw: st.DrawFn) -> SurveyResponded:
    kind = draw(st.sampled_from(["csat", "nps"]))
    score = draw(st.integers(1, 5) if kind == "csat" else st.integers(0, 10))
    contact = draw(ids)
    on_ticket = draw(st.booleans())
    return draw(
        st.builds(
            SurveyResponded,
            kind=st.just(kind),
            score=st.just(score),
            ticket_id=st.just(contact if on_ticket else None),
            call_id=st.just(None if on_ticket else contact),
            **envelope,
        )
    )


valid_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(CallQueued, call_id=ids, **{**envelope, "queue": queue_names, "channel": channels}),
    st.builds(CallAnswered, call_id=ids, agent_id=ids, **envelope),
    *(
        st.builds(cls, call_id=ids, **envelope)
        for cls in (CallAbandoned, CallHoldStarted, CallHoldEnded, CallEnded, CallWrapupCompleted)
    ),
    st.builds(
        TicketCreated,
        ticket_id=ids,
        priority=st.none() | st.sampled_from(get_args(Priority)),
        customer_id=st.none() | ids,
        category=st.none() | st.text(CHARS),
        **{**envelope, "queue": queue_names, "channel": channels},
    ),
    st.builds(
        TicketMessageAdded,
        ticket_id=ids,
        author=st.sampled_from(get_args(Author)),
        public=st.booleans(),
        agent_id=st.none() | ids,
        **envelope,
    ),
    st.builds(TicketAssigned, ticket_id=ids, agent_id=ids, **envelope),
    st.builds(
        TicketStatusChanged,
        ticket_id=ids,
        status=st.sampled_from(get_args(TicketStatus)),
        **envelope,
    ),
    st.builds(
        TicketEscalated, ticket_id=ids, level=st.none() | int64s | st.text(CHARS), **envelope
    ),
    surveys(),
    st.builds(
        AgentStateChanged,
        agent_id=ids,
        state=st.sampled_from(get_args(AgentState)),
        queues=st.none() | st.lists(queue_names, max_size=5).map(tuple),
        **envelope,
    ),
    st.builds(CustomerChurned, customer_id=ids, reason=st.none() | st.text(CHARS), **envelope),
    st.builds(
        OrderPlaced,
        customer_id=ids,
        value=st.none() | st.floats(min_value=0, allow_nan=False, allow_infinity=False),
        **envelope,
    ),
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(CHARS, max_size=20)
    | st.sampled_from(TAGS)
    | st.sampled_from(["2026-11-22T14:03:12Z", "2026-11-22T14:03:12", "1999-01-01T00:00:00Z"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(CHARS, max_size=8), children, max_size=4)
    ),
    max_leaves=4,
)
json_objects = st.dictionaries(
    st.sampled_from(FIELD_NAMES) | st.text(CHARS, max_size=8), json_values, max_size=8
)


def assert_well_formed(result: Event | Rejection) -> None:
    if isinstance(result, Rejection):
        assert result.reason in REASONS
        assert 0 < len(result.detail) <= 200
    else:
        assert isinstance(result, EVENT_CLASSES)
        # Anything accepted re-encodes to contract JSON that is accepted unchanged.
        assert decode(encode(result)) == result


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert_well_formed(decode(raw))


@FEWER
@given(json_objects)
def test_arbitrary_json_objects_never_raise(doc: dict[str, object]) -> None:
    assert_well_formed(decode(json.dumps(doc, ensure_ascii=False).encode()))


@FAST
@given(valid_events, st.sampled_from(FIELD_NAMES), st.none() | json_values)
def test_mutated_valid_events_never_raise(
    event: Event, field: str, replacement: object | None
) -> None:
    doc = msgspec.to_builtins(event)
    if replacement is None:
        doc.pop(field, None)
    else:
        doc[field] = replacement
    assert_well_formed(decode(json.dumps(doc, ensure_ascii=False).encode()))


@FAST
@given(valid_events)
def test_valid_events_round_trip_unchanged(event: Event) -> None:
    raw = encode(event)
    decoded = decode(raw)
    assert decoded == event
    assert type(decoded) is type(event)
    assert not isinstance(decoded, Rejection)
    assert decoded.occurred_at.utcoffset() == event.occurred_at.utcoffset()
    assert encode(decoded) == raw


@FAST
@given(valid_events, st.binary(min_size=1, max_size=8), st.integers(min_value=0))
def test_corrupted_bytes_of_valid_events_never_raise(
    event: Event, noise: bytes, position: int
) -> None:
    raw = encode(event)
    at = position % (len(raw) + 1)
    assert_well_formed(decode(raw[:at] + noise + raw[at:]))

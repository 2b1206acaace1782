"""`stream.contract.topics`: the configured topic of each topic kind, and the routing of one
recorded
line (valid events by their type; dirty ones by the type's prefix and the contact-id field)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from stream.config import Settings
from stream.contract.events import TopicKind
from stream.contract.topics import route, topic_name
from tests.factories import Events

AT = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC).timestamp()


def test_each_kind_has_its_configured_topic() -> None:
    settings = Settings.from_env(
        {
            "STREAM_TOPIC_CALLS": "cc.calls",
            "STREAM_TOPIC_TICKETS": "cc.tickets",
            "STREAM_TOPIC_AGENTS": "cc.agents",
            "STREAM_TOPIC_CUSTOMERS": "cc.customers",
        }
    )
    kinds: tuple[TopicKind, ...] = ("calls", "tickets", "agents", "customers")
    assert [topic_name(settings, k) for k in kinds] == [f"cc.{k}" for k in kinds]
    assert [topic_name(Settings.from_env({}), k) for k in kinds] == list(kinds)


events = Events("route")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (events("call.queued", "10:00:05", call_id="c-1", queue="billing", channel="phone"),
         ("calls", "c-1", AT)),
        (events("ticket.created", "10:00:05", ticket_id="t-1", queue="billing", channel="email",
                priority="normal"), ("tickets", "t-1", AT)),
        (events("survey.responded", "10:00:05", call_id="c-2", queue="billing", kind="csat",
                score=4), ("tickets", "c-2", AT)),
        (events("agent.state_changed", "10:00:05", agent_id="a-1", state="available",
                queues=["billing"]), ("agents", "a-1", AT)),
        (events("order.placed", "10:00:05", customer_id="u-1", value=12.5),
         ("customers", "u-1", AT)),
        (events("customer.churned", "10:00:05", customer_id="u-2"), ("customers", "u-2", AT)),
        # Invalid events, still routable so that they reach the dead letters: a score out of
        # range (its time kept), an unknown call type, a missing time.
        (events("survey.responded", "10:00:05", call_id="c-3", kind="csat", score=9),
         ("tickets", "c-3", AT)),
        (events("call.teleported", "10:00:05", call_id="c-4"), ("calls", "c-4", AT)),
        ({"type": "ticket.created", "event_id": "e-1", "ticket_id": "t-2"},
         ("tickets", "t-2", None)),
        ({"type": "call.queued", "call_id": "c-5", "occurred_at": "yesterday"},
         ("calls", "c-5", None)),
    ],
)  # fmt: skip
def test_a_line_routes_by_type_and_contact_id(
    document: dict[str, object], expected: tuple[str, str, float | None]
) -> None:
    assert route(msgspec.json.encode(document)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "nonsense", "call_id": "c-1"}',  # no known type prefix
        b'{"type": "call.queued", "ticket_id": "t-1"}',  # no id field of its kind
        b'{"type": "call.queued", "call_id": ""}',
        b"[1, 2]",
        b'{"type": "call.queued"',  # truncated
        b"",
    ],
)
def test_an_unroutable_line_is_none(raw: bytes) -> None:
    assert route(raw) is None

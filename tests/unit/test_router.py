"""Table-driven tests of stream/stages/route.py: queue resolution, rejections, replays, counting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from stream.stages.forward import Item, original_value
from stream.stages.route import Message, Route, Router, RouterPartition, RouterStats

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
NOW = T0 + 600  # the wall clock
SKEW = 300.0
TOPIC_KINDS = {"calls": "calls", "tickets": "tickets", "agents": "agents", "customers": "customers"}


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat().replace("+00:00", "Z")


def event(type_: str, seconds: float = 0, eid: str | None = None, **fields: Any) -> bytes:
    doc: dict[str, Any] = {
        "event_id": eid or f"{type_}-{seconds}-{sorted(fields.items())}",
        "type": type_,
        "occurred_at": iso(seconds),
    }
    doc.update(fields)
    return msgspec.json.encode(doc)


def router(max_event_bytes: int = 65536) -> Router:
    return Router(TOPIC_KINDS, max_event_bytes=max_event_bytes, future_skew_seconds=SKEW)


def messages(topic_values: list[tuple[str, bytes | None]], first_offset: int = 0) -> list[Message]:
    """Messages of partition 0, offsets counted per topic from ``first_offset``."""
    next_offset: dict[str, int] = {}
    out = []
    for topic, value in topic_values:
        offset = next_offset.get(topic, first_offset)
        next_offset[topic] = offset + 1
        out.append(Message(topic, 0, offset, b"k", value))
    return out


QUEUED_C1 = ("calls", event("call.queued", 0, call_id="c1", queue="billing"))
CREATED_T1 = ("tickets", event("ticket.created", 0, ticket_id="t1", queue="sales", channel="email"))

# (input messages, forwards as (queue, channel, source, offset), dead letters as (reason, source
#  offset))
ROUTES: list[
    tuple[
        str,
        list[tuple[str, bytes | None]],
        list[tuple[str, str, str, int]],
        list[tuple[str, int]],
    ]
] = [
    (
        "call.queued names the queue; channel defaults to phone",
        [QUEUED_C1],
        [("billing", "phone", "calls/0", 0)],
        [],
    ),
    (
        "later call events without queue go to the call's queue",
        [
            QUEUED_C1,
            ("calls", event("call.answered", 5, call_id="c1", agent_id="a1")),
            ("calls", event("call.ended", 50, call_id="c1")),
        ],
        [
            ("billing", "phone", "calls/0", 0),
            ("billing", "phone", "calls/0", 1),
            ("billing", "phone", "calls/0", 2),
        ],
        [],
    ),
    (
        "a queue named on a later event does not move the contact",
        [QUEUED_C1, ("calls", event("call.answered", 5, call_id="c1", agent_id="a", queue="x"))],
        [("billing", "phone", "calls/0", 0), ("billing", "phone", "calls/0", 1)],
        [],
    ),
    (
        "ticket events follow ticket.created, with its channel",
        [
            CREATED_T1,
            ("tickets", event("ticket.message_added", 5, ticket_id="t1", author="agent")),
            ("tickets", event("ticket.status_changed", 9, ticket_id="t1", status="solved")),
        ],
        [
            ("sales", "email", "tickets/0", 0),
            ("sales", "email", "tickets/0", 1),
            ("sales", "email", "tickets/0", 2),
        ],
        [],
    ),
    (
        "calls and tickets have separate id spaces",
        [
            ("calls", event("call.queued", 0, call_id="x1", queue="billing", channel="chat")),
            ("tickets", event("ticket.created", 1, ticket_id="x1", queue="sales", channel="web")),
            ("calls", event("call.abandoned", 2, call_id="x1")),
            ("tickets", event("ticket.escalated", 3, ticket_id="x1")),
        ],
        [
            ("billing", "chat", "calls/0", 0),
            ("sales", "web", "tickets/0", 0),
            ("billing", "chat", "calls/0", 1),
            ("sales", "web", "tickets/0", 1),
        ],
        [],
    ),
    (
        "surveys follow their ticket or call",
        [
            QUEUED_C1,
            CREATED_T1,
            ("tickets", event("survey.responded", 5, ticket_id="t1", kind="csat", score=4)),
            ("tickets", event("survey.responded", 6, call_id="c1", kind="nps", score=9)),
        ],
        [
            ("billing", "phone", "calls/0", 0),
            ("sales", "email", "tickets/0", 0),
            ("sales", "email", "tickets/0", 1),
            ("billing", "phone", "tickets/0", 2),
        ],
        [],
    ),
    (
        "a survey of an unknown contact that names a queue goes there",
        [
            (
                "tickets",
                event("survey.responded", 5, ticket_id="t9", kind="csat", score=4, queue="sales"),
            ),
            (
                "tickets",
                event(
                    "survey.responded",
                    6,
                    call_id="c9",
                    kind="nps",
                    score=9,
                    queue="billing",
                    channel="chat",
                ),
            ),
        ],
        [("sales", "unknown", "tickets/0", 0), ("billing", "chat", "tickets/0", 1)],
        [],
    ),
    (
        "a survey of an unknown contact without a queue",
        [("tickets", event("survey.responded", 5, ticket_id="t9", kind="csat", score=4))],
        [],
        [("unknown_contact", 0)],
    ),
    (
        "events of contacts never created are unknown",
        [
            ("calls", event("call.answered", 5, call_id="c9", agent_id="a1")),
            ("tickets", event("ticket.status_changed", 5, ticket_id="t9", status="open")),
            ("calls", event("call.answered", 5, call_id="t1", agent_id="a1")),
        ],
        [],
        [("unknown_contact", 0), ("unknown_contact", 0), ("unknown_contact", 1)],
    ),
    (
        "an answer for a ticket id is not a ticket event",
        [CREATED_T1, ("calls", event("call.ended", 5, call_id="t1"))],
        [("sales", "email", "tickets/0", 0)],
        [("unknown_contact", 0)],
    ),
    (
        "a second creation is forwarded: the aggregator rejects it with the contact's history",
        [QUEUED_C1, ("calls", event("call.queued", 3, call_id="c1", queue="other"))],
        [("billing", "phone", "calls/0", 0), ("billing", "phone", "calls/0", 1)],
        [],
    ),
    (
        "events on the wrong topic",
        [
            ("tickets", event("call.queued", 0, call_id="c1", queue="billing")),
            ("calls", event("ticket.created", 0, ticket_id="t1", queue="b", channel="email")),
            ("calls", event("survey.responded", 0, ticket_id="t1", kind="csat", score=5)),
            ("customers", event("agent.state_changed", 0, agent_id="a1", state="busy")),
            ("agents", event("order.placed", 0, customer_id="u1")),
            ("unknown-topic", event("call.queued", 0, call_id="c1", queue="billing")),
        ],
        [],
        [
            ("wrong_topic", 0),
            ("wrong_topic", 0),
            ("wrong_topic", 1),
            ("wrong_topic", 0),
            ("wrong_topic", 0),
            ("wrong_topic", 0),
        ],
    ),
    (
        "occurred_at more than the allowed skew ahead of the clock",
        [
            ("calls", event("call.queued", 600 + SKEW + 1, call_id="c1", queue="billing")),
            ("calls", event("call.queued", 600 + SKEW, call_id="c2", queue="billing")),
            ("agents", event("agent.state_changed", 86400, agent_id="a1", state="busy")),
        ],
        [("billing", "phone", "calls/0", 1)],
        [("timestamp_out_of_range", 0), ("timestamp_out_of_range", 0)],
    ),
    (
        "decode failures keep the decoder's reason",
        [
            ("calls", None),
            ("calls", b"{not json"),
            ("calls", b"[1, 2]"),
            ("calls", b'{"type": "call.queued", "occurred_at": "2026-11-22T10:00:00Z"}'),
            ("calls", event("call.teleported", 0, call_id="c1")),
            (
                "calls",
                b'{"event_id": "e", "type": "call.queued", "occurred_at": "yesterday",'
                b' "call_id": "c1", "queue": "billing"}',
            ),
            (
                "calls",
                b'{"event_id": "e", "type": "call.queued", "call_id": "c1",'
                b' "occurred_at": "1999-12-31T23:59:59Z", "queue": "billing"}',
            ),
            ("calls", event("call.queued", 0, call_id="c1", queue="billing", channel="fax")),
            ("calls", event("call.queued", 0, call_id="c1", queue=7)),
            ("calls", b"\xff\xfe"),
        ],
        [],
        [
            ("invalid_json", 0),
            ("invalid_json", 1),
            ("not_an_object", 2),
            ("missing_field", 3),
            ("unknown_type", 4),
            ("invalid_timestamp", 5),
            ("invalid_timestamp", 6),
            ("invalid_enum", 7),
            ("wrong_field_type", 8),
            ("invalid_utf8", 9),
        ],
    ),
    (
        "agent and customer events are counted, not forwarded",
        [
            ("agents", event("agent.state_changed", 0, agent_id="a1", state="available")),
            ("customers", event("customer.churned", 0, customer_id="u1")),
            ("customers", event("order.placed", 1, customer_id="u1", value=12.5)),
        ],
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("inputs", "forwards", "dead"), [pytest.param(*row[1:], id=row[0]) for row in ROUTES]
)
def test_route(
    inputs: list[tuple[str, bytes | None]],
    forwards: list[tuple[str, str, str, int]],
    dead: list[tuple[str, int]],
) -> None:
    batch = messages(inputs)
    out = router().route(RouterPartition(0), batch, NOW)
    assert [(f.queue, f.channel, f.source, f.offset) for f in out.forwards] == forwards
    assert [(d.reason, d.message.offset) for d in out.dead_letters] == dead
    # forwards carry the original key and, typed or as they are, the bytes; dead letters the
    # original message
    by_coordinates = {(m.topic, m.partition, m.offset): m for m in batch}
    for f in out.forwards:
        original = by_coordinates[f.topic, f.partition, f.offset].value
        assert (f.key, original_value(f)) == (b"k", original)
    assert all(d.message in batch and d.detail for d in out.dead_letters)


def test_stats_count_accepted_unrouted_and_rejected_per_source() -> None:
    part = RouterPartition(0)
    out = router().route(
        part,
        messages(
            [
                ("agents", event("agent.state_changed", 0, agent_id="a1", state="available")),
                ("agents", event("agent.state_changed", 1, agent_id="a1", state="busy")),
                ("customers", event("customer.churned", 0, customer_id="u1")),
                ("customers", event("order.placed", 1, customer_id="u1")),
                ("calls", b"nope"),
                QUEUED_C1,
                ("calls", event("call.answered", 5, call_id="c2", agent_id="a1")),
            ]
        ),
        NOW,
    )
    assert out.stats_changed
    assert out.forwards[0].queue == "billing"
    assert part.stats == {
        "agents/0": RouterStats(offset=1, accepted={"agent.state_changed": 2}),
        "customers/0": RouterStats(offset=1, accepted={"customer.churned": 1, "order.placed": 1}),
        # forwarded events are counted by the aggregator, not here
        "calls/0": RouterStats(offset=2, rejected={"invalid_json": 1, "unknown_contact": 1}),
    }


# (first batch, second batch, contacts new in the second, whether the second counts anything)
REPLAYS: list[tuple[list[int], list[int], list[int], bool]] = [
    ([0, 1, 2], [0, 1, 2], [], False),  # the same batch again (crash before commit)
    ([0, 1, 2], [1, 2, 3, 4], [3, 4], True),  # overlapping
    ([0, 1, 2], [2], [], False),
    ([5, 6], [3, 4, 7], [3, 4, 7], True),  # below the stored offset but never seen
]


@pytest.mark.parametrize(("first", "second", "new", "counts"), REPLAYS)
def test_replayed_offsets_are_forwarded_again_but_not_counted(
    first: list[int], second: list[int], new: list[int], counts: bool
) -> None:
    """A forward may have died with a crashed worker: replays are forwarded again (the
    aggregator skips what it has), while the router's own counts move only for new offsets."""

    def batch(offsets: list[int]) -> list[Message]:
        return [
            Message("calls", 0, o, None, event("call.queued", o, call_id=f"c{o}", queue="q"))
            for o in offsets
        ]

    r, part = router(), RouterPartition(0)
    r.route(part, batch(first), NOW)
    out = r.route(part, batch(second), NOW)
    assert [f.offset for f in out.forwards] == second
    assert out.stats_changed is counts
    assert set(out.route_writes) == {f"c:c{o}" for o in new}
    assert part.stats["calls/0"].offset == max(first + second)


def test_replayed_rejections_are_resent_not_recounted() -> None:
    r, part = router(), RouterPartition(0)
    bad = [Message("calls", 0, 4, None, b"nope")]
    r.route(part, bad, NOW)
    out = r.route(part, bad, NOW)
    assert [d.reason for d in out.dead_letters] == ["invalid_json"]
    assert part.stats["calls/0"].rejected == {"invalid_json": 1}


def test_offsets_are_tracked_per_topic_and_partition() -> None:
    r, part = router(), RouterPartition(0)
    r.route(part, [Message("calls", 0, 7, None, QUEUED_C1[1])], NOW)
    ticket = Message("tickets", 0, 3, None, CREATED_T1[1])
    call_other_partition = Message(
        "calls", 1, 3, None, event("call.queued", 0, call_id="c2", queue="billing")
    )
    out = r.route(part, [ticket, call_other_partition], NOW)
    assert [(f.source, f.offset) for f in out.forwards] == [("tickets/0", 3), ("calls/1", 3)]


def test_a_tombstone_for_an_unknown_topic_is_still_consumed() -> None:
    part = RouterPartition(0)
    out = router().route(part, [Message("calls", 0, 0, b"c1", None)], NOW)
    assert [(d.reason, d.message.key) for d in out.dead_letters] == [("invalid_json", b"c1")]
    assert part.stats["calls/0"].offset == 0


def test_too_large() -> None:
    raw = event("call.queued", 0, call_id="c1", queue="billing")
    out = router(max_event_bytes=len(raw) - 1).route(
        RouterPartition(0), [Message("calls", 0, 0, None, raw)], NOW
    )
    assert [d.reason for d in out.dead_letters] == ["too_large"]


def test_key_and_value_together_must_fit_the_limit() -> None:
    """The forward carries both: a valid event under a huge key is too large, not forwarded."""
    raw = event("call.queued", 0, call_id="c1", queue="billing")
    part = RouterPartition(0)
    limit = len(raw) + 2
    fits = Message("calls", 0, 0, b"c1", raw)
    over = Message("calls", 0, 1, b"c1x", raw)
    out = router(max_event_bytes=limit).route(part, [fits, over], NOW)
    assert [f.offset for f in out.forwards] == [0]
    assert [(d.reason, d.detail, d.message.offset) for d in out.dead_letters] == [
        ("too_large", f"key and value are {limit + 1} bytes (3 of key), the limit is {limit}", 1)
    ]
    assert part.stats["calls/0"].rejected == {"too_large": 1}


# (events, route writes as key → (queue, channel, finished at seconds))
ROUTE_WRITES: list[
    tuple[str, list[tuple[str, bytes]], dict[str, tuple[str, str, float | None]]]
] = [
    ("creation", [QUEUED_C1], {"c:c1": ("billing", "phone", None)}),
    (
        "no write for events that change nothing",
        [QUEUED_C1, ("calls", event("call.answered", 5, call_id="c1", agent_id="a1"))],
        {"c:c1": ("billing", "phone", None)},
    ),
    (
        "abandoned finishes a call",
        [QUEUED_C1, ("calls", event("call.abandoned", 5, call_id="c1"))],
        {"c:c1": ("billing", "phone", T0 + 5)},
    ),
    (
        "wrap-up finishes a call",
        [
            QUEUED_C1,
            ("calls", event("call.answered", 5, call_id="c1", agent_id="a1")),
            ("calls", event("call.ended", 50, call_id="c1")),
            ("calls", event("call.wrapup_completed", 80, call_id="c1")),
        ],
        {"c:c1": ("billing", "phone", T0 + 80)},
    ),
    (
        "closed finishes a ticket; solved does not",
        [
            CREATED_T1,
            ("tickets", event("ticket.status_changed", 5, ticket_id="t1", status="solved")),
            ("tickets", event("ticket.status_changed", 9, ticket_id="t1", status="closed")),
        ],
        {"t:t1": ("sales", "email", T0 + 9)},
    ),
    (
        "a reopened ticket is not finished any more",
        [
            CREATED_T1,
            ("tickets", event("ticket.status_changed", 9, ticket_id="t1", status="closed")),
            ("tickets", event("ticket.status_changed", 20, ticket_id="t1", status="open")),
        ],
        {"t:t1": ("sales", "email", None)},
    ),
]


@pytest.mark.parametrize(
    ("inputs", "writes"), [pytest.param(*row[1:], id=row[0]) for row in ROUTE_WRITES]
)
def test_route_writes(
    inputs: list[tuple[str, bytes]], writes: dict[str, tuple[str, str, float | None]]
) -> None:
    part = RouterPartition(0)
    out = router().route(part, messages(list(inputs)), NOW)
    assert {
        k: None if r is None else (r.queue, r.channel, r.finished_at)
        for k, r in out.route_writes.items()
    } == writes
    assert {k: part.routes[k] for k in writes} == out.route_writes


def test_expire_forgets_finished_routes_only() -> None:
    part = RouterPartition(0)
    part.routes = {
        "c:done-early": Route("billing", "phone", finished_at=T0 + 10),
        "c:done-at-horizon": Route("billing", "phone", finished_at=T0 + 100),
        "c:done-late": Route("billing", "phone", finished_at=T0 + 200),
        "t:open": Route("sales", "email"),
    }
    assert router().expire(part, T0 + 100) == ["c:done-early"]
    assert sorted(part.routes) == ["c:done-at-horizon", "c:done-late", "t:open"]
    # after expiry, later events of the contact are unknown
    late = Message("calls", 0, 0, None, event("call.ended", 5, call_id="done-early"))
    out = router().route(part, [late], NOW)
    assert [d.reason for d in out.dead_letters] == ["unknown_contact"]


def test_forward_is_hashable_and_frozen() -> None:
    f = Item("q", "phone", "calls", 0, 1, None, None, b"{}")
    assert {f: 1}[Item("q", "phone", "calls", 0, 1, None, None, b"{}")] == 1


def test_agent_and_customer_events_are_deduplicated_by_event_id() -> None:
    r, part = router(), RouterPartition(0)
    agent = event("agent.state_changed", 0, agent_id="a1", state="busy")
    order = event("order.placed", 1, customer_id="u1")
    first = [Message("agents", 0, 0, None, agent), Message("customers", 0, 0, None, order)]
    again = [Message("agents", 0, 1, None, agent), Message("customers", 0, 1, None, order)]
    r.route(part, first, NOW)
    r.route(part, first, NOW)  # a replay: counted once, not a duplicate
    out = r.route(part, again, NOW)  # the same ids published again: duplicates
    assert out.forwards == []
    assert part.stats["agents/0"] == RouterStats(offset=1, accepted={"agent.state_changed": 1},
                                                 duplicates=1)  # fmt: skip
    assert part.stats["customers/0"].duplicates == 1
    assert part.stats["customers/0"].accepted == {"order.placed": 1}


def test_a_bug_while_routing_rejects_the_message_instead_of_stopping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r, part = router(), RouterPartition(0)

    def broken(*args: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(r, "_resolve", broken)
    out = r.route(part, [Message("calls", 0, 0, b"c1", QUEUED_C1[1])], NOW)
    assert [(d.reason, d.detail) for d in out.dead_letters] == [
        ("processing_error", "KeyError: 'boom'")
    ]
    assert part.stats["calls/0"].rejected == {"processing_error": 1}


def test_open_contacts_of_a_queue_share_one_route_and_finishing_replaces_it() -> None:
    r, part = router(), RouterPartition(0)
    created: list[tuple[str, bytes | None]] = [
        ("tickets", event("ticket.created", 0, ticket_id=f"t{i}", queue="sales", channel="email"))
        for i in range(3)
    ]
    created.append(("calls", event("call.queued", 0, call_id="c1", queue="sales")))
    r.route(part, messages(created), NOW)
    t0, t1, t2, c1 = (part.routes[k] for k in ("t:t0", "t:t1", "t:t2", "c:c1"))
    assert t0 is t1 is t2  # one object for every open ticket of sales by email
    assert c1 is not t0 and c1 == Route("sales", "phone")
    later: list[tuple[str, bytes | None]] = [
        ("tickets", event("ticket.status_changed", 10, ticket_id="t1", status="closed")),
        ("tickets", event("ticket.status_changed", 20, ticket_id="t2", status="closed")),
        ("tickets", event("ticket.status_changed", 30, ticket_id="t2", status="open")),
    ]
    out = r.route(part, messages(later, first_offset=3), NOW)
    assert part.routes["t:t0"] is t0 == Route("sales", "email")  # the shared one is unchanged
    assert part.routes["t:t1"] == Route("sales", "email", finished_at=T0 + 10)
    assert part.routes["t:t2"] is t0  # reopened: the shared open route again
    assert out.route_writes == {"t:t1": part.routes["t:t1"], "t:t2": t0}
    with pytest.raises(AttributeError):
        t0.finished_at = T0  # type: ignore[misc]

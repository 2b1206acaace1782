"""Bad input on the real broker: each message is dead-lettered with its reason and changes no KPI.

Two independent pipelines run side by side on one broker: the *baseline* gets only the good
events, the other gets the same good events with a corpus of bad ones mixed in (malformed JSON,
non-objects, invalid UTF-8, missing and mistyped fields, unknown types and enum values, bad
timestamps, out-of-range scores, oversized payloads, unknown contacts, impossible transitions,
tombstones). Every contact and queue sample of the two must be identical; every bad message must
be on the dead-letter topic with its reason header and counted under that reason.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.factories import Events
from tests.integration.conftest import INPUT_TOPICS, WorkerFactory
from tests.integration.harness import (
    Publishable,
    consume_all,
    isolated,
    kpis,
    publish,
    renamed,
    total,
    value,
    wait_same_ewt_scoring,
    wait_until,
)

pytestmark = pytest.mark.integration
FROZEN = "2026-11-22T10:40:00Z"
MIB = 1024 * 1024


ev = Events("bad")


def raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


GOOD: list[Publishable] = [
    ("calls", "g1", ev("call.queued", "10:31:00", call_id="g1", queue="billing")),
    ("calls", "g2", ev("call.queued", "10:32:00", call_id="g2", queue="billing")),
    ("calls", "g3", ev("call.queued", "10:33:00", call_id="g3", queue="support", channel="chat")),
    ("calls", "g1", ev("call.answered", "10:31:15", call_id="g1", agent_id="a1")),
    ("calls", "g2", ev("call.abandoned", "10:32:40", call_id="g2")),
    ("tickets", "t1", ev("ticket.created", "10:30:00", ticket_id="t1", queue="support",
                         channel="email")),
    ("tickets", "t1", ev("ticket.message_added", "10:34:00", ticket_id="t1", author="agent")),
    ("tickets", "t1", ev("survey.responded", "10:35:00", ticket_id="t1", kind="csat", score=4)),
    ("agents", "a1", ev("agent.state_changed", "10:30:30", agent_id="a1", state="busy",
                        queues=["billing"])),
    ("customers", "u1", ev("order.placed", "10:36:00", customer_id="u1", value=12.5)),
]  # fmt: skip

_queued = ev("call.queued", "10:33:00", call_id="b1", queue="billing")
_padded = {**_queued, "call_id": "big", "padding": "x" * MIB}  # a valid event made too large
# (reason, message): each reason the router or the aggregator can give to a bad message.
BAD: list[tuple[str, Publishable]] = [
    ("invalid_json", ("calls", "x", b"{not json")),
    ("invalid_json", ("calls", "x", b"")),
    ("invalid_json", ("calls", "x", None)),  # a tombstone
    ("invalid_json", ("calls", "x", b'{"type": "call.queued", "event_id": "trunc')),
    ("not_an_object", ("calls", "x", b"[1, 2, 3]")),
    ("not_an_object", ("tickets", "x", b'"call.queued"')),
    ("not_an_object", ("tickets", "x", b"null")),
    ("invalid_utf8", ("calls", "b1", raw(_queued)[:-1] + b', "note": "\xff\xfe"}')),
    ("invalid_utf8", ("calls", "b1", b'{"type": "call.queued", "event_id": "\xc3\x28"}')),
    ("missing_field", ("calls", "b1", {k: v for k, v in _queued.items() if k != "call_id"})),
    ("missing_field", ("calls", "b1", {k: v for k, v in _queued.items() if k != "event_id"})),
    ("missing_field", ("calls", "b1", {k: v for k, v in _queued.items() if k != "occurred_at"})),
    ("missing_field", ("calls", "b1", {k: v for k, v in _queued.items() if k != "type"})),
    (
        "missing_field",
        ("tickets", "t9", ev("ticket.created", "10:33:00", ticket_id="t9", channel="email")),
    ),
    ("wrong_field_type", ("calls", "b1", {**_queued, "call_id": 17})),
    ("wrong_field_type", ("calls", "b1", {**_queued, "occurred_at": 1795000000})),
    (
        "wrong_field_type",
        (
            "tickets",
            "t1",
            ev("ticket.message_added", "10:34:30", ticket_id="t1", author="agent", public="yes"),
        ),
    ),
    ("unknown_type", ("calls", "b1", {**_queued, "type": "call.teleported"})),
    ("unknown_type", ("calls", "b1", {**_queued, "type": ""})),
    ("invalid_enum", ("calls", "b1", {**_queued, "channel": "fax"})),
    (
        "invalid_enum",
        (
            "tickets",
            "t1",
            ev("ticket.status_changed", "10:34:40", ticket_id="t1", status="deleted"),
        ),
    ),
    (
        "invalid_enum",
        ("agents", "a1", ev("agent.state_changed", "10:34:00", agent_id="a1", state="napping")),
    ),
    ("invalid_timestamp", ("calls", "b1", {**_queued, "occurred_at": "2026-11-22T10:33:00"})),
    ("invalid_timestamp", ("calls", "b1", {**_queued, "occurred_at": "1999-12-31T23:59:59Z"})),
    ("invalid_timestamp", ("calls", "b1", {**_queued, "occurred_at": "yesterday"})),
    ("timestamp_out_of_range", ("calls", "b1", {**_queued, "occurred_at": "2027-01-01T00:00:00Z"})),
    (
        "out_of_range",
        ("tickets", "t1", ev("survey.responded", "10:35:30", ticket_id="t1", kind="csat", score=9)),
    ),
    (
        "out_of_range",
        ("tickets", "t1", ev("survey.responded", "10:35:30", ticket_id="t1", kind="nps", score=-1)),
    ),
    (
        "out_of_range",
        ("customers", "u1", ev("order.placed", "10:36:00", customer_id="u1", value=-3)),
    ),
    ("invalid_field", ("calls", "b1", {**_queued, "event_id": "e" * 129})),
    ("invalid_field", ("calls", "b1", {**_queued, "queue": ""})),
    ("too_large", ("calls", "big", {**_queued, "call_id": "big", "padding": "x" * 65536})),
    ("too_large", ("calls", "big", _padded)),  # 1 MiB: the broker takes it, the worker refuses
    ("wrong_topic", ("calls", "t1", ev("ticket.escalated", "10:34:00", ticket_id="t1"))),
    (
        "unknown_contact",
        ("calls", "c99", ev("call.answered", "10:33:00", call_id="c99", agent_id="a1")),
    ),
    (
        "unknown_contact",
        (
            "tickets",
            "t99",
            ev("ticket.status_changed", "10:33:00", ticket_id="t99", status="solved"),
        ),
    ),
    (
        "unknown_contact",
        (
            "tickets",
            "t99",
            ev("survey.responded", "10:33:00", ticket_id="t99", kind="csat", score=5),
        ),
    ),
    # Lifecycle rules (stage 2): answered after abandoned, queued twice, ended before answered.
    (
        "invalid_transition",
        ("calls", "g2", ev("call.answered", "10:32:50", call_id="g2", agent_id="a1")),
    ),
    (
        "invalid_transition",
        ("calls", "g1", ev("call.queued", "10:31:30", call_id="g1", queue="billing")),
    ),
    (
        "invalid_transition",
        ("calls", "g3", ev("call.wrapup_completed", "10:33:30", call_id="g3")),
    ),
]
EXPECTED_REASONS = Counter(reason for reason, _ in BAD)


def mixed() -> list[Publishable]:
    """The good events with the bad ones after each contact's first event (so they can refer
    to it), all in one stream."""
    out = list(GOOD[:3])
    bad = [m for _, m in BAD]
    out += bad[: len(bad) // 2]
    out += GOOD[3:]
    out += bad[len(bad) // 2 :]
    return out


def test_every_bad_message_is_dead_lettered_and_changes_no_kpi(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    settings = {"STREAM_GRACE_SECONDS": "1800", "STREAM_IDLE_SECONDS": "2"}
    clean_env = isolated(broker.bootstrap, "clean", INPUT_TOPICS)
    dirty = workers(frozen_time=FROZEN, **settings)
    clean = workers(frozen_time=FROZEN, **settings, **clean_env)
    wait_until(
        lambda: all(w.partitions() == {0, 1, 2, 3} for w in (dirty, clean)),
        120,
        "each worker owning every partition of its pipeline",
    )

    assert publish(broker.bootstrap, renamed(GOOD, "clean")) == len(GOOD)
    n = publish(broker.bootstrap, mixed())
    assert n == len(GOOD) + len(BAD)

    def settled() -> bool:
        d, c = dirty.scrape(), clean.scrape()
        return (
            total(c, "contact_centre_events_total") == len(GOOD)
            and total(d, "contact_centre_events_total") == len(GOOD)
            and total(d, "contact_centre_events_rejected_total") == len(BAD)
        )

    wait_until(settled, 60, "both pipelines to account for every message")
    # A call's EWT error is booked once the watermark passes its answer; wait until both
    # pipelines (whose partitions differ) have scored the same calls.
    wait_same_ewt_scoring(dirty, clean)
    d, c = dirty.scrape(), clean.scrape()

    # No contact or queue sample differs from the clean run, and the clean run has the KPIs.
    assert kpis(d) == kpis(c)
    assert value(c, "contact_centre_calls_offered_total", queue="billing", channel="phone") == 2
    assert (
        value(c, "contact_centre_answer_wait_seconds_sum", queue="billing", channel="phone") == 15
    )
    # Accepted, duplicate and late counts are the clean run's; rejections are exact per reason.
    for name in ("events_total", "events_duplicate_total", "events_late_total"):
        family = f"contact_centre_{name}"
        assert {k: v for k, v in d.items() if k[0] == family} == {
            k: v for k, v in c.items() if k[0] == family
        }, name
    rejected = {
        dict(labels)["reason"]: v
        for (name, labels), v in d.items()
        if name == "contact_centre_events_rejected_total"
    }
    assert rejected == dict(EXPECTED_REASONS)
    assert total(c, "contact_centre_events_rejected_total") == 0

    # The dead-letter topic holds each bad message once, with its reason, value unchanged.
    dead = consume_all(broker.bootstrap, "kpi-dead-letter", len(BAD))
    assert len(dead) == len(BAD)
    assert Counter(dict(r.headers)["reason"].decode() for r in dead) == EXPECTED_REASONS
    by_reason: dict[str, list[bytes]] = {}
    for r in dead:
        by_reason.setdefault(dict(r.headers)["reason"].decode(), []).append(r.value)
    assert b"{not json" in by_reason["invalid_json"]
    # The 1 MiB message is dead-lettered truncated (a whole one would not fit a Kafka request).
    (huge,) = (r for r in dead if "truncated_from_bytes" in dict(r.headers))
    assert int(dict(huge.headers)["truncated_from_bytes"]) == len(json.dumps(_padded).encode())
    assert huge.value == json.dumps(_padded).encode()[: len(huge.value)]
    assert 64 * 1024 < len(huge.value) < MIB
    assert consume_all(broker.bootstrap, "clean-dead-letter", 1, timeout=3) == []

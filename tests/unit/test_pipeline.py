"""The pipeline end to end in memory (``tests.pipeline_harness``): the hand-computed scenario,
duplicates, replays after a crash, the expiry of finished contacts and the split collectors.
"""

from __future__ import annotations

import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from stream.core import segments
from stream.core.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
)
from stream.export.metrics import KpiCollector, PipelineCollector
from stream.read import ReadView, WorkerAt
from stream.store import records
from tests.pipeline_harness import (
    NOW,
    QUEUE_PARTITION,
    T0,
    Clock,
    Harness,
    Input,
    P,
    Samples,
    call,
    histogram,
    input_partition,
    sample,
    status,
    survey,
    ticket,
)
from tests.pipeline_scenario import (
    BAD,
    BILLING_WINDOW,
    DUPLICATES,
    EXPECTED,
    SCENARIO,
    SUPPORT_WINDOW,
    VALID,
    WINDOW_KEYS,
    contract_samples,
)


@pytest.mark.parametrize("batch_size", [1, 8, len(SCENARIO)])
def test_hand_computed_scenario(batch_size: int) -> None:
    h = Harness()
    h.run(SCENARIO, batch_size)

    registry = h.registry()
    for (name, labels), value in EXPECTED.items():
        assert registry.get_sample_value(name, dict(labels)) == value, (name, labels)
    assert contract_samples(h) == EXPECTED  # and no other series of these families

    billing, support = h.queue("billing"), h.queue("support")
    assert set(billing.windows) == set(support.windows) == WINDOW_KEYS
    assert all(w == BILLING_WINDOW for w in billing.windows.values())
    assert all(w == SUPPORT_WINDOW for w in support.windows.values())
    assert (billing.duplicates, billing.late, billing.rejected) == (2, 0, {"invalid_transition": 1})
    assert (support.duplicates, support.late, support.rejected) == (0, 0, {})
    assert (billing.max_event_time, support.max_event_time) == (T0 + 710, T0 + 810)

    live = h.pipeline.agg_parts[0].live["billing"]
    assert live.waiting == {"c:c5": T0 + 400}
    assert {k: v for k, v in live.backlog.items() if v} == {"pending": 1, "on_hold": 1}
    assert live.awaiting == {"t:t2": T0 + 50, "t:t3": T0 + 200}
    live = h.pipeline.agg_parts[1].live["support"]
    assert live.waiting == {"c:c7": T0 + 500}
    assert {k: v for k, v in live.backlog.items() if v} == {"open": 1}
    assert live.awaiting == {"t:t5": T0 + 300}

    # one dead letter per rejected input, with the original bytes and coordinates
    dead = sorted(
        (dict(d.headers)["reason"].decode(), dict(d.headers)["source_topic"].decode(), d.value)
        for d in h.dead_letters
    )
    assert dead == sorted(
        [
            ("invalid_json", "calls", b"{not json"),
            ("unknown_contact", "calls", BAD[1][2] or b""),
            ("invalid_transition", "calls", BAD[2][2] or b""),
            ("wrong_topic", "calls", BAD[3][2] or b""),
            ("timestamp_out_of_range", "calls", BAD[4][2] or b""),
        ]
    )
    assert h.windows == []  # every window is still open at 10:14:30 (grace 60 s)


def test_scenario_gauges_follow_the_scrape_clock() -> None:
    h = Harness()
    h.run(SCENARIO)
    h.clock.now = NOW + 100  # 100 s later every age has grown by 100 s
    registry = h.registry()
    assert registry.get_sample_value(P + "oldest_call_waiting_seconds", {"queue": "billing"}) == (
        570.0
    )
    assert registry.get_sample_value(
        P + "oldest_ticket_awaiting_first_response_seconds", {"queue": "support"}
    ) == (670.0)
    # At 10:16:10 the current 15-minute window (10:15) has no events: no 15m gauge at all ...
    assert (
        registry.get_sample_value(P + "service_level_ratio", {"queue": "billing", "window": "15m"})
        is None
    )
    # ... except where a first-response deadline fell inside it (none here) ...
    assert (
        registry.get_sample_value(
            P + "first_response_within_target_ratio", {"queue": "support", "window": "15m"}
        )
        is None
    )
    # ... while 1h and today still hold everything.
    assert (
        registry.get_sample_value(P + "service_level_ratio", {"queue": "billing", "window": "1h"})
        == 1 / 3
    )


# --- duplicates ----------------------------------------------------------------------------------

Q1 = call("d-q", "call.queued", 0, "d1", queue="billing")
A1 = call("d-a", "call.answered", 12, "d1", agent_id="a1")
CR = ticket("d-c", "ticket.created", 0, "dt", queue="billing", channel="web")
SV = survey("d-s", 30, "csat", 4, ticket_id="dt")

# (batches of inputs, expected samples, expected duplicates)
DUPLICATE_CASES: list[tuple[str, list[list[Input]], Samples, int]] = [
    (
        "call.queued twice in one batch",
        [[Q1, Q1]],
        sample("calls_offered_total", 1, queue="billing", channel="phone"),
        1,
    ),
    (
        "call.queued twice in two batches",
        [[Q1], [Q1]],
        sample("calls_offered_total", 1, queue="billing", channel="phone"),
        1,
    ),
    (
        "same event_id, different body",
        [[Q1], [call("d-q", "call.queued", 5, "d1", queue="billing", channel="chat")]],
        sample("calls_offered_total", 1, queue="billing", channel="phone"),
        1,
    ),
    (
        "a duplicated answer after later events",
        [[Q1, A1, call("d-e", "call.ended", 40, "d1")], [A1, A1]],
        sample("calls_answered_total", 1, queue="billing", channel="phone")
        | histogram(
            "answer_wait_seconds", ANSWER_WAIT_BOUNDS, [12], queue="billing", channel="phone"
        ),
        2,
    ),
    (
        "ticket.created twice",
        [[CR], [CR]],
        sample("tickets_created_total", 1, queue="billing", channel="web"),
        1,
    ),
    (
        "a survey twice",
        [[CR, SV], [SV]],
        sample("survey_responses_total", 1, queue="billing", kind="csat"),
        1,
    ),
]


@pytest.mark.parametrize(
    ("batches", "expected", "duplicates"),
    [pytest.param(*row[1:], id=row[0]) for row in DUPLICATE_CASES],
)
def test_duplicates_are_counted_once(
    batches: list[list[Input]], expected: Samples, duplicates: int
) -> None:
    h = Harness()
    for inputs in batches:
        h.feed(h.publish(inputs))
    got = h.samples()
    assert {k: got.get(k) for k in expected} == expected
    assert got[(P + "events_duplicate_total", ())] == duplicates
    assert h.dead_letters == []


def test_publishing_the_whole_stream_twice_changes_only_the_duplicate_counter() -> None:
    h = Harness()
    h.run(VALID + DUPLICATES)
    once = h.samples()
    h.run(VALID + DUPLICATES, batch_size=5)
    twice = h.samples()
    duplicates = (P + "events_duplicate_total", ())
    assert twice[duplicates] == once[duplicates] + len(VALID + DUPLICATES)
    assert {k: v for k, v in twice.items() if k != duplicates} == {
        k: v for k, v in once.items() if k != duplicates
    }
    assert h.dead_letters == []


# --- replays (crash before the offsets were committed) --------------------------------------------


def test_feeding_the_same_batches_again_changes_nothing() -> None:
    h = Harness()
    batches = h.run(SCENARIO)
    before, table, dead = h.samples(), h.table, list(h.dead_letters)
    for batch in batches:
        # A replay is forwarded again (its first forward may have died with the worker) ...
        h.feed(batch)
    # ... and changes no number and no stored record; dead letters are re-sent, not re-counted.
    assert h.samples() == before
    assert h.table == table
    assert sorted(d.headers for d in h.dead_letters) == sorted(d.headers for d in dead * 2)


def test_forwarded_batches_delivered_again_change_nothing() -> None:
    h = Harness()
    forwards = []
    for batch in [h.publish(SCENARIO[i : i + 8]) for i in range(0, len(SCENARIO), 8)]:
        fwd = h.route(batch)
        h.aggregate(fwd)
        forwards += fwd
    before, table = h.samples(), h.table
    for partition, payload in forwards:
        effects = h.pipeline.aggregate(partition, [payload])
        assert effects.aggregate_writes == []
        # Only dead letters come out again (re-sent at-least-once; counted once).
        assert {m.role for m in effects.messages} <= {"dead_letter"}
    assert h.samples() == before
    assert h.table == table


CRASHES = [
    "redelivered after a clean restart",  # everything stored, offsets not committed
    "router writes lost",  # forwards sent and applied, routes and router offsets not stored
    "nothing stored",  # forwards sent, then the worker died before storing anything
    "contact writes lost",  # queue records of the batch stored, contact records not
]


def only_queue_records(delta: bytes | None) -> bytes | None:
    assert delta is not None
    writes = segments.unpack(delta)
    return msgspec.msgpack.encode([(n, v) for n, v in writes if n.startswith("q|")])  # plain


def record_writes(writes: list[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    """The record writes inside delta segments, as (record key, value)."""
    out = []
    for key, value in writes:
        partition, name = records.split_key(key)
        assert name.startswith("x|") and value is not None
        for rname, rvalue in segments.unpack(value):
            out.append((records.key(partition, rname), rvalue))
    return out


@pytest.mark.parametrize("crash", CRASHES)
def test_crash_and_replay_of_the_last_batch_is_exact(crash: str) -> None:
    reference = Harness()
    reference.run(SCENARIO)

    h = Harness()
    h.run(SCENARIO[:-12])
    last = h.publish(SCENARIO[-12:])
    routes_before, aggs_before = dict(h.route_store), dict(h.agg_store)
    effects = h.pipeline.route(last)
    forwards = h.perform(effects)
    if crash == "router writes lost":
        h.aggregate(forwards)
        h.route_store = routes_before
    elif crash == "nothing stored":
        h.route_store, h.agg_store = routes_before, aggs_before
    elif crash == "contact writes lost":
        # Only possible across the chunks of one large delta: the queue records come first.
        by_partition: dict[int, list[bytes]] = {}
        for partition, payload in forwards:
            by_partition.setdefault(partition, []).append(payload)
        for partition, payloads in by_partition.items():
            agg = h.pipeline.aggregate(partition, payloads)
            h.store(h.agg_store, [(k, only_queue_records(v)) for k, v in agg.aggregate_writes])
    else:
        h.aggregate(forwards)

    h.restart()
    # Kafka redelivers what was not committed: the input batch, and any forwards it produced.
    h.aggregate(forwards)
    h.feed(last)
    assert h.samples() == reference.samples()
    for name in QUEUE_PARTITION:
        assert h.queue(name) == reference.queue(name)


# --- expiry --------------------------------------------------------------------------------------

EXPIRY: list[Input] = [
    call("x1-q", "call.queued", 0, "x1", queue="billing"),
    call("x1-a", "call.answered", 10, "x1", agent_id="a1"),
    call("x1-e", "call.ended", 100, "x1"),
    call("x1-w", "call.wrapup_completed", 130, "x1"),  # finished at 130
    call("x2-q", "call.queued", 50, "x2", queue="billing"),
    call("x2-x", "call.abandoned", 60, "x2"),  # finished at 60
    call("x3-q", "call.queued", 70, "x3", queue="billing"),  # still waiting
    ticket("y1-c", "ticket.created", 0, "y1", queue="billing", channel="email"),
    status("y1-s", 100, "y1", "solved"),
    status("y1-x", 200, "y1", "closed"),  # finished at 200
    ticket("y2-c", "ticket.created", 0, "y2", queue="billing", channel="email"),
    status("y2-x", 100, "y2", "closed"),
    status("y2-o", 150, "y2", "open"),  # reopened: not finished
    ticket("y3-c", "ticket.created", 0, "y3", queue="billing", channel="email"),
    status("y3-s", 300, "y3", "solved"),  # solved is not finished
]


def contacts(h: Harness) -> set[str]:
    return set(h.pipeline.agg_parts[0].contacts)


def routes(h: Harness) -> set[str]:
    return {k for part in h.pipeline.router_parts.values() for k in part.routes}


def test_finished_contacts_expire_after_the_retention() -> None:
    h = Harness(clock=Clock(T0 + 4000), retention_seconds=3600.0)
    h.run(EXPIRY)
    everything = {"c:x1", "c:x2", "c:x3", "t:y1", "t:y2", "t:y3"}
    assert contacts(h) == routes(h) == everything
    h.perform(h.pipeline.expire())
    assert contacts(h) == routes(h) == everything  # newest event 300: horizon −3300

    h.run([call("x9-q", "call.queued", 3750, "x9", queue="billing")])  # horizon 150
    before = h.samples()
    effects = h.pipeline.expire()
    assert sorted(record_writes(effects.aggregate_writes)) == [
        (b"0|c:x1", None),
        (b"0|c:x2", None),
    ]
    assert sorted(record_writes(effects.route_writes)) == sorted(
        [
            (records.key(input_partition(b"x1"), "r|c:x1"), None),
            (records.key(input_partition(b"x2"), "r|c:x2"), None),
        ]
    )
    h.perform(effects)
    assert contacts(h) == routes(h) == everything - {"c:x1", "c:x2"} | {"c:x9"}
    assert h.samples() == before  # forgetting contacts changes no metric
    assert not any(b"x1" in k or b"x2" in k for k in h.table)

    h.run([call("x10-q", "call.queued", 3850, "x10", queue="billing")])  # horizon 250
    h.perform(h.pipeline.expire())
    assert contacts(h) == routes(h) == {"c:x3", "t:y2", "t:y3", "c:x9", "c:x10"}

    # Events of forgotten contacts are unknown; the reopened ticket still routes.
    h.run(
        [
            call("x1-late", "call.ended", 3900, "x1"),
            ticket("y2-reply", "ticket.message_added", 3900, "y2", author="agent"),
        ]
    )
    assert [dict(d.headers)["reason"] for d in h.dead_letters] == [b"unknown_contact"]
    registry = h.registry()
    email = {"queue": "billing", "channel": "email"}
    assert registry.get_sample_value(P + "first_response_seconds_count", email) == 1
    assert registry.get_sample_value(P + "first_response_seconds_sum", email) == 3900.0
    assert registry.get_sample_value(P + "first_responses_within_target_total", email) == 1


def test_expired_contacts_survive_a_restart_as_forgotten() -> None:
    h = Harness(clock=Clock(T0 + 4000), retention_seconds=3600.0)
    h.run([*EXPIRY, call("x9-q", "call.queued", 3850, "x9", queue="billing")])
    h.perform(h.pipeline.expire())
    remaining, before = contacts(h), contract_samples(h)
    h.restart()
    assert contacts(h) == remaining == routes(h)
    assert contract_samples(h) == before


def test_split_collectors_export_the_same_and_serve_restricted_scrapes() -> None:
    """The worker registers the KPIs and the pipeline counters as two described collectors, so
    ``/metrics?name[]=...`` runs only the collector it needs; together they export exactly
    what the single collector does."""
    h = Harness()
    h.run(SCENARIO)
    split = CollectorRegistry(auto_describe=False)
    kpis = KpiCollector(ReadView(h.pipeline), h.clock, with_pipeline=False)
    split.register(kpis)
    split.register(PipelineCollector(ReadView(h.pipeline)))
    assert generate_latest(split) == generate_latest(h.registry())

    calls: list[int] = []
    original = kpis.view.at

    def counting(now: float) -> WorkerAt:
        calls.append(1)
        return original(now)

    kpis.view.at = counting  # type: ignore[method-assign]
    names = ["contact_centre_events_total", "contact_centre_events_duplicate_total"]
    text = generate_latest(split.restricted_registry(names)).decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples and all(line.startswith(tuple(names)) for line in samples)
    assert calls == []  # the KPI families were not built
    assert 'contact_centre_calls_offered_total{channel="phone",queue="billing"}' in (
        generate_latest(split.restricted_registry(["contact_centre_calls_offered_total"])).decode()
    )
    assert calls == [1]

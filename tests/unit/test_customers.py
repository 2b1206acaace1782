"""Churn, retention and conversion after contact (``stream.core.kpis.customers``): churned customers
and the share of them who contacted support in the 30 days before; contacts followed by an order
of the same customer within the horizon.

Table-driven twice: on the pure functions (facts in every order, each twice), and through the
in-memory pipeline of ``test_aggregator`` (tickets keyed by ticket, churns keyed by customer, the
facts forwarded to the customer's partition): one event per batch and all in one, reversed, after
a restart from the stored segments, and with every input batch and forward delivered again.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest
from aiokafka.partitioner import DefaultPartitioner

from stream.config import Settings
from stream.core.kpis.customers import (
    CONVERSION_HORIZON_SECONDS,
    LOOKBACK_SECONDS,
    CustomerRecord,
    CustomerTotals,
    add_churn,
    add_contact,
    add_order,
    churn_rate,
    churned_after_contact_share,
    conversion_share,
    current_counts,
    expired,
    prune,
)
from stream.core.segments import SegmentLog
from stream.stages.pipeline import CustomerPartition, customer_partition
from stream.store import records
from tests.pipeline_harness import NOW, PARTITIONS, T0, Harness, Input, body, ticket

DAY = 86400.0

# --- the pure functions ------------------------------------------------------------------------

Fact = tuple[str, float, str]  # kind ("contact" / "churn"), seconds after T0, ident

# (id, facts of one customer, (churned, churned after contact))
PURE: list[tuple[str, list[Fact], tuple[int, int]]] = [
    ("nothing", [], (0, 0)),
    ("contacts only", [("contact", 0, "t1"), ("contact", 5, "t2")], (0, 0)),
    ("churn without contact", [("churn", 0, "e1")], (1, 0)),
    ("contact then churn", [("contact", 0, "t1"), ("churn", 10, "e1")], (1, 1)),
    ("contact at the churn instant counts", [("contact", 10, "t1"), ("churn", 10, "e1")], (1, 1)),
    ("contact after the churn does not", [("churn", 10, "e1"), ("contact", 11, "t1")], (1, 0)),
    (
        "contact exactly 30 days before counts",
        [("contact", -LOOKBACK_SECONDS, "t1"), ("churn", 0, "e1")],
        (1, 1),
    ),
    (
        "contact 30 days and a second before does not",
        [("contact", -LOOKBACK_SECONDS - 1, "t1"), ("churn", 0, "e1")],
        (1, 0),
    ),
    (
        "two contacts, one churn: counted once",
        [("contact", 0, "t1"), ("contact", 5, "t2"), ("churn", 10, "e1")],
        (1, 1),
    ),
    (
        "two churn events (distinct ids) count twice",
        [("contact", 0, "t1"), ("churn", 10, "e1"), ("churn", 20, "e2")],
        (2, 2),
    ),
]


def apply_pure(facts: list[Fact]) -> tuple[int, int]:
    rec, totals = CustomerRecord("u1"), CustomerTotals()
    for kind, seconds, ident in facts:
        if kind == "contact":
            add_contact(rec, totals, T0 + seconds, ident.encode(), "billing")
        else:
            add_churn(rec, totals, T0 + seconds, ident.encode())
    return totals.churned, totals.churned_after_contact


@pytest.mark.parametrize(
    ("facts", "expected"), [pytest.param(f, e, id=name) for name, f, e in PURE]
)
def test_churn_counts_in_any_order_with_duplicates(
    facts: list[Fact], expected: tuple[int, int]
) -> None:
    for order in itertools.permutations(facts):
        assert apply_pure(list(order)) == expected
        assert apply_pure([f for fact in order for f in (fact, fact)]) == expected


def test_a_late_contact_books_into_the_churns_window() -> None:
    rec, totals = CustomerRecord("u1"), CustomerTotals()
    assert add_churn(rec, totals, T0 + 10, b"e1")
    assert current_counts(totals, "15m", T0 + 20) == (1, 0)
    assert add_contact(rec, totals, T0 - DAY, b"t1", "billing")
    assert current_counts(totals, "15m", T0 + 20) == (1, 1)
    assert current_counts(totals, "today", T0 + 20) == (1, 1)
    assert not add_contact(rec, totals, T0 - DAY, b"t1", "billing")  # again: nothing changes
    assert current_counts(totals, "1h", T0 + 20) == (1, 1)
    assert current_counts(totals, "15m", T0 + 900) is None  # the next quarter: no churn yet


def test_records_expire_after_30_days_without_contact() -> None:
    rec, other, totals = CustomerRecord("u1"), CustomerRecord("u2"), CustomerTotals()
    add_contact(rec, totals, T0, b"t1", "billing")
    add_contact(other, totals, T0 + LOOKBACK_SECONDS, b"t2", "billing")
    assert not expired(rec, totals) and not expired(other, totals)
    add_contact(other, totals, T0 + LOOKBACK_SECONDS + 1, b"t3", "billing")
    assert expired(rec, totals) and not expired(other, totals)


def test_prune_drops_facts_older_than_twice_the_lookback() -> None:
    rec, totals = CustomerRecord("u1"), CustomerTotals()
    add_contact(rec, totals, T0 - 61 * DAY, b"t0", "billing")
    add_churn(rec, totals, T0 - 61 * DAY, b"e0")
    add_order(rec, totals, T0 - 59 * DAY, b"o0")
    add_contact(rec, totals, T0, b"t1", "billing")
    assert prune(rec, totals)
    assert (rec.contacts, rec.churns, rec.orders) == (
        ((T0, b"t1", "billing"),),
        (),
        ((T0 - 59 * DAY, b"o0"),),
    )
    assert not prune(rec, totals)
    assert (totals.contacts, totals.churned) == (2, 1)  # counts stay


def test_share() -> None:
    assert churned_after_contact_share(0, 0) is None
    assert churned_after_contact_share(1, 4) == 0.25
    assert conversion_share(0, 0) is None
    assert conversion_share(3, 4) == 0.75


H = CONVERSION_HORIZON_SECONDS
# (id, facts of one customer ("contact" / "order"), (contacts, converted))
CONVERSION: list[tuple[str, list[Fact], tuple[int, int]]] = [
    ("nothing", [], (0, 0)),
    ("contact without order", [("contact", 0, "t1")], (1, 0)),
    ("order without contact", [("order", 0, "o1")], (0, 0)),
    ("order after the contact", [("contact", 0, "t1"), ("order", 10, "o1")], (1, 1)),
    ("order at the contact instant does not", [("contact", 0, "t1"), ("order", 0, "o1")], (1, 0)),
    ("order before the contact does not", [("order", 0, "o1"), ("contact", 10, "t1")], (1, 0)),
    ("order exactly at the horizon counts", [("contact", 0, "t1"), ("order", H, "o1")], (1, 1)),
    ("order past the horizon does not", [("contact", 0, "t1"), ("order", H + 1, "o1")], (1, 0)),
    (
        "two orders convert a contact once",
        [("contact", 0, "t1"), ("order", 10, "o1"), ("order", 20, "o2")],
        (1, 1),
    ),
    (
        "one order converts every contact within its horizon",
        [
            ("contact", 0, "t1"),
            ("contact", 5, "t2"),
            ("contact", -H - 1, "t0"),
            ("order", 10, "o1"),
        ],
        (3, 2),
    ),
]


def apply_conversion(facts: list[Fact]) -> tuple[int, int]:
    rec, totals = CustomerRecord("u1"), CustomerTotals()
    for kind, seconds, ident in facts:
        if kind == "contact":
            add_contact(rec, totals, T0 + seconds, ident.encode(), "billing")
        else:
            add_order(rec, totals, T0 + seconds, ident.encode())
    assert totals.queues.get("billing", (0, 0)) == (totals.contacts, totals.converted)
    return totals.contacts, totals.converted


def test_conversion_counts_per_queue_of_the_contact() -> None:
    rec, totals = CustomerRecord("u1"), CustomerTotals()
    add_contact(rec, totals, T0, b"t1", "billing")
    add_contact(rec, totals, T0 + 5, b"t2", "sales")
    add_contact(rec, totals, T0 - H - 1, b"t0", "sales")  # too long before the order
    add_order(rec, totals, T0 + 10, b"o1")
    assert totals.queues == {"billing": (1, 1), "sales": (2, 1)}
    assert (totals.contacts, totals.converted) == (3, 2)


@pytest.mark.parametrize(
    ("facts", "expected"), [pytest.param(f, e, id=name) for name, f, e in CONVERSION]
)
def test_conversion_in_any_order_with_duplicates(
    facts: list[Fact], expected: tuple[int, int]
) -> None:
    for order in itertools.permutations(facts):
        assert apply_conversion(list(order)) == expected
        assert apply_conversion([f for fact in order for f in (fact, fact)]) == expected


def test_a_contact_seen_again_earlier_keeps_the_earlier_time() -> None:
    rec, totals = CustomerRecord("u1"), CustomerTotals()
    add_order(rec, totals, T0 + 10, b"o1")
    assert add_contact(rec, totals, T0 + 20, b"t1", "billing")  # after the order: not converted
    assert (totals.contacts, totals.converted) == (1, 0)
    assert add_contact(rec, totals, T0, b"t1", "billing")  # the same ticket, earlier: converted
    assert (totals.contacts, totals.converted) == (1, 1)
    assert not add_contact(rec, totals, T0 + 20, b"t1", "billing")
    assert (totals.contacts, totals.converted) == (1, 1)


def test_the_horizon_is_a_setting() -> None:
    assert Settings.from_env({}).conversion_horizon_seconds == 7 * DAY
    env = {"STREAM_CONVERSION_HORIZON_SECONDS": "2d"}
    assert Settings.from_env(env).conversion_horizon_seconds == 2 * DAY


# --- through the pipeline ----------------------------------------------------------------------


def created(eid: str, seconds: float, ticket_id: str, customer: str | None, **more: Any) -> Input:
    fields: dict[str, Any] = {"queue": "billing", "channel": "email", **more}
    if customer is not None:
        fields["customer_id"] = customer
    return ticket(eid, "ticket.created", seconds, ticket_id, **fields)


def churned(eid: str, seconds: float, customer: str) -> Input:
    value = body(eid, "customer.churned", seconds, customer_id=customer)
    return ("customers", customer.encode(), value)


def ordered(eid: str, seconds: float, customer: str) -> Input:
    value = body(eid, "order.placed", seconds, customer_id=customer, value=12.5)
    return ("customers", customer.encode(), value)


Expected = dict[str, float]  # sample name (+ window) → value
NOTHING: Expected = {"churned": 0, "after": 0, "contacts": 0, "converted": 0}

# (id, events, expected samples); NOW is 10:14:30 on 2026-11-22, T0 is 10:00
CASES: list[tuple[str, list[Input], Expected]] = [
    ("no events", [], NOTHING),
    (
        "contacts without churn",
        [created("e1", 0, "t1", "u1"), created("e2", 1, "t2", None)],
        {**NOTHING, "contacts": 1},
    ),
    (
        "conversion: one order converts the contacts of its customer within 7 days",
        [
            created("e1", -3 * DAY, "t1", "u1"),
            created("e2", -8 * DAY, "t2", "u1"),  # more than 7 days before the order
            created("e3", 0, "t3", "u2"),
            ordered("o1", 10, "u1"),
            ordered("o1", 10, "u1"),  # published twice
            ordered("o2", 20, "u1"),
            ordered("o3", -DAY, "u2"),  # before u2's contact
            ordered("o4", 0, "u3"),  # no contact
        ],
        {**NOTHING, "contacts": 3, "converted": 1},
    ),
    (
        "one churn after a contact, one without, one contact after its churn",
        [
            created("e1", -20 * DAY, "t1", "u1"),
            churned("c1", 10, "u1"),
            churned("c2", 20, "u2"),
            churned("c3", 30, "u3"),
            created("e2", 40, "t3", "u3"),
            created("e3", 0, "t4", "u4"),  # never churns
        ],
        {
            "churned": 3,
            "after": 1,
            "contacts": 3,
            "converted": 0,
            "15m": 3,
            "1h": 3,
            "today": 3,
            "15m_after": 1,
            "1h_after": 1,
            "today_after": 1,
        },
    ),
    (
        "duplicates: a ticket created twice, a churn published twice",
        [
            created("e1", 0, "t1", "u1"),
            created("e1", 0, "t1", "u1"),
            churned("c1", 10, "u1"),
            churned("c1", 10, "u1"),
        ],
        {
            "churned": 1,
            "contacts": 1,
            "converted": 0,
            "after": 1,
            "15m": 1,
            "1h": 1,
            "today": 1,
            "15m_after": 1,
            "1h_after": 1,
            "today_after": 1,
        },
    ),
    (
        "windows: a churn earlier today is only in today",
        [created("e1", -3 * 3600, "t1", "u1"), churned("c1", -2 * 3600, "u1")],
        {**NOTHING, "churned": 1, "after": 1, "contacts": 1, "today": 1, "today_after": 1},
    ),
    (
        "a contact 31 days before the churn does not count",
        [created("e1", -31 * DAY, "t1", "u1"), churned("c1", 10, "u1")],
        {
            "churned": 1,
            "contacts": 1,
            "converted": 0,
            "after": 0,
            "15m": 1,
            "1h": 1,
            "today": 1,
            "15m_after": 0,
            "1h_after": 0,
            "today_after": 0,
        },
    ),
]


def churn_samples(h: Harness) -> Expected:
    out: Expected = {"contacts": 0, "converted": 0}  # per queue: no series before a contact
    for (name, labels), v in h.samples().items():
        window = dict(labels).get("window")
        if name == "contact_centre_customers_churned_total":
            out["churned"] = v
        elif name == "contact_centre_customers_churned_after_contact_total":
            out["after"] = v
        elif name == "contact_centre_contacts_with_customer_total":
            assert dict(labels) == {"queue": "billing"}
            out["contacts"] = v
        elif name == "contact_centre_contacts_converted_total":
            assert dict(labels) == {"queue": "billing"}
            out["converted"] = v
        elif name == "contact_centre_customers_churned_in_window":
            assert window is not None
            out[window] = v
        elif name == "contact_centre_customers_churned_after_contact_in_window":
            out[f"{window}_after"] = v
    return out


def ids() -> list[Any]:
    return [pytest.param(events, expected, id=name) for name, events, expected in CASES]


@pytest.mark.parametrize(("events", "expected"), ids())
@pytest.mark.parametrize("batch_size", [1, 100])
def test_churn_through_the_pipeline(
    events: list[Input], expected: Expected, batch_size: int
) -> None:
    h = Harness()
    h.run(events, batch_size=batch_size)
    assert churn_samples(h) == expected
    h = Harness()
    h.run(list(reversed(events)), batch_size=batch_size)
    assert churn_samples(h) == expected


@pytest.mark.parametrize(("events", "expected"), ids())
def test_churn_survives_a_restart(events: list[Input], expected: Expected) -> None:
    h = Harness()
    h.run(events, batch_size=2)
    h.restart()  # Pipeline.load from the stored segments only
    assert churn_samples(h) == expected
    later = [created("z1", 100, "tz", "uz"), churned("z2", 110, "uz"), ordered("z3", 120, "u1")]
    h.run(later)
    reference = Harness()
    reference.run([*events, *later], batch_size=2)
    assert churn_samples(h) == churn_samples(reference)


@pytest.mark.parametrize(("events", "expected"), ids())
def test_replays_and_redelivered_forwards_change_nothing(
    events: list[Input], expected: Expected
) -> None:
    h = Harness()
    h.run_with_redeliveries(events)
    assert churn_samples(h) == expected


def test_a_lost_fact_is_resent_by_the_replay() -> None:
    """A crash after the router stored its writes but before the facts reached stage 2."""
    h = Harness()
    h.run([created("e1", 0, "t1", "u1")])
    last = h.publish([churned("c1", 10, "u1")])
    h.route(last)  # stored, forwards lost
    h.restart()
    h.feed(last)  # redelivered: a replay for the router
    assert churn_samples(h)["after"] == 1


def test_expiry_forgets_customers_30_days_without_contact() -> None:
    h = Harness()
    h.run([created("e1", -40 * DAY, "t1", "u1"), created("e2", 0, "t2", "u2")])
    h.perform(h.pipeline.expire())
    kept = {cid for cp in h.pipeline.customer_parts.values() for cid in cp.records}
    assert kept == {"u2"}
    h.run([created("e3", -70 * DAY, "t3", "u2")])  # an old contact of a customer kept
    h.perform(h.pipeline.expire())
    assert [len(records.decode_customer(cp.records["u2"]).contacts)
            for cp in h.pipeline.customer_parts.values() if "u2" in cp.records] == [1]  # fmt: skip
    h.restart()
    assert {cid for cp in h.pipeline.customer_parts.values() for cid in cp.records} == {"u2"}
    assert all(isinstance(cp, CustomerPartition) for cp in h.pipeline.customer_parts.values())


def test_the_pipeline_uses_the_configured_horizon() -> None:
    events = [created("e1", -3 * DAY, "t1", "u1"), ordered("o1", 0, "u1")]
    h = Harness()
    h.pipeline.conversion_horizon_seconds = 2 * DAY
    h.run(events)
    assert churn_samples(h)["converted"] == 0
    h = Harness()
    h.run(events)
    assert churn_samples(h)["converted"] == 1


def test_churn_is_not_an_event_of_a_queue() -> None:
    h = Harness()
    h.run([created("e1", 0, "t1", "u1"), churned("c1", 10, "u1"), churned("c1", 10, "u1")])
    m = h.samples()
    assert m[("contact_centre_events_total", (("type", "customer.churned"),))] == 1
    assert m[("contact_centre_events_duplicate_total", ())] == 1
    assert (
        m[("contact_centre_tickets_created_total", (("channel", "email"), ("queue", "billing")))]
        == 1
    )
    assert NOW - T0 == 870  # the windows above assume the scenario clock


def test_customer_facts_go_one_message_per_partition_where_the_key_would_send_them() -> None:
    """Grouped per partition (a message per customer costs a produce round each), on the
    partition Kafka's default partitioner gives the customer id, where they always went."""
    every = list(range(8))
    for cid in ("u1", "cust-42", "ü-7", ""):
        assert customer_partition(cid, 8) == DefaultPartitioner()(cid.encode(), every, every)
    h = Harness()
    batch = h.publish([created(f"e{i}", 0, f"t{i}", f"u{i}") for i in range(50)])
    effects = h.pipeline.route(batch)
    grouped = [m for m in effects.messages if m.role == "forward" and m.partition is not None]
    assert sorted(m.partition or 0 for m in grouped) == sorted(PARTITIONS)  # one each, 50 customers
    assert all(m.key is None for m in grouped)


def test_churn_rate_formula() -> None:
    assert churn_rate(0, 0) is None  # nobody active: no data
    assert churn_rate(3, 0) is None
    assert churn_rate(1, 4) == 0.25


def test_active_customers_had_a_contact_in_the_last_30_days() -> None:
    """Per partition, 30 days of event time before its newest fact; a recent contact on each
    partition sets that clock to T0."""
    recent = {customer_partition(f"r{i}", len(PARTITIONS)): f"r{i}" for i in range(20)}
    assert set(recent) == PARTITIONS
    h = Harness()
    h.run(
        [
            *(created(f"now-{cid}", 0, f"t-{cid}", cid) for cid in recent.values()),
            created("e1", -31 * DAY, "t1", "old"),  # too long ago
            created("e2", -29 * DAY, "t2", "month"),  # within 30 days
            created("e3", -40 * DAY, "t3", "back"),
            created("e4", -DAY, "t4", "back"),  # an old contact and a recent one: active
            churned("c1", 5, "churner"),  # churned without a contact: not active
            ordered("o1", 5, "buyer"),  # an order is not a contact
        ]
    )
    active = {k: v for k, v in h.samples().items() if k[0] == "contact_centre_customers_active"}
    assert active == {("contact_centre_customers_active", ()): len(recent) + 2}
    h.run([created("e5", 0, "t5", "new")])  # live: counts at once
    assert h.samples()[("contact_centre_customers_active", ())] == len(recent) + 3
    h.restart()  # rebuilt from the stored customers
    assert h.samples()[("contact_centre_customers_active", ())] == len(recent) + 3

    def tracked() -> int:
        return sum(len(cp.last_contacts) for cp in h.pipeline.customer_parts.values())

    before = tracked()
    h.perform(h.pipeline.expire())  # forgets "old" (no fact for over 30 days)
    assert tracked() == before - 1
    assert h.samples()[("contact_centre_customers_active", ())] == len(recent) + 3
    h.run([created("e6", -5 * DAY, "t6", "old")])  # back: active again
    assert h.samples()[("contact_centre_customers_active", ())] == len(recent) + 4


def test_a_restart_keeps_stored_customers_as_they_are_and_converts_older_maps() -> None:
    h = Harness()
    h.run([created("e1", 0, "t1", "u1"), churned("c1", 10, "u1")])
    before = {cid: v for cp in h.pipeline.customer_parts.values() for cid, v in cp.records.items()}
    h.restart()
    after = {cid: v for cp in h.pipeline.customer_parts.values() for cid, v in cp.records.items()}
    assert after == before  # the stored bytes, as they were

    older = CustomerRecord("u9", ((5.0, b"h" * 8, "billing"),), (), ())
    writes = SegmentLog(0).append([("u|u9", msgspec.msgpack.encode(older))])  # a map
    h.pipeline.load({0}, [], [(key, value) for key, value in writes if value is not None])
    stored = h.pipeline.customer_parts[0].records["u9"]
    assert stored == records.encode_customer(older)  # converted to the array form
    assert list(h.pipeline.customer_parts[0].last_contacts) == [5.0]

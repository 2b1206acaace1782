"""The family table (``stream.export.families``) against what is exported and documented.

A small hand-computed state (one queue, seconds after 10:00 UTC, clock at 10:14:30, the
in-memory pipeline of ``test_aggregator``, default targets: answer 20 s, short abandon 5 s,
handle time 6 min, first response 60 s on chat and 24 h on email) gives every declared family
at least one sample, asserted exactly; every family exported is declared, with the table's
type and help; the README metric table names every declared family (with its labels where it
lists them) and nothing else; the exporters import the read view, never the write side.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from stream.config import parse_targets
from stream.export.families import ALL_FAMILIES, PREFIX, Family
from stream.export.metrics import (
    KpiCollector,
    PipelineCollector,
    ProgressCollector,
    SnapshotErrorsCollector,
)
from stream.read import ReadView
from tests.pipeline_harness import T0, Harness, Input, body, call, ticket

ROOT = Path(__file__).resolve().parents[2]
TARGETS = parse_targets("agent_reasons: [lunch]\nqueues:\n  billing: {}\n", source="t.yaml")
B = {"queue": "billing"}


def agent(eid: str, seconds: float, agent_id: str, state: str, **fields: Any) -> Input:
    value = body(eid, "agent.state_changed", seconds, agent_id=agent_id, state=state, **fields)
    return ("agents", agent_id.encode(), value)


def customer(eid: str, type_: str, seconds: float, customer_id: str) -> Input:
    return ("customers", customer_id.encode(), body(eid, type_, seconds, customer_id=customer_id))


def survey(eid: str, seconds: float, ticket_id: str, kind: str, score: int) -> Input:
    value = body(eid, "survey.responded", seconds, ticket_id=ticket_id, kind=kind, score=score)
    return ("tickets", ticket_id.encode(), value)


INPUTS: list[Input] = [
    # 09:45-10:00, the window before: one call (wait 10 s, handled 100 s), a complaint ticket
    # rated CSAT 1 and NPS 0.
    call("c0q", "call.queued", -800, "c0", **B),
    call("c0a", "call.answered", -790, "c0", agent_id="a1"),
    call("c0e", "call.ended", -700, "c0"),
    call("c0w", "call.wrapup_completed", -690, "c0"),
    ticket("t0c", "ticket.created", -600, "t0", channel="email", category="complaint", **B),
    survey("s0", -590, "t0", "csat", 1),
    survey("s00", -580, "t0", "nps", 0),
    # From 10:00: a1 available, busy 10-200, after-call work 200-230; a2 away at lunch.
    agent("a1", 0, "a1", "available", queues=["billing"]),
    agent("a2", 0, "a2", "away", queues=["billing"], reason="lunch"),
    call("c1q", "call.queued", 0, "c1", **B),
    call("c1o", "call.offered", 2, "c1", agent_id="a1"),
    call("c1a", "call.answered", 10, "c1", agent_id="a1"),
    agent("a1b", 10, "a1", "busy"),
    call("c1h", "call.hold_started", 60, "c1"),
    call("c1H", "call.hold_ended", 90, "c1"),
    call("c1e", "call.ended", 200, "c1"),
    agent("a1w", 200, "a1", "after_call_work"),
    call("c1w", "call.wrapup_completed", 230, "c1"),
    agent("a1f", 230, "a1", "available"),
    call("c2q", "call.queued", 100, "c2", **B),
    call("c2x", "call.abandoned", 103, "c2"),  # a short abandon
    call("c3q", "call.queued", 300, "c3", **B),
    call("c3x", "call.exited", 400, "c3", reason="timeout"),
    call("c4q", "call.queued", 500, "c4", **B),
    call("c4r", "call.callback_requested", 510, "c4"),
    call("c4c", "call.callback_completed", 600, "c4", outcome="connected"),
    call("c5q", "call.queued", 800, "c5", priority="high", **B),  # waiting at 10:14:30
    call("c6q", "call.queued", 700, "c6", transferred_from="support", **B),
    call("c6o", "call.offered", 705, "c6", agent_id="a1"),
    call("c6m", "call.offer_missed", 725, "c6", agent_id="a1", reason="no_answer"),
    call("c6a", "call.answered", 730, "c6", agent_id="a1"),
    call("c6t", "call.transferred", 760, "c6", kind="blind", to="sales"),
    ticket("t1c", "ticket.created", 50, "t1", channel="email", customer_id="u1", **B),
    ticket("t1m", "ticket.message_added", 80, "t1", author="agent", agent_id="a1"),
    ticket("t1s", "ticket.status_changed", 120, "t1", status="solved"),
    survey("s1", 130, "t1", "csat", 5),
    ticket(
        "t2c",
        "ticket.created",
        600,
        "t2",
        channel="chat",
        priority="urgent",
        category="complaint",
        **B,
    ),
    customer("o1", "order.placed", 135, "u1"),
    customer("u1x", "customer.churned", 140, "u1"),
    survey("s2", 650, "t2", "nps", 10),
    ("calls", b"x1", b"{not json"),
]

L = dict[str, str]
# Exported sample name → (labels, value): at least one sample of every declared family.
EXPECTED: dict[str, list[tuple[L, float]]] = {
    "calls_offered_total": [({"channel": "phone"}, 7), ({"channel": "chat"}, 0)],  # c0-c6
    "calls_answered_total": [({"channel": "phone"}, 3)],  # c0, c1, c6
    "calls_abandoned_total": [({"channel": "phone"}, 1)],
    "calls_short_abandoned_total": [({"channel": "phone"}, 1)],  # c2 after 3 s
    "calls_answered_within_target_total": [({"channel": "phone"}, 2)],  # c0, c1 10 s; c6 30 s
    "calls_handled_within_target_total": [({"channel": "phone"}, 2)],  # 100 s, 220 s
    "tickets_created_total": [({"channel": "email"}, 2), ({"channel": "chat"}, 1)],
    "first_responses_within_target_total": [({"channel": "email"}, 1)],
    "tickets_solved_total": [({"channel": "email"}, 1)],
    "tickets_resolved_within_target_total": [({"channel": "email"}, 1)],
    "tickets_reopened_total": [({"channel": "email"}, 0)],
    "tickets_escalated_total": [({"channel": "email"}, 0)],
    "tickets_complaints_total": [({"channel": "email"}, 1), ({"channel": "chat"}, 1)],
    "tickets_solved_one_touch_total": [({"channel": "email"}, 1)],
    "tickets_one_touch_reopened_total": [({"channel": "email"}, 0)],
    "agent_offers_total": [({"channel": "phone"}, 2)],
    "agent_offers_answered_total": [({"channel": "phone"}, 1)],  # c1's ring; c6's was missed
    "calls_transferred_in_total": [({"channel": "phone"}, 1)],
    "calls_abandoned_on_hold_total": [({"channel": "phone"}, 0)],
    "callbacks_requested_total": [({"channel": "phone"}, 1)],
    "calls_exited_total": [
        ({"channel": "phone", "reason": "timeout"}, 1),
        ({"channel": "phone", "reason": "key"}, 0),
    ],
    "calls_transferred_total": [({"channel": "phone", "kind": "blind"}, 1)],
    "call_offers_missed_total": [({"channel": "phone", "reason": "no_answer"}, 1)],
    "callbacks_completed_total": [({"channel": "phone", "outcome": "connected"}, 1)],
    "answer_wait_seconds_sum": [({"channel": "phone"}, 50)],  # 10 + 10 + 30
    "answer_wait_seconds_bucket": [({"channel": "phone", "le": "10.0"}, 2)],
    "handle_time_seconds_sum": [({"channel": "phone"}, 320)],  # 100 + 220 (hold included)
    "first_response_seconds_sum": [({"channel": "email"}, 30)],
    "resolution_seconds_sum": [({"channel": "email"}, 70)],
    "full_resolution_seconds_count": [({"channel": "email"}, 0)],  # none closed
    "first_response_business_seconds_sum": [({"channel": "email"}, 30)],
    "resolution_business_seconds_sum": [({"channel": "email"}, 70)],
    "survey_responses_total": [({"kind": "csat"}, 2), ({"kind": "nps"}, 2)],
    "calls_waiting": [({}, 1)],
    "oldest_call_waiting_seconds": [({}, 70)],  # c5 since 800 s
    "tickets_open": [({"status": "open"}, 2), ({"status": "pending"}, 0)],
    "tickets_awaiting_first_response": [({}, 2)],  # t0, t2
    "oldest_ticket_awaiting_first_response_seconds": [({}, 1470)],  # t0 since −600 s
    "agents": [({"state": "available"}, 1), ({"state": "away", "reason": "lunch"}, 1)],
    "last_event_timestamp_seconds": [({}, T0 + 800)],
    "agents_staffed": [({}, 2)],
    "agents_on_queue": [({}, 1)],
    "agents_available": [({}, 1)],
    "calls_ringing": [({}, 0)],
    "agents_ringing": [({}, 0)],
    "sla_breached": [({"kind": "answer"}, 1), ({"kind": "first_response"}, 1)],  # c5, t2
    "sla_at_risk": [({"kind": "answer"}, 0)],
    "tickets_open_by_age": [({"age": "<1d"}, 2)],
    # The 10:00 quarter: c1 and c6 answered (c1 within), c2 short-abandoned, six offered.
    "service_level_ratio": [({"window": "15m"}, 0.5)],
    "abandon_rate_ratio": [({"window": "15m"}, 1 / 6)],
    "average_speed_of_answer_seconds": [({"window": "15m"}, 20)],
    "average_handle_time_seconds": [({"window": "15m"}, 220)],
    "handle_time_within_target_ratio": [({"window": "15m"}, 1.0)],
    "first_response_within_target_ratio": [({"window": "15m"}, 0.5)],  # t1; t2 breached
    "average_first_response_seconds": [({"window": "15m"}, 30)],
    "average_resolution_seconds": [({"window": "15m"}, 70)],
    "csat_ratio": [({"window": "15m"}, 1.0), ({"window": "today"}, 0.5)],
    "nps_score": [({"window": "15m"}, 100), ({"window": "today"}, 0)],
    "csat_responses": [({"window": "15m"}, 1)],
    "csat_mean_score": [({"window": "15m"}, 5), ({"window": "today"}, 3)],
    "csat_wilson_lower_ratio": [({"window": "15m"}, 0.20654931437723745)],  # 1 / (1 + z²)
    "csat_wilson_upper_ratio": [({"window": "15m"}, 1.0)],
    "csat_ratio_change": [({"window": "15m"}, 1.0)],  # 1 − 0 (09:45: one rating of 1)
    "nps_responses": [({"window": "15m"}, 1)],
    "nps_promoters": [({"window": "15m"}, 1)],
    "nps_passives": [({"window": "15m"}, 0)],
    "nps_detractors": [({"window": "today"}, 1)],
    "nps_score_change": [({"window": "15m"}, 200)],  # 100 − (−100)
    "resolved_within_target_ratio": [({"window": "15m"}, 1.0)],
    "reopen_rate_ratio": [({"window": "15m"}, 0.0)],
    "escalation_rate_ratio": [({"window": "15m"}, 0.0)],
    "first_contact_resolution_ratio": [({"window": "15m"}, 1.0)],
    "complaint_rate_ratio": [({"window": "15m"}, 0.5)],  # t2 of t1, t2
    "complaint_rate_change_ratio": [({"window": "15m"}, -0.5)],  # 0.5 − 1 (t0)
    "agent_offers_in_window": [({"window": "15m"}, 2)],
    "agent_offers_answered_in_window": [({"window": "15m"}, 1)],
    "customers_churned_total": [({}, 1)],
    "customers_churned_after_contact_total": [({}, 1)],  # u1's ticket t1
    "customers_active": [({}, 1)],
    "contacts_with_customer_total": [({}, 1)],
    "contacts_converted_total": [({}, 1)],  # u1 ordered after t1
    "customers_churned_in_window": [({"window": "15m"}, 1)],
    "customers_churned_after_contact_in_window": [({"window": "15m"}, 1)],
    # a1: available 10 + 640 s, busy 190 s, ACW 30 s; a2 away 870 s: 1740 staffed seconds.
    "occupancy_ratio": [({"window": "15m"}, 220 / 870)],
    "contacts_per_staffed_agent_hour": [({"window": "15m"}, 2 / (1740 / 3600))],  # t1 + c1
    "tickets_solved_per_staffed_agent_hour": [({"window": "15m"}, 1 / (1740 / 3600))],
    "calls_completed_per_staffed_agent_hour": [({"window": "15m"}, 1 / (1740 / 3600))],
    "agent_state_seconds": [
        ({"window": "15m", "state": "available"}, 650),
        ({"window": "15m", "state": "busy"}, 190),
        ({"window": "15m", "state": "away", "reason": "lunch"}, 870),
        ({"window": "15m", "state": "away", "reason": "other"}, 0),
    ],
    # Erlang C under 09:45-10:00 (one call, AHT 100 s): A = 1/9, one agent on queue:
    # C(1, A) · AHT / (1 − A) = A · 100 / (8/9) = 12.5 s.
    "ewt_seconds": [({"method": "recent"}, 50 / 3), ({"method": "erlang_c"}, 12.5)],
    "agents_required": [({"model": "erlang_c"}, 1), ({"model": "erlang_a"}, 1)],
    # recent: c1 told 10 s (waited 10), c6 told 10 s (waited 30); erlang_c: 12.5 s to both.
    "ewt_error_seconds_sum": [({"method": "recent"}, -20), ({"method": "erlang_c"}, -15)],
    "ewt_error_seconds_count": [({"method": "recent"}, 2)],
    "ewt_unestimated_total": [({"method": "recent"}, 1), ({"method": "erlang_c"}, 1)],  # c0
    "callbacks_waiting": [({}, 0)],
    "oldest_callback_waiting_seconds": [({}, 0)],
    "calls_waiting_by_priority": [({"priority": "high"}, 1), ({"priority": "none"}, 0)],
    "tickets_open_by_priority": [({"priority": "urgent"}, 1), ({"priority": "none"}, 1)],
    "calls_transferred_in_window": [
        ({"window": "15m", "direction": "out"}, 1),
        ({"window": "15m", "direction": "in"}, 1),
    ],
    "calls_abandoned_on_hold_in_window": [({"window": "15m"}, 0)],
    "callbacks_requested_in_window": [({"window": "15m"}, 1)],
    "callbacks_completed_in_window": [({"window": "15m"}, 1)],
    "events_total": [({"type": "agent.state_changed"}, 5), ({"type": "call.queued"}, 7)],
    "events_rejected_total": [({"reason": "invalid_json"}, 1)],
    "events_duplicate_total": [({}, 0)],
    "worker_partitions": [({}, 2)],
    "events_late_total": [({}, 0)],
    "produce_failures_total": [({"role": "dead_letter"}, 1)],
    # 33 call, ticket and survey items booked, each 125 ms after its record's timestamp.
    "event_latency_seconds_count": [({}, 33)],
    "event_latency_seconds_sum": [({}, 33 * 0.125)],
    "event_latency_seconds_bucket": [({"le": "0.1"}, 0), ({"le": "0.15"}, 33)],
    "watermark_timestamp_seconds": [({}, T0 + 800 - 60)],  # the newest event − 60 s grace
    "source_partitions_behind": [({}, 0)],
    "source_partitions_paused": [({}, 1)],
    "windows_open": [({}, 3)],  # 15m, 1h and today of 10:00; those before are final
    "snapshot_errors_total": [({}, 2)],
}
_SUFFIXES = ("_total", "_sum", "_count", "_bucket")


def family_of(sample: str) -> Family[Any]:
    """The declared family a sample name belongs to (a counter's ``_total``, a histogram's)."""
    by_name = {f.name: f for f in ALL_FAMILIES}
    for suffix in ("", *_SUFFIXES):
        if sample.endswith(suffix) and (found := by_name.get(sample.removesuffix(suffix))):
            return found
    raise KeyError(sample)


@pytest.fixture(scope="module")
def exported() -> dict[str, Metric]:
    h = Harness(targets=TARGETS)
    h.pipeline.wall = lambda: h.clock() + 0.125  # every item booked 125 ms after its record
    h.run(INPUTS)
    h.pipeline.refused("dead_letter", "dead-letters", h.dead_letters[0], "too large")
    view = ReadView(h.pipeline)
    registry = CollectorRegistry()
    registry.register(KpiCollector(view, h.clock, with_pipeline=False))
    registry.register(PipelineCollector(view))
    registry.register(ProgressCollector(view, lambda: 1))
    registry.register(SnapshotErrorsCollector(lambda: 2))
    return {m.name: m for m in registry.collect()}


def test_every_declared_family_is_exported_as_declared(exported: dict[str, Metric]) -> None:
    declared = {PREFIX + f.name: f for f in ALL_FAMILIES}
    assert len(declared) == len(ALL_FAMILIES), "a family is declared twice"
    assert list(exported) == list(declared)  # the table's order is the exposition's
    for name, family in declared.items():
        metric = exported[name]
        assert (metric.type, metric.documentation) == (family.kind, family.help), name
        assert metric.samples, f"{name}: no sample in the known state"
        for sample in metric.samples:
            assert set(sample.labels) - {"le"} <= set(family.labels), sample


def test_every_declared_family_has_its_exact_values(exported: dict[str, Metric]) -> None:
    samples = {
        (s.name, frozenset(s.labels.items())): s.value for m in exported.values() for s in m.samples
    }
    covered = set()
    for name, rows in EXPECTED.items():
        family = family_of(name)
        covered.add(family.name)
        for labels, value in rows:
            if "queue" in family.labels:  # one queue here
                labels = {"queue": "billing", **labels}
            key = (PREFIX + name, frozenset(labels.items()))
            assert key in samples, f"no sample {name}{labels}"
            assert samples[key] == value, (name, labels, samples[key], value)
    assert covered == {f.name for f in ALL_FAMILIES}


def _readme_metrics() -> list[str]:
    """Every ``contact_centre_*`` name of the README metric table, brace lists expanded."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| KPI | formula"))
    out: list[str] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        for code in re.findall(r"`(contact_centre_[^`]*)`", line.split("|")[4]):
            out += _expand(code)
    return out


def _expand(code: str) -> list[str]:
    """``a_{b,c}_d{x,y}`` → ``a_b_d{x,y}``, ``a_c_d{x,y}`` (a trailing brace is the labels)."""
    m = re.search(r"\{([^}]*)\}", code)
    if m is None or m.end() == len(code):
        return [code]
    return [
        e
        for alt in m.group(1).split(",")
        for e in _expand(code[: m.start()] + alt + code[m.end() :])
    ]


def test_the_readme_table_documents_exactly_the_declared_families() -> None:
    declared = {f.exported: f for f in ALL_FAMILIES}
    documented = set()
    for code in _readme_metrics():
        m = re.fullmatch(r"(contact_centre_[a-z_]+)(?:\{([a-z_,]*)\})?", code)
        assert m is not None, f"README metric {code!r} is not a metric name"
        family = declared.get(m.group(1))
        assert family is not None, (
            f"README documents {m.group(1)}, which no row of the table declares"
        )
        if m.group(2) is not None:
            assert tuple(m.group(2).split(",")) == family.labels, code
        documented.add(m.group(1))
    assert sorted(set(declared) - documented) == [], "declared families missing from the README"


WRITE_SIDE = {
    "stream.stages.pipeline", "stream.stages.aggregate", "stream.stages.route",
    "stream.store.records", "stream.core.lifecycle", "stream.core.segments",
    "stream.worker.consumer", "stream.worker.app", "stream.worker.agents",
    "stream.worker.timers", "stream.worker.startup", "stream.worker.table",
}  # fmt: skip


@pytest.mark.parametrize(
    "path",
    ["stream/export/metrics.py", "stream/export/snapshots.py", "stream/web/server.py",
     *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "stream/export").glob("*.py"))],
)  # fmt: skip
def test_exporters_read_only_the_view(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not imported & WRITE_SIDE, f"{path} imports {sorted(imported & WRITE_SIDE)}"

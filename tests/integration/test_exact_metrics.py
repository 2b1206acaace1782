"""End to end on the real broker: a known event set gives hand-computed metrics exactly.

The set has two queues, calls and tickets, events out of order across contacts, duplicates,
bad input of every decoder reason plus lifecycle rejections, and two late events. The worker's
clock is frozen at 10:40:00Z, so ages and the current windows are exact. Grace is 30 min so that
arrival order across topics cannot make an on-time event late; the late events are published
afterwards, 70 min older than everything else.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.factories import Events
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import (
    Publishable,
    accounted,
    consume_all,
    publish,
    total,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration


ev = Events("ev")

call, ticket = ev.call_steps, ev.ticket_steps


def interleave(*contacts: list[Publishable]) -> list[Publishable]:
    """Round-robin across contacts, last contact first: out of order across contacts."""
    out: list[Publishable] = []
    for round_ in itertools.zip_longest(*reversed(contacts)):
        out.extend(m for m in round_ if m is not None)
    return out


B, S = {"queue": "billing"}, {"queue": "support"}
C1 = call("c1", ("call.queued", "10:31:00"), ("call.answered", "10:31:10"),
          ("call.hold_started", "10:32:00"), ("call.hold_ended", "10:32:30"),
          ("call.ended", "10:35:00"), ("call.wrapup_completed", "10:36:00"), **B)  # fmt: skip
C2 = call("c2", ("call.queued", "10:32:00"), ("call.answered", "10:32:45"), **B)
C3 = call("c3", ("call.queued", "10:33:00"), ("call.abandoned", "10:33:03"), **B)
C4 = call("c4", ("call.queued", "10:34:00"), ("call.abandoned", "10:34:30"), **B)
C5 = call("c5", ("call.queued", "10:38:00"), **B)
C6 = call("c6", ("call.queued", "10:36:00"), ("call.answered", "10:36:05"), channel="chat", **S)
C7 = call("c7", ("call.queued", "10:39:00"), **S)
T1 = ticket("t1",
    ("ticket.created", "10:20:00", {**B, "channel": "email"}),
    ("ticket.message_added", "10:20:05", {"author": "bot"}),
    ("ticket.message_added", "10:21:00", {"author": "agent", "public": False}),
    ("ticket.message_added", "10:25:00", {"author": "agent", "agent_id": "a2"}),
    ("ticket.status_changed", "10:26:00", {"status": "pending"}),
    ("ticket.status_changed", "10:30:00", {"status": "solved"}),
    ("survey.responded", "10:31:00", {"kind": "csat", "score": 5}),
)  # fmt: skip
T2 = ticket("t2",
    ("ticket.created", "10:35:00", {**S, "channel": "chat"}),
    ("ticket.message_added", "10:35:10", {"author": "customer"}),
)  # fmt: skip
T3 = ticket("t3",
    ("ticket.created", "10:37:00", {**S, "channel": "email"}),
    ("ticket.message_added", "10:37:30", {"author": "agent"}),
    ("ticket.status_changed", "10:38:00", {"status": "solved"}),
    ("ticket.status_changed", "10:39:00", {"status": "open"}),
    ("survey.responded", "10:39:30", {"kind": "nps", "score": 3}),
)  # fmt: skip
T4 = ticket("t4",
    ("ticket.created", "10:05:00", {**B, "channel": "web"}),
    ("ticket.status_changed", "10:06:00", {"status": "on_hold"}),
)  # fmt: skip
BAD: list[Publishable] = [
    ("calls", "x1", b"{not json"),
    ("calls", "x2", ev("call.teleported", "10:33:00", call_id="x2")),
    ("calls", "x3", ev("call.queued", "10:33:00", queue="billing")),  # no call_id
    ("tickets", "x4", ev("ticket.created", "10:33:00", ticket_id="x4", queue="q", channel="fax")),
    ("calls", "c99", ev("call.answered", "10:33:00", call_id="c99", agent_id="a1")),
    ("tickets", "t1", ev("survey.responded", "10:33:00", ticket_id="t1", kind="csat", score=9)),
]
ANSWER_AFTER_ABANDON: Publishable = ("calls", "c3", ev("call.answered", "10:35:00", call_id="c3",
                                                       agent_id="a1"))  # fmt: skip
AGENT: Publishable = ("agents", "a1", ev("agent.state_changed", "10:30:30", agent_id="a1",
                                         state="available", queues=["billing"]))  # fmt: skip
DUPLICATES: list[Publishable] = [C1[1], T1[0], AGENT]
LATE = call("c8", ("call.queued", "09:30:00"), ("call.answered", "09:30:20"), **B)

MAIN = [*interleave(C1, T4, C2, T1, C3, C6, T2, C4, T3, C5, C7), AGENT, *BAD,
        ANSWER_AFTER_ABANDON, *DUPLICATES]  # fmt: skip


def test_known_event_set_gives_exact_metrics(
    broker: EmbeddedBroker, workers: WorkerFactory
) -> None:
    w = workers(
        frozen_time="2026-11-22T10:40:00Z", STREAM_GRACE_SECONDS="1800", STREAM_IDLE_SECONDS="2"
    )
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    assert publish(broker.bootstrap, MAIN) == 43
    wait_until(lambda: accounted(w.scrape()) == 43, 60, "43 messages accounted for")
    # The late events are late once the watermark (the slowest source's newest event minus the
    # grace; idle partitions drop out after 2 s) has passed them: wait for it, not for a count.
    answered_late = datetime(2026, 11, 22, 9, 30, 20, tzinfo=UTC).timestamp()

    def watermark() -> float:
        return value(w.scrape(), "contact_centre_watermark_timestamp_seconds") or 0.0

    wait_until(lambda: watermark() > answered_late, 60,
               lambda: f"the watermark past 09:30:20 (at {watermark()})")  # fmt: skip
    assert publish(broker.bootstrap, LATE) == 2
    wait_until(lambda: accounted(w.scrape()) == 45, 60, "45 messages accounted for")
    wait_until(  # agents are counted in stage 1; their per-queue state follows via stage 2
        lambda: (
            value(w.scrape(), "contact_centre_agents", queue="billing", state="available")
            is not None
        ),
        30,
        "the agent's state in billing",
    )
    m = w.scrape()

    def v(name: str, **labels: str) -> float | None:
        return value(m, f"contact_centre_{name}", **labels)

    bp, sp, sc = (
        {"queue": "billing", "channel": "phone"},
        {"queue": "support", "channel": "phone"},
        {"queue": "support", "channel": "chat"},
    )
    # Calls, all time (c8 is late but still counts here).
    assert v("calls_offered_total", **bp) == 6
    assert v("calls_offered_total", **sp) == 1
    assert v("calls_offered_total", **sc) == 1
    assert v("calls_answered_total", **bp) == 3
    assert v("calls_answered_total", **sc) == 1
    assert v("calls_answered_within_target_total", **bp) == 2  # c1 10 s, c8 20 s (inclusive)
    assert v("calls_answered_within_target_total", **sc) == 1
    assert v("calls_abandoned_total", **bp) == 2
    assert v("calls_short_abandoned_total", **bp) == 1
    assert v("answer_wait_seconds_count", **bp) == 3
    assert v("answer_wait_seconds_sum", **bp) == 75  # 10 + 45 + 20
    assert v("answer_wait_seconds_bucket", le="10.0", **bp) == 1
    assert v("answer_wait_seconds_bucket", le="20.0", **bp) == 2
    assert v("answer_wait_seconds_bucket", le="45.0", **bp) == 3
    assert v("answer_wait_seconds_bucket", le="+Inf", **bp) == 3
    assert v("answer_wait_seconds_sum", **sc) == 5
    assert v("handle_time_seconds_count", **bp) == 1
    assert v("handle_time_seconds_sum", **bp) == 290  # 10:31:10 → 10:36:00, hold included
    # Live call gauges at 10:40:00.
    assert v("calls_waiting", queue="billing") == 1
    assert v("oldest_call_waiting_seconds", queue="billing") == 120
    assert v("calls_waiting", queue="support") == 1
    assert v("oldest_call_waiting_seconds", queue="support") == 60
    # Service level: answered within ÷ (answered + abandoned − short abandoned).
    assert v("service_level_ratio", queue="billing", window="15m") == pytest.approx(1 / 3)
    assert v("service_level_ratio", queue="billing", window="1h") == pytest.approx(1 / 3)
    assert v("service_level_ratio", queue="billing", window="today") == 0.5  # + late c8
    assert v("service_level_ratio", queue="support", window="15m") == 1.0
    assert v("abandon_rate_ratio", queue="billing", window="15m") == 0.4
    assert v("abandon_rate_ratio", queue="billing", window="today") == pytest.approx(2 / 6)
    assert v("average_speed_of_answer_seconds", queue="billing", window="15m") == 27.5
    assert v("average_speed_of_answer_seconds", queue="billing", window="today") == 25
    assert v("average_handle_time_seconds", queue="billing", window="15m") == 290
    # c1's 290 s is within the 6 min handle-time target
    assert v("calls_handled_within_target_total", queue="billing", channel="phone") == 1
    assert v("handle_time_within_target_ratio", queue="billing", window="15m") == 1.0
    # Tickets.
    be, bw, se, sch = (
        {"queue": "billing", "channel": "email"},
        {"queue": "billing", "channel": "web"},
        {"queue": "support", "channel": "email"},
        {"queue": "support", "channel": "chat"},
    )
    for labels in (be, bw, se, sch):
        assert v("tickets_created_total", **labels) == 1
    assert v("first_response_seconds_count", **be) == 1
    assert v("first_response_seconds_sum", **be) == 300  # bot reply and private note ignored
    assert v("first_response_seconds_sum", **se) == 30
    assert v("first_responses_within_target_total", **be) == 1
    assert v("tickets_solved_total", **be) == 1
    assert v("tickets_solved_total", **se) == 1
    assert v("resolution_seconds_sum", **be) == 600
    assert v("resolution_seconds_sum", **se) == 60
    assert v("tickets_reopened_total", **se) == 1
    assert v("tickets_reopened_total", **be) == 0  # exported at 0 from the start, never counted
    assert v("tickets_open", queue="billing", status="on_hold") == 1
    assert v("tickets_open", queue="billing", status="open") == 0
    assert v("tickets_open", queue="support", status="open") == 2
    assert v("tickets_awaiting_first_response", queue="billing") == 1
    assert v("oldest_ticket_awaiting_first_response_seconds", queue="billing") == 2100
    assert v("tickets_awaiting_first_response", queue="support") == 1
    assert v("oldest_ticket_awaiting_first_response_seconds", queue="support") == 300
    # FRT within target: t3 in 30 s; t2 (chat, 60 s target) breached at 10:36 without one.
    assert v("first_response_within_target_ratio", queue="support", window="15m") == 0.5
    assert v("first_response_within_target_ratio", queue="billing", window="15m") is None
    assert v("first_response_within_target_ratio", queue="billing", window="1h") == 1.0
    # Mean FRT / resolution of the tickets responded to / first solved in the window: t1's reply
    # at 10:25 (300 s) is before the 10:30 quarter, its solve at 10:30 (600 s) in it.
    assert v("average_first_response_seconds", queue="billing", window="15m") is None
    assert v("average_first_response_seconds", queue="billing", window="1h") == 300
    assert v("average_first_response_seconds", queue="support", window="15m") == 30
    assert v("average_resolution_seconds", queue="billing", window="15m") == 600
    assert v("average_resolution_seconds", queue="support", window="today") == 60
    # SLA timers at 10:40:00: c5 due 10:38:20, c7 10:39:20, t2 (chat) 10:36:00 are breached; t4's
    # (web) first response is due tomorrow 10:05; every resolution deadline is 2 days out.
    for queue, breached in (("billing", (1, 0, 0)), ("support", (1, 1, 0))):
        for kind, n in zip(("answer", "first_response", "resolution"), breached, strict=True):
            assert v("sla_breached", queue=queue, kind=kind) == n, (queue, kind)
            assert v("sla_at_risk", queue=queue, kind=kind) == 0, (queue, kind)
    # Backlog by age: t4 (billing), t2 and t3 (support, t3 reopened) are all under a day old.
    for queue, young in (("billing", 1), ("support", 2)):
        for age in ("<1d", "1-3d", "3-7d", "7-30d", ">30d"):
            n = young if age == "<1d" else 0
            assert v("tickets_open_by_age", queue=queue, age=age) == n, (queue, age)
    # Ticket rates. billing 10:30: t1 solved one-touch (one public reply), nothing created;
    # support 10:30: t2, t3 created, t3 solved one-touch and reopened a minute later.
    for name, value_ in {
        "resolved_within_target_ratio": 1.0, "reopen_rate_ratio": 0.0,
        "first_contact_resolution_ratio": 1.0, "escalation_rate_ratio": None,
        "complaint_rate_ratio": None, "complaint_rate_change_ratio": None,
    }.items():  # fmt: skip
        assert v(name, queue="billing", window="15m") == value_, name
    for name, value_ in {
        "resolved_within_target_ratio": 1.0, "reopen_rate_ratio": 1.0,
        "first_contact_resolution_ratio": 0.0, "escalation_rate_ratio": 0.0,
        "complaint_rate_ratio": 0.0, "complaint_rate_change_ratio": None,
    }.items():  # fmt: skip
        assert v(name, queue="support", window="15m") == value_, name
    assert v("escalation_rate_ratio", queue="billing", window="1h") == 0.0  # t1, t4 created
    assert v("tickets_solved_one_touch_total", **be) == 1
    assert v("tickets_one_touch_reopened_total", **se) == 1
    # Surveys.
    assert v("survey_responses_total", queue="billing", kind="csat") == 1
    assert v("csat_ratio", queue="billing", window="15m") == 1.0
    assert v("nps_score", queue="support", window="15m") == -100
    z2 = 1.959963984540054**2  # Wilson 95 % of one satisfied rating: [1 / (1 + z²), 1]
    assert v("csat_responses", queue="billing", window="15m") == 1
    assert v("csat_mean_score", queue="billing", window="15m") == 5.0
    lower = v("csat_wilson_lower_ratio", queue="billing", window="15m")
    assert lower == pytest.approx(1 / (1 + z2))
    assert v("csat_wilson_upper_ratio", queue="billing", window="15m") == 1.0
    assert v("csat_ratio_change", queue="billing", window="15m") is None  # none rated 10:15-10:30
    assert v("nps_responses", queue="billing", window="15m") == 0
    for cls, n in {"promoters": 0, "passives": 0, "detractors": 1, "responses": 1}.items():
        assert v(f"nps_{cls}", queue="support", window="15m") == n, cls
    assert v("nps_score_change", queue="support", window="15m") is None
    # Pipeline counters.
    expected_types = {
        "call.queued": 8, "call.answered": 4, "call.abandoned": 2, "call.hold_started": 1,
        "call.hold_ended": 1, "call.ended": 1, "call.wrapup_completed": 1,
        "ticket.created": 4, "ticket.message_added": 5, "ticket.status_changed": 5,
        "survey.responded": 2, "agent.state_changed": 1,
    }  # fmt: skip
    for type_, n in expected_types.items():
        assert v("events_total", type=type_) == n, type_
    assert total(m, "contact_centre_events_total") == 35
    expected_reasons = {
        "invalid_json": 1, "unknown_type": 1, "missing_field": 1, "invalid_enum": 1,
        "unknown_contact": 1, "out_of_range": 1, "invalid_transition": 1,
    }  # fmt: skip
    for reason, n in expected_reasons.items():
        assert v("events_rejected_total", reason=reason) == n, reason
    assert v("events_duplicate_total") == 3  # a call, a ticket and an agent event
    # Agents by state: a1 is available in billing (its duplicate changes nothing).
    for state, n in {"available": 1, "busy": 0, "after_call_work": 0}.items():
        assert v("agents", queue="billing", state=state) == n, state
    # Away carries a reason label; none listed in the targets file, so only ``other``, at 0.
    assert v("agents", queue="billing", state="away", reason="other") == 0
    assert v("agents", queue="billing", state="away") is None  # never without its reason
    assert v("agents", queue="billing", state="offline") is None  # never exported
    assert v("agents", queue="support", state="available") is None  # no agent named support
    assert v("events_late_total") == 2

    # Every rejected message is on the dead-letter topic with its reason.
    dead = consume_all(broker.bootstrap, "kpi-dead-letter", 7)
    reasons = sorted(dict(r.headers)["reason"].decode() for r in dead)
    assert reasons == sorted(expected_reasons)
    assert {r.value for r in dead} >= {b"{not json"}

"""The hand-computed scenario: its inputs (valid, invalid, unrouted and duplicate events) and the
samples the pipeline exports after it (``EXPECTED``), worked out by hand.
"""

from __future__ import annotations

import itertools

from stream.core.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
    FIRST_RESPONSE_BOUNDS,
    HANDLE_TIME_BOUNDS,
    RESOLUTION_BOUNDS,
)
from stream.core.kpis.totals import WindowTotals
from tests.pipeline_harness import (
    MIDNIGHT,
    T0,
    Harness,
    Input,
    P,
    Samples,
    body,
    call,
    histogram,
    live_gauges,
    pipeline_counters,
    sample,
    status,
    survey,
    ticket,
    window_gauges,
)

# --- the hand-computed scenario ------------------------------------------------------------------
# Times are seconds after 10:00:00 UTC. Default targets: answer 20 s, short abandon 5 s, first
# response 60 s (phone/chat) and 24 h (email), resolution 2 days. Every contact's events are in
# order; across contacts and queues they are not.
#
# billing (phone calls, email tickets)           support (chat calls, chat tickets)
# c1 queued 0, answered 15 (wait 15 ≤ 20),       c6 queued 100, answered 110 (wait 10),
#    hold 60–90, ended 200, wrap-up 230:            ended 250, wrap-up 280: handle 170
#    handle 230 − 15 = 215                        c7 queued 500: waiting
# c2 queued 10, abandoned 13: short (3 s < 5)    t4 created 100, agent reply 190 (FRT 90 > 60),
# c3 queued 20, abandoned 50: 30 s                  solved 800 (resolution 700)
# c4 queued 30, answered 75 (45 > 20), ended 300 t5 created 300: no reply, FRT deadline 360 passed
# c5 queued 400: waiting                          surveys: csat 2 (t4), nps 3 (c6)
# t1 created 0 (complaint); customer, bot and private messages; agent reply 120 (FRT 120);
#    pending 150, solved 600 (resolution 600), closed 700 (no reopen)
# t2 created 50, escalated 60 and 70 (once), solved 300 (resolution 250), open 400 (reopen),
#    pending 450: awaiting a first response
# t3 created 200, on_hold 250: awaiting a first response
# surveys: csat 5 (t1), nps 9 (c1)

VALID: list[Input] = [
    ticket(
        "t1-created",
        "ticket.created",
        0,
        "t1",
        queue="billing",
        channel="email",
        category="complaint",
        priority="high",
    ),
    ticket("t4-created", "ticket.created", 100, "t4", queue="support", channel="chat"),
    ticket("t1-m1", "ticket.message_added", 5, "t1", author="customer"),
    ticket("t1-m2", "ticket.message_added", 10, "t1", author="bot"),
    ticket("t1-m3", "ticket.message_added", 20, "t1", author="agent", public=False),
    ticket("t4-reply", "ticket.message_added", 190, "t4", author="agent", agent_id="a3"),
    call("c6-q", "call.queued", 100, "c6", queue="support", channel="chat"),
    call("c1-q", "call.queued", 0, "c1", queue="billing"),
    ticket("t1-reply", "ticket.message_added", 120, "t1", author="agent", agent_id="a1"),
    call("c6-a", "call.answered", 110, "c6", agent_id="a3"),
    call("c1-a", "call.answered", 15, "c1", agent_id="a1"),
    call("c2-q", "call.queued", 10, "c2", queue="billing"),
    call("c3-q", "call.queued", 20, "c3", queue="billing", channel="phone"),
    call("c2-x", "call.abandoned", 13, "c2"),
    call("c4-q", "call.queued", 30, "c4", queue="billing"),
    call("c1-h", "call.hold_started", 60, "c1"),
    call("c3-x", "call.abandoned", 50, "c3"),
    call("c1-u", "call.hold_ended", 90, "c1"),
    call("c4-a", "call.answered", 75, "c4", agent_id="a2"),
    ticket("t2-created", "ticket.created", 50, "t2", queue="billing", channel="email"),
    ticket("t2-e1", "ticket.escalated", 60, "t2", level=2),
    ticket("t2-e2", "ticket.escalated", 70, "t2", level="tier-3"),
    call("c1-e", "call.ended", 200, "c1"),
    call("c6-e", "call.ended", 250, "c6"),
    call("c1-w", "call.wrapup_completed", 230, "c1"),
    call("c6-w", "call.wrapup_completed", 280, "c6"),
    call("c4-e", "call.ended", 300, "c4"),
    status("t1-pending", 150, "t1", "pending"),
    ticket("t3-created", "ticket.created", 200, "t3", queue="billing", channel="email"),
    status("t3-hold", 250, "t3", "on_hold"),
    status("t2-solved", 300, "t2", "solved"),
    ticket("t5-created", "ticket.created", 300, "t5", queue="support", channel="chat"),
    call("c5-q", "call.queued", 400, "c5", queue="billing"),
    status("t2-open", 400, "t2", "open"),
    status("t2-pending", 450, "t2", "pending"),
    call("c7-q", "call.queued", 500, "c7", queue="support", channel="chat"),
    status("t1-solved", 600, "t1", "solved"),
    status("t1-closed", 700, "t1", "closed"),
    status("t4-solved", 800, "t4", "solved"),
    survey("s1", 710, "csat", 5, ticket_id="t1"),
    survey("s2", 810, "csat", 2, ticket_id="t4"),
    survey("s3", 240, "nps", 9, call_id="c1"),
    survey("s4", 290, "nps", 3, call_id="c6"),
]
BAD: list[Input] = [
    ("calls", b"c8", b"{not json"),  # invalid_json (router)
    call("c99-a", "call.answered", 30, "c99", agent_id="a1"),  # unknown_contact (router)
    call("c2-a", "call.answered", 40, "c2", agent_id="a1"),  # invalid_transition (aggregator)
    (
        "calls",
        b"t9",
        body("t9-created", "ticket.created", 0, ticket_id="t9", queue="billing", channel="email"),
    ),  # wrong_topic
    call("c8-q", "call.queued", 870 + 301, "c8", queue="billing"),  # timestamp_out_of_range
]
UNROUTED: list[Input] = [
    ("agents", b"a1", body("ag1", "agent.state_changed", 5, agent_id="a1", state="busy")),
    ("customers", b"u1", body("cu1", "customer.churned", 6, customer_id="u1")),
]
DUPLICATES: list[Input] = [
    call("c1-a", "call.answered", 15, "c1", agent_id="a1"),  # the same bytes again
    ticket("t1-created", "ticket.created", 5, "t1", queue="billing", channel="email"),  # same id
]
SCENARIO = VALID + BAD + UNROUTED + DUPLICATES

BILLING_WINDOW = WindowTotals(
    offered=5,
    answered=2,
    answered_within=1,
    abandoned=2,
    short_abandoned=1,
    wait_seconds=60.0,
    handled=1,
    handle_seconds=215.0,
    tickets_created=3,
    first_responses=1,
    first_responses_within=1,
    first_response_seconds=120.0,
    solved=2,
    solved_within=2,
    reopened=1,
    escalated=1,
    csat_responses=1,
    csat_positive=1,
    csat_score_sum=5,
    nps_responses=1,
    nps_promoters=1,
    nps_detractors=0,
    complaints=1,  # t1
    first_contact_resolved=1,  # t1 (one reply) and t2 (none) solved one-touch, t2 reopened
    first_resolutions=2,
    first_resolution_seconds=850.0,  # 600 + 250, as in the resolution histogram
    handled_within=1,  # 215 s ≤ 360 s
)
SUPPORT_WINDOW = WindowTotals(
    offered=2,
    answered=1,
    answered_within=1,
    abandoned=0,
    short_abandoned=0,
    wait_seconds=10.0,
    handled=1,
    handle_seconds=170.0,
    tickets_created=2,
    first_responses=1,
    first_responses_within=0,
    first_response_seconds=90.0,
    solved=1,
    solved_within=1,
    reopened=0,
    escalated=0,
    csat_responses=1,
    csat_positive=0,
    csat_score_sum=2,
    nps_responses=1,
    nps_promoters=0,
    nps_detractors=1,
    first_contact_resolved=1,  # t4: one reply
    first_resolutions=1,
    first_resolution_seconds=700.0,
    handled_within=1,
)
WINDOW_KEYS = {f"15m@{T0:.0f}", f"1h@{T0:.0f}", f"today@{MIDNIGHT:.0f}"}

SCENARIO_EVENTS = {
    "call.queued": 7,
    "call.answered": 3,
    "call.abandoned": 2,
    "call.hold_started": 1,
    "call.hold_ended": 1,
    "call.ended": 3,
    "call.wrapup_completed": 2,
    "ticket.created": 5,
    "ticket.message_added": 5,
    "ticket.escalated": 2,
    "ticket.status_changed": 8,
    "survey.responded": 4,
    "agent.state_changed": 1,
    "customer.churned": 1,
}
SCENARIO_REJECTED = {
    "invalid_json": 1,
    "unknown_contact": 1,
    "invalid_transition": 1,
    "wrong_topic": 1,
    "timestamp_out_of_range": 1,
}

CHANNELS = ("phone", "chat", "email", "social", "web", "sms")  # the contract's, written out


def zero_started(samples: Samples) -> Samples:
    """``samples`` and, for each family labelled by queue and channel (survey kind), the same
    series of every queue of ``samples`` and every other channel (kind) at 0: a known queue's
    counters exist from the start."""
    queues = {dict(labels)["queue"] for _, labels in samples if "queue" in dict(labels)}
    out: Samples = {}
    for name, labels in samples:
        fields = dict(labels)
        for label, values in (("channel", CHANNELS), ("kind", ("csat", "nps"))):
            if label in fields and name.startswith((P + "calls_", P + "tickets_", P + "first_",
                                                    P + "answer_", P + "handle_", P + "resol",
                                                    P + "survey_")):  # fmt: skip
                for queue, v in itertools.product(queues, values):
                    out[(name, tuple(sorted({**fields, "queue": queue, label: v}.items())))] = 0
    return out | samples


EXPECTED: Samples = zero_started(
    # billing: phone calls
    sample("calls_offered_total", 5, queue="billing", channel="phone")
    | sample("calls_answered_total", 2, queue="billing", channel="phone")
    | sample("calls_abandoned_total", 2, queue="billing", channel="phone")
    | sample("calls_short_abandoned_total", 1, queue="billing", channel="phone")
    | sample("calls_answered_within_target_total", 1, queue="billing", channel="phone")
    | histogram(
        "answer_wait_seconds", ANSWER_WAIT_BOUNDS, [15, 45], queue="billing", channel="phone"
    )
    | histogram("handle_time_seconds", HANDLE_TIME_BOUNDS, [215], queue="billing", channel="phone")
    | sample("calls_handled_within_target_total", 1, queue="billing", channel="phone")  # ≤ 360 s
    # billing: email tickets
    | sample("tickets_created_total", 3, queue="billing", channel="email")
    | sample("first_responses_within_target_total", 1, queue="billing", channel="email")
    | sample("tickets_solved_total", 2, queue="billing", channel="email")
    | sample("tickets_resolved_within_target_total", 2, queue="billing", channel="email")
    | sample("tickets_reopened_total", 1, queue="billing", channel="email")
    | sample("tickets_escalated_total", 1, queue="billing", channel="email")
    | histogram(
        "first_response_seconds", FIRST_RESPONSE_BOUNDS, [120], queue="billing", channel="email"
    )
    | histogram(
        "resolution_seconds", RESOLUTION_BOUNDS, [600, 250], queue="billing", channel="email"
    )
    | sample("survey_responses_total", 1, queue="billing", kind="csat")
    | sample("survey_responses_total", 1, queue="billing", kind="nps")
    | live_gauges("billing", [T0 + 400], (0, 1, 1), [T0 + 50, T0 + 200])
    | window_gauges(
        "billing",
        {
            "service_level_ratio": 1 / 3,  # 1 within ÷ (2 answered + 2 abandoned − 1 short)
            "abandon_rate_ratio": 0.4,
            "average_speed_of_answer_seconds": 30.0,
            "average_handle_time_seconds": 215.0,
            "handle_time_within_target_ratio": 1.0,
            "first_response_within_target_ratio": 1.0,
            "average_first_response_seconds": 120.0,
            "average_resolution_seconds": 425.0,  # (600 + 250) ÷ 2 first resolutions
            "csat_ratio": 1.0,
            "nps_score": 100.0,
        },
        ("15m", "1h", "today"),
    )
    # support: chat calls and tickets
    | sample("calls_offered_total", 2, queue="support", channel="chat")
    | sample("calls_answered_total", 1, queue="support", channel="chat")
    | sample("calls_answered_within_target_total", 1, queue="support", channel="chat")
    | histogram("answer_wait_seconds", ANSWER_WAIT_BOUNDS, [10], queue="support", channel="chat")
    | histogram("handle_time_seconds", HANDLE_TIME_BOUNDS, [170], queue="support", channel="chat")
    | sample("calls_handled_within_target_total", 1, queue="support", channel="chat")
    | sample("tickets_created_total", 2, queue="support", channel="chat")
    | sample("tickets_solved_total", 1, queue="support", channel="chat")
    | sample("tickets_resolved_within_target_total", 1, queue="support", channel="chat")
    | histogram(
        "first_response_seconds", FIRST_RESPONSE_BOUNDS, [90], queue="support", channel="chat"
    )
    | histogram("resolution_seconds", RESOLUTION_BOUNDS, [700], queue="support", channel="chat")
    | sample("survey_responses_total", 1, queue="support", kind="csat")
    | sample("survey_responses_total", 1, queue="support", kind="nps")
    | live_gauges("support", [T0 + 500], (1, 0, 0), [T0 + 300])
    | window_gauges(
        "support",
        {
            "service_level_ratio": 1.0,
            "abandon_rate_ratio": 0.0,
            "average_speed_of_answer_seconds": 10.0,
            "average_handle_time_seconds": 170.0,
            "handle_time_within_target_ratio": 1.0,
            # 0 within ÷ (1 response + t5, past its 60 s target without one)
            "first_response_within_target_ratio": 0.0,
            "average_first_response_seconds": 90.0,
            "average_resolution_seconds": 700.0,
            "csat_ratio": 0.0,
            "nps_score": -100.0,
        },
        ("15m", "1h", "today"),
    )
    | pipeline_counters(SCENARIO_EVENTS, SCENARIO_REJECTED, duplicates=2, late=0)
)


KNOWN_NAMES = {name for name, _ in EXPECTED}


def contract_samples(h: Harness) -> Samples:
    """The samples of the families the scenario checks (others may be added freely)."""
    return {k: v for k, v in h.samples().items() if k[0] in KNOWN_NAMES}

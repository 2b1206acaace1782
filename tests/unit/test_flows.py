"""Call flows and priorities: transfers out / in, abandons on hold, callbacks, by priority.

The lifecycle's transitions and facts (``stream.core.lifecycle``), the booking and live index
(``stream.core.kpis.flows``), and the exported samples through the whole pipeline — exact, in any
batching, after a restart from the stored segments and under redelivery.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from stream.contract.decoder import Rejection, decode, encode
from stream.contract.events import (
    CallAnswered,
    CallCallbackCompleted,
    CallCallbackRequested,
    CallEnded,
    CallHoldStarted,
    CallQueued,
    CallTransferred,
    Priority,
    TicketCreated,
    TicketStatusChanged,
)
from stream.core.kpis import flows
from stream.core.kpis.totals import QueueTotals, WindowTotals, merge_windows
from stream.core.lifecycle import (
    CALLBACK,
    CALLED_BACK,
    ONE_TOUCH,
    CallRecord,
    TicketRecord,
    apply_ticket,
    finished,
    live_view,
)
from stream.dev.simulate import Simulation
from stream.export.metrics import CHANNELS
from tests.factories import CallEvents
from tests.factories import Targets as T
from tests.factories import run_calls as run
from tests.pipeline_harness import NOW, T0, Harness, Input, call, status, ticket

ev = CallEvents(T0)
at = ev.at


QUEUED = ev(CallQueued, 0, queue="billing", priority="high")
ANSWERED = ev(CallAnswered, 10, agent_id="a1")


# --- the lifecycle -------------------------------------------------------------------------------


def test_a_callback_leaves_the_queue_waits_and_is_completed_by_outcome() -> None:
    rec, facts = run(QUEUED, ev(CallCallbackRequested, 45))
    assert rec is not None and rec.phase == CALLBACK and not finished(rec)
    assert live_view(rec) == (None, None, None)  # no longer a waiting call
    assert facts == [("offered", "phone", 0.0, False), ("callback_requested", "phone", 45.0, False)]
    rec, facts = run(QUEUED, ev(CallCallbackRequested, 45), ev(CallCallbackCompleted, 645,
                                                                 outcome="no_answer"))  # fmt: skip
    assert rec is not None and rec.phase == CALLED_BACK and finished(rec)
    assert facts[-1] == ("callback_completed:no_answer", "phone", 600.0, False)
    _, facts = run(QUEUED, ev(CallCallbackRequested, 45), ev(CallCallbackCompleted, 50))
    assert facts[-1] == ("callback_completed:connected", "phone", 5.0, False)  # the default


@pytest.mark.parametrize(
    ("before", "event", "detail"),
    [
        ([ANSWERED], ev(CallCallbackRequested, 20), "callback requested in phase talking"),
        ([ev(CallCallbackRequested, 5)], ev(CallCallbackRequested, 20),
         "callback requested in phase callback"),
        ([], ev(CallCallbackCompleted, 20), "callback completed in phase queued"),
        ([ANSWERED], ev(CallCallbackCompleted, 20), "callback completed in phase talking"),
        ([ev(CallCallbackRequested, 5), ev(CallCallbackCompleted, 9)],
         ev(CallCallbackCompleted, 20), "callback completed in phase called_back"),
        ([ev(CallCallbackRequested, 5)], ev(CallAnswered, 20, agent_id="a1"),
         "CallAnswered in phase callback"),
    ],
)  # fmt: skip
def test_callback_events_out_of_order_are_invalid_transitions(
    before: list[Any], event: Any, detail: str
) -> None:
    _, facts = run(QUEUED, *before, event)
    assert facts[-1] == Rejection("invalid_transition", detail)


def test_a_callback_of_an_unknown_call_is_an_unknown_contact() -> None:
    _, facts = run(ev(CallCallbackRequested, 3))
    assert facts == [Rejection("unknown_contact", "no call.queued seen for this call")]


@pytest.mark.parametrize(
    ("steps", "abandoned_on_hold"),
    [
        ([ev(CallHoldStarted, 20), ev(CallEnded, 50, ended_by="customer")], True),
        ([ev(CallHoldStarted, 20), ev(CallEnded, 50, ended_by="agent")], False),
        ([ev(CallHoldStarted, 20), ev(CallEnded, 50, ended_by="system")], False),
        ([ev(CallHoldStarted, 20), ev(CallEnded, 50)], False),  # nobody knows who hung up
        ([ev(CallEnded, 50, ended_by="customer")], False),  # talking, not on hold
    ],
)
def test_only_the_customer_ending_a_call_on_hold_is_an_abandon_on_hold(
    steps: list[Any], abandoned_on_hold: bool
) -> None:
    rec, facts = run(QUEUED, ANSWERED, *steps)
    assert rec is not None and rec.hold_seconds == (30.0 if len(steps) == 2 else 0.0)
    assert (("abandoned_on_hold", "phone", 0.0, False) in facts) is abandoned_on_hold
    assert [f[0] for f in facts if f[0] != "abandoned_on_hold"] == ["offered", "answered"]


def test_the_new_leg_of_a_transfer_is_offered_and_a_transfer_in() -> None:
    leg = ev(CallQueued, 0, queue="support", transferred_from="billing")
    rec, facts = run(leg)
    assert rec is not None and rec.priority is None
    assert facts == [("offered", "phone", 0.0, False), ("transferred_in", "phone", 0.0, False)]
    rec, facts = run(QUEUED, ANSWERED, ev(CallTransferred, 60, kind="blind", to="support"))
    assert rec is not None and rec.priority == "high"
    assert facts[-1] == ("transferred:blind", "phone", 0.0, False)  # out of billing


@pytest.mark.parametrize("priority", [None, "low", "normal", "high", "urgent"])
def test_a_ticket_keeps_its_priority_in_its_flags_beside_the_one_touch_bit(
    priority: Priority | None,
) -> None:
    created = TicketCreated(event_id="t0", occurred_at=at(0), ticket_id="t1", queue="billing",
                            channel="email", priority=priority)  # fmt: skip
    result = apply_ticket(None, created, T0, "billing", "email", T())
    assert not isinstance(result, Rejection)
    rec, _ = result
    assert rec.priority == priority
    solved = TicketStatusChanged(event_id="t1", occurred_at=at(5), ticket_id="t1", status="solved")
    result = apply_ticket(rec, solved, T0 + 5, "billing", "email", T())
    assert not isinstance(result, Rejection)
    rec, _ = result
    assert rec.flags & ONE_TOUCH and rec.priority == priority
    reopened = TicketStatusChanged(event_id="t2", occurred_at=at(9), ticket_id="t1", status="open")
    result = apply_ticket(rec, reopened, T0 + 9, "billing", "email", T())
    assert not isinstance(result, Rejection)
    assert not result[0].flags & ONE_TOUCH and result[0].priority == priority


def test_priorities_outside_the_contract_are_refused_by_the_decoder() -> None:
    raw = (b'{"type":"call.queued","event_id":"e","occurred_at":"2026-11-22T10:00:00Z",'
           b'"call_id":"c","queue":"q","priority":"p1"}')  # fmt: skip
    rejected = decode(raw)
    assert isinstance(rejected, Rejection) and rejected.reason == "invalid_enum"
    assert flows.PRIORITIES == ("low", "normal", "high", "urgent", "none")


# --- booking and the live index ------------------------------------------------------------------


def test_flow_facts_book_all_time_by_channel_and_every_open_window() -> None:
    totals, w1, w2 = QueueTotals(), WindowTotals(), WindowTotals()
    for kind, channel in [("transferred:blind", "phone"), ("transferred:attended", "chat"),
                          ("transferred_in", "phone"), ("abandoned_on_hold", "phone"),
                          ("callback_requested", "phone"), ("callback_requested", "chat"),
                          ("callback_completed:canceled", "phone")]:  # fmt: skip
        assert flows.books(kind)
        flows.book(totals, [w1, w2], kind, channel)
    assert totals.counters == {
        "transferred:blind": {"phone": 1},
        "transferred:attended": {"chat": 1},
        "transferred_in": {"phone": 1},
        "abandoned_on_hold": {"phone": 1},
        "callback_requested": {"phone": 1, "chat": 1},
        "callback_completed:canceled": {"phone": 1},
    }
    assert w1 == w2
    assert (w1.transfers_out, w1.transfers_in, w1.abandoned_on_hold) == (2, 1, 1)
    assert (w1.callbacks_requested, w1.callbacks_completed) == (2, 1)
    assert flows.window_transfers(w1) == {"out": 2, "in": 1}
    assert not flows.books("answered") and not flows.books("exited:timeout")
    merged = merge_windows(merge_windows(w1, w2), w1)
    assert merged == merge_windows(w1, merge_windows(w2, w1))
    assert flows.window_counts(merged) == {
        "calls_abandoned_on_hold_in_window": 3,
        "callbacks_requested_in_window": 6,
        "callbacks_completed_in_window": 3,
    }


def test_the_live_index_moves_each_contact_once_and_reads_exactly() -> None:
    live = flows.FlowsLive()
    waiting = CallRecord("billing", "phone", T0, priority="urgent")
    flows.move(live, "c:1", (None, None, None), live_view(waiting), waiting)
    flows.move(live, "c:1", live_view(waiting), live_view(waiting), waiting)  # no change: none
    open_ticket = TicketRecord("billing", "email", T0)
    flows.move(live, "t:1", (None, None, None), live_view(open_ticket), open_ticket)
    r = flows.reading(live, T0 + 30)
    assert r.calls_waiting_by_priority == {"low": 0, "normal": 0, "high": 0, "urgent": 1, "none": 0}
    assert r.tickets_open_by_priority == {"low": 0, "normal": 0, "high": 0, "urgent": 0, "none": 1}
    assert (r.callbacks_waiting, r.oldest_callback_waiting_seconds) == (0, 0.0)
    before = live_view(waiting)
    waiting.phase, waiting.ended_at = CALLBACK, T0 + 10  # asked for a callback at T0 + 10
    flows.move(live, "c:1", before, live_view(waiting), waiting)
    r = flows.reading(live, T0 + 30)
    assert r.calls_waiting_by_priority["urgent"] == 0
    assert (r.callbacks_waiting, r.oldest_callback_waiting_seconds) == (1, 20.0)
    waiting.phase = CALLED_BACK
    flows.move(live, "c:1", live_view(waiting), live_view(waiting), waiting)
    assert flows.reading(live, T0 + 30).callbacks_waiting == 0
    assert live.waiting_by_priority == {} and live.callbacks == {}  # nothing left behind


# --- through the pipeline ------------------------------------------------------------------------

B = {"queue": "billing"}
S = {"queue": "support"}
# NOW = T0 + 870 (10:14:30); the current 15m and 1h windows start at T0, today at midnight.
SCENARIO: list[Input] = [
    # 09:43:20, before the current quarter hour and hour: in today only. Attended transfer out.
    call("a1", "call.queued", -1000, "call-0", **B),
    call("a2", "call.answered", -990, "call-0", agent_id="x"),
    call("a3", "call.transferred", -900, "call-0", kind="attended", to="support"),
    # A blind transfer from billing to support: out of billing, in to support (its new leg).
    call("b1", "call.queued", 10, "call-1", priority="high", **B),
    call("b2", "call.answered", 20, "call-1", agent_id="x"),
    call("b3", "call.transferred", 100, "call-1", kind="blind", to="support", agent_id="x"),
    call("b4", "call.queued", 101, "call-1.t", priority="high", transferred_from="billing", **S),
    call("b5", "call.answered", 150, "call-1.t", agent_id="y"),
    call("b6", "call.wrapup_completed", 130, "call-1"),
    # The customer hangs up on hold: an abandon on hold (not an abandon), handle time as usual.
    call("c1", "call.queued", 30, "call-2", **B),
    call("c2", "call.answered", 40, "call-2", agent_id="x"),
    call("c3", "call.hold_started", 60, "call-2"),
    call("c4", "call.ended", 90, "call-2", ended_by="customer"),
    call("c5", "call.wrapup_completed", 120, "call-2"),
    # The agent ends a call on hold; a customer hangs up talking: neither is a hold abandon.
    call("d1", "call.queued", 510, "call-7", **B),
    call("d2", "call.answered", 520, "call-7", agent_id="x"),
    call("d3", "call.hold_started", 530, "call-7"),
    call("d4", "call.ended", 560, "call-7", ended_by="agent"),
    call("e1", "call.queued", 600, "call-8", **B),
    call("e2", "call.answered", 610, "call-8", agent_id="x"),
    call("e3", "call.ended", 640, "call-8", ended_by="customer"),
    # Callbacks: one still waiting (since 260), one not answered, one connected.
    call("f1", "call.queued", 200, "call-3", priority="urgent", **B),
    call("f2", "call.offered", 250, "call-3", agent_id="x"),  # the ring ends with the request
    call("f3", "call.callback_requested", 260, "call-3"),
    call("g1", "call.queued", 300, "call-4", priority="low", **B),
    call("g2", "call.callback_requested", 310, "call-4"),
    call("g3", "call.callback_completed", 700, "call-4", outcome="no_answer"),
    call("h1", "call.queued", 660, "call-10", **B),
    call("h2", "call.callback_requested", 670, "call-10"),
    call("h3", "call.callback_completed", 800, "call-10", agent_id="x"),
    # Waiting: urgent and normal in billing, one without priority in support (from sales).
    call("i1", "call.queued", 400, "call-5", priority="urgent", **B),
    call("j1", "call.queued", 500, "call-6", priority="normal", **B),
    call("k1", "call.queued", 650, "call-9", transferred_from="sales", **S),
    # Refused: a callback made for a call still waiting, and for a call never queued.
    call("l1", "call.callback_completed", 700, "call-5"),
    call("l2", "call.callback_requested", 700, "call-99"),
    # Tickets by priority: open, solved (not open any more), pending without one, support high.
    ticket("t1", "ticket.created", 5, "t-1", channel="email", priority="urgent", **B),
    ticket("t2", "ticket.created", 6, "t-2", channel="email", priority="low", **B),
    status("t3", 100, "t-2", "solved"),
    ticket("t4", "ticket.created", 7, "t-3", channel="chat", **B),
    status("t5", 50, "t-3", "pending"),
    ticket("t6", "ticket.created", 8, "t-4", channel="web", priority="high", **S),
]
WINDOWS = ("15m", "1h", "today")


def zeros(name: str, queue: str, **labels: str) -> dict[Any, float]:
    return {
        (name, tuple(sorted({"queue": queue, "channel": c, **labels}.items()))): 0.0
        for c in CHANNELS
    }


def expected() -> dict[Any, float]:
    out: dict[Any, float] = {}

    def put(name: str, value: float, **labels: str) -> None:
        out[(name, tuple(sorted(labels.items())))] = value

    for q in ("billing", "support"):
        for name in ("calls_transferred_in", "calls_abandoned_on_hold", "callbacks_requested"):
            out |= zeros(f"contact_centre_{name}_total", q)
        for kind in ("blind", "attended"):
            out |= zeros("contact_centre_calls_transferred_total", q, kind=kind)
        for outcome in ("connected", "no_answer", "canceled"):
            out |= zeros("contact_centre_callbacks_completed_total", q, outcome=outcome)
        for p in flows.PRIORITIES:
            put("contact_centre_calls_waiting_by_priority", 0, queue=q, priority=p)
            put("contact_centre_tickets_open_by_priority", 0, queue=q, priority=p)
    phone = {"channel": "phone"}
    put("contact_centre_calls_transferred_total", 1, queue="billing", kind="blind", **phone)
    put("contact_centre_calls_transferred_total", 1, queue="billing", kind="attended", **phone)
    put("contact_centre_calls_transferred_in_total", 2, queue="support", **phone)
    put("contact_centre_calls_abandoned_on_hold_total", 1, queue="billing", **phone)
    put("contact_centre_callbacks_requested_total", 3, queue="billing", **phone)
    put("contact_centre_callbacks_completed_total", 1, queue="billing", outcome="connected",
        **phone)  # fmt: skip
    put("contact_centre_callbacks_completed_total", 1, queue="billing", outcome="no_answer",
        **phone)  # fmt: skip
    put("contact_centre_callbacks_waiting", 1, queue="billing")
    put("contact_centre_callbacks_waiting", 0, queue="support")
    put("contact_centre_oldest_callback_waiting_seconds", 870 - 260, queue="billing")
    put("contact_centre_oldest_callback_waiting_seconds", 0, queue="support")
    put("contact_centre_calls_waiting_by_priority", 1, queue="billing", priority="urgent")
    put("contact_centre_calls_waiting_by_priority", 1, queue="billing", priority="normal")
    put("contact_centre_calls_waiting_by_priority", 1, queue="support", priority="none")
    put("contact_centre_tickets_open_by_priority", 1, queue="billing", priority="urgent")
    put("contact_centre_tickets_open_by_priority", 1, queue="billing", priority="none")
    put("contact_centre_tickets_open_by_priority", 1, queue="support", priority="high")
    for w in WINDOWS:
        out_ = 2 if w == "today" else 1
        put("contact_centre_calls_transferred_in_window", out_, queue="billing", window=w,
            direction="out")  # fmt: skip
        put("contact_centre_calls_transferred_in_window", 0, queue="billing", window=w,
            direction="in")  # fmt: skip
        put("contact_centre_calls_transferred_in_window", 0, queue="support", window=w,
            direction="out")  # fmt: skip
        put("contact_centre_calls_transferred_in_window", 2, queue="support", window=w,
            direction="in")  # fmt: skip
        for q, (hold, requested, completed) in (("billing", (1, 3, 2)), ("support", (0, 0, 0))):
            put("contact_centre_calls_abandoned_on_hold_in_window", hold, queue=q, window=w)
            put("contact_centre_callbacks_requested_in_window", requested, queue=q, window=w)
            put("contact_centre_callbacks_completed_in_window", completed, queue=q, window=w)
    return out


EXPECTED = expected()
FAMILIES = {name for name, _ in EXPECTED}


def flow_samples(h: Harness) -> dict[Any, float]:
    return {k: v for k, v in h.samples().items() if k[0] in FAMILIES}


def check(h: Harness) -> None:
    assert flow_samples(h) == EXPECTED
    samples = h.samples()
    # The calls that left the queue are neither answered nor abandoned; the sums hold.
    waiting = {dict(k[1])["queue"]: v for k, v in samples.items()
               if k[0] == "contact_centre_calls_waiting"}  # fmt: skip
    assert waiting == {"billing": 2, "support": 1}
    abandoned = sum(v for k, v in samples.items() if k[0] == "contact_centre_calls_abandoned_total")
    assert abandoned == 0
    offered = {
        q: sum(v for k, v in samples.items()
               if k[0] == "contact_centre_calls_offered_total" and ("queue", q) in k[1])
        for q in ("billing", "support")
    }  # fmt: skip
    assert offered == {"billing": 10, "support": 2}
    ringing = samples[("contact_centre_calls_ringing", (("queue", "billing"),))]
    assert ringing == 0  # call-3's ring ended with its callback request
    rejected = {dict(k[1])["reason"]: v for k, v in samples.items()
                if k[0] == "contact_centre_events_rejected_total"}  # fmt: skip
    assert rejected == {"invalid_transition": 1, "unknown_contact": 1}


@pytest.mark.parametrize("batch_size", [1, 5, 100])
def test_flows_and_priorities_through_the_pipeline(batch_size: int) -> None:
    assert NOW - T0 == 870
    h = Harness()
    h.run(SCENARIO, batch_size=batch_size)
    check(h)
    reasons = sorted(dict(d.headers)["reason"].decode() for d in h.dead_letters)
    assert reasons == ["invalid_transition", "unknown_contact"]


def test_the_same_after_a_restart_and_under_redelivery() -> None:
    h = Harness()
    h.run(SCENARIO, batch_size=4)
    h.restart()  # Pipeline.load from the stored segments only: the live index is rebuilt
    check(h)
    h = Harness()
    h.run_with_redeliveries(SCENARIO)
    check(h)


def test_duplicates_count_once() -> None:
    h = Harness()
    h.run([*SCENARIO, *SCENARIO[:20]], batch_size=7)
    assert flow_samples(h) == EXPECTED


# --- the simulator -------------------------------------------------------------------------------


def simulated(flows_on: bool) -> list[Any]:
    start = datetime.fromtimestamp(T0 - 3600, UTC)
    return Simulation(seed=11, start=start, rate_multiplier=3, flows=flows_on).take(15000)


def test_the_simulator_makes_every_flow_and_the_pipeline_accepts_them_all() -> None:
    events = simulated(True)
    calls = [e.event for e in events if e.kind == "calls"]
    count = Counter(type(e).__name__ for e in calls)
    assert min(count[n] for n in ("CallTransferred", "CallCallbackRequested",
                                  "CallCallbackCompleted")) > 0, count  # fmt: skip
    queued = [e for e in calls if isinstance(e, CallQueued)]
    assert {e.priority for e in queued} == {"low", "normal", "high", "urgent"}
    legs = [e for e in queued if e.transferred_from is not None]
    hang_ups = [e for e in calls if isinstance(e, CallEnded) and e.ended_by == "customer"]
    assert legs and hang_ups
    h = Harness()
    h.clock.now = events[-1].at
    h.run([(e.kind, e.key.encode(), encode(e.event)) for e in events], batch_size=200)
    assert h.dead_letters == []
    samples = h.samples()

    def total(name: str, **labels: str) -> float:
        return sum(v for (n, ls), v in samples.items()
                   if n == name and set(labels.items()) <= set(ls))  # fmt: skip

    assert total("contact_centre_calls_transferred_total") == count["CallTransferred"]
    assert total("contact_centre_calls_transferred_in_total") == len(legs)
    assert total("contact_centre_calls_abandoned_on_hold_total") == len(hang_ups)
    assert total("contact_centre_callbacks_requested_total") == count["CallCallbackRequested"]
    assert total("contact_centre_callbacks_completed_total") == count["CallCallbackCompleted"]
    assert total("contact_centre_callbacks_waiting") == (
        count["CallCallbackRequested"] - count["CallCallbackCompleted"]
    )
    assert total("contact_centre_calls_waiting_by_priority") == total(
        "contact_centre_calls_waiting"
    )


def test_without_flows_the_simulator_makes_none() -> None:
    calls = [e.event for e in simulated(False) if e.kind == "calls"]
    assert not [e for e in calls if isinstance(e, CallTransferred | CallCallbackRequested)]
    assert all(e.priority is None and e.transferred_from is None
               for e in calls if isinstance(e, CallQueued))  # fmt: skip
    assert all(e.ended_by is None for e in calls if isinstance(e, CallEnded))

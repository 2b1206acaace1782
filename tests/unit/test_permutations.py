"""Property tests of the whole in-memory pipeline: arrival order across contacts, batching and
re-sent duplicates change nothing but the duplicate counter.

Uses the pure ``Harness`` of ``test_aggregator`` (router → forwarded batches → aggregator →
metrics). The events span two 15-minute windows; the grace period is longer than the scenario,
so no event is late whatever the order (with no grace these properties fail).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pipeline_harness import Harness, Input, P, Samples, call, status, survey, ticket

AGENT = ("agents", b"a7", b'{"type": "agent.state_changed", "event_id": "ag-1", '
         b'"occurred_at": "2026-11-22T10:01:00Z", "agent_id": "a7", "state": "busy"}')  # fmt: skip
# Each contact's events in their own order (Kafka keeps it: one key, one partition).
CONTACTS: list[list[Input]] = [
    [call("p1q", "call.queued", 10, "p1", queue="billing"),
     call("p1a", "call.answered", 25, "p1", agent_id="a1"),
     call("p1e", "call.ended", 200, "p1"),
     call("p1w", "call.wrapup_completed", 230, "p1")],
    [call("p2q", "call.queued", 40, "p2", queue="billing", channel="chat"),
     call("p2x", "call.abandoned", 43, "p2")],
    [call("p3q", "call.queued", 100, "p3", queue="support"),
     call("p3a", "call.answered", 160, "p3", agent_id="a2")],
    [call("p4q", "call.queued", 700, "p4", queue="support")],
    [ticket("p5c", "ticket.created", 5, "p5", queue="support", channel="email"),
     ticket("p5m", "ticket.message_added", 300, "p5", author="agent"),
     status("p5s", 400, "p5", "solved"),
     survey("p5v", 450, "csat", 4, ticket_id="p5"),
     status("p5o", 500, "p5", "open")],
    [ticket("p6c", "ticket.created", 1000, "p6", queue="billing", channel="web"),
     ticket("p6m", "ticket.message_added", 1010, "p6", author="bot")],
    [AGENT],
]  # fmt: skip
EVENTS = sum(map(len, CONTACTS))
DUPLICATES = (P + "events_duplicate_total", ())


def run(order: list[int], batch_size: int, resend: tuple[int, ...] = ()) -> Samples:
    """Feed the contacts' events in the order of ``order`` (contact indices, one per event);
    ``resend`` lists positions whose message is published once more right after it."""
    cursors = [0] * len(CONTACTS)
    inputs: list[Input] = []
    for pos, c in enumerate(order):
        msg = CONTACTS[c][cursors[c]]
        cursors[c] += 1
        inputs.append(msg)
        inputs += [msg] * resend.count(pos)
    h = Harness(grace_seconds=7200)
    h.run(inputs, batch_size=batch_size)
    assert h.dead_letters == []
    return h.samples()


IN_ORDER = run(sorted(i for i, c in enumerate(CONTACTS) for _ in c), batch_size=EVENTS)
SCHEDULE = st.permutations([i for i, c in enumerate(CONTACTS) for _ in c])


def test_the_reference_run_has_the_kpis() -> None:
    assert IN_ORDER[(P + "calls_offered_total", (("channel", "phone"), ("queue", "billing")))] == 1
    assert IN_ORDER[(P + "events_total", (("type", "call.queued"),))] == 4
    assert IN_ORDER[DUPLICATES] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=SCHEDULE, batch_size=st.integers(1, EVENTS))
def test_any_order_across_contacts_and_any_batching_gives_the_same_samples(
    order: list[int], batch_size: int
) -> None:
    assert run(order, batch_size) == IN_ORDER


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=SCHEDULE,
    batch_size=st.integers(1, EVENTS),
    resend=st.lists(st.integers(0, EVENTS - 1), max_size=8),
)
def test_re_sent_messages_change_only_the_duplicate_counter(
    order: list[int], batch_size: int, resend: list[int]
) -> None:
    got = run(order, batch_size, tuple(resend))
    assert got[DUPLICATES] == len(resend)
    assert {k: v for k, v in got.items() if k != DUPLICATES} == {
        k: v for k, v in IN_ORDER.items() if k != DUPLICATES
    }

"""The aggregate stage through the in-memory pipeline: late events, windows closing on event time
and on the wall clock, per-queue targets.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import fields
from typing import Any

import pytest

from stream.config import parse_targets
from stream.core.kpis.totals import WindowTotals
from stream.stages.pipeline import Outgoing
from tests.pipeline_harness import (
    MIDNIGHT,
    T0,
    Clock,
    Harness,
    Input,
    P,
    call,
)
from tests.pipeline_scenario import (
    VALID,
)

# --- late events ---------------------------------------------------------------------------------

LATE_CLOCK = T0 + 2100


def offered_windows(h: Harness) -> dict[str, int]:
    return {k: w.offered for k, w in h.queue("billing").windows.items()}


# (events as (call id, seconds after 10:00), late count, offered per open window)
LATE_CASES: list[tuple[str, list[tuple[str, float]], int, dict[str, int]]] = [
    (
        "the watermark reaches the window end: late",
        [("a", 1860), ("b", 1795)],  # mark 10:30:00 = end of the 15m window 10:15
        1,
        {f"15m@{T0 + 1800:.0f}": 1, f"1h@{T0:.0f}": 2, f"today@{MIDNIGHT:.0f}": 2},
    ),
    (
        "just inside the grace period",
        [("a", 1850), ("b", 1795)],  # mark 10:29:50 < 10:30: the 15m window 10:15 is open
        0,
        {
            f"15m@{T0 + 900:.0f}": 1,
            f"15m@{T0 + 1800:.0f}": 1,
            f"1h@{T0:.0f}": 2,
            f"today@{MIDNIGHT:.0f}": 2,
        },
    ),
    (
        "late for its 15m window only: booked to 1h and today",
        [("a", 2000), ("b", 100)],
        1,
        {f"15m@{T0 + 1800:.0f}": 1, f"1h@{T0:.0f}": 2, f"today@{MIDNIGHT:.0f}": 2},
    ),
    (
        "late for every window (yesterday): all-time counters only",
        [("a", 2000), ("b", -36600)],
        1,
        {f"15m@{T0 + 1800:.0f}": 1, f"1h@{T0:.0f}": 1, f"today@{MIDNIGHT:.0f}": 1},
    ),
    (
        "two late events and one in order",
        [("a", 2000), ("b", 100), ("c", -36600), ("d", 1950)],
        2,
        {f"15m@{T0 + 1800:.0f}": 2, f"1h@{T0:.0f}": 3, f"today@{MIDNIGHT:.0f}": 3},
    ),
]


@pytest.mark.parametrize(
    ("events", "late", "windows"), [pytest.param(*row[1:], id=row[0]) for row in LATE_CASES]
)
def test_late_events(events: list[tuple[str, float]], late: int, windows: dict[str, int]) -> None:
    h = Harness(clock=Clock(LATE_CLOCK))
    for cid, seconds in events:  # one batch each: arrival order is the list order
        h.feed(h.publish([call(f"{cid}-q", "call.queued", seconds, cid, queue="billing")]))
    assert offered_windows(h) == windows
    registry = h.registry()
    assert registry.get_sample_value(P + "events_late_total") == late
    assert registry.get_sample_value(
        P + "calls_offered_total", {"queue": "billing", "channel": "phone"}
    ) == len(events)


# --- windows closing -----------------------------------------------------------------------------


def window_message(queue: str, kind: str, start: float, end: float, **counts: float) -> Outgoing:
    totals = {f.name: 0 for f in fields(WindowTotals)} | counts
    doc = {"queue": queue, "window": kind, "start": start, "end": end, "totals": totals}
    return Outgoing("window", f"{queue}|{kind}|{start:.0f}".encode(), json.dumps(doc).encode())


def published(h: Harness) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Window messages published since the last call, by key."""
    out = expected(*h.windows)
    h.windows.clear()
    return out


def expected(*messages: Outgoing) -> list[tuple[bytes | None, dict[str, Any]]]:
    return sorted(((o.key, json.loads(o.value)) for o in messages), key=lambda m: m[0] or b"")


def test_windows_close_on_event_time_and_are_published_once() -> None:
    h = Harness(clock=Clock(T0 + 4000))

    def feed(*inputs: Input) -> None:
        h.feed(h.publish(inputs))

    feed(call("w1-q", "call.queued", 300, "w1", queue="billing"))
    feed(call("w1-a", "call.answered", 600, "w1", agent_id="a1"))  # waited 300 s
    feed(call("w2-q", "call.queued", 959, "w2", queue="billing"))  # mark 10:14:59
    assert published(h) == []
    feed(call("w3-q", "call.queued", 960, "w3", queue="billing"))  # mark 10:15:00 = the end
    assert published(h) == expected(
        window_message("billing", "15m", T0, T0 + 900, offered=1, answered=1, wait_seconds=300.0)
    )
    feed(call("w4-q", "call.queued", 990, "w4", queue="billing"))
    assert published(h) == []  # once
    # an event for the closed window is late: booked to 1h and today, never republished
    feed(call("w5-q", "call.queued", 890, "w5", queue="billing"))
    assert published(h) == []
    assert h.queue("billing").late == 1
    assert h.queue("billing").closed_through == {"15m": T0 + 900}
    # crossing the hour closes the 15m window 10:15 and the hour 10:00
    feed(call("w6-q", "call.queued", 3660, "w6", queue="billing"))
    assert published(h) == expected(
        window_message("billing", "15m", T0 + 900, T0 + 1800, offered=3),
        window_message("billing", "1h", T0, T0 + 3600, offered=5, answered=1, wait_seconds=300.0),
    )
    assert set(h.queue("billing").windows) == {
        f"15m@{T0 + 3600:.0f}",
        f"1h@{T0 + 3600:.0f}",
        f"today@{MIDNIGHT:.0f}",
    }
    # a restarted worker does not publish them again
    h.restart()
    h.perform(h.pipeline.tick())
    feed(call("w7-q", "call.queued", 3670, "w7", queue="billing"))
    assert published(h) == []


def test_an_idle_partition_closes_windows_with_the_wall_clock() -> None:
    h = Harness(clock=Clock(T0 + 310))
    h.feed(h.publish([call("i1-q", "call.queued", 300, "i1", queue="billing")]))
    h.clock.now = T0 + 339  # 29 s quiet: still event time
    h.perform(h.pipeline.tick())
    h.clock.now = T0 + 959  # idle: stream time is the wall clock, mark 10:14:59
    h.perform(h.pipeline.tick())
    assert published(h) == []
    h.clock.now = T0 + 960
    h.perform(h.pipeline.tick())
    assert published(h) == expected(window_message("billing", "15m", T0, T0 + 900, offered=1))
    h.perform(h.pipeline.tick())
    assert published(h) == []
    # an event after the wall clock closed the window is late for it
    h.feed(h.publish([call("i2-q", "call.queued", 400, "i2", queue="billing")]))
    assert h.queue("billing").late == 1


def test_windows_close_after_a_restart_with_no_traffic() -> None:
    h = Harness(clock=Clock(T0 + 310))
    h.feed(h.publish([call("i1-q", "call.queued", 300, "i1", queue="billing")]))
    h.clock.now = T0 + 320
    h.restart()  # the worker restarts at night; no event arrives any more
    h.clock.now = T0 + 2000
    h.perform(h.pipeline.tick())
    assert published(h) == expected(window_message("billing", "15m", T0, T0 + 900, offered=1))


# --- targets -------------------------------------------------------------------------------------


def test_per_queue_targets_from_the_targets_file() -> None:
    targets = parse_targets(
        textwrap.dedent(
            """
            queues:
              billing:
                answer_target_seconds: 30
                short_abandon_seconds: 10
                channels:
                  email: {first_response_seconds: 100}
            """
        )
    )
    h = Harness(targets=targets)
    h.run(VALID)
    registry = h.registry()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(P + name, labels)

    # c4 waited 45 s (> 30), c1 15 s; c2 abandoned at 3 s and c3 at 30 s (short < 10 s: c2 only)
    assert value("calls_answered_within_target_total", queue="billing", channel="phone") == 1
    assert value("calls_short_abandoned_total", queue="billing", channel="phone") == 1
    # t1 answered after 120 s: outside the 100 s email target of billing
    # (at 0 from the start: every channel of a known queue has its counters)
    assert value("first_responses_within_target_total", queue="billing", channel="email") == 0
    # support keeps the defaults
    assert value("calls_answered_within_target_total", queue="support", channel="chat") == 1

"""End to end on the real broker: business-time histograms and the `today` window per time zone.

The targets file gives `billing` New York office hours (Monday to Friday 09:00-17:00) and a
holiday on Monday 2026-11-23; `support` keeps the defaults (UTC, 24×7). The worker's clock is
frozen at Tuesday 2026-11-24 20:00Z (15:00 in New York) and the grace period is a day, so no event
is late and the numbers are hand-computed exactly. A SIGKILLed worker's successor exports the
same values: business time is booked once, like its calendar twin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.factories import Events
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, Samples, accounted, publish, value, wait_until

pytestmark = pytest.mark.integration

TARGETS = """\
queues:
  billing:
    timezone: America/New_York
    business_hours:
      mon: 09:00-17:00
      tue: 09:00-17:00
      wed: 09:00-17:00
      thu: 09:00-17:00
      fri: 09:00-17:00
    holidays: [2026-11-23]
"""
FROZEN = "2026-11-24T20:00:00Z"


ev = Events("bt")


def tk(ticket_id: str, type_: str, at: str, **fields: Any) -> Publishable:
    return ("tickets", ticket_id, ev(type_, at, ticket_id=ticket_id, **fields))


def cl(call_id: str, type_: str, at: str, **fields: Any) -> Publishable:
    return ("calls", call_id, ev(type_, at, call_id=call_id, **fields))


T1_RESPONSE = tk("t1", "ticket.message_added", "2026-11-24T14:30:00Z", author="agent")
MESSAGES: list[Publishable] = [
    # t1: created Friday 16:00 New York; first reply Tuesday 09:30 (Monday is a holiday), solved
    # 11:00, reopened and solved again (resolution is created → first solved).
    tk("t1", "ticket.created", "2026-11-20T21:00:00Z", queue="billing", channel="email"),
    T1_RESPONSE,
    tk("t1", "ticket.status_changed", "2026-11-24T16:00:00Z", status="solved"),
    tk("t1", "ticket.status_changed", "2026-11-24T16:30:00Z", status="open"),
    tk("t1", "ticket.status_changed", "2026-11-24T17:00:00Z", status="solved"),
    # t2: created and answered before opening (08:00 and 08:00:45 New York): 0 business seconds.
    tk("t2", "ticket.created", "2026-11-24T13:00:00Z", queue="billing", channel="chat"),
    tk("t2", "ticket.message_added", "2026-11-24T13:00:45Z", author="agent"),
    # t3: support has no business hours, so business time is calendar time.
    tk("t3", "ticket.created", "2026-11-24T10:00:00Z", queue="support", channel="email"),
    tk("t3", "ticket.message_added", "2026-11-24T10:02:00Z", author="agent"),
    # The `today` boundary: 04:59Z is Monday 23:59 in New York but Tuesday in UTC.
    cl("b1", "call.queued", "2026-11-24T04:59:00Z", queue="billing"),
    cl("b1", "call.abandoned", "2026-11-24T04:59:30Z"),
    cl("b2", "call.queued", "2026-11-24T05:00:00Z", queue="billing"),
    cl("b2", "call.answered", "2026-11-24T05:00:10Z", agent_id="a1"),
    cl("s1", "call.queued", "2026-11-24T04:59:00Z", queue="support"),
    cl("s1", "call.abandoned", "2026-11-24T04:59:30Z"),
    cl("s2", "call.queued", "2026-11-24T05:00:00Z", queue="support"),
    cl("s2", "call.answered", "2026-11-24T05:00:10Z", agent_id="a1"),
    T1_RESPONSE,  # a duplicate (same event id)
]
FRIDAY_TO_TUESDAY = 3 * 86400 + 17.5 * 3600  # 2026-11-20T21:00Z → 2026-11-24T14:30Z


def assert_exact(m: Samples) -> None:
    def v(name: str, **labels: str) -> float | None:
        return value(m, f"contact_centre_{name}", **labels)

    be = {"queue": "billing", "channel": "email"}
    bc = {"queue": "billing", "channel": "chat"}
    se = {"queue": "support", "channel": "email"}
    # Friday 16:00-17:00, Monday a holiday, Tuesday 09:00-09:30.
    assert v("first_response_business_seconds_count", **be) == 1
    assert v("first_response_business_seconds_sum", **be) == 5400
    assert v("first_response_business_seconds_bucket", le="3600.0", **be) == 0
    assert v("first_response_business_seconds_bucket", le="7200.0", **be) == 1
    assert v("first_response_seconds_sum", **be) == FRIDAY_TO_TUESDAY
    # Resolution: Friday's hour and Tuesday 09:00-11:00; the second solve books nothing.
    assert v("resolution_business_seconds_count", **be) == 1
    assert v("resolution_business_seconds_sum", **be) == 3 * 3600
    assert v("resolution_seconds_sum", **be) == FRIDAY_TO_TUESDAY + 5400
    assert v("first_response_business_seconds_sum", **bc) == 0
    assert v("first_response_business_seconds_bucket", le="60.0", **bc) == 1
    assert v("first_response_seconds_sum", **bc) == 45
    assert v("first_response_business_seconds_sum", **se) == 120
    assert v("first_response_seconds_sum", **se) == 120
    assert v("resolution_business_seconds_count", **se) == 0  # at 0: none resolved
    # `today` starts at local midnight: billing's (New York) leaves out the 04:59Z abandon.
    assert v("calls_offered_total", queue="billing", channel="phone") == 2
    assert v("abandon_rate_ratio", queue="billing", window="today") == 0.0
    assert v("abandon_rate_ratio", queue="support", window="today") == 0.5
    assert v("events_duplicate_total") == 1


def test_business_time_and_today_per_time_zone(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS, encoding="utf-8")
    env = {"STREAM_TARGETS_FILE": str(targets), "STREAM_GRACE_SECONDS": "86400"}
    w = workers(frozen_time=FROZEN, **env)
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    assert publish(broker.bootstrap, MESSAGES) == len(MESSAGES)
    wait_until(lambda: accounted(w.scrape()) == len(MESSAGES), 60, "every message accounted for")
    assert_exact(w.scrape())

    w.kill()
    successor = workers(frozen_time=FROZEN, **env)
    wait_until(lambda: successor.partitions() == {0, 1, 2, 3}, 90, "the successor's partitions")
    wait_until(lambda: accounted(successor.scrape()) == len(MESSAGES), 60, "recovered state")
    assert_exact(successor.scrape())

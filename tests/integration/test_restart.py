"""A restarted worker resumes from its changelog: counters continue, nothing is counted twice.

The truth is a second app (its own consumer group and tables) that reads the same topics from
the start without a crash: every sample of the restarted worker must equal its samples.
"""

from __future__ import annotations

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, accounted, publish, value, wait_until

pytestmark = pytest.mark.integration


def calls(prefix: str, n: int) -> list[Publishable]:
    out: list[Publishable] = []
    for i in range(n):
        cid = f"{prefix}-{i}"
        out.append(("calls", cid, {"type": "call.queued", "event_id": f"{cid}-q",
                                   "occurred_at": "2026-11-22T10:31:00Z", "call_id": cid,
                                   "queue": f"q{i % 3}"}))  # fmt: skip
        out.append(("calls", cid, {"type": "call.answered", "event_id": f"{cid}-a",
                                   "occurred_at": "2026-11-22T10:31:30Z", "call_id": cid,
                                   "agent_id": "a"}))  # fmt: skip
    return out


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_restart_resumes_exactly(broker: EmbeddedBroker, workers: WorkerFactory, how: str) -> None:
    first = workers()
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "first worker ready")
    n1 = publish(broker.bootstrap, calls("before", 30))
    wait_until(lambda: accounted(first.scrape()) == n1, 60, "first batch counted")
    if how == "stop":
        first.stop()
    else:
        first.kill()
    # The whole first batch again (a publisher retry) plus new calls while no worker runs.
    n2 = publish(broker.bootstrap, [*calls("before", 30), *calls("after", 30)])
    second = workers()
    truth = workers(STREAM_APP_ID=f"{first.env['STREAM_APP_ID']}-truth")
    wait_until(
        lambda: second.partitions() == {0, 1, 2, 3} == truth.partitions(), 120, "workers ready"
    )
    wait_until(
        lambda: accounted(second.scrape()) == n1 + n2 == accounted(truth.scrape()),
        90,
        "everything counted by both apps",
    )
    m = second.scrape()
    assert m == truth.scrape()  # every counter, histogram bucket and gauge
    for q in ("q0", "q1", "q2"):
        labels = {"queue": q, "channel": "phone"}
        assert value(m, "contact_centre_calls_offered_total", **labels) == 20
        assert value(m, "contact_centre_answer_wait_seconds_count", **labels) == 20
        assert value(m, "contact_centre_answer_wait_seconds_sum", **labels) == 600
        assert value(m, "contact_centre_calls_waiting", queue=q) == 0
    assert value(m, "contact_centre_events_duplicate_total") == 60

"""The broker, or the worker, stalls (SIGSTOP) for longer than the session timeout mid-batch.

The worker must survive, carry on (rejoining the group if its session expired) once the process
runs again (SIGCONT), and end with exactly the samples of an app that read the same topics
without the stall. (Observed with Tansu 0.6 and one worker: the stall does not expire the
group member, so no rebalance follows; a killed member of a two-worker group is expired, see
test_two_workers.) A broker *restart* is tested on the durable embedded broker in
test_durable_broker: the default one keeps topics in memory only, so a restart loses every
topic, offset and changelog (see docs/reliability.md).
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import accounted, publish, value, wait_until
from tests.integration.test_restart import calls

pytestmark = pytest.mark.integration
STALL_SECONDS = 15  # > the workers' 6 s session timeout (conftest): the group must expire


@pytest.mark.parametrize("stalled", ["broker", "worker"])
def test_worker_survives_a_stall_and_stays_exact(
    broker: EmbeddedBroker, workers: WorkerFactory, stalled: str
) -> None:
    w = workers()
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, calls("before", 30))
    wait_until(lambda: accounted(w.scrape()) == n, 60, "the first batch counted")

    # A bigger batch, and one of the two freezes while the worker is working through it.
    n += publish(broker.bootstrap, calls("during", 300))
    assert broker.pid is not None and w.proc is not None
    pid = broker.pid if stalled == "broker" else w.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(STALL_SECONDS)  # the fault itself, not a wait for a result
        if stalled == "broker":
            w.scrape()  # the worker still serves /metrics while the broker is frozen
    finally:
        os.kill(pid, signal.SIGCONT)

    n += publish(broker.bootstrap, [*calls("during", 30), *calls("after", 30)])
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    wait_until(lambda: accounted(w.scrape()) == n, 90, "everything counted after the stall")
    truth = workers(STREAM_APP_ID=f"{w.env['STREAM_APP_ID']}-truth")
    wait_until(lambda: truth.partitions() == {0, 1, 2, 3}, 90, "the stall-free app ready")
    wait_until(lambda: accounted(truth.scrape()) == n, 120, "a stall-free app to count it all")
    m, t = w.scrape(), truth.scrape()
    assert {k: (m.get(k), t.get(k)) for k in m.keys() | t.keys() if m.get(k) != t.get(k)} == {}
    for q in ("q0", "q1", "q2"):
        labels = {"queue": q, "channel": "phone"}
        assert value(m, "contact_centre_calls_offered_total", **labels) == 120
        assert value(m, "contact_centre_answer_wait_seconds_sum", **labels) == 120 * 30
    assert value(m, "contact_centre_events_duplicate_total") == 60

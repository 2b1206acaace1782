"""The alerts end to end: worker -> real Prometheus -> real Alertmanager -> a webhook.

Prometheus (Debian's ``prometheus``) scrapes the worker every second and evaluates the
project's rule files every second, with every ``for:`` divided by 20 (`render_rules`; the
expressions are the committed ones); Debian's ``prometheus-alertmanager`` routes with the
project's tree to a webhook in the test. The worker's clock is frozen at the start of the test,
so ages and deadlines are exact. Each test prints the times it measured (``-s`` shows them).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stream.dev.broker import EmbeddedBroker
from stream.dev.redis_server import RedisServer
from tests.factories import Events
from tests.integration.alerting import (
    ALERTMANAGER,
    PROMETHEUS,
    WORKER_JOB,
    Alertmanager,
    LagExporter,
    Prometheus,
    Webhook,
    render_rules,
)
from tests.integration.conftest import INPUT_TOPICS, WorkerFactory
from tests.integration.harness import WorkerProcess, publish, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        PROMETHEUS is None or ALERTMANAGER is None,
        reason="prometheus or alertmanager missing: `make system` installs them (Debian)",
    ),
]
QUEUE = "returns"  # the defaults: answer target 20 s, first response (chat) 60 s
# Every alert that reads a live gauge, and what the traffic of the kill test makes it do.
BREACH = {
    "OldestCallWaitingAboveTarget",  # a call waiting 60 s > 20 s
    "CallsPastAnswerDeadline",  # the same call, counted per deadline
    "SlaDeadlinesAtRisk",  # 10 calls waiting within target: 10 answer deadlines at risk
    "TicketsAwaitingFirstResponsePastTarget",  # a chat ticket 300 s without reply > 60 s
    "TicketsPastSlaDeadline",  # the same ticket, counted per deadline
}


class Clock:
    """The worker's frozen "now" (the start of the test) and event times before it."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    @property
    def frozen(self) -> str:
        return self.at(0)

    def at(self, seconds_before: float) -> str:
        stamp = datetime.fromtimestamp(self.now - seconds_before, UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


EVENTS = Events("e2e")
ev, call, ticket = EVENTS.on, EVENTS.call, EVENTS.ticket


class Stack:
    """Prometheus and Alertmanager (and the webhook) for one test; `close` stops them all."""

    def __init__(
        self,
        tmp_path: Path,
        worker: WorkerProcess,
        *,
        inhibit: bool = True,
        extra_targets: dict[str, list[str]] | None = None,
    ) -> None:
        self.shortened = render_rules(tmp_path / "rules")
        self.webhook = Webhook()
        self.alertmanager: Alertmanager | None = None
        self.prometheus: Prometheus | None = None
        try:
            self.alertmanager = Alertmanager(tmp_path, self.webhook.url, inhibit=inhibit)
            targets = {WORKER_JOB: [f"127.0.0.1:{worker.port}"], **(extra_targets or {})}
            self.prometheus = Prometheus(
                tmp_path, tmp_path / "rules", self.alertmanager.address, targets
            )
        except BaseException:
            self.close()
            raise

    @property
    def prom(self) -> Prometheus:
        assert self.prometheus is not None
        return self.prometheus

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        result = self.prom.query(expr, at)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def close(self) -> None:
        for part in (self.prometheus, self.alertmanager):
            if part is not None:
                part.stop()
        self.webhook.stop()


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[Stack]]:
    made: list[Stack] = []
    try:
        yield made
    finally:
        for stack in made:
            stack.close()


def _started(workers: WorkerFactory, clock: Clock, **extra: str) -> WorkerProcess:
    worker = workers(clock.frozen, **extra)
    wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    return worker


def test_breach_alerts_keep_firing_when_the_worker_is_killed_and_resolve_when_it_ends(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path, stacks: list[Stack]
) -> None:
    clock = Clock()
    worker = _started(workers, clock)
    # Without inhibitions: CallsPastAnswerDeadline would mute OldestCallWaitingAboveTarget and
    # TicketsPastSlaDeadline TicketsAwaitingFirstResponsePastTarget, and a muted alert sends
    # no "resolved" either; every breach alert must be heard to prove none resolves.
    stack = Stack(tmp_path, worker, inhibit=False)
    stacks.append(stack)
    prom, hook = stack.prom, stack.webhook
    wait_until(lambda: prom.scraped(WORKER_JOB), 60, "Prometheus to scrape the worker")

    waiting = [call("late", "call.queued", clock.at(60), queue=QUEUE)]
    waiting += [call(f"c{i}", "call.queued", clock.at(i), queue=QUEUE) for i in range(1, 10)]
    publish(broker.bootstrap, waiting)
    # A second batch after Prometheus has seen the first: events keep arriving (the rate of
    # call.queued > 0), so StaleData is judged, and stays quiet: the newest event is 1 s old.
    wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 10, 60, "10 events")
    publish(broker.bootstrap, [call("c10", "call.queued", clock.at(10), queue=QUEUE),
                               ticket("t1", "ticket.created", clock.at(300), queue=QUEUE,
                                      channel="chat")])  # fmt: skip
    wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 12, 60, "12 events")

    started = time.monotonic()
    wait_until(
        lambda: hook.seen("firing") >= BREACH,
        240,
        lambda: (
            f"notifications of {sorted(BREACH)}: heard {sorted(hook.seen('firing'))}, "
            f"pending {sorted(prom.alerts('pending'))}, firing {sorted(prom.alerts())}, worker "
            f"up {prom.scraped(WORKER_JOB)}"
        ),
    )
    fired_after = time.monotonic() - started
    rate = stack.scalar("job:contact_centre_events:rate5m")
    assert rate is not None and rate > 0
    assert "StaleData" not in prom.alerts()
    assert stack.scalar('max(contact_centre_oldest_call_waiting_seconds{queue="returns"})') == 60
    assert stack.scalar('sum(contact_centre_sla_at_risk{queue="returns",kind="answer"})') == 10
    assert hook.seen("resolved") == set()

    worker.kill()  # SIGKILL mid-breach
    killed = time.monotonic()
    wait_until(lambda: "StreamWorkerDown" in hook.seen("firing"), 120, "StreamWorkerDown")
    down_after = time.monotonic() - killed
    # Before the held rules every breach alert had resolved 3-5 s after the kill; watch for
    # 20 evaluations more than StreamWorkerDown needed.
    time.sleep(20)
    watched = time.monotonic() - killed
    assert hook.seen("resolved") == set(), hook.alerts()
    firing = prom.alerts()
    assert set(firing) >= BREACH, firing
    assert [labels["instance"] for labels in firing["StreamWorkerDown"]] == [
        f"127.0.0.1:{worker.port}"
    ]
    assert stack.scalar("contact_centre_oldest_call_waiting_seconds") is None  # stale: gone
    assert stack.scalar("max(instance:contact_centre_oldest_call_waiting_seconds:held)") == 60

    # The worker comes back (same address, state from the changelog), and the breach really
    # ends: every call answered, the ticket replied to. Every alert resolves.
    worker.start()
    wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 90, "the restarted worker")
    wait_until(
        lambda: "StreamWorkerDown" in hook.seen("resolved"), 120, "StreamWorkerDown resolved"
    )
    assert not BREACH & hook.seen("resolved")
    answers = [call(cid, "call.answered", clock.at(0), agent_id="a1")
               for cid in ["late", *(f"c{i}" for i in range(1, 11))]]  # fmt: skip
    answers.append(ticket("t1", "ticket.message_added", clock.at(0), author="agent"))
    publish(broker.bootstrap, answers)
    ended = time.monotonic()
    wait_until(lambda: hook.seen("resolved") >= BREACH, 120, f"{sorted(BREACH)} resolved")
    resolved_after = time.monotonic() - ended
    firing_notes = [labels["alertname"] for status, labels in hook.alerts() if status == "firing"]
    print(
        f"\nbreach notified {fired_after:.1f} s after the traffic (shortened for: "
        f"{ {a: stack.shortened[a] for a in sorted(BREACH)} }); StreamWorkerDown notified "
        f"{down_after:.1f} s after SIGKILL; no resolve in {watched:.1f} s of watching; "
        f"resolved {resolved_after:.1f} s after the breach ended; "
        f"{len(firing_notes)} firing notifications"
    )


def test_stale_data_fires_when_events_keep_arriving_old(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path, stacks: list[Stack]
) -> None:
    clock = Clock()
    worker = _started(workers, clock)
    stack = Stack(tmp_path, worker)
    stacks.append(stack)
    prom, hook = stack.prom, stack.webhook
    wait_until(lambda: prom.scraped(WORKER_JOB), 60, "Prometheus to scrape the worker")
    # The producers send events 10 minutes old, in two batches of the same type (so that the
    # rate of accepted events is above 0: events arrive, old).
    publish(broker.bootstrap, [call("o1", "call.queued", clock.at(600), queue=QUEUE)])
    wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 1, 60, "1 event")
    publish(broker.bootstrap, [call("o2", "call.queued", clock.at(590), queue=QUEUE)])
    wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 2, 60, "2 events")
    assert stack.scalar("max(contact_centre_last_event_timestamp_seconds)") == clock.now - 590
    started = time.monotonic()
    wait_until(lambda: "StaleData" in hook.seen("firing"), 120, "StaleData notified")
    after = time.monotonic() - started
    (labels,) = prom.alerts()["StaleData"]
    assert labels["severity"] == "warning" and labels["category"] == "pipeline"
    print(f"\nStaleData notified {after:.1f} s after the second batch of 10-minute-old events")


def test_wallboard_snapshots_failing_fires_when_redis_stops(
    broker: EmbeddedBroker,
    workers: WorkerFactory,
    redis_server: RedisServer,
    tmp_path: Path,
    stacks: list[Stack],
) -> None:
    clock = Clock()
    worker = _started(workers, clock, STREAM_REDIS_URL=redis_server.url)
    stack = Stack(tmp_path, worker)
    stacks.append(stack)
    prom, hook = stack.prom, stack.webhook
    wait_until(lambda: prom.scraped(WORKER_JOB), 60, "Prometheus to scrape the worker")
    publish(broker.bootstrap, [call("w1", "call.queued", clock.at(5), queue=QUEUE)])
    wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 1, 60, "1 event")
    assert stack.scalar("sum(contact_centre_snapshot_errors_total)") == 0
    assert "WallboardSnapshotsFailing" not in prom.alerts("pending")

    redis_server.stop()
    stopped = time.monotonic()
    wait_until(
        lambda: "WallboardSnapshotsFailing" in hook.seen("firing"), 120, "WallboardSnapshotsFailing"
    )
    after = time.monotonic() - stopped
    (labels,) = prom.alerts()["WallboardSnapshotsFailing"]
    assert labels["instance"] == f"127.0.0.1:{worker.port}"
    errors = stack.scalar("sum(contact_centre_snapshot_errors_total)")
    assert errors is not None and errors >= 1
    assert "StreamWorkerDown" not in prom.alerts()  # /metrics is not affected
    print(f"\nWallboardSnapshotsFailing notified {after:.1f} s after Redis stopped ({errors:.0f} "
          f"failed ticks by then)")  # fmt: skip


def test_consumer_lag_growing_fires_while_the_worker_is_stopped(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path, stacks: list[Stack]
) -> None:
    clock = Clock()
    worker = _started(workers, clock)
    group = worker.env["STREAM_APP_ID"]
    exporter = LagExporter(broker.bootstrap, group, INPUT_TOPICS)
    try:
        stack = Stack(tmp_path, worker, extra_targets={"kafka-exporter": [exporter.address]})
        stacks.append(stack)
        prom = stack.prom
        wait_until(lambda: prom.scraped(WORKER_JOB), 60, "Prometheus to scrape the worker")
        first = [call(f"l{i}", "call.queued", clock.at(30), queue="lag") for i in range(40)]
        publish(broker.bootstrap, first)

        # Every partition of the calls topic committed up to its end: a lag of 0.
        def caught_up() -> bool:
            lag = exporter.lag()
            return {p for (t, p) in lag if t == "calls"} == {0, 1, 2, 3} and not any(lag.values())

        wait_until(caught_up, 60, "the worker to commit every calls partition")
        # Prometheus must have recorded the lag at 0 too: a series that starts at 1200 has a
        # deriv() of 0 and the alert (rightly) never fires; on a busy machine the exporter's
        # first scrape can come after the backlog below is published.
        lag_sum = "consumergroup:kafka_consumergroup_lag:sum"
        wait_until(lambda: stack.scalar(lag_sum) == 0, 60, "Prometheus to record a lag of 0")
        assert worker.proc is not None
        os.killpg(worker.proc.pid, signal.SIGSTOP)  # a stuck worker: reads nothing
        try:
            more = [call(f"m{i}", "call.queued", clock.at(20), queue="lag") for i in range(1200)]
            publish(broker.bootstrap, more)
            stopped = time.monotonic()
            wait_until(
                lambda: "ConsumerLagGrowing" in prom.alerts(),
                180,
                lambda: (
                    f"ConsumerLagGrowing (lag now {stack.scalar(lag_sum)}, exporter "
                    f"{prom.scraped('kafka-exporter')}, {exporter.readings} readings, "
                    f"failures {exporter.failures[-3:]}, pending {sorted(prom.alerts('pending'))}, "
                    f"firing {sorted(prom.alerts())})"
                ),
            )
            after = time.monotonic() - stopped
            assert stack.scalar(lag_sum) == 1200
            (labels,) = prom.alerts()["ConsumerLagGrowing"]
            assert labels["consumergroup"] == group
            # The stopped worker cannot be scraped either: StreamWorkerDown pages, and the
            # routing inhibits the lag alert it explains (alertmanager.yml).
            wait_until(lambda: "StreamWorkerDown" in stack.webhook.seen("firing"), 120, "down")
            assert stack.alertmanager is not None
            wait_until(
                lambda: any(
                    a["labels"]["alertname"] == "ConsumerLagGrowing"
                    and a["status"]["state"] == "suppressed"
                    and a["status"]["inhibitedBy"]
                    for a in stack.alertmanager.alerts()  # type: ignore[union-attr]
                ),
                60,
                "ConsumerLagGrowing inhibited by StreamWorkerDown",
            )
            assert "ConsumerLagGrowing" not in stack.webhook.seen("firing")
        finally:
            os.killpg(worker.proc.pid, signal.SIGCONT)
        # Running again, the worker reads the backlog: the lag falls to 0 and the alert ends.
        wait_until(lambda: "ConsumerLagGrowing" not in prom.alerts(), 180, "the lag alert to end")
        wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 1240, 120, "1240")
        print(f"\nConsumerLagGrowing firing {after:.1f} s after 1200 events to a stopped worker")
    finally:
        exporter.stop()


def test_increase_of_first_responses_and_escalations_is_exact(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path, stacks: list[Stack]
) -> None:
    clock = Clock()
    worker = _started(workers, clock)
    stack = Stack(tmp_path, worker)
    stacks.append(stack)
    wait_until(lambda: stack.prom.scraped(WORKER_JOB), 60, "Prometheus to scrape the worker")
    created = [ticket(f"f{i}", "ticket.created", clock.at(120), queue=QUEUE, channel="chat")
               for i in range(8)]  # fmt: skip
    publish(broker.bootstrap, created)
    wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 8, 60, "8 events")
    # 5 first responses and 3 escalations after Prometheus has seen the queue.
    traffic = [ticket(f"f{i}", "ticket.message_added", clock.at(60), author="agent")
               for i in range(5)]  # fmt: skip
    traffic += [ticket(f"f{i}", "ticket.escalated", clock.at(50)) for i in range(3)]
    publish(broker.bootstrap, traffic)
    wait_until(lambda: stack.scalar("sum(contact_centre_events_total)") == 16, 60, "16 events")
    wait_until(
        lambda: stack.scalar("sum(contact_centre_first_response_seconds_count)") == 5, 30, "5"
    )
    many = "min(count_over_time(contact_centre_tickets_escalated_total[10m]))"
    wait_until(lambda: (stack.scalar(many) or 0) >= 3, 30, "3 samples of the counters")
    # Evaluated at the newest sample, increase() does not extrapolate past it; from a first
    # sample of 0 it does not extrapolate before it either: the exact count.
    newest = stack.scalar("max(timestamp(contact_centre_first_response_seconds_count))")
    assert newest is not None
    first_responses = "sum(increase(contact_centre_first_response_seconds_count[10m]))"
    escalations = "sum(increase(contact_centre_tickets_escalated_total[10m]))"
    assert (stack.scalar(first_responses, newest), stack.scalar(escalations, newest)) == (5, 3)

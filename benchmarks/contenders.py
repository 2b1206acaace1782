"""The side-by-side job written for each contender that runs as its own process.

Owns the three out-of-tree implementations of ``benchmarks.rivals_job`` that
``benchmarks.rivals`` starts, one process each, reading one topic of the embedded broker from
its beginning until it has read ``--total`` events, then writing its ``Outcome`` as JSON:

- ``raw``: one aiokafka consumer (no group) and ``stream.contract.decoder.decode``, the job in plain
dicts
  (``rivals_job.Job``): the ceiling, no framework at all;
- ``bytewax``: a Bytewax dataflow as its documentation writes one: the Kafka input operator
  (``tail=False``: the flow ends at the end of the partitions), ``stateful_map`` keyed by call,
  ``fold_final`` keyed by queue for all time, ``fold_window`` with an ``EventClock`` and a
  ``TumblingWindower`` for the 15-minute windows, one worker;
- ``quix``: a Quix Streams ``Application``: a deserializer that decodes, an event-time
  ``timestamp_extractor``, a stateful ``apply`` keyed by call, ``group_by`` queue (its
  repartition topic), a stateful ``apply`` for all time and ``tumbling_window(...).reduce``
  with ``.current()`` for the windows (RocksDB state, changelog topics as by default).

Bytewax and Quix Streams come with the ``bench`` extra (``make bench`` installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from benchmarks.rivals_job import (
    JOB_TYPES,
    WINDOW_SECONDS,
    WITHIN,
    CallState,
    Counts,
    Fact,
    Job,
    Outcome,
    Tally,
    add,
    merge,
    step,
    window_start,
)
from stream.contract.decoder import Rejection, decode

GRACE: Final = timedelta(hours=3)
"""How late an event may be for its window (event time): more than the set spans, so nothing
is dropped as late; every window closes at the end of the input instead."""


class Progress:
    """Events read so far and when the first and the last were read (``time.time()``)."""

    __slots__ = ("events", "first_at", "last_at", "rejected", "total")

    def __init__(self, total: int) -> None:
        self.total = total
        self.events = self.rejected = 0
        self.first_at = self.last_at = 0.0

    def seen(self, n: int = 1) -> None:
        if not self.events:
            self.first_at = time.time()
        self.events += n
        if self.events >= self.total:
            self.last_at = time.time()

    @property
    def done(self) -> bool:
        return self.events >= self.total


# --- raw aiokafka + decode ----------------------------------------------------------------------


async def run_raw(brokers: str, topic: str, total: int) -> Outcome:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=brokers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    job, progress = Job(), Progress(total)
    await consumer.start()
    try:
        while not progress.done:
            batches = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            for records in batches.values():
                for r in records:
                    event = decode(r.value or b"")
                    if isinstance(event, JOB_TYPES):
                        job.feed(event)
                    elif isinstance(event, Rejection):
                        progress.rejected += 1
                progress.seen(len(records))
    finally:
        await consumer.stop()
    return Outcome(job.tally, progress.events, progress.first_at, progress.last_at,
                   progress.rejected)  # fmt: skip


# --- Bytewax ------------------------------------------------------------------------------------


def run_bytewax(brokers: str, topic: str, total: int) -> Outcome:
    import bytewax.operators as op
    from bytewax.connectors.kafka import operators as kop
    from bytewax.dataflow import Dataflow
    from bytewax.operators import windowing as win
    from bytewax.run import cli_main
    from bytewax.testing import TestingSink

    progress = Progress(total)

    def decode_call(msg: Any) -> Any:
        progress.seen()
        event = decode(msg.value or b"")
        if isinstance(event, JOB_TYPES):
            return event
        if isinstance(event, Rejection):
            progress.rejected += 1
        return None

    def call_step(state: CallState | None, event: Any) -> tuple[CallState | None, Fact | None]:
        return step(state, event)

    def fold_window(counts: Counts, fact: Fact) -> Counts:
        if counts[4] < 0:
            counts[4] = window_start(fact.at)
        return add(counts, fact)

    flow = Dataflow("calls_kpi")
    messages = kop.input("calls_in", flow, brokers=[brokers], topics=[topic], tail=False)
    events = op.filter_map("decode", messages.oks, decode_call)
    by_call = op.key_on("key_by_call", events, lambda e: e.call_id)
    facts = op.filter_map_value("call_state", op.stateful_map("wait", by_call, call_step),
                                lambda fact: fact)  # fmt: skip
    by_queue = op.key_on("key_by_queue", op.map("unkey", facts, lambda kv: kv[1]),
                         lambda fact: fact.queue)  # fmt: skip
    all_time = op.fold_final("all_time", by_queue, lambda: [0, 0, 0, 0], add)
    clock: Any = win.EventClock(
        lambda f: datetime.fromtimestamp(f.at, UTC), wait_for_system_duration=GRACE
    )
    windower = win.TumblingWindower(length=timedelta(seconds=WINDOW_SECONDS),
                                    align_to=datetime(2000, 1, 1, tzinfo=UTC))  # fmt: skip
    # Counting does not depend on the order: ordered=False folds each value as it comes
    # instead of buffering it until the watermark passes it.
    windows = win.fold_window("windows_15m", by_queue, clock, windower,
                              lambda: [0, 0, 0, 0, -1], fold_window,
                              lambda a, b: [*merge(a[:4], b[:4]), max(a[4], b[4])],
                              ordered=False)  # fmt: skip
    totals_out: list[tuple[str, Counts]] = []
    windows_out: list[tuple[str, tuple[int, Counts]]] = []
    op.output("totals_out", all_time, TestingSink(totals_out))
    op.output("windows_out", windows.down, TestingSink(windows_out))
    cli_main(flow, workers_per_process=1)
    progress.last_at = time.time()  # the flow is over: every window and total is out
    tally = Tally(dict(totals_out))
    for queue, (_, counts) in windows_out:
        tally.windows[(queue, counts[4])] = counts[:4]
    return Outcome(tally, progress.events, progress.first_at, progress.last_at,
                   progress.rejected)  # fmt: skip


# --- Quix Streams -------------------------------------------------------------------------------


def run_quix(brokers: str, topic: str, total: int, work: Path, group: str) -> Outcome:
    from quixstreams import Application, State
    from quixstreams.models.serializers import Deserializer, SerializationContext

    progress = Progress(total)
    produced = consumed_totals = consumed_windows = 0
    totals: dict[str, Counts] = {}
    windows: dict[tuple[str, int], Counts] = {}

    class EventDeserializer(Deserializer):  # type: ignore[misc]
        def __call__(self, value: bytes, ctx: SerializationContext) -> Any:
            progress.seen()
            event = decode(value)
            if isinstance(event, Rejection):
                progress.rejected += 1
            return event

    def event_time(value: Any, headers: Any, timestamp: int, timestamp_type: Any) -> int:
        if isinstance(value, Rejection):
            return timestamp
        return int(value.occurred_at.timestamp() * 1000)

    def call_state(event: Any, state: State) -> list[Any] | None:
        nonlocal produced
        old = state.get("waiting")
        new, fact = step(None if old is None else (old[0], old[1]), event)
        if new is None:
            if old is not None:
                state.delete("waiting")
        elif old is None:
            state.set("waiting", list(new))
        if fact is None:
            return None
        produced += 1
        return list(fact)

    def stop_when_drained() -> None:
        if progress.done and consumed_totals == produced and consumed_windows == produced:
            progress.last_at = time.time()  # the last fact is booked in both branches
            app.stop()

    def all_time(fact: list[Any], state: State) -> Counts:
        counts: Counts = state.get("counts") or [0, 0, 0, 0]
        counts[fact[1]] += 1
        if fact[3]:
            counts[WITHIN] += 1
        state.set("counts", counts)
        return counts

    def keep_total(counts: Counts, key: Any, timestamp: int, headers: Any) -> None:
        nonlocal consumed_totals
        totals[str(key)] = counts
        consumed_totals += 1
        stop_when_drained()

    def reduce_window(counts: Counts, fact: list[Any]) -> Counts:
        counts = list(counts)
        counts[fact[1]] += 1
        if fact[3]:
            counts[WITHIN] += 1
        return counts

    def init_window(fact: list[Any]) -> Counts:
        return reduce_window([0, 0, 0, 0], fact)

    def keep_window(row: dict[str, Any], key: Any, timestamp: int, headers: Any) -> None:
        nonlocal consumed_windows
        windows[(str(key), row["start"] // 1000)] = row["value"]
        consumed_windows += 1
        stop_when_drained()

    app = Application(
        broker_address=brokers,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=str(work / "quix-state"),
        loglevel="WARNING",
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    )
    source = app.topic(topic, key_deserializer="str", value_deserializer=EventDeserializer(),
                       timestamp_extractor=event_time)  # fmt: skip
    sdf = app.dataframe(source)
    sdf = sdf.filter(lambda e: isinstance(e, JOB_TYPES))
    sdf = sdf.apply(call_state, stateful=True).filter(lambda f: f is not None)
    sdf = sdf.group_by(lambda f: f[0], name="queue")
    sdf.apply(all_time, stateful=True).update(keep_total, metadata=True)
    sdf.tumbling_window(timedelta(seconds=WINDOW_SECONDS), grace_ms=GRACE).reduce(
        reduce_window, init_window
    ).current().update(keep_window, metadata=True)
    app.run()
    return Outcome(Tally(totals, windows), progress.events, progress.first_at, progress.last_at,
                   progress.rejected)  # fmt: skip


def peak_rss_self() -> int:
    """This process' peak resident size (``VmHWM``, bytes). Not ``ru_maxrss`` from outside:
    that can carry the size of the parent the process was started from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.contenders",
        description="Run the side-by-side calls KPI job with one contender and write its "
        "counters as JSON (started by `python -m benchmarks.rivals`).",
    )
    parser.add_argument("contender", choices=("raw", "bytewax", "quix"))
    parser.add_argument("--brokers", required=True, help="host:port of the broker")
    parser.add_argument("--topic", required=True, help="the calls topic to read from its start")
    parser.add_argument("--total", type=int, required=True, help="events in the topic")
    parser.add_argument("--out", type=Path, required=True, help="where the JSON outcome goes")
    parser.add_argument("--work-dir", type=Path, default=Path("."), help="state (Quix)")
    parser.add_argument("--group", default="rivals-quix", help="consumer group (Quix)")
    args = parser.parse_args(argv)
    if args.contender == "raw":
        outcome = asyncio.run(run_raw(args.brokers, args.topic, args.total))
    elif args.contender == "bytewax":
        outcome = run_bytewax(args.brokers, args.topic, args.total)
    else:
        outcome = run_quix(args.brokers, args.topic, args.total, args.work_dir, args.group)
    outcome.peak_rss = peak_rss_self()
    outcome.dump(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

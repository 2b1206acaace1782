"""A Faust consumer that hands whole fetches of the pipeline's topics to one batch handler.

Faust delivers every message on its own: a task and an ``asyncio.wait`` per message in
``Consumer._drain_messages``, a lock in the conductor, an event object, a queue hop into the
stream and an ack — tens of microseconds each, which caps a worker near 10-15 k events/s however
the agent batches. For the topics the pipeline owns, this consumer skips that path: each fetch
goes straight to the handler as raw records grouped by partition, and the offsets are acked in
Faust's own bookkeeping afterwards, so commits, rebalances and recovery work as before. Other
topics (table changelogs during recovery, Faust's internal topics) take Faust's usual path.

At-least-once is kept: offsets are acked only after the handler has queued every effect of the
fetch (the producer is flushed before Faust commits them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP

BatchHandler = Callable[[Mapping[TP, Sequence[Any]]], Awaitable[None]]


class _ConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread with a configurable fetch wait (Faust hard-codes 1.5 s).

    A broker answers a fetch when data arrives or when the wait runs out; the embedded broker
    answers only when the wait runs out, so the wait is event-to-metric latency there.
    """

    fetch_max_wait_ms: int = 1500

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms  # read when the fetcher starts
        return consumer

    async def seek_to_committed(self) -> Mapping[TP, int]:
        offsets: Mapping[TP, int] = await self.call_thread(
            seek_assigned_to_committed, self._ensure_consumer()
        )
        return offsets


async def seek_assigned_to_committed(consumer: Any) -> dict[Any, int | None]:
    """Seek every assigned partition to its committed offset, tolerating a rebalance meanwhile.

    aiokafka's ``seek_to_committed`` awaits each partition's committed offset in turn and then
    seeks it; a rebalance during one of those awaits revokes the partition and the seek raises
    ``IllegalStateError``, which Faust lets kill the worker (seen when a frozen worker wakes up
    and rejoins). A partition revoked meanwhile is skipped: its new owner seeks it, and the
    rebalance that revoked it runs recovery, and with it this seek, again.
    """
    offsets: dict[Any, int | None] = {}
    for tp in list(consumer.assignment()):
        offset = await consumer.committed(tp)
        if tp not in consumer.assignment():
            continue
        offsets[tp] = offset
        if offset and offset > 0:
            consumer.seek(tp, offset)  # no await since the check: still assigned
    return offsets


class BatchConsumer(AIOKafkaConsumer):
    """Faust's aiokafka consumer with a batch path for ``batch_topics`` (none: Faust's path)."""

    batch_topics: frozenset[str] = frozenset()
    batch_handler: BatchHandler | None = None
    fetch_max_wait_ms: int = 1500
    between_fetches: Callable[[], None] | None = None
    """Called before each fetch, when no fetch is in flight and every record fetched so far
    has been handled: the one safe moment to pause or resume partitions. Faust's fetch takes
    its set of active partitions by reference and drops what it fetched for a partition that
    left the set meanwhile, so a pause from anywhere else can lose records."""

    def _new_consumer_thread(self) -> Any:
        thread_class = type(
            "ConsumerThread", (_ConsumerThread,), {"fetch_max_wait_ms": self.fetch_max_wait_ms}
        )
        return thread_class(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - needs a broker
        callback = self.callback
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        read_offset = self._read_offset
        batch_topics = self.batch_topics
        handler = self.batch_handler
        between = self.between_fetches
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                if between is not None and handler is not None:
                    between()
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if not records or self.should_stop:
                    continue
                if not self.flow_active:
                    await self.perform_seek()
                    continue
                generation = self.app.consumer_generation_id
                batch: dict[TP, list[Any]] = {}
                for tp, recs in records.items():
                    if (
                        active is not None
                        and tp not in active
                        and tp not in self._buffered_partitions
                    ):
                        continue
                    last = read_offset[tp]
                    fresh = [r for r in recs if last is None or r.offset >= last]
                    if not fresh:
                        continue
                    if handler is not None and tp.topic in batch_topics:
                        batch[tp] = fresh
                        continue
                    for record in fresh:  # Faust's own path, one message at a time
                        await self.wait_first(
                            callback(self._to_message(tp, record)), self.suspend_flow.wait()
                        )
                        read_offset[tp] = record.offset
                if not batch or self.app.consumer_generation_id != generation:
                    continue
                assert handler is not None
                await handler(batch)
                if self.app.consumer_generation_id != generation:
                    continue  # rebalanced meanwhile: the new owner reprocesses (idempotent)
                for tp, recs in batch.items():
                    await self._ack_all(tp, recs)
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    await self.commit()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise

    async def _ack_all(self, tp: TP, recs: Sequence[Any]) -> None:
        """Faust's per-message ``ack`` bookkeeping for a whole run of offsets at once."""
        committed = self._committed_offset[tp]
        previous = self._read_offset[tp]
        acked = self._acked[tp]
        index = self._acked_index[tp]
        for record in recs:
            offset = record.offset
            if previous is not None and offset - previous > 1:
                await self._add_gap(tp, previous + 1, offset)  # e.g. compacted away
            previous = offset
            if (committed is None or offset >= committed) and offset not in index:
                index.add(offset)
                acked.append(offset)
                self._n_acked += 1
        self._read_offset[tp] = recs[-1].offset

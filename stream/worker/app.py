"""The worker's wiring: the Faust app, its topics, the two tables, and what runs on them.

Stage 1 (``route``) consumes the contract's input topics, stage 2 (``aggregate``) the internal
queue-keyed topic; both hand whole batches to ``stream.stages.pipeline`` and then perform what it
asks,
in order: table writes (queue records before contact records), then messages. Events are acked
only after their batch's effects are queued, and Faust flushes the producer before it commits
offsets, so delivery is at-least-once and every effect is idempotent (see stream.stages.aggregate).

``Wiring`` builds the app and holds what the agents (``stream.worker.agents``), the timers
(``stream.worker.timers``) and the pages (``stream.worker.pages``) share: the batch handler of the
batch consumer, performing effects, the sources' event-time progress and alignment, and the
rebalance hooks. Starting a worker is ``stream.worker.startup``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from prometheus_client import CollectorRegistry

from stream.config import Settings, TargetBook
from stream.config.security import faust_credentials, redis_options
from stream.core.progress import source_partition
from stream.export.metrics import (
    KpiCollector,
    PipelineCollector,
    ProgressCollector,
    SnapshotErrorsCollector,
)
from stream.export.snapshots import SnapshotPublisher, key_prefix
from stream.read import ReadView
from stream.stages.pipeline import Effects, Outgoing, Pipeline
from stream.store.ownership import Ownership
from stream.worker import agents, heap, pages, timers
from stream.worker.consumer import BatchConsumer
from stream.worker.delivery import GuardedTopic
from stream.worker.table import KeyedTable

log = logging.getLogger("stream.worker.app")

PROGRESS_INTERVAL_SECONDS = 0.2
"""Most often the sources' progress is reported after routed batches (also every second)."""


def _names(tps: Iterable[TP]) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in tps)


class Wiring:
    """The Faust app of one worker and the pipeline it feeds."""

    def __init__(
        self,
        settings: Settings,
        targets: TargetBook,
        input_partitions: Mapping[str, int] | None = None,
    ) -> None:
        self.settings = settings
        self.input_partitions = dict(input_partitions or {})
        """Partition counts of the input topics read before the start (``partition_counts``)."""
        self.clock = settings.clock()
        self.pipeline = Pipeline.create(
            topic_kinds={
                settings.topic_tickets: "tickets",
                settings.topic_calls: "calls",
                settings.topic_agents: "agents",
                settings.topic_customers: "customers",
            },
            targets=targets,
            clock=self.clock,
            grace_seconds=settings.grace_seconds,
            idle_seconds=settings.idle_seconds,
            retention_seconds=settings.retention_seconds,
            conversion_horizon_seconds=settings.conversion_horizon_seconds,
            max_event_bytes=settings.max_event_bytes,
            future_skew_seconds=settings.future_skew_seconds,
            forward_partitions=settings.partitions,
            max_queues=settings.max_queues,
            listed_queues=targets.queues(),
            ewt_recent_calls=settings.ewt_recent_calls,
        )
        self.app = faust.App(
            settings.app_id,
            broker=settings.broker_url,
            store=settings.store,
            datadir=settings.data_dir,
            topic_partitions=settings.partitions,
            topic_replication_factor=1,
            web_host=settings.web_host,
            web_bind=settings.web_host,
            web_port=settings.web_port,
            broker_session_timeout=settings.session_timeout_seconds,
            broker_heartbeat_interval=max(0.5, settings.session_timeout_seconds / 5),
            consumer_auto_offset_reset="earliest",
            producer_max_batch_size=settings.producer_max_batch_bytes,
            producer_max_request_size=settings.producer_max_request_bytes,
            table_standby_replicas=settings.standby_replicas,
            autodiscover=False,
            # Every topic of the app, changelogs too: a refused message must not stop the worker.
            Topic=type("PipelineTopic", (GuardedTopic,), {"on_refused": self._on_refused}),
            broker_credentials=faust_credentials(settings),
        )
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        parts = settings.partitions
        self.inputs = self.app.topic(*settings.input_topics, partitions=parts, **raw)
        self.by_queue_name = f"{settings.app_id}-kpi-by-queue"
        self.by_queue = self.app.topic(self.by_queue_name, partitions=parts, internal=True, **raw)
        self.topics = {
            "forward": self.by_queue,
            "dead_letter": self.app.topic(settings.topic_dead_letter, partitions=parts, **raw),
            "window": self.app.topic(settings.topic_windows, partitions=parts, **raw),
        }
        self.app.transport.Consumer = type(  # type: ignore[misc]
            "PipelineConsumer",
            (BatchConsumer,),
            {
                "batch_topics": frozenset({*settings.input_topics, self.by_queue_name}),
                "batch_handler": staticmethod(self.on_batch) if settings.batch_consumer else None,
                "fetch_max_wait_ms": settings.fetch_max_wait_ms,
                "between_fetches": staticmethod(self.align),
            },
        )
        self.routes = self._table("routes")
        self.aggregates = self._table("aggregates")
        self.ownership = Ownership(self.pipeline)
        # Event-time progress (stream.core.progress): per source "topic/partition", the offset after
        # the last record routed by this process; when it was last reported; partitions paused
        # to align. Not the router's stored RouterStats.offset: after a crash that one can name
        # records whose forwards were lost and will be forwarded again, later than a report
        # claiming them routed would arrive.
        self._routed_next: dict[str, int] = {}
        self._reported_at = 0.0
        self._aligned: set[TP] = set()
        self.registry = CollectorRegistry(auto_describe=False)
        self.view = ReadView(self.pipeline)  # all exporters read through it
        self.registry.register(KpiCollector(self.view, self.clock, with_pipeline=False))
        self.registry.register(PipelineCollector(self.view))
        self.registry.register(ProgressCollector(self.view, lambda: len(self._aligned)))
        self.targets = targets
        self.publisher: SnapshotPublisher | None = None
        if settings.redis_url:  # wallboard snapshots: see stream.export.snapshots
            publisher = self.publisher = SnapshotPublisher(
                settings.redis_url,
                prefix=key_prefix(settings.app_id),
                worker=f"{socket.gethostname()}:{os.getpid()}",
                options=redis_options(settings),
            )
            self.registry.register(SnapshotErrorsCollector(lambda: publisher.errors))
        self._wire()

    def _table(self, name: str) -> Any:
        table = KeyedTable(
            self.app,
            name=name,
            beacon=self.app.tables.beacon,
            partitions=self.settings.partitions,
            key_type=bytes,  # both mean the "raw" codec: values are msgspec-encoded records
            value_type=bytes,
        )
        return self.app.tables.add(table)

    def _wire(self) -> None:
        agents.install(self)
        timers.install(self)
        pages.install(self)
        self.app.on_partitions_assigned.connect(self._on_assigned)
        self.aggregates.on_recover(self._on_recovered)

    async def on_batch(self, records: Mapping[TP, Sequence[Any]]) -> None:
        """A whole fetch of the pipeline's topics (``stream.worker.consumer``): route, then
        aggregate."""
        inputs: list[Any] = []  # aiokafka ConsumerRecords: stream.stages.route.InputMessage
        by_queue: dict[int, list[bytes]] = {}
        for tp, recs in records.items():
            if tp.topic == self.by_queue_name:
                by_queue.setdefault(tp.partition, []).extend(r.value for r in recs)
            else:
                inputs += recs
        with heap.collector_paused():  # see stream.worker.heap
            if inputs:
                self.enqueue(self.pipeline.route(inputs))
                self.note_routed(inputs)
                if self.progress_due():
                    self.enqueue(self.report_progress())
            for partition, payloads in by_queue.items():
                self.enqueue(self.pipeline.aggregate(partition, payloads))
        await self.app.producer.buffer.wait_until_ebb()

    # --- event-time progress (stream.core.progress) ----------------------------------------------

    def note_routed(self, messages: Sequence[Any]) -> None:
        routed = self._routed_next
        for m in messages:  # in offset order per partition
            source = f"{m.topic}/{m.partition}"
            if m.offset >= routed.get(source, 0):
                routed[source] = m.offset + 1

    def progress_due(self) -> bool:
        """Whether the sources' progress is due after a routed batch (``PROGRESS_INTERVAL_SECONDS``
        since the last report)."""
        return time.monotonic() - self._reported_at >= PROGRESS_INTERVAL_SECONDS

    def report_progress(self) -> Effects:
        """Progress reports of the source partitions assigned here (``stream.core.progress``).

        A partition's position is the offset after the last record *routed* here (not the
        consumer's position, which runs ahead by the records fetched and not yet handled), or,
        before any, its committed offset; its end is the high-water mark of the last fetch."""
        self._reported_at = time.monotonic()
        consumer: Any = self.app.consumer
        positions: dict[str, tuple[int, int]] = {}
        for tp in self._assigned_inputs():
            end = consumer.highwater(tp)
            if end is None:  # no fetch answered yet: nothing to claim
                continue
            source = f"{tp.topic}/{tp.partition}"
            routed = self._routed_next.get(source)
            if routed is None:
                # Faust's committed offset (private; faust-streaming is pinned below 0.16).
                routed = consumer._committed_offset.get(tp) or 0
            positions[source] = (routed, end)
        # A paused partition's end offset is not fetched any more: what arrived since is not
        # known, so its report carries no stamp (stream.core.progress.Report).
        paused = {f"{tp.topic}/{tp.partition}" for tp in self._aligned}
        return self.pipeline.progress(positions, unstamped=paused)

    def _assigned_inputs(self) -> list[TP]:
        inputs = set(self.settings.input_topics)
        try:
            assignment = self.app.consumer.assignment()
        except ConsumerNotStarted:  # starting, or an in-process test context
            return []
        return [tp for tp in assignment if tp.topic in inputs]

    def align(self) -> None:
        """Event-time alignment (``STREAM_ALIGNMENT_SECONDS``): pause the input partitions far
        ahead of the slowest source still behind, resume them once it has caught up. Called by
        the consumer between fetches only (``BatchConsumer.between_fetches``)."""
        s, recovered = self.settings, self.ownership.recoveries
        if s.alignment_seconds <= 0 or self.app.rebalancing or not recovered:
            return
        floor = self.pipeline.slowest_source()
        ahead: set[TP] = set()
        if floor is not None:
            limit = floor + self.settings.alignment_seconds
            for tp in self._assigned_inputs():
                high = self.pipeline.source_highs.get(f"{tp.topic}/{tp.partition}")
                if high is not None and high > limit:
                    ahead.add(tp)
        pause, resume = ahead - self._aligned, self._aligned - ahead
        if pause:
            self.app.consumer.pause_partitions(pause)
            log.info("paused to align event time: %s", ", ".join(_names(pause)))
        if resume:
            self.app.consumer.resume_partitions(resume)
            log.info("resumed after aligning event time: %s", ", ".join(_names(resume)))
        self._aligned = ahead

    async def perform(self, effects: Effects) -> None:
        """Queue a batch's effects, then wait for room in the producer buffer."""
        self.enqueue(effects)
        await self.app.producer.buffer.wait_until_ebb()

    def enqueue(self, effects: Effects) -> None:
        """Queue the messages and the table records (in order), without awaiting.

        Nothing here awaits, so a cancellation (shutdown) cannot leave a batch half done:
        ``take_events`` acks a batch even when its processing was cancelled.
        """
        for out in effects.messages:
            self.topics[out.role].send_soon(
                key=out.key,
                value=out.value,
                partition=out.partition,
                headers=list(out.headers) or None,
            )
        for table, writes in ((self.routes, effects.route_writes),
                              (self.aggregates, effects.aggregate_writes)):  # fmt: skip
            for key, value in writes:
                if value is None:
                    if key in table:
                        del table[key]
                else:
                    table[key] = value

    def _on_refused(self, topic: str, fut: Any, error: BaseException) -> None:
        """A message the producer refused for itself (``stream.worker.delivery``): its dead letters
        instead (``Pipeline.refused``), queued like any message."""
        roles = {t.get_topic_name(): role for role, t in self.topics.items()}
        m = fut.message
        headers = tuple((k, bytes(v)) for k, v in m.headers or ())
        refused = Outgoing(roles.get(topic, "changelog"), m.key, m.value or b"", headers)
        error_text = f"{type(error).__name__}: {error}"
        self.enqueue(
            Effects(messages=self.pipeline.refused(refused.role, topic, refused, error_text))
        )

    # --- ownership (stream.store.ownership): Faust's rebalance hooks
    # --------------------------------

    def owned(self) -> set[int]:
        names = {*self.settings.input_topics, self.by_queue_name}
        actives: Iterable[TP] = self.app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic in names}

    async def _on_assigned(self, app: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """The group agreed on an assignment (before recovery): partitions that moved away are
        dropped at once."""
        self.ownership.assigned(self.owned())

    async def _on_recovered(self) -> None:
        """The tables are recovered for the current assignment: load what is new here."""
        owned = self.owned()
        changed = self.routes.take_changed() | self.aggregates.take_changed()
        self.ownership.recovered(
            owned, self.routes.data.items(), self.aggregates.data.items(), changed
        )
        if self._aligned:  # resuming is safe at any time (only a pause can drop a fetch)
            self.app.consumer.resume_partitions(self._aligned)
            self._aligned = set()
        self._routed_next = {
            s: n for s, n in self._routed_next.items() if source_partition(s) in owned
        }
        # Every partition of every input topic: one not heard from holds the watermark. The
        # consumer's metadata can still be empty at the first assignment: then the counts read
        # before the start. A topic that does not exist holds nothing (it has no events).
        sources: set[str] = set()
        for topic in self.settings.input_topics:
            count = self.app.consumer.topic_partitions(topic) or self.input_partitions.get(topic)
            sources.update(f"{topic}/{p}" for p in range(count or 0))
        self.pipeline.aggregator.expected_sources = frozenset(sources)

"""Faust wiring only: the app, its topics, the two tables, the two agents, timers and /metrics.

Stage 1 (``route``) consumes the contract's input topics, stage 2 (``aggregate``) the internal
queue-keyed topic; both hand whole batches to ``stream.stages.pipeline`` and then perform what it
asks,
in order: table writes (queue records before contact records), then messages. Events are acked
only after their batch's effects are queued, and Faust flushes the producer before it commits
offsets, so delivery is at-least-once and every effect is idempotent (see stream.stages.aggregate).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from stream.broker import create_topics
from stream.config import Settings, TargetBook, load_targets
from stream.config.paths import writable_directory
from stream.config.security import aiokafka_options, check_access, faust_credentials, redis_options
from stream.core.progress import source_partition
from stream.export.metrics import (
    KpiCollector,
    PipelineCollector,
    ProgressCollector,
    SnapshotErrorsCollector,
    render,
)
from stream.export.snapshots import (
    PUBLISH_INTERVAL_SECONDS,
    SnapshotPublisher,
    build_snapshots,
    key_prefix,
)
from stream.read import ReadView
from stream.stages.pipeline import Effects, Outgoing, Pipeline
from stream.stages.route import Message
from stream.store import records
from stream.store.ownership import Ownership
from stream.store.standby import WarmMemoryStore
from stream.worker import heap
from stream.worker.consumer import BatchConsumer
from stream.worker.delivery import GuardedTopic
from stream.worker.logs import logging_config

log = logging.getLogger("stream.worker.app")

PROGRESS_INTERVAL_SECONDS = 0.2
"""Most often the sources' progress is reported after routed batches (also every second)."""


def _names(tps: Iterable[TP]) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in tps)


class KeyedTable(faust.Table):  # type: ignore[type-arg]
    """A table whose keys start with their partition number (see ``stream.store.records``).

    Writing to the partition named in the key — not the current event's — lets one batch span
    partitions and lets timers write outside stream iteration.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changed: set[int] = set()

    def partition_for_key(self, key: Any) -> int:
        return records.partition_of(key)

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        """Changelog records read into the store (recovery, standbys): their partitions are
        remembered for `take_changed`."""
        events = list(batch)
        self._changed.update(event.message.partition for event in events)
        super().apply_changelog_batch(events)

    def take_changed(self) -> set[int]:
        """Partitions changelog records were read into since the last call
        (``stream.store.ownership``:
        the state of a partition kept through a rebalance is still the worker's own unless
        another writer's records arrived meanwhile)."""
        changed, self._changed = self._changed, set()
        return changed

    def _new_store_by_url(self, url: Any) -> Any:
        scheme = str(url).partition(":")[0]
        store: Any
        if scheme == "memory":  # warm standbys: see stream.store.standby
            store = WarmMemoryStore
        elif scheme in ("rocksdb", "rocksdict"):  # the key's partition: see stream.store.rocksdb
            from stream.store.rocksdb import KeyedRocksDBStore  # rocksdict: the rocksdb extra

            store = KeyedRocksDBStore
        else:
            return super()._new_store_by_url(url)
        return store(
            url, self.app, self, table_name=self.name, key_type=self.key_type,
            key_serializer=self.key_serializer, value_serializer=self.value_serializer,
            value_type=self.value_type, loop=self.loop, options=self.options,
        )  # fmt: skip


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
        app, s = self.app, self.settings

        @app.agent(self.inputs, name="route")
        async def route(stream: Any) -> None:
            async for events in stream.take_events(s.batch_max, s.batch_within_seconds):
                batch = [
                    Message(m.topic, m.partition, m.offset, m.key, m.value)
                    for m in (e.message for e in events)
                ]
                with heap.collector_paused():
                    effects = self.pipeline.route(batch)
                self._note_routed(batch)
                await self.perform(effects)
                if time.monotonic() - self._reported_at >= PROGRESS_INTERVAL_SECONDS:
                    await self.perform(self.report_progress())

        @app.agent(self.by_queue, name="aggregate")
        async def aggregate(stream: Any) -> None:
            async for events in stream.take_events(s.batch_max, s.batch_within_seconds):
                by_partition: dict[int, list[bytes]] = {}
                for e in events:
                    by_partition.setdefault(e.message.partition, []).append(e.message.value)
                for partition, payloads in by_partition.items():
                    with heap.collector_paused():
                        effects = self.pipeline.aggregate(partition, payloads)
                    await self.perform(effects)

        @app.timer(1.0)  # type: ignore[untyped-decorator]
        async def close_windows() -> None:
            if not app.rebalancing:
                self.enqueue(self.report_progress())
                await self.perform(self.pipeline.tick())

        if s.heap_trim_seconds > 0:

            @app.timer(s.heap_trim_seconds)  # type: ignore[untyped-decorator]
            async def trim_heap() -> None:
                heap.trim()

        @app.timer(60.0)  # type: ignore[untyped-decorator]
        async def expire() -> None:
            if not app.rebalancing:
                await self.perform(self.pipeline.expire())

        publisher = self.publisher
        if publisher is not None:

            @app.timer(PUBLISH_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]
            async def publish_snapshots() -> None:
                if not app.rebalancing:
                    await publisher.tick(
                        build_snapshots(
                            self.view,
                            self.targets,
                            self.clock(),
                            agents_shown=self.settings.wallboard_agents,
                        )
                    )

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            names = request.query.getall("name[]", [])  # as prometheus_client's own handler
            registry = self.registry.restricted_registry(names) if names else self.registry
            body = render(registry)  # generate_latest's bytes, faster (stream.export.metrics)
            return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        @app.page("/ready")
        async def ready(web: Any, request: Any) -> Any:
            held = self.ownership.held
            ok = self.ownership.recoveries > 0 and not app.rebalancing and self._owned() == held
            loads = {str(p): n for p, n in sorted(self.ownership.loads.items())}
            doc = {"ready": ok, "partitions": sorted(held), "loads": loads}
            return web.json(doc, status=200 if ok else 503)

        app.on_partitions_assigned.connect(self._on_assigned)
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
                self._note_routed(inputs)
                if time.monotonic() - self._reported_at >= PROGRESS_INTERVAL_SECONDS:
                    self.enqueue(self.report_progress())
            for partition, payloads in by_queue.items():
                self.enqueue(self.pipeline.aggregate(partition, payloads))
        await self.app.producer.buffer.wait_until_ebb()

    # --- event-time progress (stream.core.progress) ----------------------------------------------

    def _note_routed(self, messages: Sequence[Any]) -> None:
        routed = self._routed_next
        for m in messages:  # in offset order per partition
            source = f"{m.topic}/{m.partition}"
            if m.offset >= routed.get(source, 0):
                routed[source] = m.offset + 1

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

    def _owned(self) -> set[int]:
        names = {*self.settings.input_topics, self.by_queue_name}
        actives: Iterable[TP] = self.app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic in names}

    async def _on_assigned(self, app: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """The group agreed on an assignment (before recovery): partitions that moved away are
        dropped at once."""
        self.ownership.assigned(self._owned())

    async def _on_recovered(self) -> None:
        """The tables are recovered for the current assignment: load what is new here."""
        owned = self._owned()
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


def partition_counts(
    settings: Settings, topics: Iterable[str], timeout: float = 10.0
) -> dict[str, int]:
    """Partition counts of ``topics`` from the broker's metadata (missing topics: absent;
    an unreachable broker: empty, logged — the consumer's metadata is used later)."""

    async def read() -> dict[str, int]:
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(
            bootstrap_servers=settings.bootstrap_servers, **aiokafka_options(settings)
        )
        try:
            await asyncio.wait_for(client.bootstrap(), timeout)
            cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
            found = {t: len(cluster.partitions_for_topic(t) or ()) for t in topics}
            return {t: n for t, n in found.items() if n}
        finally:
            await client.close()

    try:
        return asyncio.run(read())
    except Exception as exc:  # not fatal: see the docstring
        log.warning("could not read the input topics' partition counts: %s", exc)
        return {}


def ensure_output_topics(settings: Settings, timeout: float = 10.0) -> bool:
    """Create the topics the worker writes to besides its own (dead letters, closed windows)
    when they are missing, with the worker's partition count; False when that failed.

    Faust creates only its internal topics. Left to the broker's auto-creation, the first message
    to a missing topic waits for metadata while every message behind it in Faust's producer
    buffer waits too; on the embedded Tansu broker a run of the benchmark stalled that way
    (the worker sent nothing for minutes, then could not even stop). A failure here — no right
    to create topics, broker not up yet — is logged, not fatal: the topics may well exist."""
    names = [settings.topic_dead_letter, settings.topic_windows]
    try:
        asyncio.run(
            create_topics(
                settings.bootstrap_servers,
                names,
                settings.partitions,
                timeout=timeout,
                security=aiokafka_options(settings),
            )
        )
    except Exception as exc:  # any failure: carry on, see the docstring
        log.warning(
            "could not create the output topics (they must exist): %s",
            exc,
            extra={"topics": names, "error": f"{type(exc).__name__}: {exc}"},
        )
        return False
    return True


def run_worker(settings: Settings) -> None:
    """Run one worker until stopped (SIGINT/SIGTERM)."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    writable_directory(settings.data_dir, "data_dir")  # Faust makes it without its parents
    check_access(settings)  # refused credentials or TLS: one clear error, not a retry loop
    ensure_output_topics(settings)
    counts = partition_counts(settings, settings.input_topics)
    wiring = Wiring(settings, load_targets(settings.targets_file), counts)
    heap.tune_collector(settings.gc_young_threshold)  # after the imports: see stream.worker.heap
    worker = faust.Worker(
        wiring.app,
        loglevel=settings.log_level,
        logging_config=logging_config(settings.log_level, settings.log_format),
        quiet=True,
    )
    worker.execute_from_commandline()

"""The two Faust agents of ``stream.worker.app``, run in-process through faust's agent test context.

``Agent.test_context()`` runs the real agent body — ``take_events`` and ``Wiring.perform``
included — on an in-memory channel; nothing connects to a broker. What the agents hand to Faust
is captured where Faust would hand it to Kafka: the producer's buffer, where ``send_soon`` queues
topic sends and table changelog writes alike, in order (and ``Topic.publish_message`` for direct
sends); acks through a sensor's ``on_message_out``. Table writes are changelog segments
(``stream.core.segments``); ``expand`` reads the record writes inside them.

Batches are deterministic: ``STREAM_BATCH_MAX`` is the batch size a test feeds and
``STREAM_BATCH_WITHIN_SECONDS`` is 60 s, so a batch is processed when it is full, never on a
timer. Each wait is for the acks of the fed messages, bounded by two seconds; nothing sleeps.
The clock is frozen at 10:40:00Z, so ages and current windows are exact.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import faust
import msgspec
from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP
from faust.types import Message as KafkaMessage
from prometheus_client import CollectorRegistry

from stream.config import Settings, TargetBook
from stream.core import segments
from stream.core.lifecycle import CallRecord, TicketRecord
from stream.export.metrics import KpiCollector
from stream.read import ReadView
from stream.stages.aggregate import QueueRecord
from stream.stages.forward import decode_batch, original_value
from stream.stages.pipeline import Effects
from stream.stages.route import Route, RouterStats
from stream.store import records
from stream.worker.app import Wiring

FROZEN: Final = "2026-11-22T10:40:00Z"
NOW: Final = datetime(2026, 11, 22, 10, 40, tzinfo=UTC).timestamp()
PARTITIONS: Final = 4
WAIT_SECONDS: Final = 2.0
_app_ids = itertools.count(1)
_event_ids = itertools.count(1)
_partitioner = DefaultPartitioner()

Input = tuple[str, int, bytes | None, bytes | None]  # topic, partition, key, value


def event(type_: str, at: str, **fields: Any) -> bytes:
    """Contract JSON of one event on 2026-11-22 at ``at`` (``HH:MM:SS``, UTC)."""
    doc = {"type": type_, "event_id": f"ev-{next(_event_ids)}", "occurred_at": f"2026-11-22T{at}Z"}
    return msgspec.json.encode({**doc, **fields})


def by_queue_partition(queue: bytes | None) -> int:
    """The partition Kafka's default partitioner (murmur2 of the key) gives a forward."""
    every = list(range(PARTITIONS))
    partition: int = _partitioner(queue, every, every)
    return partition


# --- what the agents emit ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """A message an agent published, as Faust serialised it; ``writes_before``: how many table
    writes had been queued when it was sent."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    writes_before: int
    partition: int | None = None
    """The partition the sender chose (None: the key's hash decides)."""


@dataclass(frozen=True, slots=True)
class Logged:
    """A table write as Faust queued it for the changelog topic."""

    topic: str
    partition: int
    key: bytes
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Acked:
    """A fed message fully acked, with how many sends and table writes were queued by then."""

    topic: str
    partition: int
    offset: int
    sent: int
    logged: int


class _AckSensor(faust.Sensor):
    """Reports every message that all streams have acked (safe to commit)."""

    def __init__(self, on_ack: Callable[[TP, int], None]) -> None:
        super().__init__()
        self._on_ack = on_ack

    def on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        self._on_ack(tp, offset)


class Harness:
    """One ``Wiring`` whose ``route`` and ``aggregate`` agents run in faust test contexts."""

    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring
        self.app: Any = wiring.app
        self._sent: list[Sent] = []
        self.acked: list[Acked] = []
        self._logged: list[Logged] = []
        self._progress = asyncio.Event()
        self._crash: BaseException | None = None
        self._offsets: dict[tuple[str, int], int] = {}
        self._agents: dict[str, Any] = {}
        self._stack = AsyncExitStack()
        for topic in wiring.topics.values():  # where Topic.send hands the message to Kafka
            topic.publish_message = self._publish  # type: ignore[method-assign]
        self.app.sensors.add(_AckSensor(self._on_ack))

    async def __aenter__(self) -> Harness:
        for name in ("route", "aggregate"):
            context = self.app.agents[name].test_context(
                channel=self.app.channel(key_type=bytes, value_type=bytes),
                on_error=self._on_error,
            )
            self._agents[name] = await self._stack.enter_async_context(context)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
        # Acking builds the app's (never started) Kafka consumer, whose thread owns an event
        # loop; close it here rather than leave it to the garbage collector.
        self.app.consumer._thread.thread_loop.close()

    # --- feeding ------------------------------------------------------------------------------

    async def route(self, *inputs: Input) -> None:
        """Feed input messages to ``route``; returns once every one of them is acked."""
        await self._feed("route", inputs)

    async def aggregate(self, forwards: Iterable[Sent]) -> None:
        """Feed forwards to ``aggregate``, each on the partition Kafka would put it in."""
        name = self.wiring.by_queue_name
        await self._feed(
            "aggregate",
            [
                (name, by_queue_partition(f.key) if f.partition is None else f.partition,
                 f.key, f.value)
                for f in forwards
            ],
        )  # fmt: skip

    async def _feed(self, agent: str, inputs: Iterable[Input]) -> None:
        """Feed ``inputs`` one batch (``batch_max`` messages) at a time."""
        size = self.wiring.settings.batch_max
        messages = list(inputs)
        assert len(messages) % size == 0, f"feed whole batches of {size}, not {len(messages)}"
        for start in range(0, len(messages), size):
            await self._feed_batch(agent, messages[start : start + size])

    async def _feed_batch(self, agent: str, batch: list[Input]) -> None:
        channel = self._agents[agent].stream().channel
        expected = []
        for topic, partition, key, value in batch:
            offset = self._offsets.get((topic, partition), 0)
            self._offsets[(topic, partition)] = offset + 1
            message = KafkaMessage(
                topic=topic,
                partition=partition,
                offset=offset,
                timestamp=NOW,
                timestamp_type=0,
                headers=[],
                key=key,
                value=value,
                checksum=None,
                generation_id=self.app.consumer_generation_id,
            )
            await channel.put(await channel.decode(message))
            expected.append((topic, partition, offset))
        await self._until_acked(expected)
        # Acks come only after all of the batch's effects are queued: every ack of this batch
        # saw every send and table write that the batch caused.
        done = (len(self.sent), len(self.logged))
        for ack in self.acked[-len(expected) :]:
            assert (ack.sent, ack.logged) == done, f"acked before its effects: {ack}"

    async def _until_acked(self, expected: list[tuple[str, int, int]]) -> None:
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while not set(expected) <= {(a.topic, a.partition, a.offset) for a in self.acked}:
                    if self._crash is not None:
                        raise AssertionError("the agent crashed") from self._crash
                    self._progress.clear()
                    await self._progress.wait()
        except TimeoutError:
            raise AssertionError(f"not acked within {WAIT_SECONDS} s: {expected}") from None

    # --- capturing ----------------------------------------------------------------------------

    async def _publish(self, fut: Any, wait: bool = False) -> Any:
        self._record(fut.message)
        return fut

    def _record(self, message: Any) -> None:
        topic = message.channel.get_topic_name()
        if topic.endswith("-changelog"):
            self._logged.append(Logged(topic, message.partition, message.key, message.value))
            return
        headers = message.headers
        pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
        self._sent.append(
            Sent(
                topic,
                message.key,
                message.value,
                tuple((name, bytes(value)) for name, value in pairs),
                len(self._logged),
                message.partition,
            )
        )

    def _drain(self) -> None:
        """Move what the agents queued in the producer's buffer (``send_soon``: topic sends and
        changelog writes alike, in the order queued) into ``sent`` and ``logged``."""
        pending = self.app.producer.buffer.pending
        while not pending.empty():
            self._record(pending.get_nowait().message)

    def _on_ack(self, tp: TP, offset: int) -> None:
        self.acked.append(Acked(tp.topic, tp.partition, offset, len(self.sent), len(self.logged)))
        self._progress.set()

    async def _on_error(self, agent: Any, exc: BaseException) -> None:
        self._crash = exc
        self._progress.set()

    @property
    def sent(self) -> list[Sent]:
        """Every message the agents have sent so far, in order."""
        self._drain()
        return list(self._sent)

    @property
    def logged(self) -> list[Logged]:
        """Every changelog message the tables have queued so far, in order."""
        self._drain()
        return list(self._logged)

    # --- views --------------------------------------------------------------------------------

    def to(self, role: str) -> list[Sent]:
        """What was sent to the topic of ``role`` (``forward``, ``dead_letter``, ``window``)."""
        name = self.wiring.topics[role].get_topic_name()
        return [s for s in self.sent if s.topic == name]

    def changelog(self, table: str) -> list[Logged]:
        """Changelog writes of table ``routes`` or ``aggregates``, as stored (segments)."""
        name = f"{self.wiring.settings.app_id}-{table}-changelog"
        return [w for w in self.logged if w.topic == name]

    def records(self, table: str) -> list[Logged]:
        """The record writes inside table ``table``'s changelog segments, in order."""
        return expand(self.changelog(table))

    def registry(self) -> CollectorRegistry:
        """A fresh registry holding a collector of this worker's pipeline."""
        registry = CollectorRegistry()
        registry.register(KpiCollector(ReadView(self.wiring.pipeline), self.wiring.clock))
        return registry


def run(scenario: Callable[[Harness], Awaitable[None]], **env: str) -> None:
    """Run ``scenario`` against a fresh worker; ``env`` overrides ``STREAM_*`` settings."""

    async def main() -> None:
        settings = Settings.from_env(
            {
                "STREAM_APP_ID": f"agents-test-{next(_app_ids)}",
                "STREAM_FROZEN_TIME": FROZEN,
                "STREAM_PARTITIONS": str(PARTITIONS),
                "STREAM_BATCH_WITHIN_SECONDS": "60",
                **{f"STREAM_{name.upper()}": value for name, value in env.items()},
            }
        )
        async with Harness(Wiring(settings, TargetBook.default())) as worker:
            await scenario(worker)

    asyncio.run(main())


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def headers_of(sent: Sent) -> dict[str, bytes]:
    names = [name for name, _ in sent.headers]
    assert len(names) == len(set(names)), sent.headers
    return dict(sent.headers)


# --- route ------------------------------------------------------------------------------------


def test_route_forwards_accepted_events_keyed_by_queue_and_dead_letters_the_rest() -> None:
    queued = event("call.queued", "10:31:00", call_id="c1", queue="billing")
    answered = event("call.answered", "10:31:15", call_id="c1", agent_id="a1")
    agent = event("agent.state_changed", "10:31:20", agent_id="a1", state="available")
    inputs: list[Input] = [
        ("calls", 2, b"c1", queued),
        ("calls", 2, b"x1", b"{not json"),
        ("calls", 2, b"c9", event("call.answered", "10:31:30", call_id="c9", agent_id="a1")),
        ("calls", 2, b"c2", event("call.queued", "11:00:00", call_id="c2", queue="billing")),
        ("tickets", 2, b"c3", event("call.queued", "10:31:40", call_id="c3", queue="billing")),
        ("calls", 2, b"c4", None),
        ("agents", 2, b"a1", agent),
        ("calls", 2, b"c1", answered),
    ]

    async def scenario(w: Harness) -> None:
        await w.route(*inputs)

        forwards = w.to("forward")
        assert [f.topic for f in forwards] == [w.wiring.by_queue_name]
        assert (forwards[0].key, forwards[0].partition) == (None, by_queue_partition(b"billing"))
        assert forwards[0].headers == ()
        batch = decode_batch(forwards[0].value)
        assert {i.queue for i in batch.items} == {"billing"}
        assert [(i.channel, i.source, i.offset, i.key, original_value(i)) for i in batch.items] == [
            ("phone", "calls/2", 0, b"c1", queued),
            ("phone", "calls/2", 5, b"c1", answered),
        ]

        dead = w.to("dead_letter")
        assert [(d.key, d.value) for d in dead] == [
            (b"x1", b"{not json"),
            (b"c9", inputs[2][3]),
            (b"c2", inputs[3][3]),
            (b"c3", inputs[4][3]),
            (b"c4", b""),
        ]
        assert [headers_of(d)["reason"] for d in dead] == [
            b"invalid_json",
            b"unknown_contact",
            b"timestamp_out_of_range",
            b"wrong_topic",
            b"invalid_json",
        ]
        assert [headers_of(d)["detail"] for d in dead[1:]] == [
            b"call.answered for a contact never created",
            b"occurred_at is 1200 s ahead of the clock",
            b"call.queued does not belong on topic tickets",
            b"empty message (tombstone)",
        ]
        assert [(h["source_topic"], h["source_partition"], h["source_offset"])
                for h in map(headers_of, dead)] == [
            (b"calls", b"2", b"1"),
            (b"calls", b"2", b"2"),
            (b"calls", b"2", b"3"),
            (b"tickets", b"2", b"0"),
            (b"calls", b"2", b"4"),
        ]  # fmt: skip
        assert [name for name, _ in dead[0].headers] == [
            "reason",
            "detail",
            "source_topic",
            "source_partition",
            "source_offset",
        ]

        writes = w.records("routes")
        assert [(x.partition, x.key) for x in writes] == [
            (2, b"2|r|c:c1"),
            # the agent's event (its history; no queues named: no "o" record, nothing forwarded)
            (2, b"2|h|a1|1795343480.0|4b1eafc318f6dedf"),
            (2, b"2|s|calls/2"),
            (2, b"2|s|tickets/2"),
            (2, b"2|s|agents/2"),
        ]
        assert records.decode("r|c:c1", _value(writes[0])) == Route("billing", "phone")
        assert records.decode_history(writes[1].key.decode()[2:], _value(writes[1])) == (
            "a1",
            (1795343480.0, bytes.fromhex("4b1eafc318f6dedf"), "available", None),
        )
        assert records.decode("s|calls/2", _value(writes[2])) == RouterStats(
            offset=5,
            rejected={"invalid_json": 2, "unknown_contact": 1, "timestamp_out_of_range": 1},
        )
        assert records.decode("s|agents/2", _value(writes[4])) == RouterStats(
            offset=0, accepted={"agent.state_changed": 1}
        )
        assert [(x.partition, x.key) for x in w.changelog("routes")] == [
            (2, b"2|x|0000000000|000000000000")
        ]  # one delta segment holds the whole batch: it is atomic in the changelog
        assert w.changelog("aggregates") == []
        assert w.to("window") == []
        # Messages are queued before table writes: a crash between the two re-delivers the
        # batch, and replays are forwarded again (stage 2 applies them once).
        assert {s.writes_before for s in w.sent} == {0}

        assert sorted((a.topic, a.offset) for a in w.acked) == sorted(
            [("agents", 0), ("tickets", 0), *(("calls", n) for n in range(6))]
        )

        registry = w.registry()
        rejected = "contact_centre_events_rejected_total"
        assert sample(registry, rejected, reason="invalid_json") == 2.0
        assert sample(registry, rejected, reason="unknown_contact") == 1.0
        assert sample(registry, rejected, reason="timestamp_out_of_range") == 1.0
        assert sample(registry, rejected, reason="wrong_topic") == 1.0
        events = "contact_centre_events_total"
        assert sample(registry, events, type="agent.state_changed") == 1.0
        assert sample(registry, events, type="call.queued") is None  # counted in stage 2

    run(scenario, batch_max=str(len(inputs)))


# --- table writes land in the partition named by the key --------------------------------------


def test_route_batch_spanning_two_partitions_writes_each_route_to_its_own_partition() -> None:
    async def scenario(w: Harness) -> None:
        # One batch. A plain faust.Table could not be written here at all: it takes the
        # partition from the current event, and a take_events agent body has none.
        await w.route(
            ("calls", 0, b"c1", event("call.queued", "10:31:00", call_id="c1", queue="billing")),
            ("tickets", 3, b"t1", event("ticket.created", "10:32:00", ticket_id="t1",
                                         queue="support", channel="email")),
        )  # fmt: skip
        writes = w.records("routes")
        assert [(x.partition, x.key) for x in writes] == [
            (0, b"0|r|c:c1"),
            (0, b"0|s|calls/0"),
            (3, b"3|r|t:t1"),
            (3, b"3|s|tickets/3"),
        ]
        stored = w.changelog("routes")
        assert [x.partition for x in stored] == [0, 3]  # one delta segment per partition
        for write in stored:
            assert write.partition == records.partition_of(write.key)
            assert w.wiring.routes.partition_for_key(write.key) == write.partition
        assert records.decode("r|t:t1", _value(writes[2])) == Route("support", "email")
        assert dict(w.wiring.routes.data) == {x.key: x.value for x in stored}
        assert len(w.to("forward")) == 2

    run(scenario, batch_max="2")


def test_aggregate_batch_spanning_two_partitions_writes_each_record_to_its_own_partition() -> None:
    billing, support = by_queue_partition(b"billing"), by_queue_partition(b"support")
    assert billing != support  # the premise: Kafka puts the two queues on different partitions

    async def scenario(w: Harness) -> None:
        await w.route(
            ("calls", 0, b"c1", event("call.queued", "10:31:00", call_id="c1", queue="billing")),
            ("tickets", 3, b"t1", event("ticket.created", "10:32:00", ticket_id="t1",
                                         queue="support", channel="email")),
        )  # fmt: skip
        forwards = w.to("forward")
        assert [f.partition for f in forwards] == [billing, support]
        await w.aggregate(forwards)  # one batch of two messages, on two partitions

        for stored in w.changelog("aggregates"):
            assert stored.partition == records.partition_of(stored.key)
        writes = w.records("aggregates")
        assert sorted((x.partition, x.key) for x in writes) == sorted(
            [
                (billing, f"{billing}|q|billing".encode()),
                (billing, f"{billing}|c:c1".encode()),
                (support, f"{support}|q|support".encode()),
                (support, f"{support}|t:t1".encode()),
            ]
        )
        for write in writes:
            assert write.partition == records.partition_of(write.key)
        for partition in (billing, support):  # within a partition the queue record goes first
            kinds = [records.split_key(x.key)[1][0] for x in writes if x.partition == partition]
            assert kinds[0] == "q" and len(kinds) == 2, kinds
        queue = records.decode("q|billing", _value(_one(writes, f"{billing}|q|billing")))
        assert isinstance(queue, QueueRecord)
        assert queue.applied == {"calls/0": 0}
        contact = records.decode("c:c1", _value(_one(writes, f"{billing}|c:c1")))
        assert isinstance(contact, CallRecord) and contact.queue == "billing"
        ticket = records.decode("t:t1", _value(_one(writes, f"{support}|t:t1")))
        assert isinstance(ticket, TicketRecord) and ticket.queue == "support"
        assert set(w.wiring.pipeline.agg_parts) == {billing, support}

    run(scenario, batch_max="2")


def test_timer_writes_outside_stream_iteration_land_in_the_key_partition() -> None:
    billing = by_queue_partition(b"billing")

    async def scenario(w: Harness) -> None:
        await w.route(
            ("calls", 0, b"c1", event("call.queued", "10:31:00", call_id="c1", queue="billing"))
        )
        # calls/0 reported routed to its end (what report_progress says of a caught-up
        # partition; the test context has no consumer to ask): the watermark may pass 10:31
        await w.wiring.perform(w.wiring.pipeline.progress({"calls/0": (1, 1)}))
        await w.aggregate(w.to("forward"))
        before = len(w.logged)
        # What the close_windows timer does, an hour later: no event is being processed.
        w.wiring.pipeline.clock = lambda: NOW + 3600
        await w.wiring.perform(w.wiring.pipeline.tick())
        writes = expand(w.logged[before:])
        assert [(x.partition, x.key) for x in writes] == [
            (billing, f"{billing}|q|billing".encode()),
            (billing, f"{billing}|w|progress".encode()),  # the watermark moved
        ]
        windows = w.to("window")
        start_15m = datetime(2026, 11, 22, 10, 30, tzinfo=UTC).timestamp()
        start_1h = datetime(2026, 11, 22, 10, tzinfo=UTC).timestamp()
        assert sorted(x.key or b"" for x in windows) == sorted(
            [f"billing|15m|{int(start_15m)}".encode(), f"billing|1h|{int(start_1h)}".encode()]
        )
        body = json.loads(next(x.value for x in windows if b"|15m|" in (x.key or b"")))
        assert (body["queue"], body["window"], body["start"], body["end"]) == (
            "billing",
            "15m",
            start_15m,
            start_15m + 900,
        )
        assert body["totals"]["offered"] == 1

    run(scenario, batch_max="1")


def test_deletes_send_tombstones_to_the_key_partition() -> None:
    billing = by_queue_partition(b"billing")

    async def scenario(w: Harness) -> None:
        await w.route(
            ("calls", 0, b"c1", event("call.queued", "10:31:00", call_id="c1", queue="billing")),
            ("calls", 0, b"c1", event("call.abandoned", "10:31:03", call_id="c1")),
            ("calls", 2, b"c2", event("call.queued", "10:38:00", call_id="c2", queue="billing")),
        )
        assert len(w.to("forward")) == 3  # batches of one message
        await w.aggregate(w.to("forward"))
        before = len(w.logged)
        # What the expire timer does: c1 finished more than the retention (60 s) before the
        # newest event, so its contact record and its route go, each from its own partition.
        await w.wiring.perform(w.wiring.pipeline.expire())
        deletes = w.logged[before:]
        assert sorted((x.partition, x.key, x.value) for x in expand(deletes)) == [
            (0, b"0|r|c:c1", None),
            (billing, f"{billing}|c:c1".encode(), None),
        ]
        for write in deletes:
            assert write.partition == records.partition_of(write.key)
        # Deleting a key the table does not hold sends nothing.
        before = len(w.logged)
        await w.wiring.perform(Effects(route_writes=[(b"1|r|c:nobody", None)]))
        assert w.logged[before:] == []

    run(scenario, batch_max="1", retention_seconds="60")


# --- aggregate: the state the collector exports -----------------------------------------------


def test_route_then_aggregate_gives_exact_metrics() -> None:
    c1_answered = event("call.answered", "10:31:15", call_id="c1", agent_id="a1")
    route_batches: list[list[Input]] = [
        [
            ("calls", 0, b"c1", event("call.queued", "10:31:00", call_id="c1", queue="billing")),
            ("calls", 1, b"c2", event("call.queued", "10:32:00", call_id="c2", queue="support",
                                       channel="chat")),
        ],
        [
            ("calls", 0, b"c1", c1_answered),
            ("calls", 1, b"c2", event("call.abandoned", "10:32:03", call_id="c2")),
        ],
        [
            ("calls", 0, b"c3", event("call.queued", "10:38:00", call_id="c3", queue="billing")),
            ("tickets", 1, b"t1", event("ticket.created", "10:35:00", ticket_id="t1",
                                         queue="support", channel="email")),
        ],
        [
            ("calls", 0, b"x1", b"{not json"),
            ("calls", 1, b"c2", event("call.answered", "10:33:00", call_id="c2", agent_id="a1")),
        ],
        [
            ("calls", 0, b"c1", c1_answered),  # the same event again, at a new offset
            ("tickets", 0, b"c5", event("call.queued", "10:33:00", call_id="c5", queue="billing")),
        ],
    ]  # fmt: skip

    async def scenario(w: Harness) -> None:
        for batch in route_batches:
            await w.route(*batch)
        forwards = w.to("forward")
        b, s = by_queue_partition(b"billing"), by_queue_partition(b"support")
        assert [f.partition for f in forwards] == [b, s] * 3 + [s, b]
        for i in range(0, len(forwards), 2):  # batches of two, each spanning both partitions
            await w.aggregate(forwards[i : i + 2])

        dead = w.to("dead_letter")
        assert [(headers_of(d)["reason"], d.key) for d in dead] == [
            (b"invalid_json", b"x1"),
            (b"wrong_topic", b"c5"),
            (b"invalid_transition", b"c2"),  # from stage 2, with the source coordinates
        ]
        assert headers_of(dead[2])["source_topic"] == b"calls"
        assert headers_of(dead[2])["source_partition"] == b"1"
        assert headers_of(dead[2])["source_offset"] == b"2"
        assert dead[2].value == route_batches[3][1][3]
        assert w.to("window") == []

        r = w.registry()
        billing = {"queue": "billing", "channel": "phone"}
        support = {"queue": "support", "channel": "chat"}
        p = "contact_centre_"
        assert sample(r, p + "calls_offered_total", **billing) == 2.0
        assert sample(r, p + "calls_offered_total", **support) == 1.0
        assert sample(r, p + "calls_answered_total", **billing) == 1.0
        assert sample(r, p + "calls_answered_total", **support) == 0.0  # at 0 from the start
        assert sample(r, p + "calls_answered_within_target_total", **billing) == 1.0
        assert sample(r, p + "calls_abandoned_total", **support) == 1.0
        assert sample(r, p + "calls_short_abandoned_total", **support) == 1.0
        assert sample(r, p + "tickets_created_total", queue="support", channel="email") == 1.0
        assert sample(r, p + "answer_wait_seconds_sum", **billing) == 15.0
        assert sample(r, p + "answer_wait_seconds_count", **billing) == 1.0
        assert sample(r, p + "calls_waiting", queue="billing") == 1.0
        assert sample(r, p + "calls_waiting", queue="support") == 0.0
        assert sample(r, p + "oldest_call_waiting_seconds", queue="billing") == 120.0
        assert sample(r, p + "oldest_call_waiting_seconds", queue="support") == 0.0
        assert sample(r, p + "tickets_open", queue="support", status="open") == 1.0
        assert sample(r, p + "tickets_awaiting_first_response", queue="support") == 1.0
        oldest_ticket = p + "oldest_ticket_awaiting_first_response_seconds"
        assert sample(r, oldest_ticket, queue="support") == 300.0
        for type_, n in [("call.queued", 3), ("call.answered", 1), ("call.abandoned", 1),
                         ("ticket.created", 1)]:  # fmt: skip
            assert sample(r, p + "events_total", type=type_) == n, type_
        for reason in ("invalid_json", "wrong_topic", "invalid_transition"):
            assert sample(r, p + "events_rejected_total", reason=reason) == 1.0, reason
        assert sample(r, p + "events_duplicate_total") == 1.0
        assert sample(r, p + "events_late_total") == 0.0
        window = {"window": "15m"}
        assert sample(r, p + "service_level_ratio", queue="billing", **window) == 1.0
        assert sample(r, p + "service_level_ratio", queue="support", **window) is None
        assert sample(r, p + "abandon_rate_ratio", queue="billing", **window) == 0.0
        assert sample(r, p + "abandon_rate_ratio", queue="support", **window) == 1.0
        asa = p + "average_speed_of_answer_seconds"
        assert sample(r, asa, queue="billing", **window) == 15.0

    run(scenario, batch_max="2")


def test_aggregate_replay_of_a_forward_changes_nothing() -> None:
    async def scenario(w: Harness) -> None:
        await w.route(
            ("calls", 0, b"c1", event("call.queued", "10:31:00", call_id="c1", queue="billing"))
        )
        forward = w.to("forward")
        await w.aggregate(forward)
        before = len(w.logged)
        await w.aggregate(forward)  # redelivered after a crash: same source coordinates
        assert w.logged[before:] == []
        r = w.registry()
        offered = {"queue": "billing", "channel": "phone"}
        assert sample(r, "contact_centre_calls_offered_total", **offered) == 1.0
        assert sample(r, "contact_centre_events_duplicate_total") == 0.0

    run(scenario, batch_max="1")


# --- helpers ------------------------------------------------------------------------------


def expand(writes: Iterable[Logged]) -> list[Logged]:
    """The record writes (``p|name`` keys, as ``stream.store.records`` names them) that segment
    writes carry: deltas and snapshot chunks hold ``[(name, bytes | None), ...]``."""
    out: list[Logged] = []
    for write in writes:
        partition, name = records.split_key(write.key)
        if write.value is None or not name.startswith(("x|", "k|")):
            continue  # a segment's tombstone or the manifest
        for record, value in segments.unpack(write.value):
            key = f"{partition}|{record}".encode()
            out.append(Logged(write.topic, write.partition, key, value))
    return out


def _value(write: Logged) -> bytes:
    assert write.value is not None, write
    return write.value


def _one(writes: list[Logged], key: str) -> Logged:
    (found,) = [x for x in writes if x.key == key.encode()]
    return found

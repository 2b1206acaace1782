"""The worker's working set and the translation between batches and stored records.

Framework-free: ``app.py`` hands it batches of Kafka messages and sends what it returns (table
writes in order, forwards, dead letters, closed windows). It holds the in-memory state of the
partitions this worker owns, rebuilds it from the table after recovery, and drops it on revoke,
so the collector only ever sees partitions that are assigned here.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from array import array
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec
from aiokafka.partitioner import murmur2

from stream.contract.decoder import Rejection
from stream.core.admission import UNLIMITED, Admission, Refusals
from stream.core.kpis import customers, sla
from stream.core.kpis.agents import AgentRecord, AgentSlot
from stream.core.kpis.customers import Contact, CustomerRecord, CustomerTotals
from stream.core.kpis.ewt import DEFAULT_RECENT_CALLS
from stream.core.kpis.histogram import Histogram
from stream.core.latency import observe_booked
from stream.core.lifecycle import CallRecord, TicketRecord
from stream.core.progress import Progress, Report, slowest, source_partition
from stream.core.segments import RecordWrite, SegmentLog, TableWrite, is_segment
from stream.stages.aggregate import (
    Aggregator,
    BatchOutput,
    ClosedWindow,
    PartitionState,
    QueueRecord,
    TargetSource,
)
from stream.stages.forward import (
    AgentEventsWire,
    CustomerFactWire,
    Item,
    decode_batch,
    encode_batch,
    original_value,
    wire_size,
)
from stream.stages.route import (
    AgentUpdate,
    CustomerFact,
    InputMessage,
    Message,
    Route,
    Router,
    RouterPartition,
    RouterStats,
    SeenIds,
    finished_route,
    open_route,
)
from stream.store import records

Write = TableWrite  # table key, stored bytes (None deletes)
log = logging.getLogger(__name__)


FORWARD_CHUNK_BYTES = 256 * 1024  # forwarded messages stay well under Kafka's 1 MB default


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to publish: topic role (``forward``, ``dead_letter``, ``window``), key, value;
    ``partition`` when the sender chose it (else the key's hash decides)."""

    role: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None


def customer_partition(customer_id: str, partitions: int) -> int:
    """The forward-topic partition that owns a customer: Kafka's default partitioner
    (murmur2 of the id), where forwards keyed by customer id went before they were grouped."""
    index: int = murmur2(customer_id.encode()) & 0x7FFFFFFF
    return index % partitions


queue_partition = customer_partition
"""The forward-topic partition that owns a queue: forwards are keyed by queue name and placed
by the producer's default partitioner (murmur2), as customers are."""


@dataclass(slots=True)
class CustomerPartition:
    """Customer records (``stream.core.kpis.customers``) of one partition of the forward topic."""

    records: dict[str, bytes] = field(default_factory=dict)
    """Customer id → its stored bytes (``records.encode_customer``), decoded for each fact."""
    totals: CustomerTotals = field(default_factory=CustomerTotals)
    last_contacts: array[float] = field(default_factory=sla.instants)
    """Each remembered customer's newest contact time, sorted: active customers are counted
    with one binary search (``customers.active_count``)."""

    def track(self, before: Sequence[Contact], after: Sequence[Contact]) -> None:
        """Move a customer's newest contact time in ``last_contacts`` (its contacts before and
        after a change, sorted by time)."""
        old = before[-1][0] if before else None
        new = after[-1][0] if after else None
        if old != new:
            if old is not None:
                sla.remove(self.last_contacts, old)
            if new is not None:
                sla.add(self.last_contacts, new)


@dataclass(slots=True)
class Effects:
    """What a batch asks the wiring to do, in this order: table writes, then messages."""

    route_writes: list[Write] = field(default_factory=list)
    aggregate_writes: list[Write] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)


class Pipeline:
    """Router + aggregator state of the partitions assigned to this worker."""

    def __init__(
        self,
        *,
        router: Router,
        aggregator: Aggregator,
        clock: Callable[[], float],
        retention_seconds: float,
        forward_partitions: int,
        conversion_horizon_seconds: float = customers.CONVERSION_HORIZON_SECONDS,
        placement: Callable[[str, int], int] | None = None,
    ) -> None:
        """``placement``: a queue's forward-topic partition (default ``queue_partition``, where
        the producer's key hash put it; tests may fix another mapping)."""
        self.router = router
        self.forward_partitions = forward_partitions
        self.placement = queue_partition if placement is None else placement
        self.aggregator = aggregator
        self.clock = clock
        self.retention_seconds = retention_seconds
        self.conversion_horizon_seconds = conversion_horizon_seconds
        self.router_parts: dict[int, RouterPartition] = {}
        self.agg_parts: dict[int, PartitionState] = {}
        self.customer_parts: dict[int, CustomerPartition] = {}
        self.route_logs: dict[int, SegmentLog] = {}
        self.agg_logs: dict[int, SegmentLog] = {}
        self.source_highs: dict[str, float] = {}
        """Newest event time routed here from each source topic-partition
        (``stream.core.progress``)."""
        self._queue_partitions: dict[str, int] = {}
        """Queue → its forward-topic partition (``queue_partition``), computed once a queue."""
        self.produce_failures: dict[str, int] = {}
        """Messages the producer refused for themselves, by role, since this process started
        (``refused``; ``contact_centre_produce_failures_total``)."""
        self.latency = Histogram()
        """Publish → booked latency of the items applied here since this process started
        (``stream.core.latency``; ``contact_centre_event_latency_seconds``)."""
        self.wall: Callable[[], float] = time.time
        """The real clock the latency is read on (``clock`` may be frozen in tests)."""

    @classmethod
    def create(
        cls,
        *,
        topic_kinds: dict[str, str],
        targets: TargetSource,
        clock: Callable[[], float],
        grace_seconds: float,
        idle_seconds: float,
        retention_seconds: float,
        max_event_bytes: int,
        future_skew_seconds: float,
        forward_partitions: int,
        conversion_horizon_seconds: float = customers.CONVERSION_HORIZON_SECONDS,
        max_queues: int | None = None,
        listed_queues: Iterable[str] = (),
        ewt_recent_calls: int = DEFAULT_RECENT_CALLS,
        placement: Callable[[str, int], int] | None = None,
    ) -> Pipeline:
        """``max_queues`` (``STREAM_MAX_QUEUES``, None: no limit) bounds the queues outside
        ``listed_queues`` (the targets file's): see ``stream.core.admission``."""
        place = queue_partition if placement is None else placement
        router = Router(
            topic_kinds, max_event_bytes=max_event_bytes, future_skew_seconds=future_skew_seconds
        )
        listed: dict[int, set[str]] = {}
        for queue in listed_queues:
            listed.setdefault(place(queue, forward_partitions), set()).add(queue)
        admission = Admission(
            {p: frozenset(qs) for p, qs in listed.items()},
            max_queues=UNLIMITED if max_queues is None else max_queues,
            partitions=forward_partitions,
        )
        aggregator = Aggregator(
            targets,
            grace_seconds=grace_seconds,
            idle_seconds=idle_seconds,
            admission=admission,
            ewt_recent_calls=ewt_recent_calls,
        )
        return cls(
            router=router,
            aggregator=aggregator,
            clock=clock,
            retention_seconds=retention_seconds,
            forward_partitions=forward_partitions,
            conversion_horizon_seconds=conversion_horizon_seconds,
            placement=placement,
        )

    # --- stage 1 ----------------------------------------------------------------------------

    def route(self, messages: Sequence[InputMessage]) -> Effects:
        """Route a batch of input messages (any partitions, any input topics)."""
        effects = Effects()
        by_partition: dict[int, list[InputMessage]] = {}
        for msg in messages:
            by_partition.setdefault(msg.partition, []).append(msg)
        now = self.clock()
        # Forwards go out one message per destination partition (chunked), not one per queue:
        # each item and agent entry names its queue (stream.stages.forward, version 3).
        items_to: dict[int, list[tuple[Item, int]]] = {}
        agents_to: dict[int, list[AgentUpdate]] = {}
        facts_to: dict[int, list[CustomerFactWire]] = {}
        where = self._queue_partition
        for partition, batch in by_partition.items():
            part = self.router_parts.get(partition)
            if part is None:
                part = self.router_parts[partition] = RouterPartition(partition)
            out = self.router.route(part, batch, now)
            writes: list[RecordWrite] = [
                (f"r|{name}", None if route is None else records.encode(route))
                for name, route in out.route_writes.items()
            ]
            writes += [(f"d|{k}", records.encode(seen)) for k, seen in out.seen_writes.items()]
            writes += [(f"o|{k}", records.encode(rec)) for k, rec in out.agent_writes.items()]
            writes += [
                (records.history_name(*k), None if e is None else records.encode_event(e[2], e[3]))
                for k, e in out.history_writes.items()
            ]
            if out.stats_changed:  # after the routes: a stored offset implies stored routes
                writes += [(f"s|{src}", records.encode(st)) for src, st in part.stats.items()]
            effects.route_writes += self._store(self.route_logs, partition, writes)
            for fwd, size in zip(out.forwards, out.forward_sizes, strict=True):
                items_to.setdefault(where(fwd.queue), []).append((fwd, wire_size(fwd, size)))
            for upd in out.agent_updates:
                agents_to.setdefault(where(upd.queue), []).append(upd)
            for fact in out.customer_facts:
                facts_to.setdefault(
                    customer_partition(fact.customer_id, self.forward_partitions), []
                ).append((fact.kind, fact.customer_id, fact.at, fact.ident, fact.queue))
            for dead in out.dead_letters:
                effects.messages.append(_dead_letter(dead.reason, dead.detail, dead.message))
            highs = self.source_highs
            for source, t in out.highs.items():
                if t > highs.get(source, -math.inf):
                    highs[source] = t
        for part_no in {**dict.fromkeys(items_to), **dict.fromkeys(agents_to), **facts_to}:
            packed = _pack(
                items_to.get(part_no, []), agents_to.get(part_no, []), facts_to.get(part_no, [])
            )
            for items, agent_events, facts in packed:
                payload = encode_batch(items, agent_events=agent_events, customers=facts)
                effects.messages.append(Outgoing("forward", None, payload, partition=part_no))
        return effects

    def _queue_partition(self, queue: str) -> int:
        found = self._queue_partitions.get(queue)
        if found is None:
            if len(self._queue_partitions) > 100_000:  # names seen by the router: unbounded
                self._queue_partitions.clear()
            found = self.placement(queue, self.forward_partitions)
            self._queue_partitions[queue] = found
        return found

    def progress(
        self, positions: Mapping[str, tuple[int, int]], *, unstamped: Collection[str] = ()
    ) -> Effects:
        """Progress reports of the source partitions routed here, one message to every partition
        of the forward topic (``stream.core.progress``): ``positions`` maps ``"topic/partition"`` to
        (offset after the last record routed, the partition's end offset); the ``unstamped``
        sources (paused: their end offset may be old) get no stamp. Queued after the forwards
        of the records they cover, they reach each partition after them."""
        effects = Effects()
        if not positions:
            return effects
        # The stamp: the newest event time routed here, from records fetched before the end
        # offsets reported (see stream.core.progress.Report).
        stamp = max(self.source_highs.values(), default=None)
        marks: list[Report] = [
            (
                source,
                self.source_highs.get(source),
                next_offset,
                end_offset,
                None if source in unstamped else stamp,
            )
            for source, (next_offset, end_offset) in sorted(positions.items())
        ]
        payload = encode_batch(marks=marks)
        for partition in range(self.forward_partitions):
            effects.messages.append(Outgoing("forward", None, payload, partition=partition))
        return effects

    def slowest_source(self) -> float | None:
        """The high mark of the slowest source still behind, as the partitions here know it."""
        found = [m for ps in self.agg_parts.values() if (m := slowest(ps.progress)) is not None]
        return min(found) if found else None

    # --- stage 2 ----------------------------------------------------------------------------

    def aggregate(self, partition: int, payloads: Iterable[bytes]) -> Effects:
        """Apply forwarded batches that arrived on one partition of the queue-keyed topic."""
        ps = self._agg_part(partition)
        items: list[Item] = []
        agents: list[AgentUpdate] = []
        facts: list[CustomerFact] = []
        marks: list[Report] = []
        intern = sys.intern  # agents' slots keep the queue: one string each
        for payload in payloads:
            batch = decode_batch(payload)
            marks += batch.marks
            items += batch.items
            if batch.agent_events:
                agents += (AgentUpdate(intern(q), a, evs) for q, a, evs in batch.agent_events)
            if batch.older_agents:
                log.warning(
                    "agent states from an older worker ignored", extra={"queue": batch.queue}
                )
            facts += (CustomerFact(*fact) for fact in batch.customers)
        out = self.aggregator.apply(ps, items, self.clock(), marks)
        observe_booked(self.latency, items, self.wall())
        if agents:
            self.aggregator.apply_agents(ps, agents, out)
        self.aggregator.settle_waits(ps, out)  # after the batch's agents: on queue at queue time
        effects = self._effects(ps, out)
        if facts:
            effects.aggregate_writes += self._customers(partition, facts)
        return effects

    def _customers(self, partition: int, facts: list[CustomerFact]) -> list[TableWrite]:
        """Apply customer facts (``stream.core.kpis.customers``): idempotent, any order."""
        cp = self.customer_parts.get(partition)
        if cp is None:
            cp = self.customer_parts[partition] = CustomerPartition()
        changed: dict[str, bytes] = {}
        horizon = self.conversion_horizon_seconds
        for fact in facts:
            stored = cp.records.get(fact.customer_id)
            rec = CustomerRecord(fact.customer_id)
            if stored is not None:
                rec = records.decode_customer(stored)
            before = rec.contacts  # a tuple: the change replaces it
            if fact.kind == "contact":
                queue = sys.intern(fact.queue)
                done = customers.add_contact(rec, cp.totals, fact.at, fact.ident, queue, horizon)
            elif fact.kind == "order":
                done = customers.add_order(rec, cp.totals, fact.at, fact.ident, horizon)
            else:
                done = customers.add_churn(rec, cp.totals, fact.at, fact.ident)
            if done:
                encoded = cp.records[rec.customer_id] = records.encode_customer(rec)
                changed[rec.customer_id] = encoded
                cp.track(before, rec.contacts)
        if not changed:
            return []
        writes: list[RecordWrite] = [("k|customers", records.encode(cp.totals))]
        writes += [(f"u|{cid}", changed[cid]) for cid in sorted(changed)]
        return self._store(self.agg_logs, partition, writes)

    def active_customers(self) -> int | None:
        """Active customers (``customers.active_count``) over the partitions here; None when no
        customer partition is here."""
        if not self.customer_parts:
            return None
        return sum(
            customers.active_count(cp.last_contacts, cp.totals)
            for cp in self.customer_parts.values()
        )

    def tick(self) -> Effects:
        """Close windows the wall clock has made final in idle partitions."""
        effects = Effects()
        now = self.clock()
        for ps in self.agg_parts.values():
            out = BatchOutput()
            self.aggregator.close_windows(ps, now, out)
            self._merge(effects, self._effects(ps, out))
        return effects

    def expire(self) -> Effects:
        """Forget finished contacts and routes older than the retention."""
        effects = Effects()
        for ps in self.agg_parts.values():
            out = BatchOutput()
            self.aggregator.expire(ps, self.retention_seconds, out)
            self._merge(effects, self._effects(ps, out))
        newest = max(
            (q.max_event_time or 0.0 for ps in self.agg_parts.values() for q in ps.queues.values()),
            default=self.clock(),
        )
        for partition, cp in self.customer_parts.items():
            dropped: list[RecordWrite] = []
            for cid, stored in list(cp.records.items()):
                rec = records.decode_customer(stored)
                if customers.expired(rec, cp.totals):
                    del cp.records[cid]
                    cp.track(rec.contacts, ())
                    dropped.append((f"u|{cid}", None))
                    continue
                before = rec.contacts
                if customers.prune(rec, cp.totals):
                    cp.track(before, rec.contacts)
                    cp.records[cid] = records.encode_customer(rec)
                    dropped.append((f"u|{cid}", cp.records[cid]))
            if dropped:
                effects.aggregate_writes += self._store(self.agg_logs, partition, dropped)
        for partition, part in self.router_parts.items():
            gone = self.router.expire(part, newest - self.retention_seconds)
            if gone:
                writes: list[RecordWrite] = [(f"r|{name}", None) for name in gone]
                effects.route_writes += self._store(self.route_logs, partition, writes)
        return effects

    def _agg_part(self, partition: int) -> PartitionState:
        ps = self.agg_parts.get(partition)
        if ps is None:
            ps = self.agg_parts[partition] = PartitionState(partition)
        return ps

    def _effects(self, ps: PartitionState, out: BatchOutput) -> Effects:
        effects = Effects()
        writes: list[RecordWrite] = [
            (f"q|{name}", records.encode(ps.queues[name])) for name in sorted(out.queues)
        ]  # queue records first: see stream.stages.aggregate
        writes += [(ckey, records.encode(ps.contacts[ckey])) for ckey in out.contacts]
        writes += [(ckey, None) for ckey in out.deleted_contacts]
        writes += [
            (records.agent_event_name(*k), None if e is None else records.encode_event(e[2], e[3]))
            for k, e in out.agent_events.items()
        ]
        if out.progress_changed:
            writes.append(("w|progress", records.encode(ps.progress)))
        if out.refusals_changed:
            writes.append(("x|refusals", records.encode(ps.refusals)))
        effects.aggregate_writes += self._store(self.agg_logs, ps.partition, writes)
        for rej in out.rejected:
            it = rej.item
            msg = Message(it.topic, it.partition, it.offset, it.key, original_value(it))
            effects.messages.append(_dead_letter(rej.reason, rej.detail, msg))
        for closed in out.closed:
            effects.messages.append(_closed_window(closed))
        return effects

    def _store(
        self, logs: dict[int, SegmentLog], partition: int, writes: list[RecordWrite]
    ) -> list[TableWrite]:
        """One batch's record writes as delta segments; a snapshot when the deltas grew large."""
        if not writes:
            return []
        log = logs.get(partition)
        if log is None:
            log = logs[partition] = SegmentLog(partition)
        out = log.append(writes)
        if log.wants_snapshot():
            live = self._route_records if logs is self.route_logs else self._aggregate_records
            out += log.snapshot(live(partition))
        return out

    def _route_records(self, partition: int) -> list[tuple[str, bytes]]:
        part = self.router_parts.get(partition) or RouterPartition(partition)
        return [
            *((f"r|{k}", records.encode(v)) for k, v in part.routes.items()),
            *((f"d|{k}", records.encode(v)) for k, v in part.seen.items()),
            *((f"o|{k}", records.encode(v)) for k, v in part.agents.items()),
            *(
                (records.history_name(k, e[0], e[1]), records.encode_event(e[2], e[3]))
                for k, v in part.agents.items()
                for e in v.history
            ),
            *((f"s|{k}", records.encode(v)) for k, v in part.stats.items()),
        ]

    def _aggregate_records(self, partition: int) -> list[tuple[str, bytes]]:
        ps = self.agg_parts.get(partition) or PartitionState(partition)
        return [
            *((f"q|{k}", records.encode(v)) for k, v in ps.queues.items()),
            *((k, records.encode(v)) for k, v in ps.contacts.items()),
            *(
                (records.agent_event_name(q, a, e[0], e[1]), records.encode_event(e[2], e[3]))
                for q, slots in ps.agents.items()
                for a, slot in slots.items()
                for e in slot.events
            ),
            *self._customer_records(partition),
            ("w|progress", records.encode(ps.progress)),
            *([("x|refusals", records.encode(ps.refusals))] if ps.refusals.count else []),
        ]

    def _customer_records(self, partition: int) -> list[tuple[str, bytes]]:
        cp = self.customer_parts.get(partition)
        if cp is None:
            return []
        return [
            ("k|customers", records.encode(cp.totals)),
            *((f"u|{cid}", stored) for cid, stored in cp.records.items()),
        ]

    @staticmethod
    def _merge(into: Effects, more: Effects) -> None:
        into.route_writes += more.route_writes
        into.aggregate_writes += more.aggregate_writes
        into.messages += more.messages

    # --- messages the producer refused -------------------------------------------------------

    def refused(
        self,
        role: str,
        topic: str,
        message: Outgoing,
        error: str,
    ) -> list[Outgoing]:
        """What to send instead of ``message`` (sent as ``role`` to ``topic``), which the producer
        refused for itself (``stream.worker.delivery``: too large, corrupt; not a broker outage):
        the
        dead letters, reason ``produce_failed`` and ``error`` as the detail. Counted by role.

        Everything built here fits the producer's request by construction (``_dead_letter``), so
        only a broker's own, lower limit can refuse one of these; they are not refused twice: a
        dead letter already marked ``produce_failed`` is only counted."""
        self.produce_failures[role] = self.produce_failures.get(role, 0) + 1
        why = Rejection("produce_failed", error)
        if role == "forward":
            return [
                _dead_letter(
                    why.reason,
                    why.detail,
                    Message(it.topic, it.partition, it.offset, it.key, original_value(it)),
                )
                for it in decode_batch(message.value).items
            ]
        if role == "dead_letter":
            headers = dict(message.headers)
            if "produce_failed" in headers:
                return []
            kept = tuple((k, v) for k, v in message.headers if k != "truncated_from_bytes")
            size = headers.get("truncated_from_bytes", str(len(message.value)).encode())
            return [
                Outgoing(
                    "dead_letter",
                    None,
                    b"",
                    (*kept, ("truncated_from_bytes", size),
                     ("produce_failed", why.detail.encode()[:1000])),
                )
            ]  # fmt: skip
        if role == "window":
            return [_dead_letter(why.reason, why.detail, Message(topic, -1, -1, message.key,
                                                                  message.value))]  # fmt: skip
        return []  # a changelog record: nothing to dead-letter (logged by the wiring)

    # --- ownership --------------------------------------------------------------------------

    def load(
        self,
        partitions: set[int],
        route_items: Iterable[tuple[bytes | str, bytes]],
        aggregate_items: Iterable[tuple[bytes | str, bytes]],
        keep: Collection[int] = (),
    ) -> None:
        """Rebuild the state of ``partitions`` from the two tables' stored segments; forget all
        other partitions. Partitions in ``keep`` that are loaded already keep their state as
        it is (the caller knows nothing but this worker has written to them since)."""
        kept = {p for p in partitions if p in keep and p in self.agg_parts}
        fresh = partitions - kept
        self.router_parts = {
            p: self.router_parts[p] if p in kept else RouterPartition(p) for p in partitions
        }
        self.source_highs = {
            s: t for s, t in self.source_highs.items() if source_partition(s) in partitions
        }
        self.agg_parts = {
            p: self.agg_parts[p] if p in kept else PartitionState(p) for p in partitions
        }
        self.customer_parts = {p: c for p, c in self.customer_parts.items() if p in kept}
        self.route_logs = {p: lg for p, lg in self.route_logs.items() if p in kept}
        self.agg_logs = {p: lg for p, lg in self.agg_logs.items() if p in kept}
        for logs, items in ((self.route_logs, route_items), (self.agg_logs, aggregate_items)):
            by_partition: dict[int, list[tuple[str, bytes]]] = {p: [] for p in fresh}
            for raw_key, value in items:
                partition, name = records.split_key(raw_key)
                if partition in by_partition and value is not None and is_segment(name):
                    by_partition[partition].append((name, value))
            for partition, stored in by_partition.items():
                log, writes = SegmentLog.recover(partition, stored)
                logs[partition] = log
                final: dict[str, bytes | None] = dict(writes)  # the last write of a name wins
                for name, stored_value in final.items():
                    if stored_value is not None:
                        self._restore(partition, name, stored_value)
        for p in fresh:  # stored one record per event, in any order
            for rec in self.router_parts[p].agents.values():
                rec.history.sort(key=lambda e: (e[0], e[1]))
            if (cp := self.customer_parts.get(p)) is not None:
                cp.last_contacts = sla.instants(cp.last_contacts)
        now = self.clock()
        for p in fresh:
            ps = self.agg_parts[p]
            ps.last_event_wall = now
            self.aggregator.rebuild_live(ps)

    def _restore(self, partition: int, name: str, value: bytes) -> None:
        if name.startswith("h|"):
            agent_id, event = records.decode_history(name, value)
            agents = self.router_parts[partition].agents
            agents.setdefault(agent_id, AgentRecord()).history.append(event)
            return
        if name.startswith("e|"):
            queue, agent_id, qevent = records.decode_agent_event(name, value)
            slots = self.agg_parts[partition].agents.setdefault(sys.intern(queue), {})
            slots.setdefault(agent_id, AgentSlot(queue, agent_id)).events.append(qevent)
            return
        if name.startswith("u|"):  # kept as stored bytes (maps of older versions: as arrays)
            cp = self.customer_parts.setdefault(partition, CustomerPartition())
            customer = records.decode_customer(value)
            older = records.is_older_customer(value)
            cp.records[name[2:]] = records.encode_customer(customer) if older else value
            if customer.contacts:
                cp.last_contacts.append(customer.contacts[-1][0])  # sorted after the load
            return
        if not records.known(name):
            log.warning("unknown stored record skipped", extra={"record": name[:80]})
            return
        rec = records.decode(name, value)
        if isinstance(rec, QueueRecord):
            self.agg_parts[partition].queues[rec.queue] = rec
        elif isinstance(rec, CallRecord | TicketRecord):
            rec.queue, rec.channel = sys.intern(rec.queue), sys.intern(rec.channel)
            if isinstance(rec, TicketRecord) and rec.category is not None:
                rec.category = sys.intern(rec.category)
            self.agg_parts[partition].contacts[name] = rec
        elif isinstance(rec, Route):
            self.router_parts[partition].routes[name[2:]] = (
                open_route(rec.queue, rec.channel)
                if rec.finished_at is None
                else finished_route(rec.queue, rec.channel, rec.finished_at)
            )
        elif isinstance(rec, RouterStats):
            self.router_parts[partition].stats[name[2:]] = rec
        elif isinstance(rec, SeenIds):
            self.router_parts[partition].seen[name[2:]] = rec
        elif isinstance(rec, AgentRecord):
            rec.told = [sys.intern(q) for q in rec.told]
            agents = self.router_parts[partition].agents
            if (known := agents.get(name[2:])) is not None:
                rec.history = known.history  # events restored before the agent's record
            agents[name[2:]] = rec
        elif isinstance(rec, CustomerTotals):
            self.customer_parts.setdefault(partition, CustomerPartition()).totals = rec
        elif isinstance(rec, Progress):
            self.agg_parts[partition].progress = rec
        elif isinstance(rec, Refusals):
            self.agg_parts[partition].refusals = rec

    def revoke(self, partitions: set[int]) -> None:
        """Drop the state of partitions moved to another worker (their series leave with them)."""
        for p in partitions:
            self.router_parts.pop(p, None)
            self.agg_parts.pop(p, None)
            self.customer_parts.pop(p, None)
            self.route_logs.pop(p, None)
            self.agg_logs.pop(p, None)
        for source in [s for s in self.source_highs if source_partition(s) in partitions]:
            del self.source_highs[source]


Packed = tuple[list[Item], list[AgentEventsWire], list[CustomerFactWire]]


def _pack(
    items: list[tuple[Item, int]], agents: list[AgentUpdate], facts: list[CustomerFactWire]
) -> list[Packed]:
    """One partition's forwards (items with their ``wire_size``, agents' events, customer
    facts), in that order, in messages of at most ``FORWARD_CHUNK_BYTES`` (estimated; an entry
    larger than that alone). Items keep their order, so each queue's events do."""
    out: list[Packed] = [([], [], [])]
    size = 0

    def room(n: int) -> Packed:
        nonlocal size
        last = out[-1]
        if (last[0] or last[1] or last[2]) and size + n > FORWARD_CHUNK_BYTES:
            last = ([], [], [])
            out.append(last)
            size = 0
        size += n
        return last

    for it, n in items:
        room(n)[0].append(it)
    for upd in agents:  # ids are bounded; an event is a few dozen bytes
        room(len(upd.queue) + len(upd.agent_id) + 32 + 40 * len(upd.events))[1].append(
            (upd.queue, upd.agent_id, upd.events)
        )
    for fact in facts:  # ids are bounded, so a fact is at most a few hundred bytes
        room(len(fact[0]) + len(fact[1]) + len(fact[3]) + len(fact[4]) + 24)[2].append(fact)
    return out


DEAD_LETTER_MAX_VALUE_BYTES = 512 * 1024
"""Longer rejected values are dead-lettered truncated: a whole 1 MB input would exceed the
producer's (and Kafka's default) request size, and the failed send would crash the worker on
every redelivery of the message."""
DEAD_LETTER_MAX_KEY_BYTES = 1024
"""Longer keys are dead-lettered truncated, for the same reason (a contact id is at most 128
characters). With the value's bound and the headers' (detail at most 1000 bytes, names at most
a topic name), a dead letter stays under 530 KiB: within any allowed
``STREAM_PRODUCER_MAX_REQUEST_BYTES`` (at least 1 MB), so a dead letter is always writable."""


def _dead_letter(reason: str, detail: str, msg: InputMessage) -> Outgoing:
    value, key = msg.value or b"", msg.key
    headers: tuple[tuple[str, bytes], ...] = (
        ("reason", reason.encode()),
        ("detail", detail.encode()[:1000]),
        ("source_topic", msg.topic.encode()),
        ("source_partition", str(msg.partition).encode()),
        ("source_offset", str(msg.offset).encode()),
    )
    if len(value) > DEAD_LETTER_MAX_VALUE_BYTES:
        headers += (("truncated_from_bytes", str(len(value)).encode()),)
        value = value[:DEAD_LETTER_MAX_VALUE_BYTES]
    if key is not None and len(key) > DEAD_LETTER_MAX_KEY_BYTES:
        headers += (("key_truncated_from_bytes", str(len(key)).encode()),)
        key = key[:DEAD_LETTER_MAX_KEY_BYTES]
    return Outgoing("dead_letter", key, value, headers)


def _closed_window(closed: ClosedWindow) -> Outgoing:
    key = f"{closed.queue}|{closed.kind}|{int(closed.start)}".encode()
    body = {
        "queue": closed.queue,
        "window": closed.kind,
        "start": closed.start,
        "end": closed.end,
        "totals": msgspec.to_builtins(closed.totals),
    }
    return Outgoing("window", key, json.dumps(body, sort_keys=True).encode())

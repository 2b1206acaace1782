"""The families of the worker as a whole: customers (no queue label but the contact's), the
stages' own counters, event-time progress and wallboard publishing errors.

Customers live on the partition of their id, so every worker exports its part — conversion per
queue of the contact, churn without a queue — and Prometheus sums over workers
(``sum(...after_contact) / sum(...churned)`` is the share).
"""

from __future__ import annotations

from typing import Final

from stream.core.kpis.histogram import Histogram, cumulative
from stream.core.latency import LATENCY_BOUNDS
from stream.export.family import Buckets, Family, by, one
from stream.export.totals import le
from stream.read import PipelineCounts, ProgressReading, WorkerAt

CUSTOMER_FAMILIES: Final[tuple[Family[WorkerAt], ...]] = (
    Family("customers_churned", "counter", (), "customer.churned events (one per event_id).",
           lambda at: one(at.customers.churned)),
    Family("customers_churned_after_contact", "counter", (),
           "Churned customers with a contact (ticket) in the 30 days before churning.",
           lambda at: one(at.customers.churned_after_contact)),
    Family("customers_active", "gauge", (),
           "Customers with a contact (ticket) in the 30 days of event time before their "
           "partition's newest fact; the churn rate's denominator.",
           lambda at: () if at.customers.active is None else one(at.customers.active)),
    Family("contacts_with_customer", "counter", ("queue",),
           "Contacts naming a customer (tickets with customer_id), one per ticket, by its queue.",
           lambda at: [((q,), c) for q, (c, _) in at.customers.by_queue.items()]),
    Family("contacts_converted", "counter", ("queue",),
           "Contacts followed by an order of the same customer within the conversion horizon.",
           lambda at: [((q,), v) for q, (_, v) in at.customers.by_queue.items()]),
    Family("customers_churned_in_window", "gauge", ("window",),
           "Churns in the current UTC window (15m, 1h, today).",
           lambda at: [((w,), c) for w, (c, _) in at.customers.windows.items()]),
    Family("customers_churned_after_contact_in_window", "gauge", ("window",),
           "Churns after a contact within 30 days, in the current UTC window.",
           lambda at: [((w,), a) for w, (_, a) in at.customers.windows.items()]),
)  # fmt: skip
"""Churn and conversion (``stream.read.customers``)."""


def _buckets(hist: Histogram, bounds: tuple[float, ...]) -> Buckets:
    return Buckets([(le(b), float(c)) for b, c in cumulative(hist, bounds)], hist.total,
                   float(hist.count))  # fmt: skip


PIPELINE_FAMILIES: Final[tuple[Family[PipelineCounts], ...]] = (
    Family("events", "counter", ("type",), "Accepted events by type.", lambda c: by(c.events)),
    Family("events_rejected", "counter", ("reason",), "Events sent to the dead-letter topic.",
           lambda c: by(c.rejected)),
    Family("events_duplicate", "counter", (), "Events dropped as duplicates (same event_id).",
           lambda c: one(c.duplicates)),
    Family("worker_partitions", "gauge", (),
           "Partitions this worker owns now (the sum over workers is the partition count).",
           lambda c: one(c.partitions)),
    Family("events_late", "counter", (), "Events older than the grace period of their window.",
           lambda c: one(c.late)),
    Family("event_latency_seconds", "histogram", (),
           "Publish → booked: from each accepted call or ticket event's source record timestamp "
           "to its booking in the queue's state, on this worker's clock, since it started.",
           lambda c: [((), _buckets(c.latency, LATENCY_BOUNDS))]),
    Family("produce_failures", "counter", ("role",),
           "Messages the producer refused for themselves (too large, corrupt), by role "
           "(forward, dead_letter, window, changelog), since the worker started; dead-lettered "
           "with reason produce_failed.",
           lambda c: by(c.produce_failures)),
)  # fmt: skip
"""The stages' own counters (``stream.read.worker``): events accepted, rejected, duplicate and
late; partitions; producer refusals."""

PROGRESS_FAMILIES: Final[tuple[Family[ProgressReading], ...]] = (
    Family("watermark_timestamp_seconds", "gauge", (),
           "Event time up to which windows are final: the lowest watermark of the partitions "
           "here (the slowest source partition's newest event time minus the grace period).",
           lambda p: () if p.watermark is None else one(p.watermark)),
    Family("source_partitions_behind", "gauge", (),
           "Input partitions not yet read to their end offset, as last reported (a backlog).",
           lambda p: one(p.behind)),
    Family("source_partitions_paused", "gauge", (),
           "Input partitions this worker pauses because they run ahead in event time.",
           lambda p: one(p.paused)),
    Family("windows_open", "gauge", (),
           "Windows not yet final in the partitions here (all queues and kinds).",
           lambda p: one(p.windows_open)),
)  # fmt: skip
"""Event-time progress (``stream.core.progress``): why windows close when they do."""

SNAPSHOT_FAMILIES: Final[tuple[Family[int], ...]] = (
    Family("snapshot_errors", "counter", (),
           "Wallboard snapshot publishing ticks that failed (Redis unreachable or erroring).",
           one),
)  # fmt: skip
"""Registered only when the worker publishes wallboard snapshots (``STREAM_REDIS_URL``)."""

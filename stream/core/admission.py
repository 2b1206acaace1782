"""Which queue names get series: the bounded-cardinality rule, pure.

Every queue name in the input becomes a queue record and a few hundred series, so the names
must be bounded. Queues the targets file lists (``STREAM_TARGETS_FILE``) always count. Any other
queue is admitted by the owner of its partition of the queue-keyed internal topic, when that
partition still has room in its share of ``STREAM_MAX_QUEUES`` (``share``): the decision is
remembered as the queue's stored record, so it holds across restarts and rebalances. Events of a
queue beyond the share are rejected (``too_many_queues``) and counted once per source message
in the partition's ``Refusals`` record, with the same offset guard the queue records use.

The decision depends only on what one partition's log holds, in its order — not on the number of
workers, which worker owns the partition, or when it was restored — which is why the limit is
split across partitions rather than counted over the whole worker or cluster.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

DEFAULT_MAX_QUEUES: Final = 100
"""The default of ``STREAM_MAX_QUEUES``: see docs/benchmarks.md for the series and scrape time
at this many queues."""


def share(max_queues: int, partitions: int, partition: int) -> int:
    """How many queues outside the targets file ``partition`` (of ``partitions``) admits: an even
    split of ``max_queues``, the first ``max_queues % partitions`` partitions one more; the shares
    add up to ``max_queues`` exactly."""
    base, extra = divmod(max_queues, partitions)
    return base + (1 if partition < extra else 0)


@dataclass(slots=True)
class Refusals:
    """Stored per partition (``x|refusals``): events rejected as ``too_many_queues``, each
    message counted once although replays dead-letter it again.

    The router forwards a batch grouped by queue, so one source's offsets do not arrive in
    order across queues: ``pending`` keeps the offsets counted per source above ``applied``,
    the offset through which every message of the source has arrived (the progress reports of
    ``stream.core.progress`` follow the forwards they cover: ``settle``). Its size is what arrives
    between two reports."""

    applied: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[int]] = field(default_factory=dict)
    count: int = 0

    def count_once(self, source: str, offset: int) -> bool:
        """Count the message at ``source``/``offset`` unless it was counted; whether it was new."""
        if offset <= self.applied.get(source, -1):
            return False
        seen = self.pending.setdefault(source, [])
        if offset in seen:
            return False
        seen.append(offset)
        self.count += 1
        return True

    def settle(self, source: str, next_offset: int) -> bool:
        """Every message of ``source`` before ``next_offset`` has arrived (a progress report
        says so); whether ``pending`` changed (a moved ``applied`` alone need not be stored:
        nothing was counted in between)."""
        if next_offset - 1 <= self.applied.get(source, -1):
            return False
        self.applied[source] = next_offset - 1
        seen = self.pending.pop(source, None)
        if not seen:
            return False
        rest = [o for o in seen if o >= next_offset]
        if rest:
            self.pending[source] = rest
        return len(rest) < len(seen)


class Admission:
    """The rule for one worker: ``listed`` maps each partition to the targets-file queues it
    owns (``pipeline.queue_partition``); ``max_queues`` is ``STREAM_MAX_QUEUES``."""

    def __init__(
        self, listed: Mapping[int, frozenset[str]], *, max_queues: int, partitions: int
    ) -> None:
        self.listed = listed
        self.max_queues = max_queues
        self.partitions = partitions

    def listed_in(self, partition: int) -> frozenset[str]:
        return self.listed.get(partition, frozenset())

    def admits(self, partition: int, known: Collection[str], queue: str) -> bool:
        """Whether ``partition``, holding the queue records ``known``, takes ``queue``."""
        if queue in known:
            return True
        listed = self.listed_in(partition)
        if queue in listed:
            return True
        used = len(known) - sum(1 for q in listed if q in known)
        return used < share(self.max_queues, self.partitions, partition)


UNLIMITED: Final = 2**62
"""A ``max_queues`` no input reaches (pipelines built without a limit: tests, benchmarks)."""


def unlimited(partitions: int) -> Admission:
    """No limit in practice, no listed queues."""
    return Admission({}, max_queues=UNLIMITED, partitions=partitions)

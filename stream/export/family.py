"""What a declared metric family is: name, type, labels, help, and where its samples come from.

A ``Family[R]`` reads its samples from a reading ``R`` of the read side (``stream.read``): a
``WorkerAt`` for the KPI families, the worker's ``PipelineCounts`` or ``ProgressReading`` for
its own. Nothing here knows Prometheus: ``stream.export.metrics`` builds the client's families from
these. The helpers below say once how a family walks the queues and windows of a reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from stream.read import QueueAt, WorkerAt

PREFIX = "contact_centre_"

R = TypeVar("R")
Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[str | None, ...]
"""Label values in the family's label order; ``None``: the sample has no such label (the
``reason`` of states other than ``away``)."""


@dataclass(frozen=True, slots=True)
class Buckets:
    """One histogram sample: cumulative ``(le, count)`` buckets (``+Inf`` last) and the sum."""

    buckets: list[tuple[str, float]]
    total: float
    count: float
    explicit: bool = False
    """Write ``_count`` and ``_sum`` as samples of their own: the client leaves them out of a
    histogram with a negative bound, the text format has them (the EWT error's bias)."""


Value = float | Buckets
Sample = tuple[Labels, Value]
Read = Callable[[R], Iterable[Sample]]


@dataclass(frozen=True, slots=True)
class Family(Generic[R]):
    """One exported family; ``name`` without the prefix (and without a counter's ``_total``)."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    read: Read[R]

    @property
    def exported(self) -> str:
        """The name in the exposition (a counter's samples add ``_total``)."""
        return PREFIX + self.name + ("_total" if self.kind == "counter" else "")


QueueRead = Callable[[QueueAt], Iterable[Sample]]
Scope = Literal["queues", "known", "staffed"]


def per_queue(read: QueueRead, scope: Scope = "queues") -> Read[WorkerAt]:
    """A family with a leading ``queue`` label over the queues of ``scope`` (``WorkerAt``)."""

    def samples(at: WorkerAt) -> Iterator[Sample]:
        for q in getattr(at, scope):
            for labels, value in read(q):
                yield (q.name, *labels), value

    return samples


def one(value: float) -> list[Sample]:
    """The single sample of a family without labels (beyond the queue's)."""
    return [((), value)]


def by(mapping: dict[str, float] | dict[str, int]) -> list[Sample]:
    """One sample per key of ``mapping`` (the key is the next label's value), in its order."""
    return [((key,), value) for key, value in mapping.items()]

"""The read side: what exporters may see of the partitions a worker owns, read at one instant.

``ReadView`` (``stream.read.view``) wraps the partition store; ``ReadView.at(now)`` gives every
queue here as a ``QueueAt`` (live gauges, current windows and their readings, estimates, call
flows, productivity, agent tiles) and the customers' numbers. ``/metrics``
(``stream.export.metrics``
through ``stream.export.families``) and the wallboard snapshots (``stream.export.snapshots``) import
this package and nothing of the write side (``Pipeline``, ``PartitionState``, ``Aggregator``),
so a tile and a sample are the same number, computed once.
"""

from stream.read.customers import CustomerReading
from stream.read.productivity import ProductivityReading
from stream.read.view import QueueAt, ReadView, WorkerAt
from stream.read.worker import PipelineCounts, ProgressReading

__all__ = [
    "CustomerReading",
    "PipelineCounts",
    "ProductivityReading",
    "ProgressReading",
    "QueueAt",
    "ReadView",
    "WorkerAt",
]

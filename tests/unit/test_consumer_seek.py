"""Seeking to committed offsets survives a rebalance that revokes a partition mid-seek."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import IllegalStateError
from aiokafka.structs import TopicPartition

from stream.worker.consumer import seek_assigned_to_committed

A, B, C = (TopicPartition("tickets", n) for n in range(3))


class Consumer:
    """aiokafka's consumer surface the seek uses; ``committed(B)`` revokes B (a rebalance)."""

    def __init__(self, committed: dict[TopicPartition, int | None]) -> None:
        self.assigned = set(committed)
        self._committed = committed
        self.seeks: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def committed(self, tp: TopicPartition) -> int | None:
        await asyncio.sleep(0)
        if tp == B:
            self.assigned.discard(B)
        return self._committed[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.assigned:
            raise IllegalStateError(f"No current assignment for partition {tp}")
        self.seeks[tp] = offset


@pytest.mark.parametrize(
    ("committed", "seeks", "offsets"),
    [
        ({A: 5, B: 7, C: 9}, {A: 5, C: 9}, {A: 5, C: 9}),  # B revoked while awaited
        ({A: None, C: 0}, {}, {A: None, C: 0}),  # nothing committed: no seek, offsets reported
        ({}, {}, {}),  # nothing assigned (aiokafka asserts here)
    ],
)
def test_seek_skips_partitions_revoked_meanwhile(
    committed: dict[TopicPartition, int | None],
    seeks: dict[TopicPartition, int],
    offsets: dict[TopicPartition, int | None],
) -> None:
    consumer = Consumer(committed)
    assert asyncio.run(seek_assigned_to_committed(consumer)) == offsets
    assert consumer.seeks == seeks

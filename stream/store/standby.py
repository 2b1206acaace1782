"""Warm standby for the in-memory table store: a takeover reads only the changelog's tail.

With ``table_standby_replicas`` Faust assigns each worker the changelog partitions of tables it
does not own as *standbys* and keeps reading them into the table's store, so that when a worker
dies its partitions' state is already at hand. Faust's own in-memory store defeats that twice:
it reports no offset (``persisted_offset`` is always ``None``), so a promoted standby is read
again from the changelog's start, and after every recovery it drops every key of a partition
that is not active here, standbys included.

`WarmMemoryStore` fixes both, and nothing else: it remembers, per table partition, the newest
changelog offset it has applied, and reports it as the persisted offset (Faust seeks there and
reads on); it keeps the keys of standby partitions, and forgets a partition — its keys and its
offset together — only when it is neither active nor standby here. Replaying a changelog from
an earlier offset than needed is harmless (its writes are applied again in order, the last
write of each key wins), so the remembered offset may lag (the worker's own writes do not move
it) but never runs ahead of what the store holds.

The worker's own writes move the offset as well, once the changelog has acknowledged them
(Faust calls ``set_persisted_offset``) and only while they follow it without a gap, so a
partition kept across a rebalance is not read again.
Keys written by the worker itself (``table[key] = value``) are tracked too, so a partition that
moves away takes them with it instead of staying in memory. Partitions are read from the key
(``stream.store.records``), as ``KeyedTable`` does.

Which partitions changelog records changed (what the pipeline must load again after a
rebalance) is the table's to tell, with any store: ``KeyedTable.take_changed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from faust.stores.memory import Store as MemoryStore
from faust.types import TP, EventT

from stream.store import records


class WarmMemoryStore(MemoryStore):  # type: ignore[type-arg]
    """Faust's in-memory store that keeps standby partitions and reports applied offsets."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.applied: dict[int, int] = {}
        """Table partition → the newest changelog offset applied to this store."""
        self.held: set[int] = set()
        """Partitions this store holds keys of (since they were last forgotten)."""

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        events = list(batch)
        super().apply_changelog_batch(events, to_key, to_value)
        applied = self.applied
        for event in events:
            message = event.message
            if message.offset > applied.get(message.partition, -1):
                applied[message.partition] = message.offset
        self.held |= {event.message.partition for event in events}

    def persisted_offset(self, tp: TP) -> int | None:
        return self.applied.get(tp.partition)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """The changelog acknowledged one of the worker's own writes at ``offset``.

        Taken only when it directly follows the offset already held: a gap means records of
        another writer in between (a zombie's write after its partition moved on), which this
        store has not applied, so the offset must stay before them. Ignored, too, for a
        partition forgotten meanwhile (a late acknowledgement). Either way the offset lags,
        which only means records are read again."""
        partition = tp.partition
        if partition in self.held and offset == self.applied.get(partition, -1) + 1:
            self.applied[partition] = offset

    def __setitem__(self, key: Any, value: Any) -> None:
        self.data[key] = value
        partition = self._key_partition[key] = records.partition_of(key)
        self.held.add(partition)

    def __delitem__(self, key: Any) -> None:
        del self.data[key]
        self._key_partition.pop(key, None)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        kept = {tp.partition for tp in active_tps | standby_tps}
        gone = [k for k, p in self._key_partition.items() if p not in kept]
        for key in gone:
            self.data.pop(key, None)
            self._key_partition.pop(key, None)
        for partition in [p for p in self.applied if p not in kept]:
            del self.applied[partition]
        self.held &= kept

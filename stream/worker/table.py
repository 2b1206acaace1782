"""The worker's Faust table class: keys that name their partition, the stores it opens.

A table's changelog partition comes from its key (``stream.store.records``), its store is the
warm in-memory one (``stream.store.standby``) or the RocksDB one keyed by partition
(``stream.store.rocksdb``), and it remembers which partitions changelog records were read into
(``stream.store.ownership``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import faust

from stream.store import records
from stream.store.standby import WarmMemoryStore


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

"""The RocksDB table store of the keyed tables (``STREAM_STORE=rocksdb://``, the image's store).

Faust's RocksDB store (``faust/stores/rocksdb.py``, rocksdict driver) keeps one database per
table partition and stores in each the changelog offset it holds up to, so a restarted worker
reads only the changelog's tail. As it stands it cannot hold our tables: every write asserts a
current stream event (``_set``), which the batch consumer (``stream.worker.consumer``) and the
timers
never have, and files the key under that event's partition — while our keys name their own
(``stream.store.records``; ``KeyedTable.partition_for_key`` sends them to that changelog partition).
On main the first event crashed the worker.

`KeyedRocksDBStore` is that store with the partition taken from the key, and nothing else of
its layout changed (same paths, same offset key, so databases written by either read the same):

* writes, deletes and reads go to the database of the partition in the key, with or without a
  current event; a read of a partition whose database is not open here finds nothing (it opens
  no database), a write opens it;
* a changelog batch (recovery, standbys) is written per partition as one RocksDB write batch
  together with its newest offset, so a crash never leaves an offset ahead of the records;
* the worker's own writes move the stored offset once the changelog acknowledges them, as in
  Faust, but only while they follow it without a gap (as ``stream.store.standby`` does for memory):
  records of another writer in between (a zombie) are not in this database, so the offset must
  stay before them. A lagging offset only means records are read again (their writes are
  idempotent: the last write of a key wins);
* partitions revoked (neither active nor standby here any more) have their database closed at
  once, and every database is closed when the store stops, so a partition that comes back to
  this process reopens without waiting on RocksDB's lock (Faust's store leaves that to the
  garbage collector); their files stay, and a partition that comes back reads only what
  changed since;
* after each recovery it logs how many changelog records it read into the active partitions
  (``rocksdb store <table>: read N changelog records at recovery``): 0 after a restart on an
  up-to-date data directory.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import rocksdict
from faust.stores.rocksdb import Store as FaustRocksDBStore
from faust.types import TP, CollectionT, EventT

from stream.store import records

log = logging.getLogger("stream.store.rocksdb")


class KeyedRocksDBStore(FaustRocksDBStore):
    """Faust's RocksDB store for tables whose keys name their partition."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._offsets: dict[int, int] = {}
        """Partition → the changelog offset its database is stored up to (as stored)."""
        self.recovery_reads: Counter[int] = Counter()
        """Per partition, changelog records applied since the last assignment."""

    # --- records: the partition is the key's ------------------------------------------------

    def _set(self, key: bytes, value: bytes | None) -> None:
        self._db_for_partition(records.partition_of(key)).put(key, value)

    def _del(self, key: bytes) -> None:
        self._db_for_partition(records.partition_of(key)).delete(key)

    def _get(self, key: bytes) -> bytes | None:
        db = self._dbs.get(records.partition_of(key))
        if db is None:
            return None
        value: bytes | None = db.get(key)
        return value

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    # --- changelog offsets ---------------------------------------------------------------------

    def persisted_offset(self, tp: TP) -> int | None:
        partition = tp.partition
        if partition in self._offsets:
            return self._offsets[partition]
        stored = self._db_for_partition(partition).get(self.offset_key)
        if stored is None:
            return None
        offset = self._offsets[partition] = int(stored)
        return offset

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """The changelog acknowledged one of the worker's own writes at ``offset``: stored when it
        directly follows the stored offset (see the module docstring); ignored for a partition
        whose database is closed (a late acknowledgement after a revocation)."""
        partition = tp.partition
        db = self._dbs.get(partition)
        if db is None:
            return
        held = self.persisted_offset(tp)
        if offset == (-1 if held is None else held) + 1:
            db.put(self.offset_key, str(offset).encode())
            self._offsets[partition] = offset

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        """Changelog records (recovery, standbys): per partition one write batch, its newest
        offset in the same batch."""
        writes: defaultdict[int, Any] = defaultdict(lambda: rocksdict.WriteBatch(raw_mode=True))
        newest: dict[int, int] = {}
        for event in batch:
            message = event.message
            partition = message.partition
            if message.value is None:
                writes[partition].delete(message.key)
            else:
                writes[partition].put(message.key, message.value)
            if message.offset > newest.get(partition, -1):
                newest[partition] = message.offset
            self.recovery_reads[partition] += 1
        for partition, write in writes.items():
            held = self.persisted_offset(TP(self._changelog_topic(), partition))
            offset = max(newest[partition], -1 if held is None else held)
            write.put(self.offset_key, str(offset).encode())
            self._db_for_partition(partition).write(write)
            self._offsets[partition] = offset

    def _changelog_topic(self) -> str:
        name: str = self.table.changelog_topic.get_topic_name()
        return name

    # --- databases: opened on assignment or first write, closed on revocation -----------------

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        self.recovery_reads.clear()
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    def revoke_partitions(self, table: CollectionT, tps: set[TP]) -> None:
        topics = table.changelog_topic.topics
        for tp in tps:
            if tp.topic in topics:
                self._close(tp.partition)

    def _close(self, partition: int) -> None:
        db = self._dbs.pop(partition, None)
        self._offsets.pop(partition, None)
        if db is not None:
            db.close()
            log.info(
                "rocksdb store %s: closed partition %d",
                self.table_name,
                partition,
                extra={"table": self.table_name, "partition": partition},
            )

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        actives = sorted(tp.partition for tp in active_tps if tp.topic == self._changelog_topic())
        read = sum(self.recovery_reads[p] for p in actives)
        log.info(
            "rocksdb store %s: read %d changelog records at recovery",
            self.table_name,
            read,
            extra={
                "table": self.table_name,
                "records": read,
                "partitions": actives,
                "open": sorted(self._dbs),
            },
        )

    async def stop(self) -> None:
        for partition in list(self._dbs):
            self._close(partition)
        await super().stop()

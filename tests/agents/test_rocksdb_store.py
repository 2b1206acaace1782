"""The RocksDB store of a real ``Wiring``'s tables (``stream.store.rocksdb``) on real rocksdict
databases under a temporary data directory, driven the way the wiring and Faust's recovery drive
it: writes with no current event, changelog batches, acknowledged offsets, revocation, stop.

Nothing connects to a broker.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP
from rocksdict import AccessType, Options, Rdict

from stream.config import Settings, TargetBook
from stream.store import records
from stream.store.rocksdb import KeyedRocksDBStore
from stream.worker.app import Wiring
from tests.factories import changelog_event

_app_ids = itertools.count()


def wired(data_dir: Path, app_id: str | None = None, url: str = "rocksdb://") -> Wiring:
    settings = Settings.from_env(
        {
            "STREAM_APP_ID": app_id or f"rocksdb-test-{next(_app_ids)}",
            "STREAM_PARTITIONS": "4",
            "STREAM_STORE": url,
            "STREAM_DATA_DIR": str(data_dir),
        }
    )
    return Wiring(settings, TargetBook.default())


def store(wiring: Wiring) -> KeyedRocksDBStore:
    data = wiring.aggregates.data
    assert isinstance(data, KeyedRocksDBStore)
    return data


def changelog_tp(data: KeyedRocksDBStore, partition: int) -> TP:
    return TP(data.table.changelog_topic.get_topic_name(), partition)


def on_disk(data: KeyedRocksDBStore, partition: int) -> dict[bytes, Any]:
    """What the partition's database holds, read by a second handle (the store's is closed)."""
    path = str(data.partition_path(partition))
    db = Rdict(path, options=Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        return {k: db.get(k) for k in db.keys() if isinstance(k, bytes)}  # noqa: SIM118
    finally:
        db.close()


@pytest.mark.parametrize("url", ["rocksdb://", "rocksdict://"])
def test_both_tables_use_the_keyed_store_for_either_url(tmp_path: Path, url: str) -> None:
    """``rocksdict://`` is a valid ``STREAM_STORE`` too; Faust itself knows no such store."""
    wiring = wired(tmp_path, url=url)
    for table in (wiring.routes, wiring.aggregates):
        assert isinstance(table.data, KeyedRocksDBStore)
        assert table.data.partition_path(1).name == f"{table.name}-1.db"


def test_writes_without_an_event_land_in_the_partition_the_key_names(tmp_path: Path) -> None:
    wiring = wired(tmp_path)
    data = store(wiring)
    wiring.aggregates[records.key(2, "q|billing")] = b"two"  # the table, as the wiring writes
    data[records.key(3, "q|sales")] = b"three"
    assert data[records.key(2, "q|billing")] == b"two"
    assert records.key(3, "q|sales") in data
    assert records.key(1, "q|sales") not in data
    del data[records.key(3, "q|sales")]
    assert records.key(3, "q|sales") not in data
    assert sorted(data._dbs) == [2, 3]  # nothing read opened partitions 0 or 1
    asyncio.run(data.stop())
    assert on_disk(data, 2) == {records.key(2, "q|billing"): b"two"}
    assert on_disk(data, 3) == {}


def test_a_changelog_batch_is_stored_with_its_offset_and_read_after_a_restart(
    tmp_path: Path,
) -> None:
    wiring = wired(tmp_path, "rocksdb-restart")
    data = store(wiring)
    topic = changelog_tp(data, 0).topic
    batch = [changelog_event(wiring.app, topic, 0, 7, "x|1", b"a"),
             changelog_event(wiring.app, topic, 0, 9, "x|2", b"b"),
             changelog_event(wiring.app, topic, 2, 3, "x|1", b"c"),
             changelog_event(wiring.app, topic, 0, 8, "x|1", None)]  # fmt: skip
    data.apply_changelog_batch(batch, lambda k: k, lambda v: v)
    assert data.persisted_offset(changelog_tp(data, 0)) == 9
    assert data.persisted_offset(changelog_tp(data, 2)) == 3
    assert data.persisted_offset(changelog_tp(data, 1)) is None
    assert data.recovery_reads == {0: 3, 2: 1}
    asyncio.run(data.stop())
    assert on_disk(data, 0) == {records.key(0, "x|2"): b"b", data.offset_key: b"9"}

    again = store(wired(tmp_path, "rocksdb-restart"))  # the same data directory
    assert again.persisted_offset(changelog_tp(again, 0)) == 9
    assert again.persisted_offset(changelog_tp(again, 2)) == 3
    assert again[records.key(2, "x|1")] == b"c"
    assert records.key(0, "x|1") not in again
    asyncio.run(again.stop())


def test_acknowledged_writes_move_the_offset_only_without_a_gap(tmp_path: Path) -> None:
    wiring = wired(tmp_path)
    data = store(wiring)
    tp = changelog_tp(data, 1)
    data.apply_changelog_batch(
        [changelog_event(wiring.app, tp.topic, 1, 4, "x|1", b"a")], lambda k: k, lambda v: v
    )
    data.set_persisted_offset(tp, 5)  # the worker's own write, right after: taken
    assert data.persisted_offset(tp) == 5
    data.set_persisted_offset(tp, 7)  # offset 6 is another writer's: not taken
    assert data.persisted_offset(tp) == 5
    data.set_persisted_offset(TP(tp.topic, 3), 0)  # a partition not open here: ignored
    assert 3 not in data._dbs
    asyncio.run(data.stop())
    assert on_disk(data, 1)[data.offset_key] == b"5"


def test_a_revoked_partition_is_closed_and_reopens_at_once(tmp_path: Path) -> None:
    wiring = wired(tmp_path)
    data = store(wiring)
    for p in range(4):
        data[records.key(p, "q|x")] = f"v{p}".encode()
    revoked = {changelog_tp(data, 1), changelog_tp(data, 3)}
    kept = {changelog_tp(data, 0), changelog_tp(data, 2)}
    asyncio.run(data.on_rebalance(kept, revoked, set()))
    assert sorted(data._dbs) == [0, 2]
    assert records.key(1, "q|x") not in data  # closed: not read here any more
    assert on_disk(data, 1) == {records.key(1, "q|x"): b"v1"}  # its files stay
    asyncio.run(data.on_rebalance({*kept, *revoked}, set(), revoked))  # assigned back
    assert sorted(data._dbs) == [0, 1, 2, 3]  # reopened without waiting on RocksDB's lock
    assert data[records.key(3, "q|x")] == b"v3"
    asyncio.run(data.stop())

"""The warm in-memory store (``stream.store.standby``) of a real ``Wiring``'s tables, fed real Faust
changelog events: offsets reported per partition, standby partitions kept, the rest forgotten.

Nothing connects to a broker: the store is driven the way Faust's recovery drives it
(``apply_changelog_batch``, ``on_recovery_completed``, ``set_persisted_offset``).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from faust.types import TP

from stream.config import Settings, TargetBook
from stream.store import records
from stream.store.standby import WarmMemoryStore
from stream.worker.app import Wiring
from tests.factories import changelog_event

_app_ids = itertools.count()
CHANGELOG = "standby-aggregates-changelog"


def wired() -> Wiring:
    settings = Settings.from_env(
        {"STREAM_APP_ID": f"standby-test-{next(_app_ids)}", "STREAM_PARTITIONS": "4"}
    )
    return Wiring(settings, TargetBook.default())


def store() -> tuple[Any, WarmMemoryStore]:
    wiring = wired()
    data = wiring.aggregates.data
    assert isinstance(data, WarmMemoryStore)
    return wiring.app, data


def changelog(app: Any, partition: int, offset: int, name: str, value: bytes | None) -> Any:
    return changelog_event(app, CHANGELOG, partition, offset, name, value)


def tps(*partitions: int) -> set[TP]:
    return {TP(CHANGELOG, p) for p in partitions}


def test_the_tables_of_a_memory_worker_use_the_warm_store() -> None:
    _, data = store()
    assert data.persisted_offset(TP(CHANGELOG, 0)) is None  # nothing read: from the start


def test_applied_changelog_offsets_are_reported_per_partition() -> None:
    app, data = store()
    batch = [changelog(app, 0, 7, "x|1", b"a"), changelog(app, 0, 9, "x|2", b"b"),
             changelog(app, 2, 3, "x|1", b"c"), changelog(app, 0, 8, "x|3", b"d")]  # fmt: skip
    data.apply_changelog_batch(batch, lambda k: k, lambda v: v)
    assert data.persisted_offset(TP(CHANGELOG, 0)) == 9
    assert data.persisted_offset(TP(CHANGELOG, 2)) == 3
    assert data.persisted_offset(TP(CHANGELOG, 1)) is None
    assert data[records.key(2, "x|1")] == b"c"


def test_recovery_keeps_active_and_standby_partitions_and_forgets_the_rest() -> None:
    app, data = store()
    batch = [changelog(app, p, 5, "x|1", f"v{p}".encode()) for p in range(4)]
    data.apply_changelog_batch(batch, lambda k: k, lambda v: v)
    data[records.key(3, "x|own")] = b"written here"  # the worker's own write
    asyncio.run(data.on_recovery_completed(tps(0), tps(1)))  # active 0, standby 1
    assert sorted(data.keys()) == [records.key(0, "x|1"), records.key(1, "x|1")]
    assert [data.persisted_offset(tp) for tp in sorted(tps(0, 1, 2, 3))] == [5, 5, None, None]


def test_own_writes_move_the_offset_only_without_a_gap_and_not_once_forgotten() -> None:
    app, data = store()
    data.apply_changelog_batch([changelog(app, 0, 11, "x|1", b"read")], lambda k: k, lambda v: v)
    data[records.key(0, "x|own")] = b"1"
    data.set_persisted_offset(TP(CHANGELOG, 0), 12)  # the worker's write right after
    assert data.persisted_offset(TP(CHANGELOG, 0)) == 12
    data.set_persisted_offset(TP(CHANGELOG, 0), 14)  # 13 is someone else's: not applied here
    assert data.persisted_offset(TP(CHANGELOG, 0)) == 12
    data[records.key(1, "x|own")] = b"2"
    data.set_persisted_offset(TP(CHANGELOG, 1), 0)  # a partition's first record
    assert data.persisted_offset(TP(CHANGELOG, 1)) == 0
    asyncio.run(data.on_recovery_completed(tps(0), set()))  # partition 1 moved away
    data.set_persisted_offset(TP(CHANGELOG, 1), 1)  # a late acknowledgement
    assert data.persisted_offset(TP(CHANGELOG, 1)) is None
    assert records.key(1, "x|own") not in data


def test_the_table_tells_which_partitions_changelog_records_changed() -> None:
    """``KeyedTable.take_changed`` (stream.store.ownership: what to load again after a rebalance):
    the partitions of changelog records read into the store since the last call."""
    wiring = wired()
    table, app = wiring.aggregates, wiring.app
    table.apply_changelog_batch(
        [changelog(app, 0, 7, "x|1", b"a"), changelog(app, 2, 3, "x|1", b"c")]
    )
    assert table.data[records.key(2, "x|1")] == b"c"
    assert table.take_changed() == {0, 2}
    assert table.take_changed() == set()

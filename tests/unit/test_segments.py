"""Changelog segments: deltas, snapshots, recovery, and a crash in the middle of a snapshot."""

from __future__ import annotations

import tracemalloc
import zlib

import msgspec
import pytest
import zstandard

from stream.core import segments
from stream.core.segments import SegmentLog, TableWrite


def apply(store: dict[bytes, bytes], writes: list[TableWrite]) -> None:
    for key, value in writes:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


def recovered(store: dict[bytes, bytes], partition: int = 3) -> tuple[SegmentLog, dict[str, bytes]]:
    stored = [(k.decode().partition("|")[2], v) for k, v in store.items()]
    log, writes = SegmentLog.recover(partition, stored)
    state: dict[str, bytes] = {}
    for name, value in writes:
        if value is None:
            state.pop(name, None)
        else:
            state[name] = value
    return log, state


def test_deltas_replay_in_order_and_deletes_win() -> None:
    log, store = SegmentLog(3), dict[bytes, bytes]()
    apply(store, log.append([("q|a", b"1"), ("c:x", b"x1")]))
    apply(store, log.append([("q|a", b"2"), ("c:x", None), ("c:y", b"y1")]))
    assert all(k.startswith(b"3|x|") for k in store)
    log2, state = recovered(store)
    assert state == {"q|a": b"2", "c:y": b"y1"}
    assert (log2.gen, log2.seq) == (0, 2)


def test_an_empty_batch_writes_nothing() -> None:
    assert SegmentLog(0).append([]) == []


def test_snapshot_replaces_older_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "MIN_SNAPSHOT_BYTES", 10)
    log, store = SegmentLog(3), dict[bytes, bytes]()
    live: dict[str, bytes] = {}
    for i in range(20):
        writes = [(f"c:{i}", b"v" * 8), ("q|a", str(i).encode())]
        live.update(writes)
        apply(store, log.append(writes))
        if log.wants_snapshot():
            apply(store, log.snapshot(sorted(live.items())))
    assert log.gen >= 1
    assert {k.split(b"|")[1] for k in store} <= {b"k", b"m", b"x"}
    assert not any(k.startswith(b"3|x|0000000000|") for k in store)  # generation 0 is gone
    _, state = recovered(store)
    assert state == live


def test_a_crash_before_the_manifest_keeps_the_old_generation() -> None:
    log, store = SegmentLog(3), dict[bytes, bytes]()
    apply(store, log.append([("q|a", b"1")]))
    snap = log.snapshot([("q|a", b"1")])
    manifest_at = next(i for i, (k, _) in enumerate(snap) if k == b"3|m")
    apply(store, snap[:manifest_at])  # chunks written, then the worker died
    log2, state = recovered(store)
    assert (log2.gen, state) == (0, {"q|a": b"1"})
    apply(store, log2.append([("q|a", b"2")]))  # continues generation 0 after its last delta
    assert recovered(store)[1] == {"q|a": b"2"}


def test_large_batches_are_split_into_chunks_in_order() -> None:
    big = b"z" * (segments.CHUNK_BYTES // 3)
    log = SegmentLog(0)
    writes = log.append([("q|a", b"q"), *((f"c:{i}", big) for i in range(5))])
    assert len(writes) >= 2
    store: dict[bytes, bytes] = {}
    apply(store, writes)
    _, state = recovered(store, partition=0)
    assert next(iter(state)) == "q|a" and len(state) == 6
    for _, value in writes:  # each chunk within the limit (no single record exceeds it here)
        assert value is not None
        assert len(zstandard.ZstdDecompressor().decompress(value)) <= segments.CHUNK_BYTES


def test_runs_of_uneven_records_stay_within_the_limit_and_in_order() -> None:
    sizes = [10, 400_000, 5, 5, 300_000, 7, 600_000, *([100] * 3000)]  # one record over it
    writes = [(f"r{i}", b"x" * n) for i, n in enumerate(sizes)]
    values = SegmentLog(0).append(writes)
    runs = [segments.unpack(v) for _, v in values if v is not None]
    assert [w for run in runs for w in run] == writes
    for run, (_, value) in zip(runs, values, strict=True):
        assert value is not None
        size = len(zstandard.ZstdDecompressor().decompress(value))
        assert len(run) == 1 or size <= segments.CHUNK_BYTES


def test_a_missing_snapshot_chunk_is_an_error() -> None:
    log, store = SegmentLog(3), dict[bytes, bytes]()
    apply(store, log.snapshot([("q|a", b"1")]))
    del store[b"3|k|0000000001|000000000000"]
    with pytest.raises(ValueError, match="lacks chunks"):
        recovered(store)


def test_values_of_earlier_versions_still_decode() -> None:
    writes = [("q|a", b"1"), ("c:1", None)]
    raw = msgspec.msgpack.encode(writes)
    assert segments.unpack(raw) == writes  # uncompressed
    assert segments.unpack(zlib.compress(raw, 1)) == writes  # zlib
    assert SegmentLog(0).append(writes)[0][1] != raw  # written compressed (Zstandard) now


def test_stored_values_hold_no_more_memory_than_their_length() -> None:
    """The compressor allocates at the compression bound and only shortens the reported length:
    a stored value must not keep the uncompressed size (the table holds every live value)."""
    writes = [(f"t:ticket-{i}", b"open ticket record " * 4) for i in range(600)]  # 48 KB
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        values = [v for _, v in SegmentLog(3).append(writes) if v is not None]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    stored = sum(len(v) for v in values)
    assert len(values) == 1
    assert stored < 2_000  # zstd level 1 of repetitive records
    # The value, its list and the object headers: far below the 48 KB the bound would keep.
    assert held < stored + 1_000, (held, stored)

"""The collector's pace and heap trimming (``stream.worker.heap``) and their settings."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from stream.config import ConfigError, Settings
from stream.worker import heap


def test_trim_returns_freed_memory_on_glibc() -> None:
    garbage = [bytes(1000) + str(i).encode() for i in range(10_000)]
    del garbage
    assert heap.trim()


def test_the_trim_interval_is_a_setting_and_zero_turns_it_off() -> None:
    assert Settings.from_env({}).heap_trim_seconds == 5.0
    assert Settings.from_env({"STREAM_HEAP_TRIM_SECONDS": "0"}).heap_trim_seconds == 0.0
    with pytest.raises(ConfigError, match="STREAM_HEAP_TRIM_SECONDS"):
        Settings.from_env({"STREAM_HEAP_TRIM_SECONDS": "-1"})


@pytest.fixture
def collector() -> Iterator[None]:
    """Restore the interpreter's collector settings after the test."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_tune_collector_freezes_start_up_objects_and_slows_the_young_generation() -> None:
    middle, old = gc.get_threshold()[1:]
    heap.tune_collector(50_000)
    assert gc.get_threshold() == (50_000, middle, old)
    assert gc.get_freeze_count() > 1000  # the modules and what they built


@pytest.mark.usefixtures("collector")
def test_tune_collector_zero_changes_nothing() -> None:
    before = gc.get_threshold()
    heap.tune_collector(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("collector")
def test_cycles_are_still_collected_after_tuning() -> None:
    heap.tune_collector(1_000)

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    # Net allocations past the young generation's threshold: a collection runs.
    kept: list[list[int]] = [[] for _ in range(2_000)]
    assert ref() is None
    assert len(kept) == 2_000


def test_the_young_threshold_is_a_setting_and_zero_keeps_pythons_own() -> None:
    assert Settings.from_env({}).gc_young_threshold == 50_000
    assert Settings.from_env({"STREAM_GC_YOUNG_THRESHOLD": "0"}).gc_young_threshold == 0
    with pytest.raises(ConfigError, match="STREAM_GC_YOUNG_THRESHOLD"):
        Settings.from_env({"STREAM_GC_YOUNG_THRESHOLD": "-5"})


@pytest.mark.usefixtures("collector")
def test_the_collector_is_paused_inside_a_batch_and_runs_again_after() -> None:
    assert gc.isenabled()
    with heap.collector_paused():
        assert not gc.isenabled()
        with heap.collector_paused():  # nested: the outer block resumes it
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector")
def test_the_collector_resumes_when_the_batch_raises() -> None:
    with pytest.raises(RuntimeError), heap.collector_paused():
        raise RuntimeError("a bug in the batch")
    assert gc.isenabled()

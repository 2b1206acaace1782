"""Heap trimming (``stream.heap``) and its setting."""

from __future__ import annotations

import pytest

from stream import heap
from stream.config import ConfigError, Settings


def test_trim_returns_freed_memory_on_glibc() -> None:
    garbage = [bytes(1000) + str(i).encode() for i in range(10_000)]
    del garbage
    assert heap.trim()


def test_the_trim_interval_is_a_setting_and_zero_turns_it_off() -> None:
    assert Settings.from_env({}).heap_trim_seconds == 5.0
    assert Settings.from_env({"STREAM_HEAP_TRIM_SECONDS": "0"}).heap_trim_seconds == 0.0
    with pytest.raises(ConfigError, match="STREAM_HEAP_TRIM_SECONDS"):
        Settings.from_env({"STREAM_HEAP_TRIM_SECONDS": "-1"})

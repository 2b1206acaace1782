"""Returning freed heap memory to the operating system after a burst of work.

A worker that catches up on a backlog (a restart, a backfill, a spike) builds and drops many
short-lived objects — fetched records, decoded batches, encoded segments. CPython gives the
memory back to the C allocator, but glibc keeps freed heap pages mapped, so the resident size
stays at the burst's peak long after the working set shrank (measured: about a quarter of the
benchmark's resident bytes per open contact). ``malloc_trim(0)`` hands those pages back; it
takes a few milliseconds on a few hundred MB of heap, so the worker calls it on a timer
(``STREAM_HEAP_TRIM_SECONDS``). Elsewhere than glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def trim() -> bool:
    """Release free heap memory to the OS; True when the C library could do it."""
    fn = _malloc_trim()
    return fn is not None and fn(0) in (0, 1)

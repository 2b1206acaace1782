"""The worker's heap: the cyclic garbage collector's pace, and freed memory back to the OS.

**Collector.** CPython runs its cyclic garbage collector on the youngest generation every 700 net
container allocations. A worker catching up allocates millions of short-lived containers a second
(fetched records, decoded events, tuples of facts) and keeps hundreds of thousands of long-lived
ones (contact records), so it spent a large share of its time in collections that find almost
nothing: the pipeline's state holds no reference cycles, and everything short-lived is freed by
reference counting. ``tune_collector`` moves what exists at start-up (Faust, aiokafka, the
modules: about 70 k objects) out of the collector's reach (``gc.freeze``) and collects the
youngest generation every ``STREAM_GC_YOUNG_THRESHOLD`` allocations instead (50 000); and
``collector_paused`` keeps the collector out of a batch while it runs, so a collection traverses
what survived the batch, not everything the batch still holds. Measured with the benchmark's
throughput phase (600 k events): 34 k → 57 k events/s from ``tune_collector`` alone. Cycles
(exceptions with their tracebacks, asyncio internals) are still collected, a little later.

**Returning memory.**
A worker that catches up on a backlog (a restart, a backfill, a spike) builds and drops many
short-lived objects — fetched records, decoded batches, encoded segments. CPython gives the
memory back to the C allocator, but glibc keeps freed heap pages mapped, so the resident size
stays at the burst's peak long after the working set shrank (measured: about a quarter of the
benchmark's resident bytes per open contact). ``malloc_trim(0)`` hands those pages back; it
takes a few milliseconds on a few hundred MB of heap, so the worker calls it on a timer
(``STREAM_HEAP_TRIM_SECONDS``). Elsewhere than glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable, Iterator


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


def tune_collector(young_threshold: int) -> None:
    """Freeze what exists now and collect the youngest generation every ``young_threshold``
    allocations (the older generations keep their thresholds); ``0`` changes nothing."""
    if young_threshold <= 0:
        return
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside the block (one batch of work).

    A batch keeps what it builds (fetched records, decoded events, forwards, writes) alive until
    it ends, so a collection in the middle traverses all of it and promotes it to an older
    generation, for nothing: it is freed by reference counting moments later. Paused, the
    collector's allocation count at the end holds only what survived the batch, and the next
    collection traverses just that. A batch is bounded by a fetch, so is the garbage it defers.
    """
    if not gc.isenabled():  # nested, or paused by someone else: leave it as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

"""De-duplication memory: compact "seen" entries of (event-id hash, source coordinates).

A record that remembers the events it applied can tell a *replay* (the same message delivered
again after a crash: same coordinates) from a *duplicate* (the same ``event_id`` published again:
other coordinates). Each entry is 16 bytes, so a contact's memory stays small.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Final

ENTRY: Final = 16  # bytes per entry: 8 for the event-id hash, 8 for the coordinates


def event_hash(event_id: str) -> bytes:
    """A stable 8-byte hash of an event id (Python's ``hash`` is salted per process)."""
    return hashlib.blake2b(event_id.encode(), digest_size=8).digest()


@functools.cache
def _source_bits(source: str) -> int:
    return int.from_bytes(hashlib.blake2b(source.encode(), digest_size=3).digest(), "big") << 40


def coordinates(source: str, offset: int) -> bytes:
    """8 bytes naming a source message: a hash of "topic/partition" and the offset."""
    return (_source_bits(source) | (offset & 0xFF_FFFF_FFFF)).to_bytes(8, "big")


def find_seen(seen: bytes, h: bytes) -> bytes | None:
    """The coordinates stored with event-id hash ``h``, or None."""
    start = 0
    while True:
        i = seen.find(h, start)
        if i < 0:
            return None
        if i % ENTRY == 0:
            return seen[i + 8 : i + ENTRY]
        start = i + 1

"""Following ``queue_log`` like ``tail -F``, and the checkpoint file: positions, no parsing.

A position is the file (device, inode), the byte offset after the last complete line handed
out, and the last bytes before that offset (``tail``, a fingerprint). The follower reads with
``pread`` on the open descriptor, so a renamed file is read to its end before the new file at
the path is opened (rotation by rename, logrotate's default); a file shorter than the offset, or
whose bytes before the offset are no longer the fingerprint (checked before every read), was
truncated (``copytruncate``,
or ``> queue_log``) and is read again from 0. Only complete lines (ending in ``\\n``) are handed
out: a line Asterisk is still writing waits for its newline.

The checkpoint (``Checkpoint``: the position and the translator's state) is written atomically
(a temporary file, ``fsync``, ``rename``, ``fsync`` of the directory). On start the follower
finds the checkpointed file again: at the path (same inode), else beside it (``queue_log.1``,
``queue_log-20261207``: the rotated file, read to its end first), else the path from 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from stream.connectors.asterisk.call_state import State
from stream.connectors.asterisk.queue_log import MAX_LINE_BYTES

__all__ = ["Checkpoint", "Chunk", "Follower", "Position", "read_checkpoint", "write_checkpoint"]

log = logging.getLogger(__name__)

CHUNK_BYTES: Final = 1 << 20
TAIL_BYTES: Final = 64


class Position(msgspec.Struct, frozen=True, kw_only=True):
    device: int
    inode: int
    offset: int
    tail: bytes = b""


class Checkpoint(msgspec.Struct, kw_only=True):
    version: int = 1
    path: str
    position: Position
    state: State


@dataclass(frozen=True, slots=True)
class Chunk:
    """Complete lines read from ``start`` (byte offset) of the file at ``position``."""

    lines: list[bytes]
    start: int
    position: Position


def read_checkpoint(path: Path) -> Checkpoint | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return msgspec.json.decode(raw, type=Checkpoint)


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint file atomically (never a half-written one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(msgspec.json.encode(checkpoint))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Follower:
    """The file at ``path`` and its successors, from ``start`` (a checkpoint) or from 0."""

    def __init__(self, path: Path, start: Position | None = None) -> None:
        self.path = path
        self._fd: int | None = None
        self._device = self._inode = 0
        self._offset = 0
        self._tail = b""
        self.rotations = 0
        self.truncations = 0
        self._drain = False
        self._resume(start)

    # -- positions --------------------------------------------------------------------------

    @property
    def position(self) -> Position:
        return Position(
            device=self._device, inode=self._inode, offset=self._offset, tail=self._tail
        )

    def lag_bytes(self) -> int:
        """Bytes after the position: of the open file, plus the new file if rotated."""
        if self._fd is None:
            return 0
        lag = max(0, os.fstat(self._fd).st_size - self._offset)
        with contextlib.suppress(OSError):
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) != (self._device, self._inode):
                lag += st.st_size
        return lag

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _resume(self, start: Position | None) -> None:
        if start is None:
            self._open_path()
            return
        for candidate in self._candidates():
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (start.device, start.inode):
                self._open(candidate)
                if self._fits(start.offset, start.tail):
                    self._offset, self._tail = start.offset, start.tail
                else:
                    log.warning("%s was truncated since the checkpoint: reading from 0", candidate)
                    self.truncations += 1
                if candidate != self.path:
                    log.info("reading the rest of the rotated %s first", candidate)
                return
        log.warning(
            "the checkpointed file (inode %d) is gone: reading %s from 0", start.inode, self.path
        )
        self._open_path()

    def _candidates(self) -> list[Path]:
        siblings: list[Path] = []
        with contextlib.suppress(OSError):
            siblings = sorted(
                p
                for p in self.path.parent.iterdir()
                if p.name.startswith(self.path.name) and p != self.path
            )
        return [self.path, *siblings]

    def _open_path(self) -> bool:
        try:
            self._open(self.path)
        except FileNotFoundError:
            return False
        return True

    def _open(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        self.close()
        st = os.fstat(fd)
        self._fd, self._device, self._inode = fd, st.st_dev, st.st_ino
        self._offset, self._tail = 0, b""

    def _fits(self, offset: int, tail: bytes) -> bool:
        assert self._fd is not None
        if os.fstat(self._fd).st_size < offset:
            return False
        return not tail or os.pread(self._fd, len(tail), offset - len(tail)) == tail

    # -- reading ----------------------------------------------------------------------------

    def read(self, max_bytes: int = CHUNK_BYTES) -> Chunk | None:
        """The next complete lines, or None when there are none now (rotation checked)."""
        if self._fd is None and not self._open_path():
            return None
        assert self._fd is not None
        if self._offset and not self._fits(self._offset, self._tail):
            # Truncated and written again before we looked (copytruncate): the bytes before
            # the offset are not the ones read. Checked before every read, not only at the end.
            log.warning("%s was truncated: reading it from 0", self.path)
            self.truncations += 1
            self._offset, self._tail = 0, b""
        data = os.pread(self._fd, max_bytes, self._offset)
        end = data.rfind(b"\n")
        if end < 0 and data and (len(data) >= min(max_bytes, MAX_LINE_BYTES + 1) or self._drain):
            # No newline in a line's maximum, or the unfinished last line of a rotated file:
            # hand it out as a line (it is rejected and kept, not silently dropped).
            end = len(data) - 1
        self._drain = False
        if end >= 0:
            body = data[: end + 1]
            start = self._offset
            self._offset += len(body)
            self._tail = body[-TAIL_BYTES:]
            lines = body.split(b"\n")
            if body.endswith(b"\n"):
                lines.pop()
            return Chunk(lines, start, self.position)
        if self._check_file():
            return self.read(max_bytes)  # the new file, or the truncated one from 0
        return None

    def _check_file(self) -> bool:
        """At the end of the open file: was it truncated, or renamed away? True: read again."""
        assert self._fd is not None
        if not self._fits(self._offset, self._tail):
            log.warning("%s was truncated: reading it from 0", self.path)
            self.truncations += 1
            self._offset, self._tail = 0, b""
            return True
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # renamed, the new one not made yet: keep reading the old one
        if (st.st_dev, st.st_ino) != (self._device, self._inode):
            # Read what was appended to the old file since the last pread, then switch.
            if os.fstat(self._fd).st_size > self._offset:
                self._drain = True
                return True
            log.info("%s was rotated: following the new file", self.path)
            self.rotations += 1
            self._open(self.path)
            return True
        return False

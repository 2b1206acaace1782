"""The queue_log follower on real files: complete lines only, rotation by rename (the old file
read to its end first), truncation (also when written past the old offset before the next
look), resuming from a position, and the checkpoint file written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from stream.connectors.asterisk.call_state import State
from stream.connectors.asterisk.follow import (
    Checkpoint,
    Follower,
    read_checkpoint,
    write_checkpoint,
)


def _all(f: Follower) -> list[bytes]:
    out: list[bytes] = []
    while (chunk := f.read()) is not None:
        out.extend(chunk.lines)
    return out


def test_complete_lines_only_then_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1|a\n2|b\n3|partial")
    f = Follower(log)
    assert _all(f) == [b"1|a", b"2|b"]
    assert f.lag_bytes() == len(b"3|partial")
    with log.open("ab") as fh:
        fh.write(b" line\n")
    assert _all(f) == [b"3|partial line"]
    assert f.lag_bytes() == 0


def test_rotation_by_rename_reads_the_old_file_to_its_end(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1\n")
    f = Follower(log)
    assert _all(f) == [b"1"]
    log.rename(tmp_path / "queue_log.1")
    assert _all(f) == []  # no new file yet: keep the old one
    with (tmp_path / "queue_log.1").open("ab") as fh:
        fh.write(b"2\n")  # Asterisk still writes to the renamed file until it reopens
    log.write_bytes(b"3\n")
    assert _all(f) == [b"2", b"3"]
    assert f.rotations == 1


def test_truncation_seen_even_when_rewritten_past_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1|one\n2|two\n")
    f = Follower(log)
    assert _all(f) == [b"1|one", b"2|two"]
    with log.open("r+b") as fh:  # copytruncate, then more than before
        fh.truncate(0)
        fh.write(b"3|three\n4|four\n5|five\n")
    assert _all(f) == [b"3|three", b"4|four", b"5|five"]
    assert f.truncations == 1
    with log.open("r+b") as fh:  # truncated to less than the offset
        fh.truncate(0)
        fh.write(b"6\n")
    assert _all(f) == [b"6"]


def test_resume_from_a_position_here_or_in_the_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1\n2\n")
    f = Follower(log)
    f.read()
    position = f.position
    f.close()
    with log.open("ab") as fh:
        fh.write(b"3\n")
    again = Follower(log, position)
    assert _all(again) == [b"3"]
    again.close()
    # rotated while stopped: the rest of the old file first, then the new one from 0
    log.rename(tmp_path / "queue_log.1")
    log.write_bytes(b"4\n")
    rotated = Follower(log, position)
    assert _all(rotated) == [b"3", b"4"]
    rotated.close()
    # the checkpointed file is gone: the path from 0
    os.unlink(tmp_path / "queue_log.1")
    gone = Follower(log, position)
    assert _all(gone) == [b"4"]
    gone.close()


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1\n")
    f = Follower(log)
    f.read()
    cp = Checkpoint(path=str(log), position=f.position, state=State())
    target = tmp_path / "state" / "cp.json"
    write_checkpoint(target, cp)
    assert read_checkpoint(target) == cp
    assert sorted(p.name for p in target.parent.iterdir()) == ["cp.json"]
    assert read_checkpoint(tmp_path / "none.json") is None


def test_an_unfinished_last_line_of_a_rotated_file_is_handed_out(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1\n2|cut")
    f = Follower(log)
    assert _all(f) == [b"1"]
    log.rename(tmp_path / "queue_log.1")
    log.write_bytes(b"3\n")
    assert _all(f) == [b"2|cut", b"3"]

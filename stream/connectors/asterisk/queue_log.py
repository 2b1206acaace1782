"""One ``queue_log`` line, parsed as Asterisk writes it: pure, never raises.

Asterisk's logger (``main/logger.c``, ``ast_queue_log``) writes
``epoch|uniqueid|queuename|agent|event|data`` where ``data`` is the event's own ``|``-separated
fields (``app_queue.c`` formats them with ``"%d|%d|%ld"`` and the like), so a line is
``epoch|uniqueid|queue|agent|event|data1|data2|...``. Realtime (database) back ends split the
same data into ``data1``..``data5`` columns; a file always has the one joined form, which is
what this parses. Whether ``data`` came as one field or several is the same line here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_LINE_BYTES", "Line", "Malformed", "parse"]

MAX_LINE_BYTES: Final = 8192
"""Asterisk's own buffer for one queue_log message (``qlog_msg[8192]``)."""
_EVENT_NAME: Final = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
# Epochs before 2000 or after 2100 are not a clock's: a corrupt line.
_MIN_EPOCH: Final = 946_684_800
_MAX_EPOCH: Final = 4_102_444_800


@dataclass(frozen=True, slots=True)
class Line:
    """A parsed line: the five fixed fields and the event's data fields."""

    epoch: int
    uniqueid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Malformed:
    """Why a line could not be parsed: ``reason`` is bounded, ``detail`` is for humans."""

    reason: str
    detail: str


def parse(raw: bytes) -> Line | Malformed:
    """Parse one line (without or with its trailing newline)."""
    if len(raw) > MAX_LINE_BYTES:
        return Malformed("too_long", f"line is {len(raw)} bytes, Asterisk writes at most 8192")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Malformed("invalid_utf8", f"byte {exc.start} is not UTF-8")
    text = text.rstrip("\r\n")
    parts = text.split("|")
    if len(parts) < 5:
        return Malformed(
            "field_count", f"expected epoch|uniqueid|queue|agent|event[|data...], got {len(parts)}"
        )
    epoch_text, uniqueid, queue, agent, event = parts[:5]
    if not epoch_text.isdigit() or not _MIN_EPOCH <= int(epoch_text) <= _MAX_EPOCH:
        return Malformed("bad_epoch", f"expected whole epoch seconds, got {epoch_text[:40]!r}")
    if not _EVENT_NAME.fullmatch(event):
        return Malformed("unknown_event", f"not an event name: {event[:40]!r}")
    if not uniqueid or not queue or not agent:
        return Malformed("field_count", "uniqueid, queue and agent must not be empty")
    data = tuple(parts[5:])
    if data == ("",):  # "%s" of an empty string: the event has no data
        data = ()
    return Line(int(epoch_text), uniqueid, queue, agent, event, data)

"""The contract's decoder and encoder: Kafka bytes to a typed event, or why not.

``decode(bytes) -> Event | Rejection`` is the single entry point from Kafka bytes to the typed
events of ``stream.contract.events``. It never raises; every rejected input gets one of the
bounded ``REASONS`` (the ``reason`` label of ``contact_centre_events_rejected_total``) and a short
detail naming the JSON path. ``decode_trusted`` is the fast path for bytes already accepted,
``encode`` the contract JSON of an event.

Only static checks live here. Checks that need a clock (too far in the future), a topic or
earlier events (unknown contact, invalid transition) happen downstream.
"""

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import msgspec

from stream.contract.events import MIN_OCCURRED_AT, SCORE_RANGES, Event, SurveyResponded

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_JSON_DEPTH",
    "REASONS",
    "Rejection",
    "decode",
    "decode_trusted",
    "encode",
    "json_depth",
]

REASONS: Final = (
    "too_large",
    "invalid_utf8",
    "invalid_json",
    "too_deeply_nested",
    "not_an_object",
    "missing_field",
    "wrong_field_type",
    "unknown_type",
    "invalid_timestamp",
    "invalid_enum",
    "out_of_range",
    "invalid_field",
)

DEFAULT_MAX_BYTES: Final = 65536
MAX_JSON_DEPTH: Final = 1000
"""Deepest nesting of objects and arrays accepted (the event itself is level 1), unknown fields
included. msgspec parses nesting recursively on the caller's stack and raises ``RecursionError``
at Python's recursion limit (1000 frames, less the caller's own): a document that meets it is
measured (``json_depth``) and, within this bound, parsed again with room on the stack; deeper
is rejected ``too_deeply_nested``. The bound is the default recursion limit, so nothing deeper
parses at the first attempt either: the verdict does not depend on where ``decode`` is called.
Ordinary events never meet the limit and pay nothing for it."""
_DETAIL_HEAD_CHARS: Final = 120


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input was refused: ``reason`` is one of ``REASONS``, ``detail`` is for humans."""

    reason: str
    detail: str


_DECODER: Final[msgspec.json.Decoder[Event]] = msgspec.json.Decoder(Event)
_ENCODER: Final = msgspec.json.Encoder()
# Generic JSON, used only to classify failures. The float hook lifts msgspec's range check:
# 1e400 is valid JSON, and its range is a field rule (out_of_range), not a syntax error.
_GENERIC_DECODER: Final = msgspec.json.Decoder(float_hook=float)


def encode(event: Event) -> bytes:
    """Contract JSON for an event (``type`` first), as publishers and the simulator send it."""
    return _ENCODER.encode(event)


def decode_trusted(raw: bytes) -> Event:
    """Decode an event this process already accepted with ``decode`` (forwarded internally):
    the fast path only, without the checks that ``decode`` has already passed."""
    try:
        return _DECODER.decode(raw)
    except RecursionError:  # accepted, so within MAX_JSON_DEPTH: see _stack_room
        with _stack_room():
            return _DECODER.decode(raw)


@contextmanager
def _stack_room() -> Iterator[None]:
    """Room on the stack for a document of ``MAX_JSON_DEPTH`` levels, wherever the caller is
    (the recursion limit raised for the duration; the worker's loop is one thread)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + MAX_JSON_DEPTH + 100)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def decode(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Event | Rejection:
    """Decode one Kafka message value into an event, or say why it is rejected. Never raises."""
    if len(raw) > max_bytes:
        return Rejection("too_large", f"payload is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        event = _DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return _classify_failure(raw, exc)
    except RecursionError:
        return _decode_deep(raw)
    return _checked(raw, event)


def _decode_deep(raw: bytes) -> Event | Rejection:
    """A document that ran out of stack: too deep, or decoded again with room (``_stack_room``)."""
    deep = _too_deep(raw)
    if deep is not None:
        return deep
    with _stack_room():
        try:
            event = _DECODER.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            return _classify_failure(raw, exc)
        except RecursionError:  # not expected: room for MAX_JSON_DEPTH levels was made
            return Rejection("too_deeply_nested", "JSON nesting is too deep for the stack")
        return _checked(raw, event)


def _checked(raw: bytes, event: Event) -> Event | Rejection:
    """The checks after a successful parse."""
    # msgspec skips unknown fields without checking their UTF-8, so check non-ASCII input here.
    if not raw.isascii():
        rejection = _utf8_rejection(raw)
        if rejection is not None:
            return rejection
    # Only events near or before the 2000 bound, and surveys, need the cross-field rules. Offsets
    # are under 24 hours, so a local year after 2000 is after the bound; this skips comparing
    # datetimes with different offsets, which costs ~0.5 us.
    if event.occurred_at.year <= 2000 or type(event) is SurveyResponded:
        return _semantic_rejection(event) or event
    return event


# A JSON string (an unterminated one runs to the end); possessive, so it never backtracks.
_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")


def _too_deep(raw: bytes) -> Rejection | None:
    """``too_deeply_nested`` when ``raw`` nests deeper than ``MAX_JSON_DEPTH``."""
    depth = json_depth(raw)
    if depth <= MAX_JSON_DEPTH:
        return None
    return Rejection(
        "too_deeply_nested",
        f"objects and arrays nest {depth} levels deep, the limit is {MAX_JSON_DEPTH}",
    )


def json_depth(raw: bytes) -> int:
    """How deep objects and arrays nest in ``raw`` (brackets inside strings do not count; in a
    malformed document, the brackets as they come)."""
    depth = deepest = 0
    for b in _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        if b in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def _semantic_rejection(event: Event) -> Rejection | None:
    """Rules msgspec cannot express as per-field constraints."""
    if event.occurred_at < MIN_OCCURRED_AT:
        return Rejection(
            "invalid_timestamp",
            f"occurred_at {event.occurred_at.isoformat()} is before 2000-01-01T00:00:00Z"
            " - at `$.occurred_at`",
        )
    if type(event) is SurveyResponded:
        if (event.ticket_id is None) == (event.call_id is None):
            return Rejection(
                "invalid_field", "survey needs exactly one of `ticket_id` and `call_id` - at `$`"
            )
        low, high = SCORE_RANGES[event.kind]
        if not low <= event.score <= high:
            return Rejection(
                "out_of_range",
                f"{event.kind} score must be {low}..{high}, got {event.score} - at `$.score`",
            )
    return None


def _utf8_rejection(raw: bytes) -> Rejection | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"invalid UTF-8 at byte {exc.start}: {exc.reason}")
    return None


def _classify_failure(raw: bytes, exc: Exception) -> Rejection:
    """Turn a decode failure into a reason. Runs only for rejected input, so may be slow.

    msgspec stops at the first problem in document order, so a type error early in a truncated
    document would hide the syntax error. Re-parsing as generic JSON gives a stable precedence:
    encoding, then syntax, then shape, then fields.
    """
    rejection = _utf8_rejection(raw)
    if rejection is not None:
        return rejection
    try:
        generic = _generic(raw)
    except RecursionError:
        return _too_deep(raw) or Rejection("too_deeply_nested", "JSON nesting is too deep")
    except (msgspec.DecodeError, UnicodeDecodeError) as parse_exc:
        return Rejection("invalid_json", str(parse_exc))
    if not isinstance(generic, dict):
        return Rejection(
            "not_an_object", f"expected a JSON object, got {_json_kind(generic)} - at `$`"
        )
    return Rejection(_field_reason(str(exc)), _detail(str(exc)))


def _generic(raw: bytes) -> object:
    """``raw`` as generic JSON; with room on the stack when it is deep but within the bound
    (raises ``RecursionError`` for a document deeper than ``MAX_JSON_DEPTH``)."""
    try:
        return _GENERIC_DECODER.decode(raw)
    except RecursionError:
        if _too_deep(raw) is not None:
            raise
        with _stack_room():
            return _GENERIC_DECODER.decode(raw)


def _field_reason(message: str) -> str:
    """Map a msgspec ValidationError message to a reason."""
    head, _, path = message.rpartition(" - at `")
    head, path = (head, path.rstrip("`")) if head else (message, "$")
    if head.startswith("Object missing required field"):
        return "missing_field"
    if head.startswith("Invalid value") and path == "$.type":
        return "unknown_type"
    if path == "$.occurred_at" and head.startswith(
        ("Invalid RFC3339", "Expected `datetime` with a timezone")
    ):
        return "invalid_timestamp"
    if head.startswith("Invalid enum value"):
        return "invalid_enum"
    if head.startswith("Expected `") and " of length " in head:
        return "invalid_field"  # a string or list outside its length bounds (ids, queue names)
    if head.startswith("Number out of range") or (
        head.startswith("Expected `") and any(op in head for op in (" >= ", " > ", " <= ", " < "))
    ):
        return "out_of_range"
    if head.startswith("Expected `"):
        return "wrong_field_type"
    return "invalid_field"


def _detail(message: str) -> str:
    """Keep details short (they become Kafka headers) but always keep the JSON path."""
    head, sep, path = message.rpartition(" - at `")
    if not sep:
        head, path = message, "$`"
    if len(head) > _DETAIL_HEAD_CHARS:
        head = head[: _DETAIL_HEAD_CHARS - 3] + "..."
    return f"{head} - at `{path}"


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"

"""Dirty input: `Contaminator` adds, after a fraction of clean messages and deterministically
per seed, an exact duplicate or a reject (truncated JSON, an unknown ``type``, a missing
``occurred_at``), so that the dead-letter topic and the duplicate counters see traffic."""

from __future__ import annotations

import random
import uuid
from typing import Any, Final, Literal, NamedTuple

import msgspec

from stream.contract.events import TopicKind

DirtyLabel = Literal["duplicate", "invalid_json", "unknown_type", "missing_field"]
_DIRTY_KINDS: Final[tuple[tuple[DirtyLabel, float], ...]] = (
    ("duplicate", 0.4),
    ("invalid_json", 0.2),
    ("unknown_type", 0.2),
    ("missing_field", 0.2),
)
_UNKNOWN_TYPES: Final[dict[str, str]] = {
    "calls": "call.teleported",
    "tickets": "ticket.merged",
    "agents": "agent.logged_in",
    "customers": "customer.upgraded",
}


class DirtyMessage(NamedTuple):
    """A message to send after a clean one: same topic and key, ``value`` bytes."""

    label: DirtyLabel
    value: bytes


class Contaminator:
    """Adds realistic bad input after a fraction of clean messages (deterministic per seed).

    ``duplicate`` resends the exact bytes (same ``event_id``); the others are rejects:
    a truncated document, an unknown ``type`` and a missing ``occurred_at``, each with a fresh
    ``event_id`` so that they never collide with a real event.
    """

    def __init__(self, ratio: float, seed: int) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"dirty ratio must be within 0..1, got {ratio}")
        self._ratio = ratio
        self._rng = random.Random(seed)

    def after(self, kind: TopicKind, value: bytes) -> list[DirtyMessage]:
        """Bad messages to send right after ``value`` (usually none)."""
        if self._ratio <= 0.0 or self._rng.random() >= self._ratio:
            return []
        label: DirtyLabel = self._rng.choices(
            [k for k, _ in _DIRTY_KINDS], [w for _, w in _DIRTY_KINDS]
        )[0]
        if label == "duplicate":
            return [DirtyMessage(label, value)]
        if label == "invalid_json":
            return [DirtyMessage(label, value[: max(1, len(value) // 2)])]
        document: dict[str, Any] = msgspec.json.decode(value)
        document["event_id"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        if label == "unknown_type":
            document["type"] = _UNKNOWN_TYPES[kind]
        else:
            document.pop("occurred_at", None)
        return [DirtyMessage(label, msgspec.json.encode(document))]

"""Wallboard colours: the three-colour thresholds of each tile field, and the colour of a value.

Owns the list of colourable tile fields (``TILE_FIELDS``: each one's kind of value and which way
is worse), the ``Threshold`` the targets file can set per field (``wallboard_thresholds:``, at
the top and per queue; parsed by ``stream.config``) and ``colour``. Standard library only: the
config parser and the snapshot builder both import it.

A threshold is two boundaries, ``warn`` and ``bad``. For a field where higher is worse
(``above``: calls waiting, abandon rate, agents away...) a value up to ``warn`` is good, up to
``bad`` amber, beyond red; so ``warn <= bad``. Where lower is worse (``below``: service level,
agents available, agent answer rate) a value down to ``warn`` is good, down to ``bad`` amber,
below red; so ``warn >= bad``. A value of ``None`` (no data) is ``none`` (not coloured), and so
is every field without a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

__all__ = ["TILE_FIELDS", "Direction", "Kind", "Threshold", "colour"]

Kind = Literal["count", "ratio", "duration"]
Direction = Literal["above", "below"]


@dataclass(frozen=True, slots=True)
class Threshold:
    """Two boundaries: beyond ``warn`` amber, beyond ``bad`` red (see the module doc)."""

    warn: float
    bad: float


TILE_FIELDS: Final[Mapping[str, tuple[Kind, Direction]]] = MappingProxyType(
    {
        "calls_waiting": ("count", "above"),
        "oldest_call_waiting_seconds": ("duration", "above"),
        "service_level_today": ("ratio", "below"),
        "average_speed_of_answer_today_seconds": ("duration", "above"),
        "abandon_rate_today": ("ratio", "above"),
        "first_response_within_target_today": ("ratio", "below"),
        "backlog": ("count", "above"),
        "agents_available": ("count", "below"),
        "agents_staffed": ("count", "below"),
        "agents_on_queue": ("count", "below"),
        "agents_away": ("count", "above"),
        "agents_ringing": ("count", "above"),
        "offers_missed": ("count", "above"),
        "agent_answer_rate_today": ("ratio", "below"),
        "ewt_recent_seconds": ("duration", "above"),
        "ewt_erlang_c_seconds": ("duration", "above"),
        "agents_required": ("count", "above"),
    }
)
"""Tile field → (kind of value, which way is worse). ``kind`` says how the targets file writes
it: a count, a ratio (``0.8`` or ``'80%'``) or a duration (``30``, ``'2m'``)."""


def colour(value: float | None, threshold: Threshold | None, direction: Direction) -> str:
    """``good``, ``warn``, ``bad``, or ``none`` (no data or no threshold)."""
    if value is None or threshold is None:
        return "none"
    if direction == "above":
        if value <= threshold.warn:
            return "good"
        return "warn" if value <= threshold.bad else "bad"
    if value >= threshold.warn:
        return "good"
    return "warn" if value >= threshold.bad else "bad"

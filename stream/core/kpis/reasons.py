"""Away reasons: how an agent's reason rides with its state, and which reasons become labels.

An ``agent.state_changed`` event in state ``away`` may carry a ``reason`` (a pause code, an
activity name: ``lunch``, ``training``). The agents' stored events keep it inside their state
string — ``"away"`` or ``"away|lunch"`` (``with_reason``) — so every place that stores a state
(the router's history, the queue owner's slots, their changelog records, the timelines) keeps
the reason as well, and a restarted worker restores it with the state. A reason on any other
state is not kept (it says why an agent is *not* taking contacts).

Labels are bounded: a reason is exported under its own name only when the targets file lists it
(``agent_reasons:``), else as ``other``; an ``away`` without a reason is ``other`` too. Every
other state has the empty reason (no label), so ``sum by (queue, state)`` gives the numbers it
gave before reasons existed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Final

AWAY: Final = "away"
OTHER: Final = "other"
_SEP: Final = "|"


def with_reason(state: str, reason: str | None) -> str:
    """The stored state of an event: ``away|<reason>`` for a reasoned away, else the state."""
    if state != AWAY or reason is None:
        return state
    return sys.intern(f"{AWAY}{_SEP}{reason}")  # agents repeat the same few reasons


def base_state(stored: str) -> str:
    """The contract state of a stored state (``away|lunch`` → ``away``)."""
    return stored.partition(_SEP)[0]


def reason_of(stored: str) -> str | None:
    """The reason of a stored state; ``None`` when it has none."""
    _, sep, reason = stored.partition(_SEP)
    return reason if sep else None


def label(stored: str, listed: Iterable[str]) -> str:
    """The ``reason`` label of a stored state: ``""`` unless away; away: the reason when
    ``listed``, else ``other``."""
    state, sep, reason = stored.partition(_SEP)
    if state != AWAY:
        return ""
    return reason if sep and reason in listed else OTHER


def by_state_and_reason(
    counts: Mapping[str, float], states: Iterable[str], listed: tuple[str, ...]
) -> dict[tuple[str, str], float]:
    """Sum ``counts`` (by stored state) by ``(state, reason label)``; every state of ``states``
    present (away once per listed reason and ``other``), 0 where nothing was counted; stored
    states outside ``states`` (``offline``) are left out."""
    out: dict[tuple[str, str], float] = {}
    for state in states:
        if state == AWAY:
            for reason in (*listed, OTHER):
                out[AWAY, reason] = 0.0
        else:
            out[state, ""] = 0.0
    for stored, n in counts.items():
        key = (base_state(stored), label(stored, listed))
        if key in out:
            out[key] += n
    return out

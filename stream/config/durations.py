"""Durations as the targets file and the ``*_SECONDS`` variables write them.

A number of seconds, or a string such as ``"90s"``, ``"15m"``, ``"24h"``, ``"2d"``, ``"1h30m"``
or ``"50ms"``: ``parse_duration`` turns either into float seconds. Standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

__all__ = ["parse_duration"]

_UNIT_SECONDS: Final[Mapping[str, float]] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
# "ms" must come before "m" so that "50ms" is not read as "50m" followed by garbage.
_DURATION_PART: Final = r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)"
_DURATION: Final = re.compile(rf"(?:{_DURATION_PART}\s*)+")
_DURATION_PARTS: Final = re.compile(_DURATION_PART)


def parse_duration(value: object) -> float:
    """A duration in seconds from a number or a string like ``"90s"``, ``"1h30m"`` or ``"2d"``.

    Plain numeric strings (``"90"``) are seconds too. Raises ``ValueError`` for anything else,
    including booleans, NaN and infinities. The sign is not checked here.
    """
    seconds: float
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _DURATION.fullmatch(text):
            seconds = sum(
                float(number) * _UNIT_SECONDS[unit]
                for number, unit in _DURATION_PARTS.findall(text)
            )
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"not a duration: {value!r}") from None
    else:
        raise ValueError(f"not a duration: {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite duration: {value!r}")
    return seconds

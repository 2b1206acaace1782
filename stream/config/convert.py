"""The converters of ``STREAM_*`` values: text from the environment → a setting's value.

Each converter takes what the environment (or a caller of ``Settings(...)``) gives and returns
the normalised value, or raises ``Invalid`` whose argument says what the setting expects
(``"an integer 1..65535"``); ``stream.config.settings`` names the variable and collects every
problem. The same converters check the command-line options that mirror settings
(``stream.config.settings.cli_type``). Standard library and ``stream.config.security`` only.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Final, TypeAlias

from stream.config.durations import parse_duration
from stream.config.secrets import Secret


class Invalid(ValueError):
    """A value does not fit a setting; the argument says what the setting expects."""


Converter: TypeAlias = Callable[[object], object]


def integer(low: int, high: int | None = None) -> Converter:
    expected = f"an integer {low}..{high}" if high is not None else f"an integer >= {low}"

    def convert(value: object) -> int:
        if isinstance(value, str):
            text = value.strip()
            if not re.fullmatch(r"[+-]?[0-9]+", text):
                raise Invalid(expected)
            value = int(text)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(expected)
        if value < low or (high is not None and value > high):
            raise Invalid(expected)
        return value

    return convert


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise Invalid("a boolean: 1/0, true/false, yes/no, on/off")


def seconds(*, zero_allowed: bool) -> Converter:
    kind = "a non-negative" if zero_allowed else "a positive"
    expected = f"{kind} duration in seconds (e.g. 30, 1.5, '90s', '15m')"

    def convert(value: object) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise Invalid(expected) from None
        if seconds < 0 or (seconds == 0 and not zero_allowed):
            raise Invalid(expected)
        return seconds

    return convert


def text(pattern: str, expected: str) -> Converter:
    compiled = re.compile(pattern)

    def convert(value: object) -> str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not compiled.fullmatch(value.strip()):
            raise Invalid(expected)
        return value.strip()

    return convert


def optional(convert: Converter) -> Converter:
    def optional(value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return convert(value)

    return optional


def secret(value: object) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise Invalid("a text (better: the *_FILE variable naming a file holding it)")
    return Secret(value) if value else None


def choice(*choices: str, aliases: Mapping[str, str] | None = None, upper: bool) -> Converter:
    expected = "one of " + ", ".join(choices)

    def convert(value: object) -> str:
        if not isinstance(value, str):
            raise Invalid(expected)
        text = value.strip().upper() if upper else value.strip().lower()
        text = (aliases or {}).get(text, text)
        if text not in choices:
            raise Invalid(expected)
        return text

    return convert


_BROKER_SCHEME: Final = re.compile(r"kafka://", re.IGNORECASE)
_BROKER_HOST: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?/?")
_BROKER_EXPECTED: Final = (
    "a broker URL kafka://host:port, or a comma-separated list kafka://host1:port,host2:port"
)


def broker_url(value: object) -> str:
    """Normalise to ``kafka://host:port,host:port`` (port 9092 when omitted)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(_BROKER_EXPECTED)
    addresses = []
    for part in value.split(","):
        address = part.strip()
        scheme = _BROKER_SCHEME.match(address)
        if scheme:
            address = address[scheme.end() :]
        match = _BROKER_HOST.fullmatch(address)
        if match is None:
            raise Invalid(_BROKER_EXPECTED)
        port = int(match[2]) if match[2] is not None else 9092
        if not 1 <= port <= 65535:
            raise Invalid(_BROKER_EXPECTED)
        addresses.append(f"{match[1]}:{port}")
    return "kafka://" + ",".join(addresses)


_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_TIMESTAMP_EXPECTED: Final = "an RFC 3339 timestamp with offset, e.g. '2026-11-22T14:03:12Z'"


def epoch_seconds(value: object) -> float:
    """Epoch seconds from an RFC 3339 timestamp with offset (or from a number of epoch seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise Invalid(_TIMESTAMP_EXPECTED)
        return float(value)
    if not isinstance(value, str):
        raise Invalid(_TIMESTAMP_EXPECTED)
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise Invalid(_TIMESTAMP_EXPECTED)
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    if match[8]:
        offset = timedelta(0)
    else:
        offset = timedelta(hours=int(match[10]), minutes=int(match[11]))
        if match[9] == "-":
            offset = -offset
    try:
        moment = datetime(
            year, month, day, hour, minute, second, tzinfo=timezone(offset)
        ).timestamp()
    except ValueError:  # month 13, second 60, offset of 24 hours or more ...
        raise Invalid(_TIMESTAMP_EXPECTED) from None
    return moment + float(match[7] or 0)


# Kafka's legal topic names: at most 249 of [a-zA-Z0-9._-] ("." and ".." alone are reserved).

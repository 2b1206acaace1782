"""The values of the targets file, each checked on its YAML node so its error names the line.

``TargetValues`` (a ``stream.config.yaml_lines.NodeReader``) reads one value of the targets
file: durations, the service-level goal, counts, teams, time zones (with a close-match hint),
business hours and holidays, the away reasons (``agent_reasons``) and the wallboard's per-tile
thresholds (``wallboard_thresholds``, ``stream.core.thresholds``). The file's structure (defaults,
queues, channels) is ``stream.config.targets_file``. Standard library, PyYAML and the pure
``stream.core.kpis.business_hours`` and ``stream.core.thresholds`` only.
"""

from __future__ import annotations

import difflib
import math
import re
import zoneinfo
from datetime import date
from typing import Final

import yaml

from stream.config.durations import parse_duration
from stream.config.targets import CHANNELS, CalendarLayer, Weekly
from stream.config.yaml_lines import NodeReader
from stream.core.kpis.business_hours import WEEKDAYS, Range, parse_ranges
from stream.core.thresholds import TILE_FIELDS, Threshold

__all__ = ["MAX_AGENT_REASONS", "TargetValues"]

MAX_AGENT_REASONS: Final = 32
"""At most this many ``agent_reasons``: each is a label value of every queue's agent series."""


def _plain(value: float) -> str:
    """A number as the targets file would write it: ``5``, ``0.8``."""
    return str(int(value)) if value == int(value) else repr(value)


class TargetValues(NodeReader):
    """One value of the targets file from its node (the structure: ``targets_file``)."""

    def _duration(self, node: yaml.Node, where: str, *, zero_allowed: bool = False) -> float:
        kind = "a non-negative duration" if zero_allowed else "a positive duration"
        value = self.scalar(node, where, kind)
        try:
            seconds = parse_duration(value)
        except ValueError:
            hint = " (seconds, or a string like '90s', '15m', '24h', '2d')"
            raise self.error(
                node, where, f"expected {kind}{hint}, got {self.shown(node)}"
            ) from None
        if seconds < 0 or (seconds == 0 and not zero_allowed):
            raise self.error(node, where, f"expected {kind}, got {self.shown(node)}")
        return seconds

    def _goal(self, node: yaml.Node, where: str) -> float:
        wanted = "a ratio in (0, 1] such as 0.8 or '80%'"
        expected = f"expected {wanted}"
        value = self.scalar(node, where, wanted)
        goal: float
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str) and value.strip().endswith("%"):
                goal = float(value.strip()[:-1]) / 100
            elif isinstance(value, int | float | str):
                goal = float(value)
            else:
                raise ValueError
        except ValueError:
            raise self.error(node, where, f"{expected}, got {self.shown(node)}") from None
        if not 0 < goal <= 1:  # also false for NaN
            raise self.error(node, where, f"{expected}, got {self.shown(node)}")
        return goal

    def _count(self, node: yaml.Node, where: str) -> int:
        expected = "a positive whole number of responses"
        value = self.scalar(node, where, expected)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(node, where, f"expected {expected}, got {self.shown(node)}")
        return value

    def _reasons(self, node: yaml.Node, where: str) -> tuple[str, ...]:
        """``agent_reasons``: a list of distinct away reasons (1..64 characters, not ``other``),
        at most ``MAX_AGENT_REASONS``."""
        if self.is_null(node):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, where, f"expected a list of reasons, got {self.shown(node)}")
        if len(node.value) > MAX_AGENT_REASONS:
            raise self.error(
                node, where, f"at most {MAX_AGENT_REASONS} reasons, got {len(node.value)}"
            )
        out: list[str] = []
        expected = "a reason of 1..64 characters"
        for i, item in enumerate(node.value):
            value = self.scalar(item, f"{where}[{i}]", expected)
            if not isinstance(value, str) or not 1 <= len(value) <= 64:
                raise self.error(
                    item, f"{where}[{i}]", f"expected {expected}, got {self.shown(item)}"
                )
            if value == "other":
                raise self.error(
                    item, f"{where}[{i}]", "'other' is the label of every unlisted reason"
                )
            if value in out:
                raise self.error(item, f"{where}[{i}]", f"{value!r} is listed twice")
            out.append(value)
        return tuple(out)

    def _thresholds(self, node: yaml.Node, where: str) -> dict[str, Threshold]:
        """``wallboard_thresholds``: tile field → ``{warn: X, bad: Y}``
        (``stream.core.thresholds``),
        both required, each in the field's kind, ordered the way the field gets worse."""
        out: dict[str, Threshold] = {}
        for name, _, body in self.pairs(node, where, tuple(TILE_FIELDS), "tile field"):
            path = f"{where}.{name}"
            kind, direction = TILE_FIELDS[name]
            values: dict[str, float] = {}
            for bound, _, value in self.pairs(body, path, ("warn", "bad"), "key"):
                values[bound] = self._boundary(value, f"{path}.{bound}", kind)
            missing = [b for b in ("warn", "bad") if b not in values]
            if missing:
                raise self.error(
                    body, path, f"expected both warn and bad, {' and '.join(missing)} missing"
                )
            warn, bad = values["warn"], values["bad"]
            if (direction == "above" and bad < warn) or (direction == "below" and bad > warn):
                way = "higher" if direction == "above" else "lower"
                order = "at least" if direction == "above" else "at most"
                raise self.error(
                    body,
                    path,
                    f"bad ({_plain(bad)}) must be {order} warn ({_plain(warn)}): "
                    f"a {way} {name} is worse",
                )
            out[name] = Threshold(warn=warn, bad=bad)
        return out

    def _boundary(self, node: yaml.Node, where: str, kind: str) -> float:
        if kind == "duration":
            return self._duration(node, where, zero_allowed=True)
        if kind == "ratio":
            wanted = "a ratio in [0, 1] such as 0.8 or '80%'"
            value = self.scalar(node, where, wanted)
            try:
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, str) and value.strip().endswith("%"):
                    ratio = float(value.strip()[:-1]) / 100
                elif isinstance(value, int | float | str):
                    ratio = float(value)
                else:
                    raise ValueError
            except ValueError:
                ratio = math.nan
            if not 0 <= ratio <= 1:  # also true for NaN
                raise self.error(node, where, f"expected {wanted}, got {self.shown(node)}")
            return ratio
        wanted = "a count (a whole number, 0 or more)"
        value = self.scalar(node, where, wanted)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(node, where, f"expected {wanted}, got {self.shown(node)}")
        return float(value)

    def _team(self, node: yaml.Node, where: str) -> str:
        expected = "a team name of 1..64 characters"
        value = self.scalar(node, where, expected)
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= 64:
            raise self.error(node, where, f"expected {expected}, got {self.shown(node)}")
        return value.strip()

    def _timezone(self, node: yaml.Node, where: str) -> str:
        value = self.scalar(node, where, "an IANA time zone such as 'Europe/Berlin'")
        if isinstance(value, str) and value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                pass
            else:
                return value
        message = f"expected an IANA time zone such as 'Europe/Berlin', got {self.shown(node)}"
        if isinstance(value, str):
            close = difflib.get_close_matches(value, zoneinfo.available_timezones(), n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        raise self.error(node, where, message)

    def _calendar(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> CalendarLayer:
        """``business_hours`` and ``holidays`` of one mapping (the other keys: ``_targets``)."""
        weekly: Weekly | None = None
        always_open = False
        holidays: frozenset[date] | None = None
        for key, _, value in self.pairs(node, where, allowed, "key"):
            if key == "business_hours":
                if isinstance(value, yaml.ScalarNode) and value.value.strip().lower() == "24x7":
                    always_open = True
                else:
                    weekly = self._weekly(value, f"{where}.{key}")
            elif key == "holidays":
                holidays = self._holidays(value, f"{where}.{key}")
        return CalendarLayer(weekly, always_open, holidays)

    def _weekly(self, node: yaml.Node, where: str) -> Weekly:
        example = "a mapping of weekdays to hours such as {mon: '08:00-18:00'}, or '24x7'"
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, where, f"expected {example}, got {self.shown(node)}")
        days: dict[str, tuple[Range, ...]] = {}
        for day, _, value in self.pairs(node, where, WEEKDAYS, "weekday"):
            days[day] = self._hours(value, f"{where}.{day}")
        if not any(days.values()):
            raise self.error(
                node, where, "no day has opening hours (leave business_hours out, or '24x7')"
            )
        return tuple(days.get(day, ()) for day in WEEKDAYS)

    def _hours(self, node: yaml.Node, where: str) -> tuple[Range, ...]:
        """One day: ``'08:00-12:00, 13:00-18:00'``, a list of ranges, or ``closed``/null/[]."""
        expected = "hours such as '08:00-18:00' or '08:00-12:00, 13:00-18:00', or 'closed'"
        if self.is_null(node):
            return ()
        if isinstance(node, yaml.SequenceNode):
            parts: list[str] = []
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode) or self.is_null(item):
                    raise self.error(item, where, f"expected {expected}, got {self.shown(item)}")
                self._ranges(item, item.value, where, expected)  # names the item's own line
                parts.append(item.value)
            return self._ranges(node, ", ".join(parts), where, expected) if parts else ()
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, where, f"expected {expected}, got {self.shown(node)}")
        # The text as written: YAML 1.1 would read an unquoted 08:00 as the number 480.
        if node.value.strip().lower() == "closed":
            return ()
        return self._ranges(node, node.value, where, expected)

    def _ranges(self, node: yaml.Node, text: str, where: str, expected: str) -> tuple[Range, ...]:
        try:
            return parse_ranges(text)
        except ValueError as problem:
            raise self.error(
                node, where, f"expected {expected}, got {self.shown(node)}: {problem}"
            ) from None

    def _holidays(self, node: yaml.Node, where: str) -> frozenset[date]:
        expected = "a list of ISO dates such as [2026-12-25, 2026-12-26]"
        if self.is_null(node):
            return frozenset()
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, where, f"expected {expected}, got {self.shown(node)}")
        days: set[date] = set()
        for item in node.value:
            # The text as written (YAML would fail on an unquoted 2026-02-30 with no line).
            text = item.value.strip() if isinstance(item, yaml.ScalarNode) else ""
            day: date | None = None
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                try:
                    day = date.fromisoformat(text)
                except ValueError:
                    day = None
            if day is None:
                raise self.error(
                    item, where, f"expected an ISO date such as 2026-12-25, got {self.shown(item)}"
                )
            days.add(day)
        return frozenset(days)

    def _check_channel(self, key_node: yaml.Node, channel: str, where: str) -> None:
        if channel not in CHANNELS:
            raise self.error(
                key_node,
                where,
                f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}",
            )

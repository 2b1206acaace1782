"""The targets file (``STREAM_TARGETS_FILE``, YAML): read and validated into a ``TargetBook``.

Per-queue and per-channel service targets (answer target, short-abandon threshold,
first-response, resolution and handle-time targets, service-level goal, time zone, business
hours, holidays), the team of a queue, the away reasons exported as labels (``agent_reasons``)
and the wallboard's per-tile thresholds (``wallboard_thresholds``), on top of the built-in
defaults of ``docs/kpis.md``. ``load_targets()`` validates the file node by node
(``stream.config.yaml_lines``; each value: ``stream.config.targets_values``) and raises
``TargetsError`` naming the file and the line.
Standard library, PyYAML and the pure ``stream.core.kpis.business_hours`` and
``stream.core.thresholds``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import yaml

from stream.config.errors import TargetsError
from stream.config.targets import (
    CHANNELS,
    CalendarLayer,
    Layer,
    QueueLayers,
    TargetBook,
)
from stream.config.targets_values import MAX_AGENT_REASONS, TargetValues
from stream.config.yaml_lines import compose, read_text
from stream.core.thresholds import Threshold

__all__ = ["MAX_AGENT_REASONS", "load_targets", "parse_targets"]

_DURATION_KEYS: Final = (
    "answer_target_seconds",
    "short_abandon_seconds",
    "first_response_seconds",
    "resolution_seconds",
    "handle_time_seconds",
)
# Business hours and holidays: the business-time variants of first response and resolution.
_CALENDAR_KEYS: Final = ("business_hours", "holidays")
_VALUE_KEYS: Final = (*_DURATION_KEYS, "service_level_goal", "timezone", "survey_min_sample")
_TARGET_KEYS: Final = (*_VALUE_KEYS, *_CALENDAR_KEYS)
# Time zone and service-level goal belong to the queue: its `today` window and its service-level
# gauge are per queue, not per channel.
_CHANNEL_KEYS: Final = _DURATION_KEYS
_QUEUE_KEYS: Final = (  # team: wallboard filter
    *_VALUE_KEYS,
    "channels",
    "team",
    *_CALENDAR_KEYS,
    "wallboard_thresholds",
)
_TOP_KEYS: Final = ("defaults", "queues", "agent_reasons", "wallboard_thresholds")


def load_targets(path: str | os.PathLike[str] | None) -> TargetBook:
    """The targets book of the YAML file at ``path``; ``None`` gives the built-in targets.

    Raises ``TargetsError`` (``"<path>:<line>: <key path>: <problem>"``) for a missing or
    unreadable file and for every kind of invalid content. An empty file means the defaults.
    """
    if path is None:
        return TargetBook.default()
    name = os.fspath(path)
    return parse_targets(read_text(name, "targets file", TargetsError), source=name)


def parse_targets(text: str, *, source: str = "<string>") -> TargetBook:
    """The targets book of YAML ``text``; ``source`` names it in error messages."""
    return _TargetsReader(source).book(compose(text, source, TargetsError))


def _unknown_hint(key: str) -> str:
    """Why a key that exists elsewhere in the file is not allowed where it stands."""
    if key in _CALENDAR_KEYS:
        return "; business hours and holidays are set per queue, not channel"
    if key in _TARGET_KEYS:
        return "; time zone and service-level goal are set per queue, not channel"
    return ""


class _TargetsReader(TargetValues):
    """Validates a composed YAML tree node by node, so every error can name its line."""

    def __init__(self, source: str) -> None:
        super().__init__(source, TargetsError, unknown_hint=_unknown_hint)

    def book(self, root: yaml.Node | None) -> TargetBook:
        if root is None or self.is_null(root):
            return TargetBook(source=self.source)
        defaults: Layer = {}
        calendar: CalendarLayer | None = None
        queues: dict[str, QueueLayers] = {}
        reasons: tuple[str, ...] = ()
        thresholds: dict[str, Threshold] = {}
        for key, _, value in self.pairs(root, "", _TOP_KEYS, "key"):
            if key == "agent_reasons":
                reasons = self._reasons(value, "agent_reasons")
            elif key == "wallboard_thresholds":
                thresholds = self._thresholds(value, "wallboard_thresholds")
            elif key == "defaults":
                defaults = self._targets(value, "defaults", _TARGET_KEYS)
                calendar = self._calendar(value, "defaults", _TARGET_KEYS)
            else:
                for queue, queue_key, body in self.pairs(value, "queues", None, "queue name"):
                    if not 1 <= len(queue) <= 64:
                        raise self.error(
                            queue_key,
                            "queues",
                            f"expected a queue name of 1..64 characters, got {queue!r}",
                        )
                    queues[queue] = self._queue(body, f"queues.{queue}")
        return TargetBook(
            defaults,
            queues,
            source=self.source,
            calendar=calendar,
            agent_reasons=reasons,
            thresholds=thresholds,
        )

    def _queue(self, node: yaml.Node, where: str) -> QueueLayers:
        channels: dict[str, Layer] = {}
        team: str | None = None
        thresholds: dict[str, Threshold] = {}
        targets = self._targets(node, where, _QUEUE_KEYS)
        for key, _, value in self.pairs(node, where, _QUEUE_KEYS, "key"):
            if key == "team":
                team = self._team(value, f"{where}.team")
            elif key == "wallboard_thresholds":
                thresholds = self._thresholds(value, f"{where}.wallboard_thresholds")
            elif key == "channels":
                for channel, channel_key, body in self.pairs(
                    value, f"{where}.channels", None, "channel"
                ):
                    self._check_channel(channel_key, channel, f"{where}.channels")
                    channels[channel] = self._targets(
                        body, f"{where}.channels.{channel}", _CHANNEL_KEYS, channel=channel
                    )
        calendar = self._calendar(node, where, _QUEUE_KEYS)
        return QueueLayers(targets, channels, team, calendar, MappingProxyType(thresholds))

    def _targets(
        self, node: yaml.Node, where: str, allowed: tuple[str, ...], channel: str | None = None
    ) -> Layer:
        """The target values of one mapping (``channels`` is left to the caller)."""
        layer: dict[str, float | str | Mapping[str, float]] = {}
        for key, _, value in self.pairs(node, where, allowed, "key"):
            path = f"{where}.{key}"
            if key in ("channels", "team", "wallboard_thresholds", *_CALENDAR_KEYS):
                continue
            if key == "timezone":
                layer[key] = self._timezone(value, path)
            elif key == "service_level_goal":
                layer[key] = self._goal(value, path)
            elif key == "survey_min_sample":
                layer[key] = float(self._count(value, path))
            elif key == "first_response_seconds":
                if isinstance(value, yaml.MappingNode) and channel is None:
                    per_channel: dict[str, float] = {}
                    for name, name_key, node_value in self.pairs(value, path, None, "channel"):
                        self._check_channel(name_key, name, path)
                        per_channel[name] = self._duration(node_value, f"{path}.{name}")
                    layer[key] = per_channel
                else:
                    seconds = self._duration(value, path)
                    layer[key] = {name: seconds for name in ((channel,) if channel else CHANNELS)}
            else:
                layer[key] = self._duration(
                    value, path, zero_allowed=key == "short_abandon_seconds"
                )
        return layer

"""The Twilio connector's YAML file (``--config FILE``): rename tables and mappings of one
TaskRouter Workspace, read with the line-numbered reader so every error names its line.

Keys: ``queues`` and ``agents`` (TaskQueue / worker name → contract id), ``activities``
(Activity name → contract agent state), ``channels`` (TaskChannel → contract channel),
``default_channel`` and ``timeout_reasons`` (the ``TaskCanceledReason`` values that mean the
queue's timeout rather than the caller hanging up). Errors are ``TwilioConfigError``:
``"<file>:<line>: <key path>: <problem>"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import yaml

from stream.config.errors import ConfigFileError
from stream.config.yaml_lines import NodeReader, compose, read_text

__all__ = [
    "ACTIVITY_STATES",
    "CONTRACT_CHANNELS",
    "TwilioConfig",
    "TwilioConfigError",
    "load_config",
    "parse_config",
]

ACTIVITY_STATES: Final = ("available", "busy", "after_call_work", "away", "offline")
CONTRACT_CHANNELS: Final = ("phone", "chat", "email", "social", "web", "sms")

_DEFAULT_CHANNELS: Final = {"voice": "phone", "chat": "chat", "sms": "sms", "email": "email"}
_DEFAULT_ACTIVITIES: Final = {"Available": "available", "Offline": "offline"}
_TOP_KEYS: Final = (
    "queues", "agents", "activities", "channels", "default_channel", "timeout_reasons"
)  # fmt: skip


class TwilioConfigError(ConfigFileError):
    """The connector's YAML file is invalid: ``"<file>:<line>: <key path>: <problem>"``."""


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """Rename tables and mappings of one Workspace (``--config FILE``, YAML)."""

    queues: Mapping[str, str] = field(default_factory=dict)
    agents: Mapping[str, str] = field(default_factory=dict)
    activities: Mapping[str, str] = field(default_factory=lambda: dict(_DEFAULT_ACTIVITIES))
    channels: Mapping[str, str] = field(default_factory=lambda: dict(_DEFAULT_CHANNELS))
    default_channel: str = "phone"
    timeout_reasons: frozenset[str] = frozenset({"Task TTL Exceeded"})


def load_config(path: str | os.PathLike[str] | None) -> TwilioConfig:
    """The config in the YAML file at ``path``; ``None`` gives the defaults."""
    if path is None:
        return TwilioConfig()
    name = os.fspath(path)
    return parse_config(read_text(name, "connector config", TwilioConfigError), source=name)


def parse_config(text: str, *, source: str = "<string>") -> TwilioConfig:
    """The config of YAML ``text``; ``source`` names it in error messages."""
    root = compose(text, source, TwilioConfigError)
    reader = NodeReader(source, TwilioConfigError)
    if root is None or reader.is_null(root):
        return TwilioConfig()
    tables: dict[str, dict[str, str]] = {"queues": {}, "agents": {}}
    activities = dict(_DEFAULT_ACTIVITIES)
    channels = dict(_DEFAULT_CHANNELS)
    default_channel = "phone"
    reasons = frozenset({"Task TTL Exceeded"})
    for key, _, value in reader.pairs(root, "", _TOP_KEYS, "key"):
        if key in ("queues", "agents"):
            tables[key] = _table(reader, value, key, None)
        elif key == "activities":
            activities.update(_table(reader, value, key, ACTIVITY_STATES))
        elif key == "channels":
            channels.update(_table(reader, value, key, CONTRACT_CHANNELS))
        elif key == "default_channel":
            default_channel = _one_of(reader, value, key, CONTRACT_CHANNELS)
        else:
            reasons = frozenset(_strings(reader, value, key))
    return TwilioConfig(
        tables["queues"], tables["agents"], activities, channels, default_channel, reasons
    )


def _text(reader: NodeReader, node: yaml.Node, where: str, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or reader.is_null(node) or not node.value:
        raise reader.error(node, where, f"expected {what}, got {reader.shown(node)}")
    return str(node.value)  # as written: a Twilio name such as 'Wrap Up' or '015' stays text


def _one_of(reader: NodeReader, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> str:
    value = _text(reader, node, where, f"one of {', '.join(allowed)}")
    if value not in allowed:
        raise reader.error(
            node, where, f"expected one of {', '.join(allowed)}, got {reader.shown(node)}"
        )
    return value


def _table(
    reader: NodeReader, node: yaml.Node, where: str, allowed: tuple[str, ...] | None
) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, _, value in reader.pairs(node, where, None, "name"):
        at = f"{where}.{name}"
        out[name] = (
            _text(reader, value, at, "a name")
            if allowed is None
            else _one_of(reader, value, at, allowed)
        )
    return out


def _strings(reader: NodeReader, node: yaml.Node, where: str) -> list[str]:
    if not isinstance(node, yaml.SequenceNode):
        raise reader.error(node, where, f"expected a list of reasons, got {reader.shown(node)}")
    return [_text(reader, item, f"{where}[{i}]", "a reason") for i, item in enumerate(node.value)]

"""The Asterisk connector's YAML file: queue and agent renames, each queue's ``wrapuptime``.

```yaml
wrapuptime: 0            # seconds, for queues not listed (Asterisk's default is 0)
queues:
  "600":                 # the queue name as Asterisk logs it
    name: sales          # the queue in our metrics (default: the same name)
    wrapuptime: 15       # queues.conf ``wrapuptime`` of that queue
agents:
  "PJSIP/201": ana       # the agent field of queue_log (member name or interface) -> agent_id
```

Errors name the file and line like the targets file (``"<file>:<line>: <key path>: <problem>"``,
``stream.config.TargetsError``), read node by node with the shared reader
(``stream.config.yaml_lines``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

import yaml

from stream.config import ConfigFileError
from stream.config.yaml_lines import NodeReader, compose, read_text

__all__ = ["AsteriskConfig", "AsteriskConfigError", "load_config", "parse_config"]

_TOP_KEYS: Final = ("wrapuptime", "queues", "agents")
_QUEUE_KEYS: Final = ("name", "wrapuptime")
_MAX_WRAPUP: Final = 86_400


class AsteriskConfigError(ConfigFileError):
    """The connector's YAML file is invalid: ``"<file>:<line>: <key path>: <problem>"``."""


@dataclass(frozen=True, slots=True)
class AsteriskConfig:
    """Renames and wrap-up times; the empty config maps every name to itself, wrap-up 0."""

    wrapuptime: int = 0
    queue_names: dict[str, str] = field(default_factory=dict)
    wrapuptimes: dict[str, int] = field(default_factory=dict)
    agent_ids: dict[str, str] = field(default_factory=dict)

    def queue(self, asterisk_name: str) -> str:
        return self.queue_names.get(asterisk_name, asterisk_name)

    def wrapup_seconds(self, asterisk_name: str) -> int:
        return self.wrapuptimes.get(asterisk_name, self.wrapuptime)

    def agent(self, asterisk_agent: str) -> str:
        return self.agent_ids.get(asterisk_agent, asterisk_agent)


def load_config(path: str | os.PathLike[str] | None) -> AsteriskConfig:
    """The config in the YAML file at ``path``; ``None`` gives the empty config."""
    if path is None:
        return AsteriskConfig()
    name = os.fspath(path)
    return parse_config(read_text(name, "connector config", AsteriskConfigError), source=name)


def parse_config(text: str, *, source: str = "<string>") -> AsteriskConfig:
    """The config of YAML ``text``; ``source`` names it in error messages."""
    root = compose(text, source, AsteriskConfigError)
    reader = NodeReader(source, AsteriskConfigError)
    if root is None or reader.is_null(root):
        return AsteriskConfig()
    wrapuptime = 0
    names: dict[str, str] = {}
    wrapups: dict[str, int] = {}
    agents: dict[str, str] = {}
    for key, _, value in reader.pairs(root, "", _TOP_KEYS, "key"):
        if key == "wrapuptime":
            wrapuptime = _seconds(reader, value, "wrapuptime")
        elif key == "queues":
            for queue, key_node, body in reader.pairs(value, "queues", None, "name"):
                _name(reader, key_node, "queues", queue, 64, "an Asterisk queue name")
                for item, _, item_value in reader.pairs(
                    body, f"queues.{queue}", _QUEUE_KEYS, "key"
                ):
                    where = f"queues.{queue}.{item}"
                    if item == "name":
                        names[queue] = _text(reader, item_value, where, 64, "a queue name")
                    else:
                        wrapups[queue] = _seconds(reader, item_value, where)
        else:
            for agent, key_node, body in reader.pairs(value, "agents", None, "name"):
                _name(reader, key_node, "agents", agent, 128, "an agent field")
                agents[agent] = _text(reader, body, f"agents.{agent}", 128, "an agent id")
    return AsteriskConfig(wrapuptime, names, wrapups, agents)


def _name(
    reader: NodeReader, node: yaml.Node, where: str, value: str, limit: int, what: str
) -> None:
    if not 1 <= len(value) <= limit:
        raise reader.error(node, where, f"expected {what} of 1..{limit} characters, got {value!r}")


def _text(reader: NodeReader, node: yaml.Node, where: str, limit: int, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or reader.is_null(node):
        raise reader.error(node, where, f"expected {what}")
    _name(reader, node, where, node.value, limit, what)
    return str(node.value)


def _seconds(reader: NodeReader, node: yaml.Node, where: str) -> int:
    # The text as written: YAML 1.1 would read 015 as octal.
    text = node.value if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(text, str) or not text.isdigit() or int(text) > _MAX_WRAPUP:
        raise reader.error(
            node,
            where,
            f"expected whole seconds 0..{_MAX_WRAPUP} (as queues.conf), got {text!r}",
        )
    return int(text)

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
``stream.config.TargetsError``), read from the composed YAML tree so each node knows its line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

import yaml

from stream.config import ConfigError

__all__ = ["AsteriskConfig", "AsteriskConfigError", "load_config", "parse_config"]

_TOP_KEYS: Final = ("wrapuptime", "queues", "agents")
_QUEUE_KEYS: Final = ("name", "wrapuptime")
_MAX_WRAPUP: Final = 86_400


class AsteriskConfigError(ConfigError):
    """The connector's YAML file is invalid: ``"<file>:<line>: <key path>: <problem>"``."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


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
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise AsteriskConfigError(
            f"{name}: connector config not found (looked at {os.path.abspath(name)})", path=name
        ) from None
    except UnicodeDecodeError as error:
        raise AsteriskConfigError(
            f"{name}: connector config is not UTF-8 text (byte {error.start})", path=name
        ) from None
    except OSError as error:
        raise AsteriskConfigError(
            f"{name}: cannot read the connector config: {error.strerror or error}", path=name
        ) from None
    return parse_config(text, source=name)


def parse_config(text: str, *, source: str = "<string>") -> AsteriskConfig:
    """The config of YAML ``text``; ``source`` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        where = f"{source}:{line}" if line is not None else source
        raise AsteriskConfigError(
            f"{where}: invalid YAML: {error.problem or error.context}", path=source, line=line
        ) from None
    except yaml.YAMLError as error:
        raise AsteriskConfigError(f"{source}: invalid YAML: {error}", path=source) from None
    reader = _Reader(source)
    if root is None or reader.is_null(root):
        return AsteriskConfig()
    wrapuptime = 0
    names: dict[str, str] = {}
    wrapups: dict[str, int] = {}
    agents: dict[str, str] = {}
    for key, _, value in reader.pairs(root, "", _TOP_KEYS):
        if key == "wrapuptime":
            wrapuptime = reader.seconds(value, "wrapuptime")
        elif key == "queues":
            for queue, key_node, body in reader.pairs(value, "queues", None):
                reader.name(key_node, "queues", queue, 64, "an Asterisk queue name")
                for item, _, item_value in reader.pairs(body, f"queues.{queue}", _QUEUE_KEYS):
                    where = f"queues.{queue}.{item}"
                    if item == "name":
                        names[queue] = reader.text(item_value, where, 64, "a queue name")
                    else:
                        wrapups[queue] = reader.seconds(item_value, where)
        else:
            for agent, key_node, body in reader.pairs(value, "agents", None):
                reader.name(key_node, "agents", agent, 128, "an agent field")
                agents[agent] = reader.text(body, f"agents.{agent}", 128, "an agent id")
    return AsteriskConfig(wrapuptime, names, wrapups, agents)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    @staticmethod
    def is_null(node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"

    def error(self, node: yaml.Node, where: str, message: str) -> AsteriskConfigError:
        line = node.start_mark.line + 1
        prefix = f"{where}: " if where else ""
        return AsteriskConfigError(
            f"{self.source}:{line}: {prefix}{message}", path=self.source, line=line
        )

    def pairs(
        self, node: yaml.Node, where: str, allowed: tuple[str, ...] | None
    ) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if self.is_null(node):
            return []
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, where, "expected a mapping")
        seen: dict[str, int] = {}
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_node, where, "expected a name as key")
            key = key_node.value
            if key in seen:
                raise self.error(
                    key_node, where, f"duplicate key {key!r} (first at line {seen[key]})"
                )
            if allowed is not None and key not in allowed:
                raise self.error(
                    key_node, where, f"unknown key {key!r}; allowed keys: {', '.join(allowed)}"
                )
            seen[key] = key_node.start_mark.line + 1
            out.append((key, key_node, value))
        return out

    def name(self, node: yaml.Node, where: str, value: str, limit: int, what: str) -> None:
        if not 1 <= len(value) <= limit:
            raise self.error(
                node, where, f"expected {what} of 1..{limit} characters, got {value!r}"
            )

    def text(self, node: yaml.Node, where: str, limit: int, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or self.is_null(node):
            raise self.error(node, where, f"expected {what}")
        self.name(node, where, node.value, limit, what)
        return str(node.value)

    def seconds(self, node: yaml.Node, where: str) -> int:
        text = node.value if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(text, str) or not text.isdigit() or int(text) > _MAX_WRAPUP:
            raise self.error(
                node,
                where,
                f"expected whole seconds 0..{_MAX_WRAPUP} (as queues.conf), got {text!r}",
            )
        return int(text)

"""The one line-numbered YAML reader of every configuration file.

The targets file (``stream.config.targets_file``), the Asterisk connector's file
(``stream.connectors.asterisk.settings``) and the webhook gateway's file
(``stream.connectors.webhooks.config``) all report a bad value as
``"<file>:<line>: <key path>: <problem>"``. This module owns what they share:

* ``read_text``: a file's text, or an error naming the file for a missing, unreadable or
  non-UTF-8 one;
* ``compose``: the composed YAML tree (every node knows its line), or an error naming the line of
  a syntax error;
* ``NodeReader``: validation node by node (mappings with allowed, unique keys and merge keys
  ``<<`` applied, scalars, how a value is shown in a message, the error naming its line);
* ``plain``: a node as a plain value plus a key path → line map, for readers that validate
  plain values and still name lines.

Each reader passes its own error class (``ErrorFactory``: ``(message, *, path, line)``).
PyYAML and the standard library only.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator
from typing import Any, Final, Protocol

import yaml

__all__ = ["ErrorFactory", "NodeReader", "compose", "plain", "read_text"]

MERGE_TAG: Final = "tag:yaml.org,2002:merge"
NULL_TAG: Final = "tag:yaml.org,2002:null"
STR_TAG: Final = "tag:yaml.org,2002:str"

_CONSTRUCTOR: Final = yaml.constructor.SafeConstructor()


class ErrorFactory(Protocol):
    """An error class of a config file: ``TargetsError``, ``AsteriskConfigError`` ..."""

    def __call__(self, message: str, *, path: str, line: int | None = None) -> Exception: ...


def read_text(path: str | os.PathLike[str], what: str, error: ErrorFactory) -> str:
    """The UTF-8 text of the file at ``path``; ``what`` names it in errors (``"targets file"``)."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        raise error(
            f"{name}: {what} not found (looked at {os.path.abspath(name)})", path=name
        ) from None
    except UnicodeDecodeError as problem:
        raise error(f"{name}: {what} is not UTF-8 text (byte {problem.start})", path=name) from None
    except OSError as problem:
        raise error(
            f"{name}: cannot read the {what}: {problem.strerror or problem}", path=name
        ) from None


def compose(text: str, source: str, error: ErrorFactory) -> yaml.Node | None:
    """The composed YAML tree of ``text`` (``None`` when empty); ``source`` names it in errors."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        said = problem.problem or ""
        if problem.context:
            context = problem.context
            if problem.context_mark is not None and problem.context_mark is not mark:
                context += f" (line {problem.context_mark.line + 1})"
            said = f"{context}, {said}" if said else context
        line = mark.line + 1 if mark is not None else None
        where = f"{source}:{line}" if line is not None else source
        raise error(f"{where}: invalid YAML: {said}", path=source, line=line) from None
    except yaml.reader.ReaderError as problem:  # a control character: a position, no mark
        line = text.count("\n", 0, problem.position) + 1
        character = problem.character
        shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
        raise error(
            f"{source}:{line}: invalid YAML: {problem.reason}: {shown}", path=source, line=line
        ) from None
    except yaml.YAMLError as problem:
        raise error(f"{source}: invalid YAML: {problem}", path=source) from None


def plain(node: yaml.Node | None) -> tuple[Any, dict[str, int]]:
    """The plain value of ``node`` and the 1-based line of every key by its dotted path.

    The root's path is ``""``; list items are ``<path>.<index>``.
    """
    lines: dict[str, int] = {}
    if node is None:
        return None, lines
    return _plain(node, "", lines), lines


def _plain(node: yaml.Node, path: str, lines: dict[str, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _CONSTRUCTOR.construct_object(key_node, deep=True)
            child = f"{path}.{key}" if path else str(key)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _plain(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, f"{path}.{i}", lines) for i, item in enumerate(node.value)]
    return _CONSTRUCTOR.construct_object(node, deep=True)


class NodeReader:
    """Validates a composed tree node by node, so that every error can name its line.

    ``unknown_hint(key)`` may add a sentence to the message of a key not allowed where it stands
    (the targets file explains which keys belong to a queue rather than a channel).
    """

    def __init__(
        self,
        source: str,
        error: ErrorFactory,
        *,
        unknown_hint: Callable[[str], str] | None = None,
    ) -> None:
        self.source = source
        self._error_type = error
        self._unknown_hint = unknown_hint
        self._constructor = yaml.constructor.SafeConstructor()

    def scalar(self, node: yaml.Node, where: str, expected: str) -> object:
        """The value of a scalar node (YAML 1.1 types); anything else is an error."""
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, where, f"expected {expected}, got {self.shown(node)}")
        try:
            return self._constructor.construct_object(node)
        except yaml.YAMLError as error:  # e.g. an unknown !tag
            raise self.error(node, where, f"expected {expected}, got {error}") from None

    def pairs(
        self, node: yaml.Node, where: str, allowed: tuple[str, ...] | None, what: str
    ) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping, merge keys (``<<``) applied.

        Null is an empty mapping (``queues:`` with nothing under it). Keys must be scalars,
        unique within the mapping and, when ``allowed`` is given, one of them.
        """
        if self.is_null(node):
            return iter(())
        if not isinstance(node, yaml.MappingNode):
            expected = "a mapping" + (f" with keys {', '.join(allowed)}" if allowed else "")
            raise self.error(node, where, f"expected {expected}, got {self.shown(node)}")
        return iter(self._flatten(node, where, allowed, what, frozenset()))

    def _flatten(
        self,
        node: yaml.MappingNode,
        where: str,
        allowed: tuple[str, ...] | None,
        what: str,
        visiting: frozenset[int],
    ) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if id(node) in visiting:
            raise self.error(node, where, "a merge key (<<) refers to itself")
        own: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise self.error(
                            source, where, f"expected a mapping to merge, got {self.shown(source)}"
                        )
                    merged.extend(
                        self._flatten(source, where, allowed, what, visiting | {id(node)})
                    )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(
                    key_node, where, f"expected a {what} as key, got {self.shown(key_node)}"
                )
            key = key_node.value
            if key in own:
                first = own[key][0].start_mark.line + 1
                raise self.error(key_node, where, f"duplicate key {key!r} (first at line {first})")
            if allowed is not None and key not in allowed:
                message = f"unknown key {key!r}"
                close = difflib.get_close_matches(key, allowed, n=1)
                if close:
                    message += f" (did you mean {close[0]!r}?)"
                if self._unknown_hint is not None:
                    message += self._unknown_hint(key)
                raise self.error(key_node, where, f"{message}; allowed keys: {', '.join(allowed)}")
            own[key] = (key_node, value_node)
        # The mapping's own keys win over merged ones; among merged ones the first source wins.
        result = [(key, key_node, value) for key, (key_node, value) in own.items()]
        seen = set(own)
        for key, key_node, value in merged:
            if key not in seen:
                seen.add(key)
                result.append((key, key_node, value))
        return result

    @staticmethod
    def is_null(node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG

    @staticmethod
    def shown(node: yaml.Node) -> str:
        """How a value appears in an error message: as written, strings quoted."""
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        if node.tag == NULL_TAG:
            return "null"
        if node.tag == STR_TAG:
            return repr(node.value)
        return str(node.value)

    def error(self, node: yaml.Node, where: str, message: str) -> Exception:
        """``"<file>:<line of node>: <where>: <message>"`` as the reader's error class."""
        line = node.start_mark.line + 1
        prefix = f"{where}: " if where else ""
        return self._error_type(
            f"{self.source}:{line}: {prefix}{message}", path=self.source, line=line
        )

"""The one line-numbered YAML reader (``stream.config.yaml_lines``) and its four users.

The targets file, the Asterisk and Twilio connectors' files and the webhook gateway's file
report a syntax
error, a control character, a missing file and a misspelt key the same way, each with its line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stream.config import parse_targets
from stream.config.targets_file import load_targets
from stream.config.yaml_lines import compose, plain
from stream.connectors.asterisk.settings import load_config, parse_config
from stream.connectors.twilio import settings as twilio
from stream.connectors.webhooks.config import load_gateway_config, parse_gateway_config


def gateway(text: str, *, source: str) -> object:
    return parse_gateway_config(text, source=source, env={})


PARSERS: dict[str, Callable[..., object]] = {
    "targets": parse_targets,
    "asterisk": parse_config,
    "gateway": gateway,
    "twilio": twilio.parse_config,
}


def message(parse: Callable[..., object], text: str) -> str:
    with pytest.raises(ValueError) as error:
        parse(text, source="f.yaml")
    return str(error.value)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_syntax_error_names_its_line_and_context(name: str) -> None:
    assert message(PARSERS[name], "a:\n  b: [1\n") == (
        "f.yaml:3: invalid YAML: while parsing a flow sequence (line 2), "
        "expected ',' or ']', but got '<stream end>'"
    )


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_control_character_names_its_line(name: str) -> None:
    assert message(PARSERS[name], "a: 1\nb: \x07\n") == (
        "f.yaml:2: invalid YAML: special characters are not allowed: U+0007"
    )


def test_a_missing_file_names_the_file_in_each_reader(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    got = []
    for load in (load_targets, load_config, load_gateway_config, twilio.load_config):
        with pytest.raises(ValueError) as error:
            load(missing)
        got.append(str(error.value))
    assert got == [
        f"{missing}: {what} not found (looked at {missing})"
        for what in ("targets file", "connector config", "gateway config", "connector config")
    ]


def test_a_misspelt_key_is_suggested_in_the_asterisk_file_as_in_the_targets_file() -> None:
    assert message(parse_config, "queues:\n  '600':\n    nam: x\n") == (
        "f.yaml:3: queues.600: unknown key 'nam' (did you mean 'name'?); "
        "allowed keys: name, wrapuptime"
    )
    assert message(parse_config, "[1]\n") == (
        "f.yaml:1: expected a mapping with keys wrapuptime, queues, agents, got a list"
    )


def test_merge_keys_apply_in_the_asterisk_file_as_in_the_targets_file() -> None:
    merged = parse_config("<<: {wrapuptime: 15}\nagents: {PJSIP/201: ana}\n")
    assert (merged.wrapuptime, merged.agent("PJSIP/201")) == (15, "ana")


def test_plain_values_and_the_line_of_every_key_path() -> None:
    value, lines = plain(compose("a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n", "f", _Error))
    assert value == {"a": {"b": 1, "c": ["x", {"d": 2}]}}
    assert lines == {"": 1, "a": 1, "a.b": 2, "a.c": 3, "a.c.0": 4, "a.c.1": 5, "a.c.1.d": 5}
    assert plain(compose("", "f", _Error)) == (None, {})


class _Error(ValueError):
    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path, self.line = path, line

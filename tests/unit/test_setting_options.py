"""Command-line options that mirror a setting parse and document it as the setting does.

``python -m stream wallboard --port/--host/--stale-seconds/--max-clients`` override
``STREAM_WALLBOARD_*``: each option takes the setting's own converter and shows the setting's
variable and default in ``--help`` (``stream.config.settings.cli_type``, ``cli_default``).
"""

from __future__ import annotations

import argparse

import pytest

from stream.cli.main import build_parser
from stream.config import ConfigError, Settings
from stream.config.settings import cli_default, cli_type

MIRRORS = {
    "--port": "wallboard_port",
    "--host": "wallboard_host",
    "--stale-seconds": "wallboard_stale_seconds",
    "--max-clients": "wallboard_max_clients",
}


def wallboard_help() -> str:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return str(actions[0].choices["wallboard"].format_help())


def test_help_names_each_variable_and_its_default() -> None:
    text = " ".join(wallboard_help().split())
    assert "(default: STREAM_WALLBOARD_PORT, 8080)" in text
    assert "(default: STREAM_WALLBOARD_HOST, 127.0.0.1)" in text
    assert "(default: STREAM_WALLBOARD_STALE_SECONDS, 10)" in text
    assert "(default: STREAM_WALLBOARD_MAX_CLIENTS, 100)" in text


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("8081", "wallboard_port"),
        ("0", "wallboard_port"),
        ("90s", "wallboard_stale_seconds"),
        ("0", "wallboard_stale_seconds"),
        ("100000", "wallboard_max_clients"),
        ("100001", "wallboard_max_clients"),
        ("0.0.0.0", "wallboard_host"),
        ("a host", "wallboard_host"),
    ],
)
def test_an_option_accepts_exactly_what_its_variable_accepts(value: str, field: str) -> None:
    variable = {field: value}
    try:
        expected: object = getattr(Settings().replace(**variable), field)
    except ConfigError:
        expected = None
    try:
        got: object = cli_type(field)(value)
    except argparse.ArgumentTypeError:
        got = None
    assert got == expected


def test_parsed_options_and_their_messages() -> None:
    parser = build_parser()
    args = parser.parse_args(["wallboard", "--stale-seconds", "1m", "--max-clients", "7"])
    assert (args.stale_seconds, args.max_clients, args.port, args.host) == (60.0, 7, None, None)
    with pytest.raises(argparse.ArgumentTypeError) as error:
        cli_type("wallboard_port")("70000")
    assert str(error.value) == "expected an integer 1..65535, got '70000'"
    assert cli_default("grace_seconds") == "STREAM_GRACE_SECONDS, 60"
    assert cli_default("redis_url") == "STREAM_REDIS_URL, None"


def test_each_mirroring_option_uses_its_settings_converter() -> None:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    wallboard = actions[0].choices["wallboard"]
    types = {
        flag: getattr(action.type, "__name__", None)
        for action in wallboard._actions
        for flag in action.option_strings
        if flag in MIRRORS
    }
    assert types == MIRRORS

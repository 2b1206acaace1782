"""What every command shares: the expected-failure error, argument types, options that mirror a
setting, the settings from the environment, the ``--help`` epilog and signal handling.

Standard library only at import time: heavy modules are imported by the command that needs them,
so ``--help`` always works.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from stream.config import Settings

__all__ = [
    "CliError",
    "Command",
    "check_kafka_access",
    "count",
    "non_negative_float",
    "port",
    "positive_float",
    "ratio",
    "serve_until_signal",
    "setting_option",
    "settings_epilog",
    "settings_from_env",
    "until_signal",
]

_T = TypeVar("_T")
_N = TypeVar("_N", int, float)


class Command(Protocol):
    """Makes the parser of one subcommand: ``command(name, summary, description)``."""

    def __call__(self, name: str, summary: str, description: str) -> argparse.ArgumentParser: ...


def settings_epilog() -> str:
    """The settings named in ``--help``, their defaults from ``Settings`` (so they cannot drift)."""
    from stream.config.settings import Settings

    defaults = Settings()
    return (
        "settings come from STREAM_* environment variables, e.g. STREAM_BROKER_URL\n"
        f"(default {defaults.broker_url}), STREAM_WEB_PORT (default {defaults.web_port}), "
        "STREAM_PARTITIONS,\n"
        "STREAM_TOPIC_CALLS, STREAM_TOPIC_TICKETS, STREAM_TOPIC_AGENTS, STREAM_TOPIC_CUSTOMERS;\n"
        f"STREAM_MAX_QUEUES (default {defaults.max_queues}: queues outside STREAM_TARGETS_FILE "
        "that get series);\n"
        "secured clusters: STREAM_KAFKA_SECURITY_PROTOCOL (SSL, SASL_SSL ...), "
        "STREAM_KAFKA_SASL_*,\n"
        'STREAM_KAFKA_SSL_*, STREAM_REDIS_PASSWORD_FILE (README.md, "Secured clusters").\n'
    )


class CliError(Exception):
    """An expected failure: print the message on one line and exit with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _checked(
    text: str, parse: Callable[[str], _N], noun: str, ok: Callable[[_N], bool], expected: str
) -> _N:
    """``text`` parsed (else "not <noun>") and checked (else "must be <expected>")."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    return _checked(text, float, "a number", lambda v: math.isfinite(v) and v > 0,
                    "a positive number")  # fmt: skip


def non_negative_float(text: str) -> float:
    return _checked(text, float, "a number", lambda v: math.isfinite(v) and v >= 0,
                    "a number >= 0")  # fmt: skip


def ratio(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text!r}")
    return value


def port(text: str) -> int:
    return _checked(text, int, "a port number", lambda v: 0 < v < 65536, "within 1..65535")


def count(text: str) -> int:
    return _checked(text, int, "an integer", lambda v: v >= 1, ">= 1")


def setting_option(
    parser: argparse.ArgumentParser,
    flag: str,
    field: str,
    summary: str,
    *,
    metavar: str | None = None,
) -> None:
    """An option overriding the setting ``field`` for one command: the setting's own converter
    (it accepts what the variable accepts) and its variable and default in ``--help``."""
    from stream.config.settings import cli_default, cli_type

    parser.add_argument(
        flag,
        type=cli_type(field),
        default=None,
        metavar=metavar,
        help=f"{summary} (default: {cli_default(field)})",
    )


def settings_from_env() -> Settings:
    from stream.config import Settings

    return Settings.from_env()


def check_kafka_access(settings: Settings) -> None:
    """Refused credentials or TLS: one clear error (``AccessError``) before any publishing."""
    from stream.config.security import check_access

    check_access(settings, redis=False)


def serve_until_signal(serve: Callable[[asyncio.Future[None]], Awaitable[None]]) -> None:
    """Run a server until SIGINT or SIGTERM: ``serve(stop)`` returns once ``stop`` is done and
    it has drained what it was doing (the connectors answer what they hold first)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[None] = loop.create_future()

        def finish() -> None:
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, finish)
        await serve(stop)

    asyncio.run(main())


async def until_signal(coro: Coroutine[Any, Any, _T]) -> tuple[_T | None, bool]:
    """Run ``coro``; SIGINT or SIGTERM cancels it. Returns (result, interrupted)."""
    task: asyncio.Task[_T] = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task, False
    except asyncio.CancelledError:
        if task.cancelled():
            return None, True
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

"""The command line: ``python -m stream <command>`` (console script ``contact-centre-stream``).

A thin layer: it parses arguments, reads ``Settings`` from the ``STREAM_*`` environment, calls
into the modules that do the work and turns expected failures into one line and an exit status
(2 for configuration and usage errors, 1 for runtime failures). Each command's arguments and
handler live in a module of their own (``stream.cli.<module>.add_parsers``); heavy modules
(Faust, the worker) are imported only by the command that needs them, so ``--help`` always works.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from stream.cli import broker, connect, demo, doctor, schema, traffic, wallboard, worker
from stream.cli.common import CliError, settings_epilog

__all__ = ["build_parser", "main"]

log = logging.getLogger("stream.cli")

_COMMANDS = (demo, broker, connect, worker, traffic, doctor, wallboard, schema)
"""The modules adding commands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    epilog = settings_epilog()
    parser = argparse.ArgumentParser(
        prog="python -m stream",
        description=(
            "Real-time contact-centre KPIs: Faust agents consume ticket and call events from "
            "Kafka and export Prometheus metrics."
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    for module in _COMMANDS:
        module.add_parsers(command, epilog)
    return parser


def config_error_message(exc: BaseException) -> str | None:
    """One line for a ``ConfigError`` (all its problems), None for any other exception."""
    try:
        from stream.config import ConfigError
    except ImportError:
        return None
    if not isinstance(exc, ConfigError):
        return None
    return "; ".join(exc.errors)


def kafka_error_message(exc: BaseException) -> str | None:
    from stream.config.security import AccessError

    if isinstance(exc, AccessError):
        return str(exc)
    try:
        from aiokafka.errors import KafkaConnectionError, KafkaError
    except ImportError:
        return None
    if isinstance(exc, KafkaConnectionError):
        return (
            f"cannot reach the Kafka broker ({exc}); is it running? "
            "(`python -m stream broker` starts one; STREAM_BROKER_URL says where it is)"
        )
    if isinstance(exc, KafkaError):
        return f"Kafka error: {exc}"
    return None


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("aiokafka").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "worker":  # the worker configures logging from its settings
        configure_logging(args.verbose)
    try:
        status: int = args.handler(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = config_error_message(exc)
        if message is not None:
            print(f"configuration error: {message}", file=sys.stderr)
            return 2
        message = kafka_error_message(exc)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            return 1
        raise
    return status

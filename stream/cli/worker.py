"""``python -m stream worker``: one Faust worker (the work is in ``stream.worker.startup``)."""

from __future__ import annotations

import argparse

from stream.cli.common import Command, settings_from_env


def add_parsers(command: Command, epilog: str) -> None:
    """Add this module's commands; ``command`` makes each parser, ``epilog`` ends each help."""
    worker = command(
        "worker",
        "run a Faust worker (start more to scale out)",
        "Run one Faust worker: it consumes the contract topics from STREAM_BROKER_URL and "
        "serves /metrics on STREAM_WEB_HOST:STREAM_WEB_PORT. Blocks until stopped (Ctrl-C or "
        "SIGTERM).",
    )
    worker.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    from stream.worker.startup import run_worker

    run_worker(settings)
    return 0

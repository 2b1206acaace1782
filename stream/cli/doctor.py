"""``python -m stream doctor``: what this machine has for the product and its tests (the work is
in ``stream.doctor``)."""

from __future__ import annotations

import argparse

from stream.cli.common import Command


def add_parsers(command: Command, epilog: str) -> None:
    """Add this module's commands; ``command`` makes each parser, ``epilog`` ends each help."""
    doctor = command(
        "doctor",
        "check this machine for what the product and its tests need",
        "Check, without changing anything: the Python version, the runtime packages, the "
        "Debian tools the tests use (promtool, amtool, docker-compose, chromium, "
        "redis-server), every STREAM_* setting, the targets file, the data directory, the "
        "broker at STREAM_BROKER_URL and Redis at STREAM_REDIS_URL. Prints one line per "
        "check with a fix for each problem; exits 1 when a required check failed.",
    )
    doctor.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stream import doctor

    return doctor.run()

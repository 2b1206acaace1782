"""``python -m stream demo``: the embedded broker, Redis, a worker, the wallboard and simulated
traffic in one command (the work is in ``stream.dev.demo``)."""

from __future__ import annotations

import argparse

from stream.cli.common import Command, positive_float, ratio


def add_parsers(command: Command, epilog: str) -> None:
    """Add this module's commands; ``command`` makes each parser, ``epilog`` ends each help."""
    demo = command(
        "demo",
        "embedded broker + Redis + one worker + wallboard + simulated traffic",
        "Start an embedded Kafka-compatible broker (unless STREAM_BROKER_URL is set), create "
        "the topics, start an embedded Redis (unless STREAM_REDIS_URL is set), one worker, "
        "the wallboard, and publish realistic traffic in real time. Prints the broker, "
        "/metrics and wallboard URLs and a summary line every few seconds. Ctrl-C stops "
        "everything. Logs go to var/demo/.",
    )
    demo.add_argument(
        "--rate",
        type=positive_float,
        default=10.0,
        metavar="X",
        help="traffic multiplier; 1 is about 0.6 events/s (default: 10)",
    )
    demo.add_argument(
        "--dirty",
        type=ratio,
        default=0.02,
        metavar="R",
        help="share of messages followed by bad input or a duplicate (default: 0.02)",
    )
    demo.add_argument("--seed", type=int, default=None, help="simulation seed (default: random)")
    demo.add_argument(
        "--source",
        choices=("simulator", "asterisk", "helpdesk"),
        default="simulator",
        help="simulator: events straight to the topics; asterisk: the simulator writes an "
        "Asterisk queue_log (calls, agents) and the connector follows it; helpdesk: calls and "
        "agents to the topics, the tickets posted live as signed Chatwoot, Zendesk and Zammad "
        "webhooks to the webhook gateway, started as a child (default: simulator)",
    )
    demo.add_argument(
        "--summary-every",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds between summary lines (default: 10)",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stream.dev import demo

    return demo.main(
        rate=args.rate,
        dirty_ratio=args.dirty,
        seed=args.seed,
        summary_every=args.summary_every,
        source=args.source,
    )

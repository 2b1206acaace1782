"""``python -m stream simulate`` and ``replay``: simulated or recorded traffic to the topics (the
work is in ``stream.dev.simulate``)."""

from __future__ import annotations

import argparse
import asyncio

from stream.cli.common import (
    CliError,
    Command,
    check_kafka_access,
    count,
    non_negative_float,
    positive_float,
    ratio,
    settings_from_env,
    until_signal,
)


def add_parsers(command: Command, epilog: str) -> None:
    """Add this module's commands; ``command`` makes each parser, ``epilog`` ends each help."""
    simulate = command(
        "simulate",
        "publish realistic simulated traffic to the topics",
        "Publish traffic from a queueing model of four queues (billing, tech-support, sales, "
        "returns) to STREAM_BROKER_URL. By default in real time (event times are now) until "
        "Ctrl-C; --fast publishes the last --duration seconds of traffic at full speed. "
        "--record writes events to an NDJSON file instead (no broker needed), their event "
        "times ending now.",
    )
    simulate.add_argument(
        "--rate",
        type=positive_float,
        default=1.0,
        metavar="X",
        help="multiplies arrivals and staffing (default: 1, about 0.6 events/s)",
    )
    simulate.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        metavar="S",
        help="seconds of traffic (default: until Ctrl-C; with --fast: 3600)",
    )
    simulate.add_argument(
        "--seed", type=int, default=None, help="simulation seed (default: random)"
    )
    simulate.add_argument(
        "--dirty",
        type=ratio,
        default=0.0,
        metavar="R",
        help="share of messages followed by bad input or an exact duplicate (default: 0)",
    )
    simulate.add_argument(
        "--fast",
        action="store_true",
        help="publish as fast as possible, event times spread over the last --duration seconds",
    )
    simulate.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="write --events events to FILE as NDJSON instead of publishing",
    )
    simulate.add_argument(
        "--events",
        type=count,
        default=10_000,
        metavar="N",
        help="number of events for --record (default: 10000)",
    )
    simulate.set_defaults(handler=run_simulate)

    replay = command(
        "replay",
        "publish recorded events (NDJSON) with a progress bar",
        "Publish every line of an NDJSON file (one contract event per line) to its topic: the "
        "topic follows the event type, the key is the contact id, the bytes are unchanged. "
        "Lines with no recognisable type or id are skipped and counted.",
    )
    replay.add_argument("file", metavar="FILE", help="NDJSON file, e.g. from simulate --record")
    replay.add_argument(
        "--speed",
        type=non_negative_float,
        default=1.0,
        metavar="X",
        help="0: as fast as possible; else the recorded pace times X (default: 1)",
    )
    replay.set_defaults(handler=run_replay)


def run_simulate(args: argparse.Namespace) -> int:
    from stream.dev import simulate

    if args.record is not None:
        from datetime import UTC, datetime

        from stream.config.paths import writable_file_parent

        writable_file_parent(args.record, "--record")
        seed = args.seed if args.seed is not None else 1
        end = datetime.now(UTC).replace(microsecond=0)
        start = simulate.start_ending_at(end, args.events, seed, rate_multiplier=args.rate)
        written = simulate.write_ndjson(
            args.record, args.events, seed, start, rate_multiplier=args.rate
        )
        print(f"wrote {written} events to {args.record} (seed {seed})")
        return 0

    settings = settings_from_env()
    check_kafka_access(settings)
    stats = simulate.PublishStats()
    mode = "at full speed" if args.fast else "in real time (Ctrl-C stops)"
    print(f"publishing simulated traffic to {settings.broker_url} {mode}", flush=True)
    _, interrupted = asyncio.run(
        until_signal(
            simulate.publish(
                settings,
                rate_multiplier=args.rate,
                duration=args.duration,
                realtime=not args.fast,
                dirty_ratio=args.dirty,
                seed=args.seed,
                stats=stats,
            )
        )
    )
    print(
        f"{'stopped: ' if interrupted else ''}published {stats.events} events"
        f" + {stats.dirty} bad messages + {stats.duplicates} duplicates"
    )
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from stream.dev import simulate

    settings = settings_from_env()
    check_kafka_access(settings)
    try:
        total = simulate.count_lines(args.file)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}", status=2) from exc
    with tqdm(total=total, unit="ev", desc="replay", dynamic_ncols=True) as bar:
        result, interrupted = asyncio.run(
            until_signal(
                simulate.replay(settings, args.file, speed=args.speed, on_progress=bar.update)
            )
        )
    if result is None:
        print(f"replay stopped after {bar.n} of {total} lines")
        return 0 if interrupted else 1
    print(
        f"replayed {result.sent} events from {args.file}"
        + (f", skipped {result.skipped} unroutable lines" if result.skipped else "")
    )
    return 0

"""``python -m stream broker``: the embedded Kafka-compatible broker (Tansu) in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading

from stream.cli.common import CliError, Command, port, settings_from_env


def add_parsers(command: Command, epilog: str) -> None:
    """Add this module's commands; ``command`` makes each parser, ``epilog`` ends each help."""
    broker = command(
        "broker",
        "run the embedded Kafka-compatible broker (Tansu) in the foreground",
        "Run the embedded Tansu broker on 127.0.0.1 until Ctrl-C. Its storage is memory only "
        "(nothing survives a restart) unless --data-dir (or STREAM_BROKER_DATA_DIR) names a "
        "directory: then topics, records and committed offsets are kept there as files and a "
        "broker started again on it carries on. Creates the contract topics with "
        "STREAM_PARTITIONS partitions unless --no-topics.",
    )
    broker.add_argument(
        "--port", type=port, default=9092, help="TCP port on 127.0.0.1 (default: 9092)"
    )
    broker.add_argument(
        "--log-file", default=None, metavar="FILE", help="append the broker's output to FILE"
    )
    broker.add_argument(
        "--no-topics", action="store_true", help="do not create the contract topics"
    )
    broker.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="keep the broker's data in DIR across restarts (default: STREAM_BROKER_DATA_DIR, "
        "else memory only)",
    )
    broker.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stream.broker import create_topics
    from stream.dev.broker import BrokerStartError, EmbeddedBroker

    settings = None if args.no_topics else settings_from_env()
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    data_dir = args.data_dir or (settings or settings_from_env()).broker_data_dir
    broker = EmbeddedBroker(args.port, log_path=args.log_file, data_dir=data_dir)
    try:
        broker.start()
    except BrokerStartError as exc:
        raise CliError(f"the broker did not start: {exc}") from exc
    try:
        if settings is not None:
            topics = [*settings.input_topics, settings.topic_dead_letter]
            asyncio.run(create_topics(broker.bootstrap, topics, settings.partitions))
            print(f"topics: {', '.join(topics)} ({settings.partitions} partitions each)")
        print(f"broker listening on {broker.url}  (bootstrap servers: {broker.bootstrap})")
        print(
            f"use it with: STREAM_BROKER_URL={broker.url} STREAM_PRODUCER_MAX_BATCH_BYTES=1"
            "  (one record per batch: Tansu reports end offsets per batch)"
        )
        storage = f"its data is kept in {data_dir}" if data_dir else "its storage is in memory only"
        print(f"Ctrl-C stops it; {storage}.", flush=True)
        while not stop.wait(0.5):
            if not broker.is_running():
                tail = broker.output_tail()
                raise CliError(
                    f"the broker exited with status {broker.returncode()}"
                    + (f"; its output ends with:\n{tail}" if tail else "")
                )
    finally:
        broker.stop()
    print("broker stopped")
    return 0

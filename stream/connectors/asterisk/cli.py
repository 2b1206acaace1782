"""``python -m stream connect asterisk``: its arguments and what it runs (thin; the work is in
``connector``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.config import Settings
    from stream.connectors.asterisk.settings import AsteriskConfig

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Translate Asterisk / FreePBX app_queue's queue_log (ENTERQUEUE, CONNECT, COMPLETE*, "
    "ABANDON, EXIT*, RING*, transfers, members, pauses) into contract events on the input "
    "topics. Follows the file like `tail -F` (rotation by rename or copytruncate, truncation) "
    "and commits a checkpoint (inode, byte offset, open calls) only after the broker "
    "acknowledged each batch, so a restart neither loses nor repeats a line; while the broker "
    "is down it waits and retries. --once (or PATH -, stdin) reads a whole file once "
    "(backfill, progress bar). Lines that cannot be translated go to the ingest dead-letter "
    "topic (STREAM_TOPIC_INGEST_DEAD_LETTER) with their reason. See docs/connectors/asterisk.md."
)


def add_parser(vendors: argparse._SubParsersAction[argparse.ArgumentParser], epilog: str) -> None:
    parser = vendors.add_parser(
        "asterisk",
        help="follow an Asterisk / FreePBX queue_log",
        description=DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--queue-log",
        required=True,
        metavar="PATH",
        help="the queue_log file, e.g. /var/log/asterisk/queue_log; - reads stdin once",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="read the whole file once and exit (backfill; no checkpoint)",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="YAML: queue and agent renames, each queue's wrapuptime (default: none, 0 s)",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        metavar="FILE",
        help="where the position is kept (default: STREAM_DATA_DIR/asterisk-checkpoint.json)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the connector's /metrics on this port, 0: none "
        "(default: 6067 when following, none with --once)",
    )
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", metavar="HOST", help="(default: 127.0.0.1)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stream.config import Settings
    from stream.connectors.asterisk.settings import load_config

    settings = Settings.from_env()
    config = load_config(args.config)
    once = args.once or args.queue_log == "-"
    checkpoint = Path(
        args.checkpoint
        if args.checkpoint is not None
        else os.path.join(settings.data_dir, "asterisk-checkpoint.json")
    )
    return asyncio.run(_run(settings, config, args, once, checkpoint))


async def _run(
    settings: Settings, config: AsteriskConfig, args: argparse.Namespace, once: bool, cp: Path
) -> int:
    from tqdm import tqdm

    from stream.connectors.asterisk.connector import Connector, open_source

    connector = Connector(settings, config)
    connector.install_signal_handlers()
    runner = None
    port = args.metrics_port if args.metrics_port is not None else (0 if once else 6067)
    if port:
        runner = await connector.metrics.serve(args.metrics_host, args.metrics_port)
        print(
            f"connector metrics: http://{args.metrics_host}:{args.metrics_port}/metrics", flush=True
        )
    try:
        if once:
            source = open_source(args.queue_log)
            total = None if args.queue_log == "-" else Path(args.queue_log).stat().st_size
            with (
                source,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc="queue_log", dynamic_ncols=True
                ) as bar,
            ):
                stats = await connector.once(source, args.queue_log, on_progress=bar.update)
        else:
            print(f"following {args.queue_log} (checkpoint {cp})", flush=True)
            stats = await connector.follow(Path(args.queue_log), cp)
    finally:
        await connector.publisher.stop()
        if runner is not None:
            await runner.cleanup()
    print(
        f"{stats.lines} lines: {stats.events} events published, {stats.rejected} lines "
        f"dead-lettered, {stats.ignored} ignored"
        + (f" ({stats.at_end} events of wrap-ups due by the last line)" if once else ""),
        flush=True,
    )
    return 0

"""The command line: ``python -m stream <command>`` (console script ``contact-centre-stream``).

A thin layer: it parses arguments, reads ``Settings`` from the ``STREAM_*`` environment, calls
into the modules that do the work and turns expected failures into one line and an exit status
(2 for configuration and usage errors, 1 for runtime failures). Heavy modules (Faust, the
worker) are imported only by the command that needs them, so ``--help`` always works.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from stream.config import Settings

__all__ = ["build_parser", "main"]

log = logging.getLogger("stream.cli")

_T = TypeVar("_T")


def _settings_epilog() -> str:
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


class _CliError(Exception):
    """An expected failure: print the message on one line and exit with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _ratio(text: str) -> float:
    value = _non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be within 1..65535, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _setting_option(
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    settings_epilog = _settings_epilog()
    parser = argparse.ArgumentParser(
        prog="python -m stream",
        description=(
            "Real-time contact-centre KPIs: Faust agents consume ticket and call events from "
            "Kafka and export Prometheus metrics."
        ),
        epilog=settings_epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=settings_epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

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
        type=_positive_float,
        default=10.0,
        metavar="X",
        help="traffic multiplier; 1 is about 0.6 events/s (default: 10)",
    )
    demo.add_argument(
        "--dirty",
        type=_ratio,
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
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds between summary lines (default: 10)",
    )
    demo.set_defaults(handler=_cmd_demo)

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
        "--port", type=_port, default=9092, help="TCP port on 127.0.0.1 (default: 9092)"
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
    broker.set_defaults(handler=_cmd_broker)

    connect = command(
        "connect",
        "translate a PBX's or vendor's events into contract events",
        "Run a connector: it turns what a contact-centre system emits into contract events on "
        "the input topics (docs/connectors/).",
    )
    connectors = connect.add_subparsers(dest="connector", metavar="<connector>", required=True)
    twilio = connectors.add_parser(
        "twilio",
        help="serve the Twilio TaskRouter Event Callback URL",
        description="Serve TaskRouter's Workspace Event Callback URL: verify X-Twilio-Signature "
        "against --public-url with the auth token (TWILIO_AUTH_TOKEN or --auth-token-file), "
        "translate each callback, publish it in task lifecycle order and answer 204 only after "
        "the broker's acknowledgement (503 + Retry-After while it is down). /metrics on the "
        "same port. docs/connectors/twilio.md.",
        epilog=settings_epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    twilio.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    twilio.add_argument("--port", type=_port, default=8089, help="TCP port (default: 8089)")
    twilio.add_argument(
        "--path", default="/twilio/events", help="callback path (default: /twilio/events)"
    )
    twilio.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the Event Callback URL as configured in TaskRouter, which the signature covers "
        "(default: the URL of each request, wrong behind a proxy)",
    )
    twilio.add_argument(
        "--auth-token-file",
        default=None,
        metavar="FILE",
        help="file holding the account's auth token (default: env TWILIO_AUTH_TOKEN)",
    )
    twilio.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="YAML: queues/agents rename tables, activities -> states, channels",
    )
    twilio.add_argument(
        "--hold-seconds",
        type=_non_negative_float,
        default=2.0,
        metavar="S",
        help="longest wait for a task's earlier callbacks (default: 2)",
    )
    twilio.add_argument(
        "--insecure-loopback",
        action="store_true",
        help="run without an auth token (signatures not checked); only on a loopback address",
    )
    twilio.set_defaults(handler=_cmd_connect_twilio)
    from stream.connectors.asterisk import cli as asterisk_cli

    asterisk_cli.add_parser(connectors, settings_epilog)
    from stream.connectors.webhooks import cli as webhooks_cli

    webhooks_cli.add_parser(connectors, settings_epilog)

    worker = command(
        "worker",
        "run a Faust worker (start more to scale out)",
        "Run one Faust worker: it consumes the contract topics from STREAM_BROKER_URL and "
        "serves /metrics on STREAM_WEB_HOST:STREAM_WEB_PORT. Blocks until stopped (Ctrl-C or "
        "SIGTERM).",
    )
    worker.set_defaults(handler=_cmd_worker)

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
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="multiplies arrivals and staffing (default: 1, about 0.6 events/s)",
    )
    simulate.add_argument(
        "--duration",
        type=_positive_float,
        default=None,
        metavar="S",
        help="seconds of traffic (default: until Ctrl-C; with --fast: 3600)",
    )
    simulate.add_argument(
        "--seed", type=int, default=None, help="simulation seed (default: random)"
    )
    simulate.add_argument(
        "--dirty",
        type=_ratio,
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
        type=_count,
        default=10_000,
        metavar="N",
        help="number of events for --record (default: 10000)",
    )
    simulate.set_defaults(handler=_cmd_simulate)

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
        type=_non_negative_float,
        default=1.0,
        metavar="X",
        help="0: as fast as possible; else the recorded pace times X (default: 1)",
    )
    replay.set_defaults(handler=_cmd_replay)

    doctor = command(
        "doctor",
        "check this machine for what the product and its tests need",
        "Check, without changing anything: the Python version, the runtime packages, the "
        "Debian tools the tests use (promtool, amtool, docker-compose, chromium, "
        "redis-server), every STREAM_* setting, the targets file, the data directory, the "
        "broker at STREAM_BROKER_URL and Redis at STREAM_REDIS_URL. Prints one line per "
        "check with a fix for each problem; exits 1 when a required check failed.",
    )
    doctor.set_defaults(handler=_cmd_doctor)

    wallboard = command(
        "wallboard",
        "serve the live wallboard page (reads snapshots from Redis)",
        "Serve the wallboard: a page with one tile per queue (calls waiting, oldest wait, "
        "service level, ASA and abandon rate today, first responses within target, backlog, "
        "agents available), coloured by the targets and updated live with Server-Sent Events. "
        "Workers publish the snapshots to STREAM_REDIS_URL (required here too). Page options: "
        "/?queues=a,b and /?team=NAME filter the tiles (teams come from the targets file), "
        "/?rotate=15&per=6 pages through them. Endpoints: /events (SSE), /api/snapshots, "
        "/healthz. Blocks until Ctrl-C or SIGTERM.",
    )
    # Options that mirror a setting take its converter and default from stream.config.settings.
    _setting_option(wallboard, "--port", "wallboard_port", "port to listen on")
    _setting_option(wallboard, "--host", "wallboard_host", "address to listen on")
    _setting_option(
        wallboard,
        "--stale-seconds",
        "wallboard_stale_seconds",
        "grey a tile out after S seconds without an update",
        metavar="S",
    )
    _setting_option(
        wallboard,
        "--max-clients",
        "wallboard_max_clients",
        "stream to at most N browsers, answer 503 beyond",
        metavar="N",
    )
    wallboard.set_defaults(handler=_cmd_wallboard)

    schema = command(
        "schema",
        "write the event contract's JSON Schemas and AsyncAPI document",
        "Generate, from the event structs (stream/events.py), one JSON Schema per event type, "
        "events.json (any event, tagged on `type`) and kpi-windows.json (a closed window) into "
        "--out, and the AsyncAPI 3.0 document of the topics, whose messages reference those "
        "files, to --asyncapi. Files whose text is unchanged are left alone; .json files in "
        "--out that are no longer generated are listed, not removed. Topic names are the "
        "defaults (no STREAM_* variable is read); no broker is needed. docs/events.md is the "
        "contract in prose.",
    )
    schema.add_argument(
        "--out",
        default="docs/schemas",
        metavar="DIR",
        help="directory of the JSON Schemas, made when missing (default: docs/schemas)",
    )
    schema.add_argument(
        "--asyncapi",
        default=None,
        metavar="FILE",
        help="the AsyncAPI document (default: asyncapi.yaml beside DIR, e.g. docs/asyncapi.yaml)",
    )
    schema.set_defaults(handler=_cmd_schema)
    return parser


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _settings() -> Settings:
    from stream.config import Settings

    return Settings.from_env()


def _config_error_message(exc: BaseException) -> str | None:
    """One line for a ``ConfigError`` (all its problems), None for any other exception."""
    try:
        from stream.config import ConfigError
    except ImportError:
        return None
    if not isinstance(exc, ConfigError):
        return None
    return "; ".join(exc.errors)


def _kafka_error_message(exc: BaseException) -> str | None:
    from stream.security import AccessError

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


async def _until_signal(coro: Coroutine[Any, Any, _T]) -> tuple[_T | None, bool]:
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


def _check_kafka_access(settings: Settings) -> None:
    """Refused credentials or TLS: one clear error (``AccessError``) before any publishing."""
    from stream.security import check_access

    check_access(settings, redis=False)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("aiokafka").setLevel(logging.WARNING)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from stream.dev import demo

    return demo.main(
        rate=args.rate,
        dirty_ratio=args.dirty,
        seed=args.seed,
        summary_every=args.summary_every,
        source=args.source,
    )


def _cmd_broker(args: argparse.Namespace) -> int:
    from stream.broker import create_topics
    from stream.dev.broker import BrokerStartError, EmbeddedBroker

    settings = None if args.no_topics else _settings()
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    data_dir = args.data_dir or (settings or _settings()).broker_data_dir
    broker = EmbeddedBroker(args.port, log_path=args.log_file, data_dir=data_dir)
    try:
        broker.start()
    except BrokerStartError as exc:
        raise _CliError(f"the broker did not start: {exc}") from exc
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
                raise _CliError(
                    f"the broker exited with status {broker.returncode()}"
                    + (f"; its output ends with:\n{tail}" if tail else "")
                )
    finally:
        broker.stop()
    print("broker stopped")
    return 0


def _cmd_wallboard(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.redis_url is None:
        raise _CliError(
            "STREAM_REDIS_URL is not set: the wallboard reads the snapshots workers publish "
            "there (e.g. STREAM_REDIS_URL=redis://127.0.0.1:6379/0; `make demo` starts one)",
            status=2,
        )
    from stream.security import check_access, redis_options
    from stream.snapshots import key_prefix
    from stream.web.server import run_wallboard

    check_access(settings, kafka=False)  # a refused password: one clear error, exit 1
    run_wallboard(
        settings.redis_url,
        prefix=key_prefix(settings.app_id),
        host=args.host or settings.wallboard_host,
        port=args.port or settings.wallboard_port,
        stale_seconds=args.stale_seconds or settings.wallboard_stale_seconds,
        max_clients=args.max_clients or settings.wallboard_max_clients,
        redis_options=redis_options(settings),
    )
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from stream import doctor

    return doctor.run()


def _cmd_schema(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from stream import schema

    out = Path(args.out)
    asyncapi = Path(args.asyncapi) if args.asyncapi else out.parent / schema.ASYNCAPI_FILE
    ref = Path(os.path.relpath(out.resolve(), asyncapi.resolve().parent)).as_posix()
    files = {out / name: text for name, text in schema.schema_files().items()}
    files[asyncapi] = schema.asyncapi_document(schemas_ref=f"{ref}/")
    changed = 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        asyncapi.parent.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                changed += 1
        stale = sorted(p.name for p in out.glob("*.json") if p not in files)
    except OSError as exc:
        raise _CliError(f"cannot write the schemas: {exc}", status=2) from exc
    files_changed = f"{changed} file{'' if changed == 1 else 's'} changed"
    print(f"{len(files) - 1} schemas in {out}, AsyncAPI in {asyncapi}: {files_changed}")
    if stale:
        print(f"no longer generated (remove them): {', '.join(stale)}")
    return 0


def _cmd_connect_twilio(args: argparse.Namespace) -> int:
    import ipaddress
    import os

    from stream.connectors.twilio.server import ServerOptions, serve
    from stream.connectors.twilio.translate import load_config
    from stream.security import Secret, read_secret

    settings = _settings()
    env_token = os.environ.get("TWILIO_AUTH_TOKEN")
    try:
        token = read_secret(Secret(env_token) if env_token else None, args.auth_token_file)
        config = load_config(args.config)
    except (OSError, ValueError) as exc:
        raise _CliError(str(exc), status=2) from None
    if token is None:
        try:
            loopback = ipaddress.ip_address(args.host).is_loopback
        except ValueError:
            loopback = args.host == "localhost"
        if not (args.insecure_loopback and loopback):
            raise _CliError(
                "no auth token: set TWILIO_AUTH_TOKEN or --auth-token-file (or, for a local "
                "test only, --insecure-loopback on a loopback --host)",
                status=2,
            )
    options = ServerOptions(
        host=args.host,
        port=args.port,
        path=args.path,
        public_url=args.public_url,
        auth_token=token,
        hold_seconds=args.hold_seconds,
    )

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[None] = loop.create_future()

        def finish() -> None:
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, finish)
        await serve(settings, options, config, stop)

    asyncio.run(run())
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings()
    from stream.app import run_worker

    run_worker(settings)
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from stream import simulate

    if args.record is not None:
        from datetime import UTC, datetime

        from stream.paths import writable_file_parent

        writable_file_parent(args.record, "--record")
        seed = args.seed if args.seed is not None else 1
        end = datetime.now(UTC).replace(microsecond=0)
        start = simulate.start_ending_at(end, args.events, seed, rate_multiplier=args.rate)
        written = simulate.write_ndjson(
            args.record, args.events, seed, start, rate_multiplier=args.rate
        )
        print(f"wrote {written} events to {args.record} (seed {seed})")
        return 0

    settings = _settings()
    _check_kafka_access(settings)
    stats = simulate.PublishStats()
    mode = "at full speed" if args.fast else "in real time (Ctrl-C stops)"
    print(f"publishing simulated traffic to {settings.broker_url} {mode}", flush=True)
    _, interrupted = asyncio.run(
        _until_signal(
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


def _cmd_replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from stream import simulate

    settings = _settings()
    _check_kafka_access(settings)
    try:
        total = simulate.count_lines(args.file)
    except OSError as exc:
        raise _CliError(f"cannot read {args.file}: {exc.strerror or exc}", status=2) from exc
    with tqdm(total=total, unit="ev", desc="replay", dynamic_ncols=True) as bar:
        result, interrupted = asyncio.run(
            _until_signal(
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


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "worker":  # the worker configures logging from its settings
        _configure_logging(args.verbose)
    try:
        status: int = args.handler(args)
    except _CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = _config_error_message(exc)
        if message is not None:
            print(f"configuration error: {message}", file=sys.stderr)
            return 2
        message = _kafka_error_message(exc)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            return 1
        raise
    return status


if __name__ == "__main__":
    sys.exit(main())

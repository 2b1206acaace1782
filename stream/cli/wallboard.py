"""``python -m stream wallboard``: the live wallboard page (the work is in ``stream.web``)."""

from __future__ import annotations

import argparse

from stream.cli.common import CliError, Command, setting_option, settings_from_env


def add_parsers(command: Command, epilog: str) -> None:
    """Add this module's commands; ``command`` makes each parser, ``epilog`` ends each help."""
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
    setting_option(wallboard, "--port", "wallboard_port", "port to listen on")
    setting_option(wallboard, "--host", "wallboard_host", "address to listen on")
    setting_option(
        wallboard,
        "--stale-seconds",
        "wallboard_stale_seconds",
        "grey a tile out after S seconds without an update",
        metavar="S",
    )
    setting_option(
        wallboard,
        "--max-clients",
        "wallboard_max_clients",
        "stream to at most N browsers, answer 503 beyond",
        metavar="N",
    )
    wallboard.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    if settings.redis_url is None:
        raise CliError(
            "STREAM_REDIS_URL is not set: the wallboard reads the snapshots workers publish "
            "there (e.g. STREAM_REDIS_URL=redis://127.0.0.1:6379/0; `make demo` starts one)",
            status=2,
        )
    from stream.config.security import check_access, redis_options
    from stream.export.snapshots import key_prefix
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

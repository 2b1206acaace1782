"""``python -m stream connect webhooks``: its arguments and what it runs (thin; the work is in
``server``)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from stream.cli.common import serve_until_signal

DESCRIPTION = (
    "Serve the webhook gateway: one route per helpdesk source configured in --config "
    "(POST /webhooks/<name>: Chatwoot, Zendesk, Zammad, verified the way each vendor signs) "
    "and POST /v1/events for contract events from any system (JSON array or NDJSON, bearer "
    "token). Every answer comes after the broker acknowledged the events (503 + Retry-After "
    "while it is down). /openapi.json, /metrics and /healthz on the same port. Binds "
    "127.0.0.1 unless told otherwise; an unsigned route is allowed only on loopback. See "
    "docs/connectors/webhooks.md."
)


def add_parser(vendors: argparse._SubParsersAction[argparse.ArgumentParser], epilog: str) -> None:
    parser = vendors.add_parser(
        "webhooks",
        help="serve the webhook gateway (Chatwoot, Zendesk, Zammad, generic /v1/events)",
        description=DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help="the gateway's YAML config: sources, their secrets' files, the generic token",
    )
    parser.add_argument("--host", default=None, help="bind address (default: the config's, "
                        "else 127.0.0.1)")  # fmt: skip
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: the "
                        "config's, else 8090)")  # fmt: skip
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stream.config import Settings
    from stream.connectors.webhooks.config import load_gateway_config
    from stream.connectors.webhooks.server import is_loopback, serve, unsigned_routes
    from stream.connectors.webhooks.source import GatewayConfigError, build_source

    try:
        config = load_gateway_config(args.config)
        if args.host is not None:
            config = dataclasses.replace(config, host=args.host)
        if args.port is not None:
            config = dataclasses.replace(config, port=args.port)
        sources = [build_source(entry) for entry in config.sources]
    except GatewayConfigError as exc:
        print(f"webhooks: {exc}", file=sys.stderr)
        return 2
    open_routes = unsigned_routes(config)
    if open_routes and not is_loopback(config.host):
        print(f"webhooks: {', '.join(open_routes)} would take unsigned requests: allowed only "
              f"on a loopback address, not {config.host}", file=sys.stderr)  # fmt: skip
        return 2
    settings = Settings.from_env()

    serve_until_signal(lambda stop: serve(settings, config, sources, stop))
    return 0

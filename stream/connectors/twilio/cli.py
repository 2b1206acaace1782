"""``python -m stream connect twilio``: its arguments and what it runs (thin; the work is in
``server``)."""

from __future__ import annotations

import argparse

from stream.cli.common import (
    CliError,
    non_negative_float,
    port,
    serve_until_signal,
    settings_from_env,
)


def add_parser(vendors: argparse._SubParsersAction[argparse.ArgumentParser], epilog: str) -> None:
    twilio = vendors.add_parser(
        "twilio",
        help="serve the Twilio TaskRouter Event Callback URL",
        description="Serve TaskRouter's Workspace Event Callback URL: verify X-Twilio-Signature "
        "against --public-url with the auth token (TWILIO_AUTH_TOKEN or --auth-token-file), "
        "translate each callback, publish it in task lifecycle order and answer 204 only after "
        "the broker's acknowledgement (503 + Retry-After while it is down). /metrics on the "
        "same port. docs/connectors/twilio.md.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    twilio.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    twilio.add_argument("--port", type=port, default=8089, help="TCP port (default: 8089)")
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
        type=non_negative_float,
        default=2.0,
        metavar="S",
        help="longest wait for a task's earlier callbacks (default: 2)",
    )
    twilio.add_argument(
        "--insecure-loopback",
        action="store_true",
        help="run without an auth token (signatures not checked); only on a loopback address",
    )
    twilio.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import ipaddress
    import os

    from stream.config.secrets import Secret, read_secret
    from stream.connectors.twilio.server import ServerOptions, serve
    from stream.connectors.twilio.settings import load_config

    settings = settings_from_env()
    env_token = os.environ.get("TWILIO_AUTH_TOKEN")
    try:
        token = read_secret(Secret(env_token) if env_token else None, args.auth_token_file)
        config = load_config(args.config)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc), status=2) from None
    if token is None:
        try:
            loopback = ipaddress.ip_address(args.host).is_loopback
        except ValueError:
            loopback = args.host == "localhost"
        if not (args.insecure_loopback and loopback):
            raise CliError(
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

    serve_until_signal(lambda stop: serve(settings, options, config, stop))
    return 0

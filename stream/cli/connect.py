"""``python -m stream connect <connector>``: the group; each connector owns its arguments and what
it runs (``stream.connectors.<vendor>.cli``)."""

from __future__ import annotations

from stream.cli.common import Command


def add_parsers(command: Command, epilog: str) -> None:
    """Add ``connect`` and its connectors; ``command`` makes the group's parser."""
    connect = command(
        "connect",
        "translate a PBX's or vendor's events into contract events",
        "Run a connector: it turns what a contact-centre system emits into contract events on "
        "the input topics (docs/connectors/).",
    )
    connectors = connect.add_subparsers(dest="connector", metavar="<connector>", required=True)
    from stream.connectors.twilio import cli as twilio_cli

    twilio_cli.add_parser(connectors, epilog)
    from stream.connectors.asterisk import cli as asterisk_cli

    asterisk_cli.add_parser(connectors, epilog)
    from stream.connectors.webhooks import cli as webhooks_cli

    webhooks_cli.add_parser(connectors, epilog)

"""The command line, one module per command (see ``stream.cli.main``)."""

from __future__ import annotations

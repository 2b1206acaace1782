"""``python -m stream``: runs the command line (``stream.cli.main``)."""

from __future__ import annotations

import sys

from stream.cli.main import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())

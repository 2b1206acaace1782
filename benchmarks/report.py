"""Sections of ``docs/benchmarks.md`` that a benchmark owns and rewrites on its own."""

from __future__ import annotations

from pathlib import Path


def replace_section(doc: Path, heading: str, text: str) -> None:
    """Put ``text`` (which starts with ``heading``, a ``## `` line) in place of that section.

    The section runs from its heading to the next ``## `` heading; it is appended when the
    report has none yet. The rest of the report stays as it is.
    """
    report = doc.read_text() if doc.exists() else "# Benchmarks\n"
    head, found, tail = report.partition("\n" + heading + "\n")
    rest = ""
    if found:
        after = tail.split("\n## ", 1)
        rest = "\n## " + after[1] if len(after) == 2 else ""
    doc.write_text(head.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + rest)

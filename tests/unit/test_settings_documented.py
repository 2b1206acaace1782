"""Every ``STREAM_*`` setting is documented in the README's settings table, and only real ones.

The table abbreviates variables of one family in a row (``STREAM_TOPIC_TICKETS``, ``_CALLS``):
an abbreviation stands for the row's first full name up to one of its underscores, plus it.
"""

from __future__ import annotations

import re
from pathlib import Path

from stream.config import ENV_VARIABLES

README = Path(__file__).resolve().parents[2] / "README.md"


def documented() -> set[str]:
    """The variables the README's configuration table names (its rows' first cells)."""
    names: set[str] = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `STREAM_"):
            continue
        cell = line.split("|")[1]
        words = re.findall(r"`(_?[A-Z0-9_]+)`", cell)
        full = words[0]
        names.add(full)
        for word in words[1:]:
            if word.startswith("STREAM_"):
                full = word
                names.add(word)
                continue
            cuts = [i for i, char in enumerate(full) if char == "_"]
            candidates = {full[:i] + word for i in cuts} & set(ENV_VARIABLES)
            assert len(candidates) == 1, (line, word, candidates)
            names |= candidates
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [name for name in ENV_VARIABLES if name not in documented()]
    assert missing == []


def test_the_readme_table_names_only_settings() -> None:
    assert sorted(documented() - set(ENV_VARIABLES)) == []


def test_the_table_is_read_whole() -> None:
    # A parser that read nothing would pass the test above: the table has one name per setting.
    assert len(documented()) == len(ENV_VARIABLES) == 58

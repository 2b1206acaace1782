"""``benchmarks.profile``'s tables from py-spy's raw stacks: own, inclusive, by package."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from benchmarks.parts import ROOT
from benchmarks.profile import Options, Profile, package, read_raw, section

STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
SITE = "/x/.venv/lib/python3.11/site-packages"


def test_frames_are_counted_own_at_the_leaf_and_once_per_stack_inclusive() -> None:
    book = f"book ({ROOT}/stream/stages/aggregate.py:12)"
    decode = f"decode ({SITE}/msgspec/__init__.py:3)"
    loop = f"run_forever ({STDLIB}/asyncio/base_events.py:608)"
    raw = [
        f'process 1:"python -m stream worker";thread (0x1);{loop};{book};{decode} 6\n',
        f"{loop};{book};{book} 3\n",  # recursion: inclusive counts the stack once
        f"{loop} 1\n",
        "garbage\n",
    ]
    p = Profile(Options())
    read_raw(raw, p)
    assert p.samples == 10
    assert p.own == {
        "decode (msgspec/__init__.py)": 6,
        "book (stream/stages/aggregate.py)": 3,
        "run_forever (asyncio/base_events.py)": 1,
    }
    assert p.inclusive["run_forever (asyncio/base_events.py)"] == 10
    assert p.inclusive["book (stream/stages/aggregate.py)"] == 9
    assert p.packages == {"msgspec": 6, "stream": 3, "stdlib: asyncio": 1}
    text = section(p, "profile.svg")
    assert "| 1 | `decode (msgspec/__init__.py)` | 60.0 % | 60.0 % |" in text
    assert "| 2 | `book (stream/stages/aggregate.py)` | 30.0 % | 90.0 % |" in text
    assert "| stdlib: asyncio | 10.0 % |" in text


def test_packages_of_paths() -> None:
    assert package(f"{SITE}/faust/agents/agent.py") == "faust"
    assert package(f"{SITE}/six.py") == "six"
    assert package(f"{ROOT}/benchmarks/run.py") == "benchmarks"
    assert package(f"{STDLIB}/json/decoder.py") == "stdlib: json"
    assert package("/somewhere/else.py") == "other"
    assert package("<frozen runpy>") == "<frozen runpy>"

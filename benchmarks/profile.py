"""``make profile``: where a worker's time goes on the bench set, as a flame graph and a table.

Owns the profile run: the embedded broker, the bench event set (``benchmarks.run.record``, the
same events ``make bench`` measures) published to it, one ``python -m stream worker`` reading it
from a cold start, and the sampling profiler ``py-spy`` attached to that worker from its first
processed event to its last (two samplers side by side, ``--nonblocking``: one writes the SVG
flame graph, the other the raw stacks the tables are made of). Idle time is not sampled.

It writes ``docs/profile-worker.svg`` and its section of ``docs/benchmarks.md``: the top
functions by own time (the leaf of each sample) with their inclusive share, and own time by
package (this project, Faust and mode, aiokafka, msgspec, the standard library ...). Nothing
here asserts timing; the tests run ``--smoke``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import aiohttp

from benchmarks.parts import PARTITIONS, ROOT, Plan, Worker, publish_file, record, topic_settings
from benchmarks.report import replace_section
from stream.broker import create_topics
from stream.dev.broker import EmbeddedBroker

HEADING: Final = "## Profile"
TOP: Final = 15
_FRAME: Final = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
_STDLIB: Final = Path(sysconfig.get_paths()["stdlib"]).resolve()


@dataclass(frozen=True, slots=True)
class Options:
    """What one profile run reads and how densely it samples."""

    events: int = 1_000_000
    queues: int = 40
    rate: int = 100
    """Samples per second."""
    timeout: float = 900.0


SMOKE: Final = Options(events=3000, queues=6, rate=50, timeout=180.0)


@dataclass(slots=True)
class Profile:
    """Sample counts of one run: by function (own and inclusive) and by package (own)."""

    options: Options
    samples: int = 0
    seconds: float = 0.0
    own: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    packages: Counter[str] = field(default_factory=Counter)


def package(path: str) -> str:
    """The package a frame's file belongs to: ``stream``, ``faust``, ``stdlib: asyncio`` ..."""
    p = Path(path)
    parts = p.parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else "site-packages"
    try:
        inside = p.resolve().relative_to(ROOT)
    except (ValueError, OSError):
        inside = None
    if inside is not None and inside.parts:
        return inside.parts[0]
    try:
        std = p.resolve().relative_to(_STDLIB)
    except (ValueError, OSError):
        return "other" if p.is_absolute() else (path or "other")
    return "stdlib: " + (std.parts[0].removesuffix(".py") if std.parts else "?")


def _function(frame: str) -> tuple[str, str]:
    """("function (short/path.py)", package) of one raw frame, line numbers dropped."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), "other"
    path = match["path"]
    pkg = package(path)
    short = path
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in short:
            short = short.split(marker, 1)[1]
    if short.startswith(str(_STDLIB)):
        short = short[len(str(_STDLIB)) + 1 :]
    return f"{match['function']} ({short})", pkg


def read_raw(lines: Iterable[str], profile: Profile) -> None:
    """Add py-spy's raw (collapsed) stacks, ``frame;frame;...;leaf count`` per line."""
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_function(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f[0].startswith("thread (")]
        if not frames:
            continue
        profile.samples += n
        leaf, pkg = frames[-1]
        profile.own[leaf] += n
        profile.packages[pkg] += n
        for name in {name for name, _ in frames}:
            profile.inclusive[name] += n


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: `make venv` installs it (dev group)")
    return found


def _sampler(pid: int, rate: int, fmt: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [_py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking",
         "--full-filenames", "--format", fmt, "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _stop_sampler(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise RuntimeError("py-spy did not write its output") from None
    if proc.returncode not in (0, -signal.SIGINT, 130):
        raise RuntimeError(f"py-spy failed ({proc.returncode}): {err.decode()[-2000:]}")


async def measure(work: Path, svg: Path, options: Options) -> Profile:
    """The profile of one cold worker through the whole bench set."""
    work.mkdir(parents=True, exist_ok=True)
    svg.parent.mkdir(parents=True, exist_ok=True)
    raw = work / "worker.raw"
    plan = Plan(events=options.events, queues=options.queues, timeout=options.timeout)
    out = Profile(options)
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        data = work / "events.ndjson"
        total = await asyncio.to_thread(record, data, plan, datetime.now(UTC))
        settings = topic_settings(broker, "profile")
        await create_topics(broker.bootstrap, settings.input_topics, PARTITIONS)
        worker = Worker(settings, "profile-worker", work)
        samplers: list[subprocess.Popen[bytes]] = []
        try:
            async with aiohttp.ClientSession() as session:
                worker.start()
                assert worker.proc is not None
                await worker.wait_ready(session, options.timeout)
                pid = worker.proc.pid
                samplers = [_sampler(pid, options.rate, fmt, path)
                            for fmt, path in (("flamegraph", svg), ("raw", raw))]  # fmt: skip
                started = time.perf_counter()
                await publish_file(settings, data, total)
                deadline = started + options.timeout
                done = 0.0
                while done < total:
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"the worker processed {done:.0f}/{total}")
                    await asyncio.sleep(0.1)
                    done = await worker.processed(session) or 0.0
                if done != total:
                    raise RuntimeError(f"the worker counted {done:.0f} events of {total}")
                out.seconds = time.perf_counter() - started
        finally:
            for proc in samplers:
                _stop_sampler(proc)
            worker.stop()
    with raw.open(encoding="utf-8") as fh:
        read_raw(fh, out)
    return out


def section(p: Profile, svg: str) -> str:
    """The report's section (heading to the next one)."""
    share = 100 / max(p.samples, 1)
    rows = [
        f"| {i} | `{name}` | {n * share:.1f} % | {p.inclusive[name] * share:.1f} % |"
        for i, (name, n) in enumerate(p.own.most_common(TOP), 1)
    ]
    packages = [f"| {name} | {n * share:.1f} % |" for name, n in p.packages.most_common()]
    o = p.options
    return "\n".join([
        HEADING,
        "",
        f"Written by `make profile` (`python -m benchmarks.profile`): one cold worker through "
        f"{o.events:,} bench events ({o.queues} queues, the set `make bench` measures), sampled "
        f"by py-spy at {o.rate}/s while the set was published at full speed and read "
        f"({p.seconds:.1f} s, {p.samples:,} samples of busy threads; start-up and idle time "
        f"are not sampled). Flame graph: [`{svg}`]({svg}). *Own* is the share of samples whose "
        "innermost frame is the function; *inclusive* the share with the function anywhere "
        "on the stack.",
        "",
        "| # | function (file) | own | inclusive |",
        "|---|---|---|---|",
        *rows,
        "",
        "Own time by package:",
        "",
        "| package | own |",
        "|---|---|",
        *packages,
        "",
    ])  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    d = Options()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile",
        description="Profile one worker through the bench event set with py-spy: a flame graph "
        "(SVG) and the top functions and packages in docs/benchmarks.md.",
    )
    parser.add_argument("--events", type=int, default=d.events,
                        help="size of the event set (default %(default)s)")  # fmt: skip
    parser.add_argument("--queues", type=int, default=d.queues,
                        help="queues in the event set (default %(default)s)")  # fmt: skip
    parser.add_argument("--rate", type=int, default=d.rate,
                        help="samples per second (default %(default)s)")  # fmt: skip
    parser.add_argument("--smoke", action="store_true", help="a tiny run (used by the tests)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "profile",
                        help="broker and worker logs, the event set, the raw stacks")  # fmt: skip
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--svg", type=Path, default=ROOT / "docs" / "profile-worker.svg")
    args = parser.parse_args(argv)
    options = SMOKE if args.smoke else Options(args.events, args.queues, args.rate)
    result = asyncio.run(measure(args.work_dir, args.svg, options))
    text = section(result, os.path.relpath(args.svg, args.doc.parent))
    replace_section(args.doc, HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

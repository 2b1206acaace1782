"""``python -m benchmarks.wallboard``: the wallboard page at scale, measured in a real browser.

Owns the wallboard benchmark. One measurement starts a real ``redis-server``, a
``python -m stream wallboard`` process and Debian's Chromium (headless, driven by Playwright),
publishes ``tiles`` queue snapshots and opens the page; once every tile is drawn it changes
``changes_per_second`` random tiles a second for ``seconds``, published exactly as a worker does
(``SnapshotPublisher`` every ``PUBLISH_INTERVAL_SECONDS``, with its heartbeats: an unchanged
snapshot is written again every ``HEARTBEAT_SECONDS``, so 500 tiles also mean 250 heartbeat
messages a second). The page's main thread is measured with the Chrome DevTools Protocol
(``Performance.getMetrics``): busy = task time ÷ wall time over the run, and its script,
layout and style parts. After the run the page must show every tile's last value (the run
fails otherwise) and the time it took to catch up is reported.

``--baseline REF`` measures the same with the wallboard (server and page) of an earlier commit,
extracted with ``git archive`` (``BASELINE_REF``: the page that redrew every tile on every
event). ``make bench`` runs both through ``benchmarks.run`` and writes a section of
``docs/benchmarks.md``; nothing here asserts timing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from stream.dev.processes import find_free_port
from stream.dev.redis_server import RedisServer, redis_server_binary
from stream.export.queue_snapshot import QueueSnapshot, statuses
from stream.export.snapshots import (
    HEARTBEAT_SECONDS,
    PUBLISH_INTERVAL_SECONDS,
    SnapshotPublisher,
    key_prefix,
)

ROOT: Final = Path(__file__).resolve().parent.parent
CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: Final = {"width": 1920, "height": 1080}
BASELINE_REF: Final = "148414c"
"""The last commit whose page redrew every tile on every snapshot."""
_APP_ID: Final = "wallboard-bench"


@dataclass(frozen=True, slots=True)
class Plan:
    """How big one measurement is."""

    tiles: int = 500
    changes_per_second: float = 50.0
    seconds: float = 25.0
    seed: int = 11
    timeout: float = 120.0
    agents: int = 0
    """Agents listed on every tile (``agent_list``); a changed tile changes its list too."""


SMOKE: Final = Plan(tiles=20, changes_per_second=10.0, seconds=3.0, timeout=60.0)


@dataclass(slots=True)
class Measurement:
    """One run of the page: its main thread's time, split by kind (seconds), and the traffic."""

    label: str
    plan: Plan
    wall_seconds: float = 0.0
    task_seconds: float = 0.0
    script_seconds: float = 0.0
    layout_seconds: float = 0.0
    style_seconds: float = 0.0
    other_seconds: float = 0.0
    """Task time that is neither script, layout nor style (painting, parsing the stream...)."""
    layouts: int = 0
    thread_seconds: float = 0.0
    """CPU time of the page's main thread (``ThreadTime``): unlike task durations, which are
    wall time, it does not grow while the OS runs other processes in the middle of a task."""
    load_average: float = 0.0
    """The machine's 1-minute load average at the end of the run."""
    changes: int = 0
    messages: int = 0
    """Snapshots written to Redis (changes + heartbeats): each is one SSE event per browser."""
    catch_up_seconds: float | None = None
    """From the last publish until the page showed every tile's last value (``None``: not
    within the plan's timeout; only allowed for the baseline)."""
    tiles_drawn: int | None = None
    """Tiles the page compared and drew (``window.wallboardStats``; ``None``: older page)."""

    @property
    def busy(self) -> float:
        return self.task_seconds / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu(self) -> float:
        return self.thread_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def share(self, seconds: float) -> float:
        return seconds / self.wall_seconds if self.wall_seconds else 0.0


_STATES: Final = ("available", "busy", "after_call_work", "away")


def _agents(n: int, turn: int) -> list[dict[str, Any]]:
    """``n`` rows of an agent list; every ``turn`` moves each agent to the next state."""
    rows = []
    for i in range(n):
        state = _STATES[(i + turn) % len(_STATES)]
        since = -45.0 * (n - i) - turn  # the snapshot is taken at 0.0: positive durations
        rows.append({
            "agent_id": f"agent-{i:03d}",
            "state": state,
            "reason": "lunch" if state == "away" else None,
            "since": since,
            "handling_since": since - 30.0 if state in ("busy", "after_call_work") else None,
        })  # fmt: skip
    return rows


def _snapshot(
    name: str, version: int, waiting: int, oldest: float, agents: int = 0, turn: int = 0
) -> QueueSnapshot:
    snap = QueueSnapshot(
        queue=name,
        team=None,
        at=0.0,
        version=version,
        calls_waiting=waiting,
        oldest_call_waiting_seconds=oldest,
        service_level_today=0.8,
        average_speed_of_answer_today_seconds=18.0,
        abandon_rate_today=0.04,
        first_response_within_target_today=0.9,
        backlog=12,
        tickets_awaiting_first_response=3,
        agents_available=2,
        answer_target_seconds=20.0,
        service_level_goal=0.8,
        agent_list=_agents(agents, turn),
        agents_listed_of=agents,
    )
    return dataclasses.replace(snap, status=statuses(snap))


def baseline_tree(ref: str, into: Path) -> Path:
    """The ``stream`` package of commit ``ref``, extracted under ``into`` (``git archive``)."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    archive = into / "stream.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "stream"],
            stdout=out,
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return into


class _Wallboard:
    """``python -m stream wallboard`` from the source tree ``source`` on a free port."""

    def __init__(self, source: Path, redis_url: str, log_path: Path) -> None:
        self.port = find_free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
        env.update(
            PYTHONPATH=str(source),
            STREAM_REDIS_URL=redis_url,
            STREAM_APP_ID=_APP_ID,
            STREAM_WALLBOARD_PORT=str(self.port),
        )
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream", "wallboard"],
                cwd=source,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"wallboard exited: {self.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.url + "healthz", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


_SHOWN_WAITING: Final = """() => {
  const out = {};
  for (const kpi of document.querySelectorAll('.tile .kpi[data-field="calls_waiting"]')) {
    out[kpi.closest('.tile').dataset.queue] = kpi.querySelector('.value').textContent;
  }
  return out;
}"""


async def measure(
    label: str, source: Path, plan: Plan, work: Path, *, must_catch_up: bool = True
) -> Measurement:
    """One measurement of the wallboard in ``source`` (a tree holding the ``stream`` package);
    fails if the page does not show every last value in time, unless not ``must_catch_up``."""
    from playwright.async_api import async_playwright

    out = Measurement(label, plan)
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(plan.seed)
    names = [f"queue-{i:03d}" for i in range(plan.tiles)]
    state = {name: [1, rng.randrange(0, 20), float(rng.randrange(0, 300))] for name in names}

    def snaps() -> list[QueueSnapshot]:
        # The version counts the changes of a tile: it also turns its agents' states.
        return [
            _snapshot(n, int(v), int(w), float(o), plan.agents, int(v))
            for n, (v, w, o) in state.items()
        ]

    redis = RedisServer(
        binary=redis_server_binary(prefer_system=True), log_path=work / "redis.log"
    ).start()
    publisher = SnapshotPublisher(redis.url, prefix=key_prefix(_APP_ID), worker="bench")
    wallboard: _Wallboard | None = None
    try:
        assert await publisher.publish(snaps()) == plan.tiles
        wallboard = _Wallboard(source, redis.url, work / "wallboard.log")

        async def healthy() -> bool:
            assert wallboard is not None
            return await asyncio.to_thread(wallboard.healthy)

        await _until(healthy, plan.timeout, "the wallboard server")
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            await page.goto(wallboard.url)
            await page.wait_for_function(
                f"document.querySelectorAll('.tile').length === {plan.tiles}",
                timeout=plan.timeout * 1000,
            )
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            drawn_before = await page.evaluate("() => window.wallboardStats?.tilesDrawn ?? null")
            before = await _metrics(cdp)
            per_tick = plan.changes_per_second * PUBLISH_INTERVAL_SECONDS
            owed = 0.0
            loop = asyncio.get_running_loop()
            started = loop.time()
            for ticks in range(1, round(plan.seconds / PUBLISH_INTERVAL_SECONDS) + 1):
                owed += per_tick
                for name in rng.sample(names, int(owed)):
                    entry = state[name]
                    entry[0] += 1
                    entry[1] = (int(entry[1]) + rng.randrange(1, 20)) % 20  # always shows
                    entry[2] = float(rng.randrange(0, 300))
                    out.changes += 1
                owed -= int(owed)
                out.messages += await publisher.publish(snaps())
                await asyncio.sleep(
                    max(0.0, started + ticks * PUBLISH_INTERVAL_SECONDS - loop.time())
                )
            after = await _metrics(cdp)
            published_at = time.monotonic()
            expected = {n: str(int(w)) for n, (_, w, _) in state.items()}

            async def caught_up() -> bool:
                shown: dict[str, str] = await page.evaluate(_SHOWN_WAITING)
                return shown == expected

            try:
                await _until(caught_up, plan.timeout, "the page to show every last value")
            except TimeoutError:
                if must_catch_up:
                    raise
            else:
                out.catch_up_seconds = time.monotonic() - published_at
            drawn_after = await page.evaluate("() => window.wallboardStats?.tilesDrawn ?? null")
            if drawn_before is not None and drawn_after is not None:
                out.tiles_drawn = int(drawn_after) - int(drawn_before)
            await browser.close()
        out.wall_seconds = after["Timestamp"] - before["Timestamp"]
        out.task_seconds = after["TaskDuration"] - before["TaskDuration"]
        out.script_seconds = after["ScriptDuration"] - before["ScriptDuration"]
        out.layout_seconds = after["LayoutDuration"] - before["LayoutDuration"]
        out.style_seconds = after["RecalcStyleDuration"] - before["RecalcStyleDuration"]
        out.other_seconds = after["TaskOtherDuration"] - before["TaskOtherDuration"]
        out.layouts = int(after["LayoutCount"] - before["LayoutCount"])
        out.thread_seconds = after["ThreadTime"] - before["ThreadTime"]
        out.load_average = os.getloadavg()[0]
    finally:
        if wallboard is not None:
            wallboard.stop()
        await publisher.close()
        redis.stop()
    return out


async def _metrics(cdp: Any) -> dict[str, float]:
    reply = await cdp.send("Performance.getMetrics")
    return {m["name"]: float(m["value"]) for m in reply["metrics"]}


async def run(plan: Plan, work: Path, baseline: str | None) -> list[Measurement]:
    """The baseline's measurement (when asked and its tree can be extracted), then this tree's."""
    results: list[Measurement] = []
    if baseline:
        try:
            tree = baseline_tree(baseline, work / "baseline-tree")
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"baseline {baseline} not measured: {exc}", file=sys.stderr)
        else:
            before = await measure(
                f"before ({baseline})", tree, plan, work / "baseline", must_catch_up=False
            )
            results.append(before)
            _say(results[-1])
    results.append(await measure("after (this tree)", ROOT, plan, work / "current"))
    _say(results[-1])
    return results


def _say(m: Measurement) -> None:
    print(
        f"wallboard, {m.label}: main thread {m.busy:.1%} busy, {m.changes} changes, "
        f"{m.messages} messages, caught up: "
        + ("no" if m.catch_up_seconds is None else f"{m.catch_up_seconds:.1f} s after the last"),
        file=sys.stderr,
    )


def report(results: Sequence[Measurement], heading: str = "## Wallboard") -> str:
    """The ``## Wallboard`` section of ``docs/benchmarks.md`` (or another ``heading``)."""
    if not results:
        return ""
    p = results[-1].plan
    rows = []
    for m in results:
        per_message = (
            "" if m.tiles_drawn is None or not m.messages else f"{m.tiles_drawn / m.messages:.2f}"
        )
        met = "yes" if m.busy < 0.20 and m.catch_up_seconds is not None else "**no**"
        caught = (
            f"not within {m.plan.timeout:g} s"
            if m.catch_up_seconds is None
            else f"{m.catch_up_seconds:.1f} s"
        )
        rows.append(
            f"| {m.label} | {m.busy:.1%} | {m.cpu:.1%} | {m.share(m.script_seconds):.1%} "
            f"| {m.share(m.layout_seconds):.1%} | {m.share(m.style_seconds):.1%} "
            f"| {m.share(m.other_seconds):.1%} | {m.share(m.layouts):.1f} "
            f"| {m.changes:,} / {m.messages:,} | {per_message or '—'} "
            f"| {caught} | {m.load_average:.1f} | {met} |"
        )
    lines = [
        heading,
        "",
        f"{p.tiles} tiles"
        + (f" listing {p.agents} agents each" if p.agents else "")
        + f", {p.changes_per_second:g} tile changes/s for {p.seconds:g} s, "
        f"published as a worker does (every {PUBLISH_INTERVAL_SECONDS:g} s, plus a heartbeat "
        f"of every unchanged tile each {HEARTBEAT_SECONDS:g} s); one headless Chromium page "
        f"{VIEWPORT['width']}×{VIEWPORT['height']}. Main-thread time from the DevTools "
        "protocol (`Performance.getMetrics`: TaskDuration, ScriptDuration, LayoutDuration, "
        "RecalcStyleDuration, TaskOtherDuration, LayoutCount, ThreadTime) over the run's wall "
        "time. Target: busy (task time ÷ wall time) < 20 %. Task times are wall time, so on a "
        "busy machine they include time the OS gave other processes mid-task; the main "
        "thread's CPU time (ThreadTime) does not, hence both, with the load average.",
        "",
        "| page | main thread busy | main thread CPU | script | layout | style | other "
        "| layouts/s | changes / messages | tiles drawn per message | caught up after the last "
        "| load average | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        '"before" is the wallboard (server and page) of the commit named, extracted with '
        "`git archive`, under the same load. Each message is one SSE event to the page; "
        '"caught up" is the time from the last publish until the page showed every tile\'s '
        "last value; the page before redrew all its tiles for each message and keeps no "
        "count. Reproduce: `.venv/bin/python -m benchmarks.wallboard`.",
        "",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    d = Plan()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.wallboard",
        description="Measure the wallboard page's main thread in headless Chromium under load.",
    )
    parser.add_argument("--tiles", type=int, default=d.tiles)
    parser.add_argument("--changes-per-second", type=float, default=d.changes_per_second)
    parser.add_argument("--seconds", type=float, default=d.seconds)
    parser.add_argument("--agents", type=int, default=d.agents,
                        help="agents listed on every tile")  # fmt: skip
    parser.add_argument("--baseline", default=BASELINE_REF, metavar="REF",
                        help="also measure the wallboard of this commit ('' to skip)")  # fmt: skip
    parser.add_argument("--smoke", action="store_true", help="a tiny run, no baseline")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-wallboard")
    parser.add_argument("--section", metavar="HEADING",
                        help="also write the report into docs/benchmarks.md under this ## heading"
                        )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.smoke:
        plan, baseline = SMOKE, None
    else:
        plan = Plan(tiles=args.tiles, changes_per_second=args.changes_per_second,
                    seconds=args.seconds, agents=args.agents)  # fmt: skip
        baseline = args.baseline or None
    results = asyncio.run(run(plan, args.work_dir, baseline))
    (args.work_dir / "results.json").write_text(
        json.dumps([{**dataclasses.asdict(m), "busy": m.busy} for m in results], indent=2)
    )
    if args.section:
        from benchmarks.report import replace_section

        heading = args.section if args.section.startswith("## ") else f"## {args.section}"
        replace_section(ROOT / "docs" / "benchmarks.md", heading, report(results, heading))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

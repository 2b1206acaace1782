"""The wallboard server: snapshots from Redis, pushed to browsers with Server-Sent Events.

Endpoints (``python -m stream wallboard``; port ``STREAM_WALLBOARD_PORT``, default 8080):

* ``/``: the page (``static/wallboard.html``, plain JS and CSS, no build step, no CDN);
  ``?queues=a,b`` and ``?team=T`` filter the tiles, ``?rotate=S`` pages through them every S
  seconds (``&per=N`` tiles a page).
* ``/events``: an SSE stream: ``hello`` (configuration and every snapshot), then ``snapshot``
  (one queue's new snapshot), ``reset`` (all snapshots again, after Redis came back) and
  ``clock`` (every few seconds: server time and whether Redis is reachable).
* ``/api/snapshots``: the same state as one JSON document; ``/healthz``: 200 when Redis is up,
  with the number of streams open, the cap and how many were refused.

One process serves at most ``max_clients`` streams (``STREAM_WALLBOARD_MAX_CLIENTS``): beyond
that ``/events`` answers 503 with ``Retry-After`` and a JSON body saying why, before any stream
state is allocated, and the page retries later (an ``EventSource`` gives up on a 503 by itself).
Updates are sent in batches every ``BATCH_SECONDS``: one write per browser per batch, however
many snapshots arrived, so the cost of fanning out grows with the browsers, not with
browsers × snapshots.

One ``Hub`` per server follows Redis (one subscription, whatever the number of browsers) and
keeps the latest snapshot of every queue. If Redis goes away the page keeps its last values,
tiles grey out as they age, and the hub reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from stream.export.snapshots import SnapshotReader

__all__ = ["STATIC_DIR", "Hub", "create_app", "run_wallboard"]

log = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
CLOCK_SECONDS: Final = 5.0
CLIENT_QUEUE_SIZE: Final = 1000
RECONNECT_MAX_SECONDS: Final = 5.0
_RETRY_MS: Final = 2000  # how long a browser waits before reconnecting a dropped stream
MAX_CLIENTS: Final = 100
"""Default cap of SSE streams per wallboard process (``STREAM_WALLBOARD_MAX_CLIENTS``)."""
RETRY_AFTER_SECONDS: Final = 10
"""``Retry-After`` of a refused stream."""
BATCH_SECONDS: Final = 0.1
"""Updates are gathered this long and written to every browser as one chunk."""
_REFUSAL_LOG_EVERY: Final = 60.0


def sse(event: str, data: object) -> bytes:
    """One Server-Sent Event: its name and a JSON payload on one ``data:`` line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Hub:
    """Follows one Redis, keeps the latest snapshot per queue, fans updates out to browsers."""

    def __init__(
        self,
        reader: SnapshotReader,
        *,
        stale_seconds: float,
        max_clients: int = MAX_CLIENTS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.reader = reader
        self.stale_seconds = stale_seconds
        self.max_clients = max_clients
        self.refused = 0
        """Streams refused because ``max_clients`` were open (since the process started)."""
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.redis_ok = False
        self._wall = wall
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._pending: list[bytes] = []
        self._flush: asyncio.TimerHandle | None = None
        self._last_refusal_log = -_REFUSAL_LOG_EVERY

    def state(self) -> dict[str, Any]:
        """Everything a page needs to draw itself from scratch."""
        return {
            "server_time": self._wall(),
            "stale_seconds": self.stale_seconds,
            "redis": self.redis_ok,
            "snapshots": [self.snapshots[name] for name in sorted(self.snapshots)],
        }

    @property
    def clients(self) -> int:
        """Streams open now."""
        return len(self._clients)

    def connect(self) -> asyncio.Queue[bytes | None] | None:
        """A new browser's queue, or ``None`` (counted in ``refused``) when the hub is full."""
        if len(self._clients) >= self.max_clients:
            self.refused += 1
            now = time.monotonic()
            if now - self._last_refusal_log >= _REFUSAL_LOG_EVERY:
                self._last_refusal_log = now
                log.warning(
                    "refusing wallboard streams: %d open, the cap (STREAM_WALLBOARD_MAX_CLIENTS);"
                    " %d refused so far",
                    self.max_clients,
                    self.refused,
                )
            return None
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE_SIZE)
        self._clients.add(queue)
        return queue

    def disconnect(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._clients.discard(queue)

    def close_all(self) -> None:
        """End every browser's stream (server shutdown)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._pending.clear()
        for queue in list(self._clients):
            _end(queue)
        self._clients.clear()

    def broadcast(self, message: bytes) -> None:
        """Send ``message`` to every browser with the next batch (within ``BATCH_SECONDS``)."""
        self._pending.append(message)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(BATCH_SECONDS, self._send_batch)

    def _send_batch(self) -> None:
        self._flush = None
        chunk = b"".join(self._pending)
        self._pending.clear()
        for queue in list(self._clients):
            try:
                queue.put_nowait(chunk)
            except asyncio.QueueFull:  # a browser that stopped reading: it will reconnect
                self._clients.discard(queue)
                _end(queue)

    async def follow(self) -> None:
        """Follow Redis until cancelled, reconnecting with backoff."""
        backoff = 0.5
        while True:
            try:
                async with self.reader.subscription() as updates:
                    # Subscribed before reading everything: no update falls in between.
                    self.snapshots = await self.reader.fetch_all()
                    if not self.redis_ok:
                        log.info("following Redis: %d queues", len(self.snapshots))
                    self.redis_ok = True
                    backoff = 0.5
                    self.broadcast(sse("reset", self.state()))
                    while True:
                        doc = await updates.next(timeout=1.0)
                        if doc is not None:
                            self.snapshots[doc["queue"]] = doc
                            self.broadcast(
                                sse("snapshot", {"server_time": self._wall(), "snapshot": doc})
                            )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down, timeouts, protocol errors: retry
                if self.redis_ok:
                    log.warning("lost Redis (%s: %s); reconnecting", type(exc).__name__, exc)
                self.redis_ok = False
                self.broadcast(sse("clock", {"server_time": self._wall(), "redis": False}))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    async def tick_clock(self) -> None:
        """Every few seconds: the server's time (pages measure staleness with it) and health."""
        while True:
            await asyncio.sleep(CLOCK_SECONDS)
            self.broadcast(sse("clock", {"server_time": self._wall(), "redis": self.redis_ok}))


def _end(queue: asyncio.Queue[bytes | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)


HUB: Final = web.AppKey("hub", Hub)


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "wallboard.html", headers={"Cache-Control": "no-cache"})


async def _events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    queue = hub.connect()  # before any await: the check and the reservation are one step
    if queue is None:
        return web.json_response(
            {
                "error": f"this wallboard server already serves {hub.max_clients} screens "
                "(STREAM_WALLBOARD_MAX_CLIENTS); retry later or use another wallboard server",
                "clients": hub.clients,
                "max_clients": hub.max_clients,
                "retry_after_seconds": RETRY_AFTER_SECONDS,
            },
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # proxies must not buffer the stream
        }
    )
    try:
        await response.prepare(request)
        await response.write(f"retry: {_RETRY_MS}\n\n".encode() + sse("hello", hub.state()))
        while True:
            message = await queue.get()
            if message is None:
                break
            await response.write(message)
    except (ConnectionError, RuntimeError):  # the browser went away
        pass
    finally:
        hub.disconnect(queue)
    return response


async def _snapshots(request: web.Request) -> web.Response:
    return web.json_response(request.app[HUB].state())


async def _health(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    return web.json_response(
        {
            "redis": hub.redis_ok,
            "clients": hub.clients,
            "max_clients": hub.max_clients,
            "refused": hub.refused,
        },
        status=200 if hub.redis_ok else 503,
    )


def create_app(
    redis_url: str,
    *,
    prefix: str,
    stale_seconds: float,
    max_clients: int = MAX_CLIENTS,
    redis_options: Mapping[str, Any] | None = None,
) -> web.Application:
    """The wallboard's aiohttp application, following snapshots under ``prefix`` in Redis
    (``redis_options``: password and TLS CA, ``stream.config.security.redis_options``)."""
    app = web.Application()
    reader = SnapshotReader(redis_url, prefix=prefix, options=redis_options)
    app[HUB] = Hub(reader, stale_seconds=stale_seconds, max_clients=max_clients)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        hub = app[HUB]
        tasks = [asyncio.create_task(hub.follow()), asyncio.create_task(hub.tick_clock())]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.reader.close()

    async def on_shutdown(app: web.Application) -> None:
        app[HUB].close_all()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/", _page)
    app.router.add_get("/events", _events)
    app.router.add_get("/api/snapshots", _snapshots)
    app.router.add_get("/healthz", _health)
    app.router.add_static("/static", STATIC_DIR)
    return app


def run_wallboard(
    redis_url: str,
    *,
    prefix: str,
    host: str,
    port: int,
    stale_seconds: float,
    max_clients: int = MAX_CLIENTS,
    redis_options: Mapping[str, Any] | None = None,
) -> None:
    """Serve the wallboard until SIGINT/SIGTERM."""
    app = create_app(
        redis_url,
        prefix=prefix,
        stale_seconds=stale_seconds,
        max_clients=max_clients,
        redis_options=redis_options,
    )
    shown = f"[{host}]" if ":" in host else host
    if shown in ("0.0.0.0", "[::]"):
        shown = "127.0.0.1"

    def announce(*args: Any, **kwargs: Any) -> None:
        where = _without_password(redis_url)
        print(f"wallboard: http://{shown}:{port}/  (snapshots from {where})", flush=True)

    web.run_app(app, host=host, port=port, print=announce, shutdown_timeout=3.0, access_log=None)


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{netloc}"))

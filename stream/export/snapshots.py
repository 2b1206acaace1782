"""Wallboard snapshots in Redis: their format, both ways, the worker's writer and the reader.

This module owns how a ``QueueSnapshot`` (``stream.export.queue_snapshot``) travels through
Redis; it is the only module that imports redis.

* ``SnapshotPublisher`` (worker side) writes them, throttled: a changed snapshot at most once per
  publishing tick, an unchanged one every ``HEARTBEAT_SECONDS`` so the wallboard can tell a quiet
  queue from a dead worker. A failed write is logged and counted (``errors``) and retried on the
  next tick; it never raises into the worker.
* ``SnapshotReader`` (wallboard side) reads every stored snapshot and follows the updates.

Redis layout, ``P`` = ``<app_id>:wallboard``:

* ``P:queue:<queue>``: a hash, one field per ``QueueSnapshot`` field plus ``updated_at`` (wall
  clock of the write, what staleness is measured from) and ``worker``; each value is JSON. It
  expires ``TTL_SECONDS`` after its last write.
* ``P:queues``: the set of queue names that have a hash.
* ``P:updates``: pub/sub channel; each message is the JSON object of one snapshot as written.

Writes are idempotent (HSET of the whole snapshot) and ordered: a Lua script refuses a snapshot
whose ``(version, updated_at)`` is older than the stored one, ``version`` being the sum of the
source offsets the queue's state has applied (plus, per agent in the queue, the time of its
newest event in whole seconds: it only grows, unlike the number of events kept). So after
a rebalance a worker that lost the queue cannot overwrite the new owner with older numbers,
unless the stored snapshot is older than ``TAKEOVER_SECONDS`` (its writer is gone: e.g.
offsets reset with a recreated topic).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from stream.export.queue_snapshot import QueueSnapshot

__all__ = [
    "HEARTBEAT_SECONDS",
    "PUBLISH_INTERVAL_SECONDS",
    "SnapshotPublisher",
    "SnapshotReader",
    "decode_hash",
    "encode_hash",
    "key_prefix",
]

log = logging.getLogger(__name__)

PUBLISH_INTERVAL_SECONDS: Final = 0.5
"""The worker's publishing tick: at most two writes per second per queue."""
HEARTBEAT_SECONDS: Final = 2.0
"""An unchanged snapshot is written again this often (it refreshes ``updated_at``)."""
TAKEOVER_SECONDS: Final = 15.0
TTL_SECONDS: Final = 86400
_ERROR_LOG_EVERY: Final = 60.0


def key_prefix(app_id: str) -> str:
    """The prefix of every Redis key and channel of one app's wallboard."""
    return f"{app_id}:wallboard"


def encode_hash(snapshot: QueueSnapshot, *, updated_at: float, worker: str) -> dict[str, str]:
    """The Redis hash of a snapshot: every field JSON-encoded."""
    doc = snapshot.to_json()
    doc["updated_at"] = updated_at
    doc["worker"] = worker
    return {name: json.dumps(value, sort_keys=True) for name, value in doc.items()}


def decode_hash(raw: Mapping[Any, Any]) -> dict[str, Any] | None:
    """A stored hash as a JSON object; ``None`` when it is empty or not a snapshot."""
    doc: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else key
        try:
            doc[name] = json.loads(value)
        except ValueError:
            return None
    if not isinstance(doc.get("queue"), str) or "updated_at" not in doc:
        return None
    return doc


# KEYS: the queue's hash, the index set.
# ARGV: channel, queue, version, updated_at, takeover seconds, ttl, message, field/value pairs.
_WRITE_LUA: Final = """
local stored = redis.call('HMGET', KEYS[1], 'version', 'updated_at')
if stored[1] and stored[2] then
  local v, t = tonumber(stored[1]), tonumber(stored[2])
  local nv, nt = tonumber(ARGV[3]), tonumber(ARGV[4])
  if v and t and (v > nv or (v == nv and t > nt)) and nt - t < tonumber(ARGV[5]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[1], ARGV[7])
return 1
"""


def _client(url: str, options: Mapping[str, Any] | None) -> aioredis.Redis:
    # Short timeouts: a Redis outage costs one tick, never the worker's event loop. ``options``:
    # password and TLS CA (``stream.config.security.redis_options``).
    return aioredis.Redis.from_url(
        url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=10,
        **(options or {}),
    )


@dataclass(slots=True)
class _Written:
    content: tuple[Any, ...]
    at: float


class SnapshotPublisher:
    """Writes a worker's snapshots to Redis, throttled and idempotently (see the module doc)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        worker: str,
        wall: Callable[[], float] = time.time,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.prefix = prefix
        self.worker = worker
        self.errors = 0
        """Failed publishing ticks (exported as ``contact_centre_snapshot_errors_total``)."""
        self.refused = 0
        """Snapshots Redis kept out because a newer one was stored (after a rebalance)."""
        self._wall = wall
        self._heartbeat = heartbeat_seconds
        self._redis = _client(url, options)
        self._script = self._redis.register_script(_WRITE_LUA)
        self._written: dict[str, _Written] = {}
        self._last_error_log = -_ERROR_LOG_EVERY

    async def publish(self, snapshots: Iterable[QueueSnapshot]) -> int:
        """Write what changed (and heartbeats); returns the number written. Raises RedisError."""
        written = 0
        now = self._wall()
        for snap in snapshots:
            content = _content(snap)
            last = self._written.get(snap.queue)
            if last is not None and last.content == content and now - last.at < self._heartbeat:
                continue
            fields = encode_hash(snap, updated_at=now, worker=self.worker)
            message = json.dumps({**snap.to_json(), "updated_at": now, "worker": self.worker})
            pairs = [item for pair in fields.items() for item in pair]
            stored = await self._script(
                keys=[f"{self.prefix}:queue:{snap.queue}", f"{self.prefix}:queues"],
                args=[
                    f"{self.prefix}:updates",
                    snap.queue,
                    snap.version,
                    repr(now),
                    TAKEOVER_SECONDS,
                    TTL_SECONDS,
                    message,
                    *pairs,
                ],
            )
            if stored:
                written += 1
            else:
                self.refused += 1
            self._written[snap.queue] = _Written(content, now)
        return written

    async def tick(self, snapshots: Iterable[QueueSnapshot]) -> None:
        """``publish`` for a timer: a failure is logged (once a minute) and counted, not raised."""
        try:
            await self.publish(snapshots)
        except (TimeoutError, RedisError, OSError) as exc:
            self.errors += 1
            now = time.monotonic()
            if now - self._last_error_log >= _ERROR_LOG_EVERY:
                self._last_error_log = now
                log.warning(
                    "publishing wallboard snapshots failed (retrying every tick): %s: %s",
                    type(exc).__name__,
                    exc,
                )

    async def close(self) -> None:
        await self._redis.aclose()


def _content(snap: QueueSnapshot) -> tuple[Any, ...]:
    """What a change means: every field but the clock."""
    return tuple(getattr(snap, f.name) for f in dataclasses.fields(snap) if f.name != "at")


class SnapshotReader:
    """The wallboard's side: every stored snapshot, and a subscription to the updates."""

    def __init__(self, url: str, *, prefix: str, options: Mapping[str, Any] | None = None) -> None:
        self.prefix = prefix
        self._redis = _client(url, options)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (TimeoutError, RedisError, OSError):
            return False

    async def fetch_all(self) -> dict[str, dict[str, Any]]:
        """Queue → snapshot of every stored snapshot (expired hashes leave the index)."""
        names = sorted(
            n.decode() if isinstance(n, bytes) else str(n)
            for n in await self._redis.smembers(f"{self.prefix}:queues")
        )
        out: dict[str, dict[str, Any]] = {}
        gone: list[str] = []
        for name in names:
            raw = await self._redis.hgetall(f"{self.prefix}:queue:{name}")
            doc = decode_hash(raw)
            if doc is None:
                gone.append(name)
            else:
                out[name] = doc
        if gone:
            await self._redis.srem(f"{self.prefix}:queues", *gone)
        return out

    @asynccontextmanager
    async def subscription(self) -> AsyncIterator[_Updates]:
        """Subscribed to the update channel; subscribe first, then ``fetch_all``, loses none."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(f"{self.prefix}:updates")
            yield _Updates(pubsub)
        finally:
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


class _Updates:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next snapshot published, or ``None`` after ``timeout`` seconds without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # None also for a subscribe confirmation: keep waiting until the deadline.
            message = await self._pubsub.get_message(timeout=max(0.0, deadline - loop.time()))
            doc = _decode_message(message)
            if doc is not None:
                return doc
            if loop.time() >= deadline:
                return None


def _decode_message(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if message is None or message.get("type") != "message":
        return None
    try:
        doc = json.loads(message["data"])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("queue"), str) else None

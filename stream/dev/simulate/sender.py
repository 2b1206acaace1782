"""Publishing simulated traffic: `publish` sends a `Simulation` to the contract topics with
aiokafka, paced to the wall clock or at full speed over a recent span, with dirty input from
`Contaminator`; `Sender` is the producer that counts acknowledgements without awaiting each
send (``replay`` uses it too); `PublishStats` is what was sent."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stream.contract.decoder import encode
from stream.contract.events import TopicKind
from stream.contract.topics import topic_name
from stream.dev.simulate.dirty import Contaminator
from stream.dev.simulate.model import Simulation
from stream.dev.simulate.profiles import DEFAULT_QUEUES, HOUR, QueueProfile, SimEvent

if TYPE_CHECKING:
    from stream.config import Settings

# The logger keeps the name it had when this was one module, for filters keyed on it.
log = logging.getLogger("stream.simulate")


@dataclass(slots=True)
class PublishStats:
    """What a publisher has sent so far (updated live; safe to read from the same loop)."""

    events: int = 0
    """Clean contract events."""
    dirty: int = 0
    """Bad messages (rejects) added."""
    duplicates: int = 0
    """Exact resends of a clean event."""
    failed: int = 0
    """Messages the broker did not acknowledge."""
    last_at: float | None = None
    """Event time of the last clean event, epoch seconds."""

    @property
    def messages(self) -> int:
        return self.events + self.dirty + self.duplicates


class Sender:
    """An aiokafka producer that counts acknowledgements without awaiting each send."""

    def __init__(self, settings: Settings, stats: PublishStats, *, fast: bool) -> None:
        from aiokafka import AIOKafkaProducer

        from stream.config.security import aiokafka_options

        self._settings = settings
        self._stats = stats
        self._error: BaseException | None = None
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id="stream-simulator",
            **aiokafka_options(settings),
            linger_ms=20 if fast else 0,
            max_batch_size=262_144 if fast else 16_384,
        )

    async def __aenter__(self) -> Sender:
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._producer.flush()
        finally:
            await self._producer.stop()
        self._raise_failure()

    async def send(self, kind: TopicKind, key: str, value: bytes) -> None:
        self._raise_failure()
        future = await self._producer.send(
            topic_name(self._settings, kind), value, key=key.encode()
        )
        future.add_done_callback(self._acknowledged)

    def _acknowledged(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._stats.failed += 1
            if self._error is None:
                self._error = error

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the broker refused a message: {self._error!r}") from self._error


async def publish(
    settings: Settings,
    *,
    rate_multiplier: float = 1.0,
    duration: float | None = None,
    realtime: bool = True,
    dirty_ratio: float = 0.0,
    seed: int | None = None,
    queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
    stats: PublishStats | None = None,
    keep: Callable[[SimEvent], bool] | None = None,
) -> PublishStats:
    """Publish simulated traffic to the contract topics; returns what was sent.

    Realtime: the simulation starts now and each event is sent when the wall clock reaches its
    ``occurred_at``; runs for ``duration`` seconds, or until cancelled when None.
    Not realtime: simulates ``duration`` seconds (default one hour) ending now and sends them as
    fast as the broker takes them, so event times are recent but not in the future.
    ``seed`` None picks a random seed (logged). Pass ``stats`` to watch progress while it runs.
    ``keep``: only the events it is true of are sent (and counted); e.g. the helpdesk demo
    leaves the tickets to its webhook deliveries.
    """
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if seed is None:
        seed = secrets.randbits(32)
    stats = stats if stats is not None else PublishStats()
    wall_now = datetime.now(UTC)
    if realtime:
        start = wall_now
    else:
        duration = duration if duration is not None else HOUR
        start = wall_now - timedelta(seconds=duration)
    simulation = Simulation(seed=seed, start=start, queues=queues, rate_multiplier=rate_multiplier)
    until = simulation.start + duration if duration is not None else None
    contaminator = Contaminator(dirty_ratio, seed ^ 0x5EED)
    log.info(
        "publishing simulated traffic (seed %d, rate x%g, %s)",
        seed,
        rate_multiplier,
        "real time" if realtime else "full speed",
        extra={
            "seed": seed,
            "realtime": realtime,
            "rate_multiplier": rate_multiplier,
            "duration_seconds": duration,
            "dirty_ratio": dirty_ratio,
            "broker_url": settings.broker_url,
        },
    )
    loop = asyncio.get_running_loop()
    clock0 = loop.time()
    async with Sender(settings, stats, fast=not realtime) as sender:
        for item in simulation.events(until):
            if keep is not None and not keep(item):
                continue
            if realtime:
                delay = clock0 + (item.at - simulation.start) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            value = encode(item.event)
            await sender.send(item.kind, item.key, value)
            stats.events += 1
            stats.last_at = item.at
            for dirty in contaminator.after(item.kind, value):
                await sender.send(item.kind, item.key, dirty.value)
                if dirty.label == "duplicate":
                    stats.duplicates += 1
                else:
                    stats.dirty += 1
            if not realtime and stats.events % 1000 == 0:
                await asyncio.sleep(0)  # let acknowledgements and other tasks run
    log.info(
        "simulated traffic published: %d events, %d bad, %d duplicates",
        stats.events,
        stats.dirty,
        stats.duplicates,
        extra={"events": stats.events, "dirty": stats.dirty, "duplicates": stats.duplicates},
    )
    return stats

"""Recording and replay: `write_ndjson` records a simulation's events to an NDJSON file (the
bytes `publish` sends), `start_ending_at` finds the start that makes a recording end now,
`replay` publishes such a file again (topic and key from `stream.contract.topics.route`, bytes
unchanged, the recorded pace or full speed), `count_lines` sizes its progress bar."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from stream.contract.decoder import encode
from stream.contract.topics import route
from stream.dev.simulate.model import Simulation
from stream.dev.simulate.profiles import DEFAULT_QUEUES, QueueProfile
from stream.dev.simulate.sender import PublishStats, Sender

if TYPE_CHECKING:
    from stream.config import Settings


def write_ndjson(
    path: str | Path,
    n_events: int,
    seed: int,
    start: datetime,
    *,
    queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
    rate_multiplier: float = 1.0,
) -> int:
    """Record the first ``n_events`` events of a simulation as NDJSON; returns the count.

    One contract JSON object per line, in event-time order, exactly as `publish` sends them.
    """
    simulation = Simulation(seed=seed, start=start, queues=queues, rate_multiplier=rate_multiplier)
    written = 0
    with Path(path).open("wb") as fh:
        for item in itertools.islice(simulation.events(), n_events):
            fh.write(encode(item.event))
            fh.write(b"\n")
            written += 1
    return written


def start_ending_at(
    end: datetime,
    n_events: int,
    seed: int,
    *,
    queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
    rate_multiplier: float = 1.0,
) -> datetime:
    """The start at which the first ``n_events`` of a simulation end at ``end``.

    The model has no time of day (its rates are constant), so the same seed from a shifted
    start gives the same events shifted: a recording made with this start is recent history,
    not events from the future (which a worker rejects beyond ``STREAM_FUTURE_SKEW_SECONDS``).
    """
    simulation = Simulation(seed=seed, start=end, queues=queues, rate_multiplier=rate_multiplier)
    last = simulation.start
    for item in itertools.islice(simulation.events(), n_events):
        last = item.at
    return end - timedelta(seconds=last - simulation.start)


@dataclass(slots=True)
class ReplayStats:
    """What a replay has sent."""

    sent: int = 0
    skipped: int = 0
    """Lines with no recognisable type or contact id: not sent."""
    failed: int = 0


def _ndjson_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield line


async def replay(
    settings: Settings,
    path: str | Path,
    *,
    speed: float = 1.0,
    on_progress: Callable[[int], None] | None = None,
) -> ReplayStats:
    """Publish a recorded NDJSON file to the contract topics, each line's bytes unchanged.

    The topic follows the event type, the key is the contact id. ``speed`` 0 sends as fast as
    possible; otherwise the recorded gaps between ``occurred_at`` are kept, divided by
    ``speed``. ``on_progress(n)`` is called with the number of lines just handled.
    """
    if speed < 0 or not math.isfinite(speed):
        raise ValueError(f"speed must be >= 0, got {speed}")
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no such file: {source}")
    result = ReplayStats()
    stats = PublishStats()
    loop = asyncio.get_running_loop()
    clock0 = loop.time()
    first_at: float | None = None
    pending_progress = 0
    last_progress = time.monotonic()
    async with Sender(settings, stats, fast=speed == 0) as sender:
        for line in _ndjson_lines(source):
            routing = route(line)
            if routing is None:
                result.skipped += 1
            else:
                kind, key, at = routing
                if speed > 0 and at is not None:
                    if first_at is None:
                        first_at = at
                    delay = clock0 + (at - first_at) / speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await sender.send(kind, key, line)
                result.sent += 1
            pending_progress += 1
            if on_progress is not None and (
                pending_progress >= 1000 or time.monotonic() - last_progress > 0.2
            ):
                on_progress(pending_progress)
                pending_progress, last_progress = 0, time.monotonic()
            if speed == 0 and result.sent % 1000 == 0:
                await asyncio.sleep(0)
    if on_progress is not None and pending_progress:
        on_progress(pending_progress)
    result.failed = stats.failed
    return result


def count_lines(path: str | Path) -> int:
    """Non-empty lines of a file (the total for a progress bar)."""
    return sum(1 for _ in _ndjson_lines(Path(path)))

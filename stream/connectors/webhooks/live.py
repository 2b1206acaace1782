"""The demo's helpdesk traffic: the simulator's tickets posted live to the webhook gateway.

Owns what ``python -m stream demo --source helpdesk`` needs besides the demo's processes: the
gateway config it writes (``config_files``: one route per vendor, each secret a file of its own,
mode 0600, read by the gateway and never printed), the split of the tickets between Chatwoot,
Zendesk and Zammad (by ticket, in turn: the first ticket created to Chatwoot, the second to
Zendesk, the third to Zammad, ...), and ``post_live``, which posts each vendor's signed
deliveries (``*_generate.live``) at their time — real time from the start, the simulation sped
up by ``rate_multiplier`` as the other demo sources are — and retries a 503 or a refused
connection as the vendors do, until the gateway answers.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

import yaml

from stream.connectors.webhooks import chatwoot_generate, zammad_generate, zendesk_generate
from stream.dev.simulate import DEFAULT_QUEUES, QueueProfile, SimEvent, Simulation

__all__ = ["VENDORS", "HelpdeskStats", "config_files", "is_helpdesk_ticket", "post_live"]

log = logging.getLogger(__name__)

VENDORS: Final = ("chatwoot", "zendesk", "zammad")
RETRY_SECONDS: Final = 0.5
"""Wait before posting a delivery again after a 503 or a refused connection."""


class _Delivery(Protocol):
    @property
    def body(self) -> bytes: ...
    @property
    def at(self) -> float: ...
    def headers(self, secret: str, now: float) -> dict[str, str]: ...


_LIVE: Final[dict[str, Callable[[Iterable[SimEvent]], Iterator[_Delivery]]]] = {
    "chatwoot": chatwoot_generate.live,
    "zendesk": zendesk_generate.live,
    "zammad": zammad_generate.live,
}


@dataclass(slots=True)
class HelpdeskStats:
    """What has been posted so far, by vendor (updated live; read from the same loop)."""

    posted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VENDORS, 0))
    """Deliveries the gateway accepted (2xx)."""
    refused: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VENDORS, 0))
    """Deliveries the gateway answered 4xx or a 5xx other than 503: not sent again."""
    retries: int = 0
    """Posts made again after a 503 or a refused connection."""

    @property
    def total_posted(self) -> int:
        return sum(self.posted.values())

    @property
    def total_refused(self) -> int:
        return sum(self.refused.values())

    def line(self) -> str:
        """``posted N helpdesk deliveries (chatwoot a, zendesk b, zammad c), refused R``."""
        each = ", ".join(f"{v} {self.posted[v]}" for v in VENDORS)
        return (
            f"posted {self.total_posted} helpdesk deliveries ({each}), refused {self.total_refused}"
        )


def is_helpdesk_ticket(sim: SimEvent) -> bool:
    """A ticket's own event (not a call's survey, which also travels on the tickets topic):
    in the helpdesk demo it reaches the worker through the gateway, not from the simulator."""
    return sim.kind == "tickets" and getattr(sim.event, "ticket_id", None) is not None


def config_files(
    run_dir: Path, port: int, queues: Sequence[QueueProfile] = DEFAULT_QUEUES
) -> tuple[Path, dict[str, str]]:
    """Write the gateway config (``run_dir/webhooks.yaml``) and one fresh secret per vendor
    (``run_dir/<vendor>.secret``, mode 0600); returns the config's path and the secrets."""
    run_dir.mkdir(parents=True, exist_ok=True)
    keys: dict[str, str] = {}
    sources: dict[str, dict[str, object]] = {}
    for vendor in VENDORS:
        path = (run_dir / f"{vendor}.secret").resolve()
        path.unlink(missing_ok=True)
        keys[vendor] = secrets.token_hex(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(keys[vendor])
        sources[vendor] = {"secret_file": str(path)}
    sources["zendesk"].update(zendesk_generate.options(q.name for q in queues))
    config = run_dir / "webhooks.yaml"
    config.write_text(
        "# Written by python -m stream demo --source helpdesk (rewritten at each start).\n"
        + yaml.safe_dump({"host": "127.0.0.1", "port": port, "sources": sources}, sort_keys=False)
    )
    return config, keys


def _tickets_of(vendor: int, events: Iterable[SimEvent]) -> Iterator[SimEvent]:
    """The ticket events of every third ticket (by creation order), from the ``vendor``-th."""
    owner: dict[str, int] = {}
    for sim in events:
        if not is_helpdesk_ticket(sim):
            continue
        ticket = str(getattr(sim.event, "ticket_id"))  # noqa: B009 - not every event has it
        if ticket not in owner:
            owner[ticket] = len(owner) % len(VENDORS)
        if owner[ticket] == vendor:
            yield sim


def deliveries(
    *, seed: int, start: datetime, queues: Sequence[QueueProfile], rate_multiplier: float
) -> Iterator[tuple[float, str, _Delivery]]:
    """Every vendor's deliveries merged in time order: (time, vendor, delivery); endless.

    Each vendor reads a simulation of its own with the same seed and start (the same events),
    so each generator sees its tickets whole, as one helpdesk would."""

    def one(n: int, vendor: str) -> Iterator[tuple[float, str, _Delivery]]:
        sim = Simulation(seed=seed, start=start, queues=queues, rate_multiplier=rate_multiplier)
        for d in _LIVE[vendor](_tickets_of(n, sim.events())):
            yield d.at, vendor, d

    return heapq.merge(*(one(n, v) for n, v in enumerate(VENDORS)), key=lambda x: x[0])


async def post_live(
    base_url: str,
    keys: dict[str, str],
    *,
    seed: int,
    rate_multiplier: float,
    queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
    stats: HelpdeskStats | None = None,
) -> HelpdeskStats:
    """Post the simulator's tickets to ``base_url``/webhooks/<vendor> in real time, signed at
    the time of sending; runs until cancelled."""
    import aiohttp

    stats = stats if stats is not None else HelpdeskStats()
    start = datetime.now(UTC)
    loop = asyncio.get_running_loop()
    clock0 = loop.time()
    t0 = start.timestamp()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        merged = deliveries(seed=seed, start=start, queues=queues, rate_multiplier=rate_multiplier)
        for at, vendor, d in merged:
            delay = clock0 + (at - t0) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            url = f"{base_url}/webhooks/{vendor}"
            while True:
                try:
                    headers = d.headers(keys[vendor], time.time())
                    async with session.post(url, data=d.body, headers=headers) as response:
                        status = response.status
                        text = await response.text() if status >= 300 else ""
                except (aiohttp.ClientConnectionError, TimeoutError):
                    status, text = 0, ""
                if status < 300 and status != 0:
                    stats.posted[vendor] += 1
                    break
                if status not in (0, 503):
                    stats.refused[vendor] += 1
                    log.warning("the gateway refused a %s delivery: %d %s", vendor, status,
                                text[:200])  # fmt: skip
                    break
                stats.retries += 1
                await asyncio.sleep(RETRY_SECONDS)
    return stats

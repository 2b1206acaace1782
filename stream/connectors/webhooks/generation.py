"""What the vendor payload generators share: compact JSON bodies, and driving a generator's
``steps`` all at once (``generate``) or one simulator event at a time (``live``).

Each vendor's generator (``chatwoot_generate``, ``zendesk_generate``, ``zammad_generate``)
writes one ``steps(events, out, twin)``: it appends the deliveries and contract twin events of
each simulator event to ``out`` and ``twin`` and pauses (yields) before the next event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from stream.dev.simulate import SimEvent

D = TypeVar("D")
T = TypeVar("T")
Steps = Callable[[Iterable[SimEvent], list[D], list[T]], Iterator[None]]


def json_body(payload: dict[str, Any]) -> bytes:
    """``payload`` as compact JSON, as the vendors send it."""
    return json.dumps(payload, separators=(",", ":")).encode()


def run_all(steps: Steps[D, T], events: Iterable[SimEvent]) -> tuple[list[D], list[T]]:
    """Every delivery of ``events`` and the contract twin, in the order they were made."""
    out: list[D] = []
    twin: list[T] = []
    for _ in steps(events, out, twin):
        pass
    return out, twin


def run_live(steps: Steps[D, T], events: Iterable[SimEvent]) -> Iterator[D]:
    """The deliveries of ``run_all``, one by one as ``events`` come (they may be endless): each
    is made when the event that makes it is read."""
    out: list[D] = []
    twin: list[T] = []
    for _ in steps(events, out, twin):
        yield from out
        out.clear()
        twin.clear()
    yield from out

"""The Asterisk translator's state: what it remembers of the ``queue_log`` lines before.

This module owns the msgspec structs of that state (``State``: the open calls by ``uniqueid``,
the recently closed calls, the agents with their queues, pauses, current call and wrap-up, and
the heap of wrap-up timers) and their JSON form, ``dump`` / ``load``, which the transport stores
with its checkpoint. The translation itself is ``stream.connectors.asterisk.translator``.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ["Agent", "Call", "State", "Wrapup", "dump", "load"]


class Call(msgspec.Struct, kw_only=True):
    call_id: str
    queue: str
    asterisk_queue: str
    entered: int
    talking: bool = False
    agent: str | None = None


class Wrapup(msgspec.Struct, kw_only=True):
    due: int
    uniqueid: str
    call_id: str


class Agent(msgspec.Struct, kw_only=True):
    queues: list[str] = msgspec.field(default_factory=list)
    paused: list[str] = msgspec.field(default_factory=list)
    reason: str | None = None
    call: str | None = None
    wrapup: Wrapup | None = None
    logged_off: bool = False
    shown: list[object] | None = None
    """The (state, queues, reason) last emitted; None: nothing emitted yet."""


class State(msgspec.Struct, kw_only=True):
    calls: dict[str, Call] = msgspec.field(default_factory=dict)
    """Open calls by ``uniqueid``."""
    closed: dict[str, str] = msgspec.field(default_factory=dict)
    """Recently closed calls, ``uniqueid`` -> call id, oldest first (at most 4096)."""
    agents: dict[str, Agent] = msgspec.field(default_factory=dict)
    """By agent id (after renaming, so an agent's login name and member name can be one)."""
    timers: list[list[object]] = msgspec.field(default_factory=list)
    """Heap of ``[due, agent_id]`` wrap-up ends; an entry is stale once the agent's differs."""


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(State)


def dump(state: State) -> bytes:
    return _ENCODER.encode(state)


def load(raw: bytes) -> State:
    return _DECODER.decode(raw)

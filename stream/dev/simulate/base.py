"""The simulation's machinery shared by every domain of the model: the simulated clock and its
event queue (a heap of scheduled actions), the emitters that stamp an event with its time and an
id from one of the three random streams (main, rings, flows), the common draws, and the state
of the queues, their agents and waiting calls. `Simulation` (``model.py``) is built on it."""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from stream.contract.events import Channel, Event, Priority, TopicKind, epoch_seconds
from stream.dev.simulate.profiles import QueueProfile, SimEvent


@dataclass(slots=True)
class Agent:
    """A simulated agent, staffed on one queue."""

    agent_id: str
    queue: QueueProfile


@dataclass(slots=True)
class Call:
    """A call (or a transfer's new leg) in the model: its queue, caller and where it is."""

    call_id: str
    queue: QueueProfile
    customer_id: str
    queued_at: float
    state: Literal["waiting", "connecting", "connected", "abandoned"] = "waiting"
    channel: Channel = "phone"
    priority: Priority | None = None
    transferred_from: str | None = None  # the new leg of a transfer from this queue


@dataclass(slots=True)
class QueueState:
    """A queue's agents, those free now, and its waiting calls (abandoned ones skipped)."""

    profile: QueueProfile
    agents: list[Agent]
    free: deque[Agent] = field(default_factory=deque)
    waiting: deque[Call] = field(default_factory=deque)


class SimulationBase:
    """The clock, the scheduled actions and the emitters; the domains add the behaviour."""

    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        queues: Sequence[QueueProfile],
        rate_multiplier: float,
        customers: int,
        flows: bool,
    ) -> None:
        if rate_multiplier <= 0 or not math.isfinite(rate_multiplier):
            raise ValueError(f"rate_multiplier must be a positive number, got {rate_multiplier}")
        if not queues:
            raise ValueError("at least one queue is needed")
        self._rng = random.Random(seed)
        # Rings, missed rings and away reasons draw from a stream of their own (ids included),
        # so adding them left every other event of a seed as it was.
        self._ring_rng = random.Random(f"rings-{seed}")
        # Call flows likewise (priorities, callbacks, transfers, hang-ups on hold).
        self._flows = flows
        self._flow_rng = random.Random(f"flows-{seed}")
        self._start = epoch_seconds(start)
        self._now = self._start
        self._rate = rate_multiplier
        self._customers = customers
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._out: deque[SimEvent] = deque()
        # Contact ids: a seed-derived run tag plus a counter, unique within and across runs.
        self._run_tag = f"{self._rng.getrandbits(32):08x}"
        self._ids = itertools.count(1)
        self._queues: list[QueueState] = []
        self._by_name: dict[str, QueueState] = {}
        for profile in queues:
            staff = max(1, round(profile.agents * rate_multiplier))
            agents = [Agent(f"agent-{profile.name}-{n:02d}", profile) for n in range(1, staff + 1)]
            self._queues.append(QueueState(profile, agents))
            self._by_name[profile.name] = self._queues[-1]

    @property
    def start(self) -> float:
        """Start of the simulated time, epoch seconds."""
        return self._start

    @property
    def now(self) -> float:
        """The simulated clock, epoch seconds."""
        return self._now

    def __iter__(self) -> Iterator[SimEvent]:
        return self.events()

    def events(self, until: float | None = None) -> Iterator[SimEvent]:
        """Events in non-decreasing ``at`` order; endless unless ``until`` (epoch seconds)."""
        while True:
            while self._out:
                yield self._out.popleft()
            if not self._heap or (until is not None and self._heap[0][0] >= until):
                return
            when, _, action = heapq.heappop(self._heap)
            self._now = when
            action()

    def take(self, n: int) -> list[SimEvent]:
        """The next ``n`` events."""
        return list(itertools.islice(self.events(), n))

    # -- scheduling and emitting ----------------------------------------------------------
    def _at(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (self._now + max(0.0, delay), next(self._seq), action))

    def _emit(self, kind: TopicKind, key: str, build: Callable[[str, datetime], Event]) -> None:
        at = round(self._now, 3)
        occurred_at = datetime.fromtimestamp(at, UTC)
        event_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._out.append(SimEvent(kind, key, build(event_id, occurred_at), at))

    def _emit_ring(self, key: str, build: Callable[[str, datetime], Event]) -> None:
        """Emit a ring event (``call.offered``, ``call.offer_missed``) with an id of the ring
        stream (``_ring_rng``)."""
        at = round(self._now, 3)
        occurred_at = datetime.fromtimestamp(at, UTC)
        event_id = str(uuid.UUID(int=self._ring_rng.getrandbits(128), version=4))
        self._out.append(SimEvent("calls", key, build(event_id, occurred_at), at))

    def _emit_flow(self, key: str, build: Callable[[str, datetime], Event]) -> None:
        """Emit a call-flow event with an id of the flow stream (``_flow_rng``)."""
        at = round(self._now, 3)
        occurred_at = datetime.fromtimestamp(at, UTC)
        event_id = str(uuid.UUID(int=self._flow_rng.getrandbits(128), version=4))
        self._out.append(SimEvent("calls", key, build(event_id, occurred_at), at))

    def _exp(self, mean: float) -> float:
        return self._rng.expovariate(1.0 / mean)

    def _pick(self, weighted: Sequence[tuple[Any, float]]) -> Any:
        values = [v for v, _ in weighted]
        weights = [w for _, w in weighted]
        return self._rng.choices(values, weights)[0]

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{self._run_tag}-{next(self._ids):07d}"

    def _customer(self) -> str:
        return f"cust-{self._rng.randrange(self._customers):06d}"

    def _state_of(self, profile: QueueProfile) -> QueueState:
        return self._by_name[profile.name]

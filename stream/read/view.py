"""The read-only view of the partition store: every queue here, read at one instant.

What exporters get of the store (``Pipeline``, ``PartitionState``, ``QueueRecord``,
``QueueLive``, ``Aggregator``), never the store itself: a ``QueueAt`` per queue and the
customers' ``CustomerReading`` from ``ReadView.at(now)``, and the worker's own counts from
``ReadView.counts()`` / ``progress()``. The reading modules beside this one (``readings``,
``estimates``, ``agent_board``, ``worker``) are handed the store's records from here.

Each reading of a ``QueueAt`` is computed on first use and kept, so a scrape computes a
queue's live gauges, windows, estimates, flows and productivity once however many families
show them. A ``WorkerAt`` is for one scrape or one snapshot tick: take a new one for the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Final

from stream.core.kpis import flows
from stream.core.kpis.agents import EXPORTED_STATES, AgentSlot
from stream.core.kpis.agents import staffing as staffing_of
from stream.core.kpis.reasons import by_state_and_reason
from stream.core.kpis.totals import QueueTotals, WindowTotals
from stream.core.windows import WINDOW_KINDS
from stream.read.agent_board import AgentRow, AgentTiles, agent_rows, agent_tiles
from stream.read.customers import CustomerReading, customer_reading
from stream.read.estimates import EstimateReading, estimate_reading
from stream.read.productivity import ProductivityReading, productivity_readings
from stream.read.readings import LiveReading, live_reading, window_readings
from stream.read.worker import PipelineCounts, ProgressReading, pipeline_counts, progress_reading
from stream.stages.aggregate import Aggregator, QueueRecord
from stream.stages.live import QueueLive
from stream.stages.pipeline import Pipeline

_NO_AGENTS: Final[Mapping[str, AgentSlot]] = {}


class QueueAt:
    """One queue of the partitions here at ``now``: what any exporter may show of it."""

    def __init__(
        self,
        aggregator: Aggregator,
        record: QueueRecord,
        live: QueueLive | None,
        agents: Mapping[str, AgentSlot] | None,
        now: float,
    ) -> None:
        self.name = record.queue
        self.now = now
        self._aggregator = aggregator
        self._record = record
        self._live = live
        self._agents = agents

    @property
    def totals(self) -> QueueTotals:
        """All-time counters, histograms and survey counts per channel."""
        return self._record.totals

    @property
    def last_event_at(self) -> float | None:
        """Newest ``occurred_at`` seen for the queue."""
        return self._record.max_event_time

    @property
    def has_agents(self) -> bool:
        """Whether any agent's timeline is kept in the queue (productivity has a reading)."""
        return self._agents is not None

    @cached_property
    def live(self) -> LiveReading | None:
        """The live gauges; None when the queue has no live index."""
        return None if self._live is None else live_reading(self._live, self.now)

    @cached_property
    def agents_by_reason(self) -> dict[tuple[str, str], float] | None:
        """Agents now by (state, reason label) (``stream.core.kpis.reasons``); None: never had
        one."""
        if self._live is None or self._live.agents is None:
            return None
        return by_state_and_reason(self._live.agents, EXPORTED_STATES, self.reasons)

    @cached_property
    def staffing(self) -> dict[str, int] | None:
        """Staffed, on queue, available now; None: no agent was ever in the queue."""
        live = self.live
        return None if live is None or live.agents is None else staffing_of(live.agents)

    @cached_property
    def ringing(self) -> tuple[int, int] | None:
        """(Calls ringing an agent, rings open) now; None: no live index."""
        if self._live is None:
            return None
        return len(self._live.ringing), sum(self._live.ringing.values())

    @property
    def reasons(self) -> tuple[str, ...]:
        """The away reasons exported as labels (the targets file's ``agent_reasons``)."""
        return self._aggregator.targets.agent_reasons()

    @cached_property
    def windows(self) -> dict[str, tuple[float, WindowTotals | None]]:
        """Window kind → the current window's start and totals (None: no events in it)."""
        return {
            kind: self._aggregator.current_window(self._record, kind, self.now)
            for kind in WINDOW_KINDS
        }

    @cached_property
    def window_readings(self) -> dict[str, dict[str, float]]:
        """Window kind → gauge name → value in the current windows (``stream.read.readings``)."""
        return window_readings(self._aggregator, self.name, self._record, self._live, self.now)

    def window_reading(self, kind: str) -> dict[str, float]:
        """The gauges of the current window of one kind, without computing the others."""
        if "window_readings" in self.__dict__:
            return self.window_readings.get(kind, {})
        readings = window_readings(
            self._aggregator, self.name, self._record, self._live, self.now, kinds=(kind,)
        )
        return readings.get(kind, {})

    @cached_property
    def estimate(self) -> EstimateReading:
        """EWT, agents required and the EWT error (``stream.read.estimates``)."""
        return estimate_reading(self._aggregator, self.name, self._record, self._live, self.now)

    @cached_property
    def flows(self) -> flows.FlowsReading | None:
        """Callbacks waiting, calls and tickets by priority; None: no live index."""
        return None if self._live is None else flows.reading(self._live.flows, self.now)

    @cached_property
    def productivity(self) -> dict[str, ProductivityReading]:
        """Window kind → productivity in the current window; empty without agent timelines."""
        if self._agents is None:
            return {}
        return productivity_readings(self._agents.values(), self.windows, self.now, self.reasons)

    def agent_tiles(self, reasons: tuple[str, ...]) -> AgentTiles:
        """The wallboard's agent tiles (``stream.read.agent_board``), away split by ``reasons``."""
        today = self._aggregator.current_window(self._record, "today", self.now)[1]
        return agent_tiles(self._record, self._live, today, reasons)

    def agent_rows(self, limit: int) -> tuple[list[AgentRow], int]:
        """The ``limit`` agents longest in their state and how many are in the queue."""
        return agent_rows((self._agents or _NO_AGENTS).values(), limit)

    @property
    def version(self) -> int:
        """Source offsets applied plus the agents' newest event times (s): grows with state."""
        agents = (self._agents or _NO_AGENTS).values()
        return sum(self._record.applied.values()) + sum(
            int(s.events[-1][0]) for s in agents if s.events
        )


class WorkerAt:
    """Every queue of the partitions here at ``now``, in the store's order."""

    def __init__(self, pipeline: Pipeline, now: float) -> None:
        self.now = now
        self._pipeline = pipeline
        aggregator = pipeline.aggregator
        self.queues: list[QueueAt] = []
        """Queues with a record, partition by partition, in record order."""
        self.known: list[QueueAt] = []
        """Per partition: the queues listed there without a record yet (by name, their totals
        empty), then ``queues``."""
        self.staffed: list[QueueAt] = []
        """Per partition, by name: the queues of ``queues`` that keep agent timelines."""
        for ps in pipeline.agg_parts.values():
            listed = aggregator.admission.listed_in(ps.partition)
            for name in sorted(listed - ps.queues.keys()):
                self.known.append(QueueAt(aggregator, QueueRecord(name), None, None, now))
            here = [
                QueueAt(aggregator, q, ps.live.get(name), ps.agents.get(name), now)
                for name, q in ps.queues.items()
            ]
            self.queues += here
            self.known += here
            self.staffed += sorted((q for q in here if q.has_agents), key=lambda q: q.name)

    @cached_property
    def customers(self) -> CustomerReading:
        """Churn and conversion of the customer partitions here."""
        parts = self._pipeline.customer_parts.values()
        active = self._pipeline.active_customers()
        return customer_reading((cp.totals for cp in parts), active, self.now)


class ReadView:
    """The read-only view of a worker's partition store (it follows the store as it changes)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def at(self, now: float) -> WorkerAt:
        """Every queue here, read at ``now``."""
        return WorkerAt(self._pipeline, now)

    def counts(self) -> PipelineCounts:
        """The stages' own counters (no KPI computed)."""
        return pipeline_counts(self._pipeline)

    def progress(self, paused: int) -> ProgressReading:
        """Event-time progress; ``paused``: source partitions the worker holds back."""
        return progress_reading(self._pipeline, paused)

"""Reading a queue's estimated wait and staffing figures at one instant: pure, shared by
``/metrics`` (``stream.export.metrics``) and the wallboard snapshots (``stream.export.snapshots``).

At ``now`` (the scrape clock):

* EWT ``recent``: mean wait of the last ``STREAM_EWT_RECENT_CALLS`` calls answered by ``now``;
* EWT ``erlang_c``: Erlang C mean wait with the agents on queue now (the
  ``contact_centre_agents_on_queue`` gauge) under the last full 15-minute window before the
  one containing ``now`` (``stream.core.kpis.ewt``);
* agents required by Erlang C and Erlang A under the same window (``stream.core.kpis.staffing``),
  for the queue's ``service_level_goal`` at its ``answer_target_seconds``;
* the accuracy of both EWT methods: their signed errors (shown at queue time − the wait the
  call had) of the calls settled so far, and the calls settled without an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.core.kpis import ewt
from stream.core.kpis.agents import agents_by_state, staffing
from stream.core.kpis.histogram import Histogram
from stream.core.kpis.staffing import agents_required
from stream.stages.aggregate import Aggregator, QueueRecord
from stream.stages.live import QueueLive

DEFAULT_SERVICE_LEVEL_GOAL = 0.8
"""Goal used with a targets source that has none (a test double); the targets file's default."""


@dataclass(frozen=True, slots=True)
class EstimateReading:
    """The EWT and staffing figures of one queue at ``now``."""

    ewt_seconds: dict[str, float | None]
    """Method (``stream.core.kpis.ewt.METHODS``) → estimated wait; None: no estimate."""
    agents_required: dict[str, int | None]
    """Model (``stream.core.kpis.staffing.MODELS``) → agents required; None: no figure."""
    agents_on_queue: int
    errors: dict[str, Histogram]
    """Method → signed errors of the calls settled (every method present)."""
    unestimated: dict[str, int]
    """Method → calls settled for which the method had no estimate (every method present)."""


def estimate_reading(
    aggregator: Aggregator, name: str, q: QueueRecord, live: QueueLive | None, now: float
) -> EstimateReading:
    """The figures of queue ``name`` at ``now``."""
    state = q.ewt
    on_queue = 0
    if live is not None and live.agents is not None:
        on_queue = staffing(agents_by_state(live.agents))["on_queue"]
    rates = ewt.rates_before(state, now)
    targets = aggregator.targets.for_queue(name)
    goal: float = getattr(targets, "service_level_goal", DEFAULT_SERVICE_LEVEL_GOAL)
    return EstimateReading(
        ewt_seconds={
            "recent": ewt.recent_wait(state, now, aggregator.ewt_recent_calls),
            "erlang_c": ewt.erlang_wait(rates, on_queue),
        },
        agents_required=agents_required(rates, targets.answer_target_seconds, goal),
        agents_on_queue=on_queue,
        errors={m: state.errors.get(m) or Histogram() for m in ewt.METHODS},
        unestimated={m: state.unestimated.get(m, 0) for m in ewt.METHODS},
    )

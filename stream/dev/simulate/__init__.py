"""The traffic generator (dev/demo part): a seeded queueing model of a contact centre, dirty
input, its publisher, and recording / replay of NDJSON files.

`Simulation` is pure and deterministic: given a seed and a start time it advances its own
simulated clock (never the wall clock) and yields contract events in event-time order:

* calls per queue form an M/M/c queue with abandonment: Poisson arrivals, ``agents`` servers,
  exponential patience (the customer hangs up while waiting), exponential talk time, occasional
  holds, exponential after-call work ending in ``call.wrapup_completed``; agents report
  ``agent.state_changed`` (available, busy, after_call_work, away for short breaks);
* tickets per queue arrive on chat, email, web and social with bot replies, customer replies,
  private notes, a first public agent response after a channel-dependent delay (a few are left
  waiting for days), pending/on-hold/solved/closed status changes, occasional reopens and
  escalations;
* call flows (``flows=True``, the default; from a random stream of their own): calls carry a
  priority; some callers who would hang up ask for a callback instead, made later by an agent
  (connected, not answered, canceled); some talks end in a transfer to another queue, whose new
  leg queues there with ``transferred_from``; some callers hang up while on hold;
* CSAT/NPS surveys follow some solves and calls (worse after long waits); some customers then
  place orders or churn.

`publish` sends a simulation to the contract topics with aiokafka, paced to the wall clock
(``occurred_at`` ~ now) or at full speed over a recent time span; with ``dirty_ratio`` it adds
malformed JSON, unknown types, missing fields and exact duplicates (see `Contaminator`).
`write_ndjson` records events to a file and `replay` publishes such a file again.

The modules, one job each: ``profiles`` (the model's parameters, `SimEvent`), ``base`` (clock,
scheduled actions, emitters, random streams), ``calls`` (calls, agents, call flows),
``tickets``, ``customers`` (surveys, orders, churn), ``model`` (`Simulation` from those),
``dirty`` (`Contaminator`), ``sender`` (`publish`), ``recording`` (`write_ndjson`, `replay`).
Topic names and the routing of a recorded line are production code: `stream.contract.topics`. Needs
no extra: the image's ``simulate`` and ``replay`` commands run it.
"""

from __future__ import annotations

from stream.dev.simulate.dirty import Contaminator, DirtyLabel, DirtyMessage
from stream.dev.simulate.model import Simulation
from stream.dev.simulate.profiles import AWAY_REASONS, DEFAULT_QUEUES, QueueProfile, SimEvent
from stream.dev.simulate.recording import (
    ReplayStats,
    count_lines,
    replay,
    start_ending_at,
    write_ndjson,
)
from stream.dev.simulate.sender import PublishStats, publish

__all__ = [
    "AWAY_REASONS",
    "DEFAULT_QUEUES",
    "Contaminator",
    "DirtyLabel",
    "DirtyMessage",
    "PublishStats",
    "QueueProfile",
    "ReplayStats",
    "SimEvent",
    "Simulation",
    "count_lines",
    "publish",
    "replay",
    "start_ending_at",
    "write_ndjson",
]

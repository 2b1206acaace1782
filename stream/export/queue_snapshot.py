"""One queue's wallboard tile (``QueueSnapshot``), built from the read view, and its colours.

``build_snapshots(view, targets, now)`` is pure: the read view of the partitions a worker owns
(``stream.read``) plus the clock give one ``QueueSnapshot`` per queue. Its numbers are the view's
readings, the ones ``/metrics`` exports, so a tile always equals its metric; the agent tiles and
the bounded agent list come through the view from ``stream.read.agent_board``, the colours from
``stream.core.thresholds`` with the targets file's ``wallboard_thresholds``. How snapshots travel
through Redis is ``stream.export.snapshots``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from stream.config import TargetBook
from stream.core.thresholds import TILE_FIELDS, Threshold, colour
from stream.read import ReadView
from stream.read.agent_board import AGENTS_SHOWN

__all__ = [
    "ABANDON_BAD",
    "ABANDON_WARN",
    "QueueSnapshot",
    "build_snapshots",
    "statuses",
    "thresholds_of",
]

# Colour thresholds the targets file has no setting for (see ``statuses``).
ABANDON_WARN: Final = 0.05
ABANDON_BAD: Final = 0.10
GOAL_WARN_MARGIN: Final = 0.10
"""A ratio within this below its goal is amber, further below red."""
TIME_WARN_FACTOR: Final = 2.0
"""A time above its target but within this many times it is amber, beyond red."""
STAFFING_WARN_SHORT: Final = 1
"""Agents on queue this many short of the agents required is amber, more short red."""


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """One queue's tile: live values, today's ratios, the targets that colour them.

    ``None`` means no data (an empty denominator), shown as "—"; ``agents_available`` is the
    ``contact_centre_agents{state="available"}`` value, ``None`` when no agent was ever in the
    queue (no ``agent.state_changed`` has named it).
    """

    queue: str
    team: str | None
    at: float
    """The worker's clock when the snapshot was taken (ages are measured to it)."""
    version: int
    """Sum of the source offsets the queue's state has applied plus its agents' newest event
    times (s): grows as the state does."""
    calls_waiting: int | None
    oldest_call_waiting_seconds: float | None
    service_level_today: float | None
    average_speed_of_answer_today_seconds: float | None
    abandon_rate_today: float | None
    first_response_within_target_today: float | None
    backlog: int | None
    """Unsolved tickets (open + pending + on_hold)."""
    tickets_awaiting_first_response: int | None
    agents_available: int | None
    answer_target_seconds: float
    service_level_goal: float
    status: dict[str, str] = field(default_factory=dict)
    """Tile field → ``good``, ``warn``, ``bad`` or ``none`` (no data or no target)."""
    # The agent tiles and list (``stream.read.agent_board``); None: no agent ever in the queue.
    agents_staffed: int | None = None
    agents_on_queue: int | None = None
    agents_away: int | None = None
    agents_away_by_reason: dict[str, int] | None = None
    agents_ringing: int | None = None
    offers_missed: int | None = None
    agent_answer_rate_today: float | None = None
    agent_list: list[dict[str, Any]] = field(default_factory=list)
    """``STREAM_WALLBOARD_AGENTS`` agents longest in their state (``AgentRow.to_json``)."""
    agents_listed_of: int = 0
    """Agents in the queue now (offline not counted): the list shows the first of them."""
    thresholds: dict[str, list[float]] = field(default_factory=dict)
    """Tile field → ``[warn, bad]`` the status was coloured with (the targets file's or the
    defaults of ``thresholds_of``), so ``/api/snapshots`` says why a tile has its colour."""
    ewt_recent_seconds: float | None = None
    """``contact_centre_ewt_seconds{method="recent"}``: mean wait of the last N answered calls."""
    ewt_erlang_c_seconds: float | None = None
    """``contact_centre_ewt_seconds{method="erlang_c"}``."""
    agents_required: int | None = None
    """``contact_centre_agents_required{model="erlang_a"}``: agents needed now."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_snapshots(
    view: ReadView, targets: TargetBook, now: float, *, agents_shown: int = AGENTS_SHOWN
) -> list[QueueSnapshot]:
    """A snapshot of every queue in the partitions ``view`` reads, at ``now``, by name, each
    listing at most ``agents_shown`` agents."""
    out: list[QueueSnapshot] = []
    reasons = targets.agent_reasons()
    for q in view.at(now).queues:
        name = q.name
        reading = q.live
        today = q.window_reading("today")
        t = targets.for_queue(name)
        rows, listed_of = q.agent_rows(agents_shown)
        est = q.estimate
        snap = QueueSnapshot(
            queue=name,
            team=targets.team(name),
            at=now,
            version=q.version,
            calls_waiting=None if reading is None else reading.calls_waiting,
            oldest_call_waiting_seconds=(
                None if reading is None else reading.oldest_call_waiting_seconds
            ),
            service_level_today=today.get("service_level_ratio"),
            average_speed_of_answer_today_seconds=today.get("average_speed_of_answer_seconds"),
            abandon_rate_today=today.get("abandon_rate_ratio"),
            first_response_within_target_today=today.get("first_response_within_target_ratio"),
            backlog=None if reading is None else sum(reading.backlog.values()),
            tickets_awaiting_first_response=(
                None if reading is None else reading.tickets_awaiting_first_response
            ),
            agents_available=(
                None if reading is None or reading.agents is None else reading.agents["available"]
            ),
            answer_target_seconds=t.answer_target_seconds,
            service_level_goal=t.service_level_goal,
            **dataclasses.asdict(q.agent_tiles(reasons)),
            agent_list=[r.to_json() for r in rows],
            agents_listed_of=listed_of,
            ewt_recent_seconds=est.ewt_seconds["recent"],
            ewt_erlang_c_seconds=est.ewt_seconds["erlang_c"],
            agents_required=est.agents_required["erlang_a"],
        )
        limits = thresholds_of(snap, targets.thresholds(name))
        snap = dataclasses.replace(
            snap,
            status=statuses(snap, limits),
            thresholds={f: [th.warn, th.bad] for f, th in limits.items()},
        )
        out.append(snap)
    out.sort(key=lambda s: s.queue)
    return out


def thresholds_of(
    s: QueueSnapshot, configured: Mapping[str, Threshold] | None = None
) -> dict[str, Threshold]:
    """The thresholds a tile is coloured with: the targets file's (``wallboard_thresholds``)
    where it sets one, else these defaults:

    * service level: warn below the goal, bad 10 points further below;
    * first response within target: the same against the service-level goal (the targets file
      has no separate goal for it);
    * ASA, oldest call waiting and both EWTs: warn above the answer target, bad above
      2 × target;
    * abandon rate: warn above 5 %, bad above 10 %;
    * agents on queue: warn one short of the agents required (Erlang A), bad more short;
    * every other field (counts, agent tiles, agents required): none, not coloured unless the
      file sets one.
    """
    # Rounded: 0.8 - 0.1 is 0.7000000000000001 in floating point, and 70 % must be amber.
    goal = Threshold(s.service_level_goal, round(s.service_level_goal - GOAL_WARN_MARGIN, 9))
    target = s.answer_target_seconds
    wait = Threshold(target, target * TIME_WARN_FACTOR)
    out = {
        "service_level_today": goal,
        "first_response_within_target_today": goal,
        "average_speed_of_answer_today_seconds": wait,
        "oldest_call_waiting_seconds": wait,
        "abandon_rate_today": Threshold(ABANDON_WARN, ABANDON_BAD),
        "ewt_recent_seconds": wait,
        "ewt_erlang_c_seconds": wait,
    }
    if s.agents_required is not None:  # on queue: enough is green, one short amber, more red
        out["agents_on_queue"] = Threshold(
            s.agents_required, s.agents_required - STAFFING_WARN_SHORT
        )
    out.update(configured or {})
    return out


def statuses(s: QueueSnapshot, thresholds: Mapping[str, Threshold] | None = None) -> dict[str, str]:
    """The colour of each tile field (``stream.core.thresholds.colour``) with ``thresholds``
    (default: ``thresholds_of(s)``, the built-in ones); ``none`` where a field has none."""
    limits = thresholds_of(s) if thresholds is None else thresholds
    return {
        name: colour(getattr(s, name), limits.get(name), direction)
        for name, (_, direction) in TILE_FIELDS.items()
    }

"""The targets model: which service targets, calendar and wallboard thresholds apply to a queue.

``Targets`` holds the targets of one queue and channel (answer target, short-abandon threshold,
first-response, resolution and handle-time targets, service-level goal, time zone, survey
sample); ``TargetBook`` answers "which targets apply to this queue and channel" with one
dictionary lookup, built once from the layers built-in → file defaults → queue → queue's channel
(``BUILTIN_TARGETS``: the defaults of ``docs/kpis.md``). Reading the YAML file into those layers
is ``stream.config.targets_file``. Standard library and the pure ``stream.core.kpis.business_hours``
and ``stream.core.thresholds`` only.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final, TypeAlias

from stream.core.kpis.business_hours import DAY_SECONDS, BusinessCalendar, Range
from stream.core.thresholds import Threshold

__all__ = [
    "BUILTIN_FIRST_RESPONSE_SECONDS",
    "BUILTIN_TARGETS",
    "CHANNELS",
    "CalendarLayer",
    "Layer",
    "QueueLayers",
    "TargetBook",
    "Targets",
    "Weekly",
]

# The contract's channels (docs/contract.md). Repeated here rather than imported from events.py so
# that this package stays free of msgspec and of the event model.
CHANNELS: Final[tuple[str, ...]] = ("phone", "chat", "email", "social", "web", "sms")

_HOUR: Final = 3600.0
_DAY: Final = 86400.0

BUILTIN_FIRST_RESPONSE_SECONDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "phone": 60.0,
        "chat": 60.0,
        "email": 24 * _HOUR,
        "social": 24 * _HOUR,
        "web": 24 * _HOUR,
        # kpis.md names no SMS target. SMS is asynchronous messaging like email and social
        # (the customer does not wait on the line), so it gets their 24 h target.
        "sms": 24 * _HOUR,
    }
)


@dataclass(frozen=True, slots=True)
class Targets:
    """The targets that apply to one queue (and channel); durations in seconds.

    ``first_response_seconds`` is the target of the channel asked for. Asked without a channel
    it is the strictest (smallest) of the queue's per-channel targets, so that a caller that
    forgets the channel errs towards reporting a breach early rather than never.
    """

    answer_target_seconds: float
    """T of the service level: a call answered within T counts as within target."""
    short_abandon_seconds: float
    """Calls abandoned within this are short abandons (left out of the service level)."""
    first_response_seconds: float
    resolution_seconds: float
    handle_time_seconds: float
    service_level_goal: float
    """Alert threshold of the service level, a ratio in (0, 1]."""
    timezone: str
    """IANA time zone of the queue: where its ``today`` window starts."""
    survey_min_sample: int = 1
    """Fewest survey responses a CSAT or NPS score of a window is exported on (counts always)."""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """``timezone`` as a ``ZoneInfo`` (zoneinfo caches instances)."""
        return zoneinfo.ZoneInfo(self.timezone)


BUILTIN_TARGETS: Final = Targets(
    answer_target_seconds=20.0,
    short_abandon_seconds=5.0,
    first_response_seconds=min(BUILTIN_FIRST_RESPONSE_SECONDS.values()),
    resolution_seconds=2 * _DAY,
    handle_time_seconds=6 * 60.0,
    service_level_goal=0.8,
    timezone="UTC",
)
"""The defaults of kpis.md ("Targets"), for a queue asked about without a channel."""

# One layer of overrides: target name -> value; "first_response_seconds" maps channel -> seconds.
Layer: TypeAlias = Mapping[str, float | str | Mapping[str, float]]


def _resolve(layers: tuple[Layer, ...], channel: str | None) -> Targets:
    """Apply ``layers`` in order on top of the built-in targets."""
    numbers = {
        "answer_target_seconds": BUILTIN_TARGETS.answer_target_seconds,
        "short_abandon_seconds": BUILTIN_TARGETS.short_abandon_seconds,
        "resolution_seconds": BUILTIN_TARGETS.resolution_seconds,
        "handle_time_seconds": BUILTIN_TARGETS.handle_time_seconds,
        "service_level_goal": BUILTIN_TARGETS.service_level_goal,
        "survey_min_sample": float(BUILTIN_TARGETS.survey_min_sample),
    }
    first_response = dict(BUILTIN_FIRST_RESPONSE_SECONDS)
    zone = BUILTIN_TARGETS.timezone
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping):
                first_response.update(value)
            elif isinstance(value, str):
                zone = value
            else:
                numbers[key] = value
    return Targets(
        answer_target_seconds=numbers["answer_target_seconds"],
        short_abandon_seconds=numbers["short_abandon_seconds"],
        first_response_seconds=(
            first_response[channel] if channel is not None else min(first_response.values())
        ),
        resolution_seconds=numbers["resolution_seconds"],
        handle_time_seconds=numbers["handle_time_seconds"],
        service_level_goal=numbers["service_level_goal"],
        timezone=zone,
        survey_min_sample=int(numbers["survey_min_sample"]),
    )


Weekly: TypeAlias = tuple[tuple[Range, ...], ...]


@dataclass(frozen=True, slots=True)
class CalendarLayer:
    """Business hours and holidays set at one level; None: not set there (inherited)."""

    weekly: Weekly | None = None
    always_open: bool = False  # `business_hours: 24x7`: open around the clock
    holidays: frozenset[date] | None = None


@dataclass(frozen=True, slots=True)
class QueueLayers:
    targets: Layer
    channels: Mapping[str, Layer]
    team: str | None = None
    calendar: CalendarLayer = CalendarLayer()
    thresholds: Mapping[str, Threshold] = dataclasses.field(default_factory=dict)


def _calendar(zone: str, layers: tuple[CalendarLayer, ...]) -> BusinessCalendar:
    """The business calendar of ``layers`` applied in order (absent hours: 24×7, no holidays)."""
    weekly: Weekly | None = None
    holidays: frozenset[date] = frozenset()
    for layer in layers:
        if layer.always_open:
            weekly = None
        elif layer.weekly is not None:
            weekly = layer.weekly
        if layer.holidays is not None:
            holidays = layer.holidays
    if weekly is not None and all(day == ((0, DAY_SECONDS),) for day in weekly):
        weekly = None  # every day 00:00-24:00 is 24×7: business time is calendar time
    return BusinessCalendar(zoneinfo.ZoneInfo(zone), weekly, holidays)


class TargetBook:
    """Targets by queue and channel: built-in -> file defaults -> queue -> queue's channel.

    Immutable. Every answer is computed once, when the book is built, so ``for_queue`` on the
    hot path is a dictionary lookup. Queues that the file does not name get the (file) defaults
    without being remembered, so arbitrary queue names in events cannot grow the book.
    Build it with ``load_targets``, ``parse_targets`` or ``TargetBook.default()``.
    """

    __slots__ = (
        "_by_default",
        "_by_queue",
        "_calendars",
        "_default_calendar",
        "_default_zone",
        "_queues",
        "_reasons",
        "_source",
        "_teams",
        "_thresholds",
        "_zones",
    )

    def __init__(
        self,
        defaults: Layer | None = None,
        queues: Mapping[str, QueueLayers] | None = None,
        *,
        source: str = "<built-in>",
        calendar: CalendarLayer | None = None,
        agent_reasons: tuple[str, ...] = (),
        thresholds: Mapping[str, Threshold] | None = None,
    ) -> None:
        base: tuple[Layer, ...] = (defaults,) if defaults else ()
        self._reasons = agent_reasons
        # Wallboard thresholds: "" → the file's, each queue → the file's overridden by its own.
        self._thresholds: dict[str, Mapping[str, Threshold]] = {
            "": MappingProxyType(dict(thresholds or {}))
        }
        for queue, layers in (queues or {}).items():
            self._thresholds[queue] = MappingProxyType({**(thresholds or {}), **layers.thresholds})
        channels: tuple[str | None, ...] = (None, *CHANNELS)
        self._source = source
        self._by_default: dict[str | None, Targets] = {
            channel: _resolve(base, channel) for channel in channels
        }
        self._queues: tuple[str, ...] = tuple(queues or {})
        self._by_queue: dict[tuple[str, str | None], Targets] = {}
        for queue, layers in (queues or {}).items():
            for channel in channels:
                layer = layers.channels.get(channel, {}) if channel is not None else {}
                self._by_queue[queue, channel] = _resolve((*base, layers.targets, layer), channel)
        self._default_zone = zoneinfo.ZoneInfo(self._by_default[None].timezone)
        self._zones = {
            queue: zoneinfo.ZoneInfo(self._by_queue[queue, None].timezone) for queue in self._queues
        }
        self._teams = {
            queue: layers.team for queue, layers in (queues or {}).items() if layers.team
        }
        base_calendar = (calendar,) if calendar is not None else ()
        self._default_calendar = _calendar(self._by_default[None].timezone, base_calendar)
        self._calendars = {
            queue: _calendar(
                self._by_queue[queue, None].timezone, (*base_calendar, layers.calendar)
            )
            for queue, layers in (queues or {}).items()
        }

    @classmethod
    def default(cls) -> TargetBook:
        """The built-in targets of kpis.md for every queue."""
        return cls()

    @property
    def source(self) -> str:
        """Where the book came from: the file path, or ``<built-in>``."""
        return self._source

    def for_queue(self, queue: str, channel: str | None = None) -> Targets:
        """The targets of ``queue`` (and ``channel``: its overrides and first-response target).

        Raises ``ValueError`` for a channel not in ``CHANNELS``.
        """
        targets = self._by_queue.get((queue, channel))
        if targets is None:
            try:
                targets = self._by_default[channel]
            except KeyError:
                raise ValueError(
                    f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}"
                ) from None
        return targets

    def zone(self, queue: str) -> zoneinfo.ZoneInfo:
        """The time zone of ``queue`` (where its ``today`` starts)."""
        return self._zones.get(queue, self._default_zone)

    def calendar(self, queue: str) -> BusinessCalendar:
        """The business hours, holidays and time zone of ``queue`` (business-time KPIs)."""
        return self._calendars.get(queue, self._default_calendar)

    def queues(self) -> list[str]:
        """The queues the targets file names, in file order."""
        return list(self._queues)

    def agent_reasons(self) -> tuple[str, ...]:
        """The away reasons exported as labels (``agent_reasons:``), in file order; any other
        reason is exported as ``other`` (``stream.core.kpis.reasons``)."""
        return self._reasons

    def team(self, queue: str) -> str | None:
        """The team the targets file gives ``queue`` (the wallboard's ``?team=``), or None."""
        return self._teams.get(queue)

    def thresholds(self, queue: str) -> Mapping[str, Threshold]:
        """Tile field → wallboard colour thresholds of ``queue`` (``wallboard_thresholds:``:
        the file's, each field overridden by the queue's own; ``stream.core.thresholds``)."""
        return self._thresholds.get(queue, self._thresholds[""])

    def __repr__(self) -> str:
        return f"<TargetBook {self._source} queues={list(self._queues)}>"

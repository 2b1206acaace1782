"""Mergeable per-queue counts: one window's totals and the all-time counters per channel.

A window's totals (``WindowTotals``) feed the ratio gauges (service level, abandon rate, ASA,
first response within target, CSAT, NPS); the all-time counters and histograms (``QueueTotals``)
are exported as Prometheus counters and histograms and never reset; their names come from the
fact kinds' declaration (``stream.core.kpis.facts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Final

from stream.core.kpis.facts import FACTS, ONE_TOUCH_REOPENED
from stream.core.kpis.histogram import Histogram
from stream.core.kpis.histogram import merge as merge_histograms


@dataclass(slots=True)
class WindowTotals:
    """Counts of one queue in one window (all channels together)."""

    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    wait_seconds: float = 0.0
    handled: int = 0
    handle_seconds: float = 0.0
    tickets_created: int = 0
    first_responses: int = 0
    first_responses_within: int = 0
    first_response_seconds: float = 0.0
    solved: int = 0
    solved_within: int = 0
    reopened: int = 0
    escalated: int = 0
    csat_responses: int = 0
    csat_positive: int = 0
    csat_score_sum: int = 0
    nps_responses: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    complaints: int = 0
    first_contact_resolved: int = 0  # one-touch solves, less those reopened within 7 days
    first_resolutions: int = 0  # tickets solved for the first time (created → first solved)
    first_resolution_seconds: float = 0.0
    handled_within: int = 0  # completed calls with talk + hold + ACW ≤ the handle-time target
    agent_offers: int = 0  # rings of an agent (call.offered) started in the window
    agent_offers_answered: int = 0  # answers that ended a ring (agent answer rate: ÷ offers)
    # Call flows (``stream.core.kpis.flows``): transfers out of / in to the queue, callers who hung
    # up on hold, callbacks requested and made.
    transfers_out: int = 0
    transfers_in: int = 0
    abandoned_on_hold: int = 0
    callbacks_requested: int = 0
    callbacks_completed: int = 0


_WINDOW_FIELDS = tuple(f.name for f in fields(WindowTotals))


def merge_windows(a: WindowTotals, b: WindowTotals) -> WindowTotals:
    """Field-wise sum: windows of two partitions or two sub-intervals combine this way."""
    return WindowTotals(*(getattr(a, n) + getattr(b, n) for n in _WINDOW_FIELDS))


COUNTERS: Final[tuple[str, ...]] = (
    *(name for spec in FACTS for name in (spec.counter, spec.flag_counter) if name is not None),
    ONE_TOUCH_REOPENED,
)
"""The all-time counters of the plain fact kinds (``stream.core.kpis.facts``); the labelled kinds
count under their own names."""
HISTOGRAMS: Final[tuple[str, ...]] = tuple(
    name for spec in FACTS for name in (spec.histogram, spec.business_histogram) if name is not None
)
"""The all-time histograms of the fact kinds, business-time twins included."""


@dataclass(slots=True)
class QueueTotals:
    """All-time counters and histograms of one queue, by channel (and survey kind)."""

    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    histograms: dict[str, dict[str, Histogram]] = field(default_factory=dict)
    surveys: dict[str, int] = field(default_factory=dict)

    def bump(self, name: str, channel: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name`` of ``channel``."""
        per_channel = self.counters.setdefault(name, {})
        per_channel[channel] = per_channel.get(channel, 0) + by

    def histogram(self, name: str, channel: str) -> Histogram:
        """The histogram ``name`` of ``channel`` (created empty on first use)."""
        per_channel = self.histograms.setdefault(name, {})
        hist = per_channel.get(channel)
        if hist is None:
            hist = per_channel[channel] = Histogram()
        return hist


def merge_totals(a: QueueTotals, b: QueueTotals) -> QueueTotals:
    """Sum of two queues' (or two partitions') all-time totals."""
    out = QueueTotals()
    for src in (a, b):
        for name, per_channel in src.counters.items():
            for channel, n in per_channel.items():
                out.bump(name, channel, n)
        for name, hists in src.histograms.items():
            for channel, hist in hists.items():
                dst = out.histograms.setdefault(name, {})
                dst[channel] = merge_histograms(dst.get(channel, Histogram()), hist)
        for kind, n in src.surveys.items():
            out.surveys[kind] = out.surveys.get(kind, 0) + n
    return out

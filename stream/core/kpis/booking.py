"""Booking one fact into a queue's all-time totals and its open windows, generated from the
fact kinds' declaration (``stream.core.kpis.facts``).

``book_fact`` is a lookup: fact kind → a booker built once at import from the kind's row
(``BOOKERS``); a labelled kind (``exited:timeout``) finds the booker of its prefix. Surveys keep
a booker of their own (CSAT or NPS by the survey kind). A kind declared nowhere books nothing.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Final, cast

from stream.core.kpis.facts import FACTS, LABELLED, SURVEY, FactSpec, LabelledSpec
from stream.core.kpis.histogram import observe
from stream.core.kpis.surveys import is_csat_positive, nps_class
from stream.core.kpis.totals import QueueTotals, WindowTotals

Booker = Callable[[QueueTotals, Sequence[WindowTotals], str, str, float, bool], None]
"""``(totals, windows, kind, channel, value, flag)``: one fact into totals and windows."""


_SIGNATURE: Final = "(totals, windows, kind, channel, value, flag)"
_WINDOW_FIELDS: Final = frozenset(f.name for f in fields(WindowTotals))


def _compiled(name: str, lines: list[str], constants: dict[str, object]) -> Booker:
    """A booker from its body's lines: straight-line code, as fast as a hand-written branch
    (the row's names are checked against ``WindowTotals`` first)."""
    source = f"def {name}{_SIGNATURE}:\n" + "".join(f"    {line}\n" for line in lines or ["pass"])
    namespace: dict[str, object] = {"observe": observe, **constants}
    exec(compile(source, f"<booker {name}>", "exec"), namespace)
    booker = namespace[name]
    assert callable(booker)
    return cast(Booker, booker)


def _window_lines(adds: list[tuple[str | None, str]]) -> list[str]:
    """``for w in windows: w.<field> += <what>`` for each named field."""
    named = [(f, what) for f, what in adds if f is not None]
    for f, _ in named:
        if f not in _WINDOW_FIELDS:
            raise ValueError(f"{f!r} is no field of WindowTotals")
    if not named:
        return []
    return ["for w in windows:", *(f"    w.{f} += {what}" for f, what in named)]


def _fact_booker(spec: FactSpec) -> Booker:
    """The booker of one plain kind: only the steps its row names."""
    lines = []
    if spec.counter is not None:
        lines.append(f"totals.bump({spec.counter!r}, channel)")
    if spec.histogram is not None:
        lines.append(f"observe(totals.histogram({spec.histogram!r}, channel), bounds, value)")
    if spec.flag_counter is not None:
        lines += ["if flag:", f"    totals.bump({spec.flag_counter!r}, channel)"]
    lines += _window_lines(
        [(spec.count_field, "1"), (spec.flag_field, "flag"), (spec.value_field, "value")]
    )
    return _compiled(spec.kind, lines, {"bounds": spec.bounds})


def _labelled_booker(spec: LabelledSpec) -> Booker:
    """The booker of a labelled kind: its own counter, and the window count if it has one."""
    lines = ["totals.bump(kind, channel)", *_window_lines([(spec.count_field, "1")])]
    return _compiled(spec.counter, lines, {})


def _book_survey(
    totals: QueueTotals,
    windows: Sequence[WindowTotals],
    kind: str,
    channel: str,
    value: float,
    flag: bool,
) -> None:
    """A survey response: ``channel`` is the survey kind, ``value`` the score."""
    score = int(value)
    totals.surveys[channel] = totals.surveys.get(channel, 0) + 1
    for w in windows:
        if channel == "csat":
            w.csat_responses += 1
            w.csat_positive += is_csat_positive(score)
            w.csat_score_sum += score
        else:
            w.nps_responses += 1
            cls = nps_class(score)
            w.nps_promoters += cls == 1
            w.nps_detractors += cls == -1


BOOKERS: Final[dict[str, Booker]] = {
    **{spec.kind: _fact_booker(spec) for spec in FACTS},
    **{spec.prefix: _labelled_booker(spec) for spec in LABELLED},
    SURVEY: _book_survey,
}
"""Fact kind (a labelled kind's prefix) → its booker."""


def _ignore(*_: object) -> None:
    """A kind declared nowhere books nothing."""


def book_fact(
    totals: QueueTotals,
    windows: Sequence[WindowTotals],
    kind: str,
    channel: str,
    value: float,
    flag: bool,
) -> None:
    """One fact into the all-time totals and the open windows."""
    booker_of(kind)(totals, windows, kind, channel, value, flag)


def booker_of(kind: str) -> Booker:
    """The booker of ``kind``: its own, else its label prefix's, else one that books nothing."""
    booker = BOOKERS.get(kind)
    if booker is None:
        booker = BOOKERS.get(kind[: kind.find(":") + 1], _ignore)
    return booker


BUSINESS_HISTOGRAMS: Final[dict[str, tuple[str, tuple[float, ...]]]] = {
    spec.kind: (spec.business_histogram, spec.bounds)
    for spec in FACTS
    if spec.business_histogram is not None
}
"""Fact kinds whose duration is also booked in business time → (histogram, bounds)."""

"""The side-by-side job itself, free of any framework: what every contender computes.

Owns the calls KPI the contenders of ``benchmarks.rivals`` run: per queue, calls offered
(``call.queued``), answered (``call.answered``), abandoned (``call.abandoned``) and answered
within 20 s (wait = answer − queued ≤ the default answer target), all time and in 15-minute
tumbling windows by event time (an offer in the window of its ``call.queued``, an answer or an
abandon in the window of its own event). The wait needs one piece of state per call, keyed by
``call_id`` (the calls topic's key); the counters are keyed by queue.

The rules are the worker's (``stream.core.lifecycle.apply_call``): an answer or abandon counts only
for a
call queued before and still waiting, in the queue of its ``call.queued``. ``step`` is the one
pure transition the contenders share, so they cannot differ on what the job means; how the state
is kept, keyed, windowed and aggregated is each framework's own. ``reference`` runs the same rules
over the recorded file in-process, the oracle every contender's counters are compared with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

from stream.contract.decoder import Rejection, decode
from stream.contract.events import CallAbandoned, CallAnswered, CallQueued

ANSWER_TARGET_SECONDS: Final = 20.0
WINDOW_SECONDS: Final = 900
OFFERED, ANSWERED, ABANDONED, WITHIN = range(4)
COUNTERS: Final = ("offered", "answered", "abandoned", "answered_within_20s")
JOB_TYPES: Final = (CallQueued, CallAnswered, CallAbandoned)

Counts = list[int]
"""``[offered, answered, abandoned, answered within 20 s]``."""


class Fact(NamedTuple):
    """What one call event adds to its queue's counters: which counter(s), at what event time."""

    queue: str
    kind: int  # OFFERED, ANSWERED or ABANDONED
    at: float  # event time, epoch seconds
    within: bool  # an answer within the target


CallState = tuple[str, float]
"""A waiting call: its queue and the event time it was queued."""


def step(
    state: CallState | None, event: CallQueued | CallAnswered | CallAbandoned
) -> tuple[CallState | None, Fact | None]:
    """One call event applied to its call's state: the new state (None: forget the call) and
    the fact it books, if any. Out-of-order or repeated events book nothing."""
    at = event.occurred_at.timestamp()
    if type(event) is CallQueued:
        if state is not None:
            return state, None
        return (event.queue, at), Fact(event.queue, OFFERED, at, False)
    if state is None:
        return None, None
    queue, queued_at = state
    if type(event) is CallAnswered:
        return None, Fact(queue, ANSWERED, at, max(0.0, at - queued_at) <= ANSWER_TARGET_SECONDS)
    return None, Fact(queue, ABANDONED, at, False)


def window_start(at: float) -> int:
    """The start (epoch seconds) of the 15-minute window holding event time ``at``."""
    return int(at // WINDOW_SECONDS) * WINDOW_SECONDS


def add(counts: Counts, fact: Fact) -> Counts:
    """``counts`` with ``fact`` booked (in place; returned for folds)."""
    counts[fact.kind] += 1
    if fact.within:
        counts[WITHIN] += 1
    return counts


def merge(a: Counts, b: Counts) -> Counts:
    return [x + y for x, y in zip(a, b, strict=True)]


@dataclass(slots=True)
class Tally:
    """Every counter of the job: all time per queue, and per (queue, window start)."""

    totals: dict[str, Counts] = field(default_factory=dict)
    windows: dict[tuple[str, int], Counts] = field(default_factory=dict)

    def book(self, fact: Fact) -> None:
        counts = self.totals.get(fact.queue)
        if counts is None:
            counts = self.totals[fact.queue] = [0, 0, 0, 0]
        add(counts, fact)
        key = (fact.queue, window_start(fact.at))
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = [0, 0, 0, 0]
        add(window, fact)


class Job:
    """The job in plain Python dicts: call states by ``call_id`` and a ``Tally``."""

    __slots__ = ("calls", "tally")

    def __init__(self) -> None:
        self.calls: dict[str, CallState] = {}
        self.tally = Tally()

    def feed(self, event: CallQueued | CallAnswered | CallAbandoned) -> None:
        call_id = event.call_id
        state, fact = step(self.calls.get(call_id), event)
        if state is None:
            self.calls.pop(call_id, None)
        else:
            self.calls[call_id] = state
        if fact is not None:
            self.tally.book(fact)


def reference(path: Path) -> Tally:
    """The oracle: the recorded NDJSON file through ``Job`` in file order (each call's events
    are in order in the file, as in its partition)."""
    job = Job()
    with path.open("rb") as fh:
        for line in fh:
            event = decode(line.rstrip(b"\n"))
            if isinstance(event, Rejection):
                raise ValueError(f"the recorded set holds an invalid event: {event}")
            if isinstance(event, JOB_TYPES):
                job.feed(event)
    return job.tally


# --- what a contender hands back ----------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """A contender's answer: its counters, the events it read, when it read the first and when
    it had booked the last (``time.time()``, so the rate leaves start-up out), and events it
    could not decode."""

    tally: Tally
    events: int
    first_at: float
    last_at: float
    rejected: int = 0
    peak_rss: int = 0
    """The contender's own ``VmHWM`` in bytes (0: measured from outside)."""

    def dump(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "events": self.events,
                    "first_at": self.first_at,
                    "last_at": self.last_at,
                    "rejected": self.rejected,
                    "peak_rss": self.peak_rss,
                    "totals": self.tally.totals,
                    "windows": [[q, s, c] for (q, s), c in self.tally.windows.items()],
                }
            )
        )

    @classmethod
    def load(cls, path: Path) -> Outcome:
        raw = json.loads(path.read_text())
        tally = Tally(
            {q: list(c) for q, c in raw["totals"].items()},
            {(q, int(s)): list(c) for q, s, c in raw["windows"]},
        )
        return cls(tally, raw["events"], raw["first_at"], raw["last_at"], raw["rejected"],
                   raw.get("peak_rss", 0))  # fmt: skip


def differences(got: dict[str, Counts], want: dict[str, Counts]) -> int:
    """How many queues' all-time counters differ (a queue missing on either side counts)."""
    zero = [0, 0, 0, 0]
    return sum(1 for q in set(got) | set(want) if got.get(q, zero) != want.get(q, zero))


def window_differences(got: Iterable[tuple[tuple[str, int], Counts]], want: Tally) -> int:
    """How many (queue, window) counters differ from the reference's."""
    seen = dict(got)
    zero = [0, 0, 0, 0]
    keys = set(seen) | set(want.windows)
    return sum(1 for k in keys if seen.get(k, zero) != want.windows.get(k, zero))

"""SLA timers and backlog age: sorted multisets of instants, read with ``bisect`` at any ``now``.

Every waiting call and every unsolved ticket has deadlines: *answer* (queued + answer target),
*first response* (created + first-response target, while no public agent reply) and *resolution*
(created + resolution target, while unsolved). A queue keeps, per kind, the deadlines of the
items still pending in one sorted list; an item leaves the list when it is answered, responded
to or solved. Counting then costs two binary searches per read, so a count changes exactly at
the deadline itself (whenever it is read) without any periodic scan over contacts:

* breached = deadlines ≤ now (count of items; 0 when none);
* at risk = now < deadline ≤ now + horizon (default 15 min; count of items; 0 when none).

The backlog by age reads the same kind of sorted list, of unsolved tickets' creation times.
Pure: instants are epoch seconds passed in, never read from a clock. The lists are arrays of
doubles (``instants()``): 8 bytes an entry instead of a float object and a pointer (32).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right, insort
from collections.abc import Iterable, MutableSequence, Sequence
from typing import Final

SLA_KINDS: Final[tuple[str, ...]] = ("answer", "first_response", "resolution")
AT_RISK_HORIZON_SECONDS: Final = 900.0
_DAY: Final = 86400.0
# (label, youngest age in days inclusive, oldest age in days exclusive; None: unbounded)
AGE_BUCKETS: Final[tuple[tuple[str, float, float | None], ...]] = (
    ("<1d", 0.0, 1.0),
    ("1-3d", 1.0, 3.0),
    ("3-7d", 3.0, 7.0),
    ("7-30d", 7.0, 30.0),
    (">30d", 30.0, None),
)


def instants(values: Iterable[float] = ()) -> array[float]:
    """A sorted multiset of instants holding ``values``."""
    return array("d", sorted(values))


def add(instants: MutableSequence[float], at: float) -> None:
    """Insert ``at`` keeping ``instants`` sorted (duplicates allowed: a multiset)."""
    insort(instants, at)


def remove(instants: MutableSequence[float], at: float) -> bool:
    """Remove one occurrence of ``at``; False when it was not there (nothing changes)."""
    i = bisect_right(instants, at) - 1
    if i >= 0 and instants[i] == at:
        del instants[i]
        return True
    return False


def breached(deadlines: Sequence[float], now: float) -> int:
    """Items whose deadline is at or before ``now``: count, 0 for an empty list."""
    return bisect_right(deadlines, now)


def at_risk(
    deadlines: Sequence[float], now: float, horizon_seconds: float = AT_RISK_HORIZON_SECONDS
) -> int:
    """Items whose deadline falls in (now, now + horizon]: count, 0 for an empty list."""
    return bisect_right(deadlines, now + horizon_seconds) - bisect_right(deadlines, now)


def by_age(created: Sequence[float], now: float) -> dict[str, int]:
    """Unsolved tickets per age bucket (``AGE_BUCKETS``; age = now − created, a bucket holds
    ages ≥ its lower bound and < its upper bound); every bucket present, 0 when empty. A
    creation time after ``now`` (clock skew) counts as age 0. Edges are computed as instants
    (created ≤ now − lower bound), so float rounding of ``now − created`` plays no part."""
    out: dict[str, int] = {}
    for label, young_days, old_days in AGE_BUCKETS:
        # age ≥ young ⇔ created ≤ now − young; age < old ⇔ created > now − old
        upto = len(created) if young_days == 0.0 else bisect_right(created, now - young_days * _DAY)
        below = 0 if old_days is None else bisect_right(created, now - old_days * _DAY)
        out[label] = upto - below
    return out

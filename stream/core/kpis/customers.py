"""Churn, retention and conversion after contact: facts of customers, joined by customer.

**Churn**: customers who churned, and how many of them had contacted support before; *active
customers* (a contact in the last 30 days of event time) are the churn rate's denominator.
**Conversion**: contacts followed by an order of the same customer within a horizon
(``STREAM_CONVERSION_HORIZON_SECONDS``, default 7 days): an order at ``o`` converts every contact
at ``c`` with ``c < o ≤ c + horizon``, counted per queue of the contact (the ticket's queue). The
denominator is every contact with a customer seen so far (counted at once); a contact is counted
converted when its first qualifying order arrives, so the share of the newest contacts (horizon
still open) can still grow.

Contacts are keyed by contact (``ticket_id``), churns and orders by ``customer_id``: the router
sends a small *fact* per contact that names a customer (a ``ticket.created`` with
``customer_id``; the contract gives calls no customer), per ``customer.churned`` and per
``order.placed`` to the stage-2 partition of the customer (the forward topic keyed by
``customer_id``). There, one ``CustomerRecord`` per customer holds its contacts, churns and
orders, and one ``CustomerTotals`` per partition holds the counts the metrics export.

Exact under duplicates, replays and any order: a fact is identified by a hash (the contact's
``t:<ticket_id>``, the churn's or order's ``event_id``) and applied once; a churn is *after
contact* when the customer has a contact in ``[churned_at − 30 d, churned_at]``, whichever of
the two arrives first — a contact arriving after the churn it precedes flips that churn once and
books it then; likewise an order converts the contacts before it, whichever arrives first.

Memory: a customer record is forgotten once its newest fact is more than ``LOOKBACK_SECONDS``
older than the partition's newest fact (30 days without contact, churn or order), and facts
older than twice that are dropped from records that stay (``prune``); window counts are kept
for ``WINDOW_KEEP_SECONDS``. A fact arriving more than 30 days late (event time) is
therefore judged against what is still remembered.

Windows are UTC-aligned (``15m``, ``1h``, ``today`` = the UTC day): the families have no queue,
so no queue's time zone applies.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

from stream.core.windows import WINDOW_KINDS, window_start

LOOKBACK_SECONDS: Final = 30 * 86400.0
"""A churn counts as *after contact* when a contact lies at most this long before it."""
WINDOW_KEEP_SECONDS: Final = 2 * 86400.0
"""Window counts older than this (before the partition's newest churn) are dropped."""
UTC: Final = ZoneInfo("UTC")
CONVERSION_HORIZON_SECONDS: Final = 7 * 86400.0
"""Default horizon: an order at most this long after a contact converts it."""

Contact = tuple[float, bytes, str]  # (occurred at, contact hash, queue)
Churn = tuple[float, bytes, bool]  # (occurred at, event-id hash, had a contact before it)
Order = tuple[float, bytes]  # (occurred at, event-id hash)


@dataclass(slots=True)
class CustomerRecord:
    """One customer's remembered contacts (sorted by time), churns and orders.

    Tuples, replaced on change: most customers have one contact and no churn or order, and an
    empty tuple is shared (a list per field would cost about 150 bytes per customer)."""

    customer_id: str
    contacts: tuple[Contact, ...] = ()
    churns: tuple[Churn, ...] = ()
    orders: tuple[Order, ...] = ()

    def newest(self) -> float:
        """Event time of the customer's newest fact (contact, churn or order)."""
        return max(
            (self.contacts[-1][0] if self.contacts else float("-inf")),
            max((c[0] for c in self.churns), default=float("-inf")),
            max((o[0] for o in self.orders), default=float("-inf")),
        )


@dataclass(slots=True)
class CustomerTotals:
    """A partition's churn counts: all time and per window (``"<kind>@<start>"`` → counts)."""

    churned: int = 0
    churned_after_contact: int = 0
    windows: dict[str, tuple[int, int]] = field(default_factory=dict)  # (churned, after contact)
    newest: float | None = None
    """Newest event time of any fact of the partition (drives expiry)."""
    contacts: int = 0
    """Contacts with a customer (distinct tickets)."""
    converted: int = 0
    """Of them, those followed by an order within the horizon."""
    queues: dict[str, tuple[int, int]] = field(default_factory=dict)
    """``contacts`` and ``converted`` per queue of the contact."""


def _count_contacts(totals: CustomerTotals, queue: str, contacts: int, converted: int) -> None:
    totals.contacts += contacts
    totals.converted += converted
    if contacts or converted:
        c, v = totals.queues.get(queue, (0, 0))
        totals.queues[queue] = (c + contacts, v + converted)


def _had_contact(rec: CustomerRecord, at: float) -> bool:
    return any(at - LOOKBACK_SECONDS <= c[0] <= at for c in rec.contacts)


def _book(totals: CustomerTotals, at: float, churned: int, after_contact: int) -> None:
    totals.churned += churned
    totals.churned_after_contact += after_contact
    if totals.newest is not None and at < totals.newest - WINDOW_KEEP_SECONDS:
        return
    for kind in WINDOW_KINDS:
        key = f"{kind}@{int(window_start(kind, at, UTC))}"
        c, a = totals.windows.get(key, (0, 0))
        totals.windows[key] = (c + churned, a + after_contact)


def _seen(totals: CustomerTotals, at: float) -> None:
    if totals.newest is None or at > totals.newest:
        totals.newest = at
        floor = at - WINDOW_KEEP_SECONDS
        for key in [k for k in totals.windows if float(k.partition("@")[2]) < floor]:
            del totals.windows[key]


def _converted(rec: CustomerRecord, at: float, horizon: float) -> bool:
    return any(at < o <= at + horizon for o, _ in rec.orders)


def add_contact(
    rec: CustomerRecord,
    totals: CustomerTotals,
    at: float,
    contact: bytes,
    queue: str,
    horizon: float = CONVERSION_HORIZON_SECONDS,
) -> bool:
    """Remember a contact; churns it precedes by at most 30 days become *after contact*; it is
    converted at once when an order of the customer already lies in ``(at, at + horizon]``.

    Idempotent: a contact already remembered (same hash) changes nothing — if it is seen again
    with another time, the earlier time is kept. Returns whether anything changed."""
    was: bool | None = None
    contacts = list(rec.contacts)
    for i, (t, h, q) in enumerate(contacts):
        if h == contact:
            if at >= t:
                return False
            was, queue = _converted(rec, t, horizon), q  # the contact keeps its first queue
            del contacts[i]
            break
    insort(contacts, (at, contact, queue))
    rec.contacts = tuple(contacts)
    _seen(totals, at)
    converted = int(_converted(rec, at, horizon)) - int(bool(was))
    _count_contacts(totals, queue, int(was is None), converted)
    churns = list(rec.churns)
    for i, (t, h, after) in enumerate(churns):
        if not after and t - LOOKBACK_SECONDS <= at <= t:
            churns[i] = (t, h, True)
            _book(totals, t, 0, 1)
    rec.churns = tuple(churns)
    return True


def add_churn(rec: CustomerRecord, totals: CustomerTotals, at: float, event: bytes) -> bool:
    """Count a churn once (by event-id hash), as *after contact* when a contact lies in
    ``[at − 30 d, at]``. Returns whether anything changed."""
    if any(h == event for _, h, _ in rec.churns):
        return False
    after = _had_contact(rec, at)
    rec.churns += ((at, event, after),)
    _seen(totals, at)
    _book(totals, at, 1, int(after))
    return True


def add_order(
    rec: CustomerRecord,
    totals: CustomerTotals,
    at: float,
    event: bytes,
    horizon: float = CONVERSION_HORIZON_SECONDS,
) -> bool:
    """Remember an order once (by event-id hash); contacts in ``[at − horizon, at)`` without an
    earlier qualifying order become converted. Returns whether anything changed."""
    if any(h == event for _, h in rec.orders):
        return False
    newly = [(c, q) for c, _, q in rec.contacts if c < at <= c + horizon]
    newly = [(c, q) for c, q in newly if not _converted(rec, c, horizon)]
    rec.orders += ((at, event),)
    _seen(totals, at)
    for _, queue in newly:
        _count_contacts(totals, queue, 0, 1)
    return True


def conversion_share(converted: int, contacts: int) -> float | None:
    """Share of contacts followed by an order of the same customer within the horizon.

    Formula: converted contacts ÷ contacts with a customer; unit: ratio 0..1; ``None`` when no
    contact named a customer."""
    if contacts <= 0:
        return None
    return converted / contacts


def prune(rec: CustomerRecord, totals: CustomerTotals) -> bool:
    """Forget a customer's facts older than twice the lookback before the partition's newest
    (a customer in touch every day would otherwise keep them all); returns whether it changed.
    They can no longer matter to a fact arriving less than 30 days late."""
    if totals.newest is None:
        return False
    floor = totals.newest - 2 * LOOKBACK_SECONDS
    sizes = (len(rec.contacts), len(rec.churns), len(rec.orders))
    rec.contacts = tuple(c for c in rec.contacts if c[0] >= floor)
    rec.churns = tuple(c for c in rec.churns if c[0] >= floor)
    rec.orders = tuple(o for o in rec.orders if o[0] >= floor)
    return (len(rec.contacts), len(rec.churns), len(rec.orders)) != sizes


def expired(rec: CustomerRecord, totals: CustomerTotals) -> bool:
    """True when the customer's newest fact is more than 30 days older than the partition's
    (longer than any horizon that matters: the default is 7 days)."""
    return totals.newest is not None and rec.newest() < totals.newest - LOOKBACK_SECONDS


def active_count(last_contacts: Sequence[float], totals: CustomerTotals) -> int:
    """Active customers — a contact in the 30 days (event time) before the partition's newest
    fact, the churn rate's denominator — from each customer's newest contact time, sorted."""
    if totals.newest is None:
        return 0
    return len(last_contacts) - bisect_left(last_contacts, totals.newest - LOOKBACK_SECONDS)


def churn_rate(churned: int, active: int) -> float | None:
    """Churned customers ÷ active customers (a contact in the last 30 days); ratio; ``None``
    when no customer is active."""
    if active <= 0:
        return None
    return churned / active


def current_counts(totals: CustomerTotals, kind: str, now: float) -> tuple[int, int] | None:
    """``(churned, churned after contact)`` in the UTC window of ``kind`` containing ``now``;
    ``None`` when no churn fell in it."""
    return totals.windows.get(f"{kind}@{int(window_start(kind, now, UTC))}")


def churned_after_contact_share(after_contact: int, churned: int) -> float | None:
    """Share of churned customers who contacted support in the 30 days before churning.

    Formula: churned after contact ÷ churned; unit: ratio 0..1; ``None`` when nobody churned."""
    if churned <= 0:
        return None
    return after_contact / churned

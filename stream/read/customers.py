"""The customers' numbers of the partitions here: churn, churn after contact, conversion.

Customers live on the partition of their id, so every worker reads its part — conversion per
queue of the contact, churn without a queue — and a dashboard sums over workers. Pure: the
customer partitions' totals, the active count and ``now`` give one ``CustomerReading``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from stream.core.kpis.customers import CustomerTotals, current_counts
from stream.core.windows import WINDOW_KINDS


@dataclass(frozen=True, slots=True)
class CustomerReading:
    churned: int = 0
    churned_after_contact: int = 0
    active: int | None = None
    """Customers with a contact in the 30 days before their partition's newest fact; None: no
    customer partition here."""
    by_queue: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Queue of the contact → (contacts with a customer, converted), by queue name."""
    windows: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Current UTC window kind → (churned, churned after contact); kinds without churn left
    out."""


def customer_reading(
    parts: Iterable[CustomerTotals], active: int | None, now: float
) -> CustomerReading:
    """The sums over the customer partitions' totals ``parts`` at ``now``."""
    churned, after = 0, 0
    by_queue: dict[str, tuple[int, int]] = {}
    windows: dict[str, tuple[int, int]] = {}
    for totals in parts:
        churned += totals.churned
        after += totals.churned_after_contact
        for queue, (c, v) in totals.queues.items():
            c0, v0 = by_queue.get(queue, (0, 0))
            by_queue[queue] = (c0 + c, v0 + v)
        for kind in WINDOW_KINDS:
            counts = current_counts(totals, kind, now)
            if counts is not None:
                c, a = windows.get(kind, (0, 0))
                windows[kind] = (c + counts[0], a + counts[1])
    return CustomerReading(
        churned=churned,
        churned_after_contact=after,
        active=active,
        by_queue={queue: by_queue[queue] for queue in sorted(by_queue)},
        windows=windows,
    )

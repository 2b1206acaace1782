"""The fact kinds a queue books, declared once: what each one counts, observes and adds up.

The lifecycle (``stream.core.lifecycle``) yields facts ``(kind, channel, value, flag)``. Each
plain kind (``FACTS``) names the all-time counter it bumps, the counter it bumps when its flag
is set (and what the flag means for that kind), the histogram it observes the value into with
its bucket bounds (and the twin histogram of the same duration in business hours), and the
fields of every open window (``WindowTotals``) it adds to: the count, the flag, the value. The
labelled kinds (``LABELLED``: ``<prefix><value>``) are counted under their own name, with a
label of their own, and some add to a window count. Two kinds are booked by a small booker of
their own, declared here so that the list is whole: ``survey`` (its kind and score) and
``one_touch_reopened`` (takes a one-touch solve back out of the windows).

``stream.core.kpis.booking`` generates the bookers from these rows, ``stream.core.kpis.totals``
derives the all-time ``COUNTERS`` and ``HISTOGRAMS`` from them, and ``stream.export.totals``
names the exported counters and histograms through them. Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from stream.contract.events import CallbackOutcome, ExitReason, MissReason, TransferKind
from stream.core.kpis.histogram import (
    ANSWER_WAIT_BOUNDS,
    FIRST_RESPONSE_BOUNDS,
    HANDLE_TIME_BOUNDS,
    RESOLUTION_BOUNDS,
)

Flag = Literal["within target", "short abandon", "complaint", "one touch"]
"""What a fact's flag says: the value met the queue's target; an abandon within the
short-abandon threshold; a ticket created with category complaint; a solve with at most one
public agent message on a ticket never reopened (a first-contact resolution unless reopened
within 7 days)."""


@dataclass(frozen=True, slots=True)
class FactSpec:
    """One plain fact kind: what booking it changes (``None``: nothing of that sort)."""

    kind: str
    counter: str | None = None
    """All-time counter bumped by every fact of the kind."""
    flag: Flag | None = None
    flag_counter: str | None = None
    """All-time counter bumped when the flag is set."""
    histogram: str | None = None
    """All-time histogram the value (seconds) is observed into, with ``bounds``."""
    bounds: tuple[float, ...] = ()
    business_histogram: str | None = None
    """All-time histogram of the same duration counted in business hours only (same bounds)."""
    count_field: str | None = None
    """``WindowTotals`` field counting the facts."""
    flag_field: str | None = None
    """``WindowTotals`` field counting the facts with the flag set."""
    value_field: str | None = None
    """``WindowTotals`` field summing the values."""
    exported: bool = True
    """Whether ``counter`` is exported; False: the histogram's ``_count`` is the same number."""


@dataclass(frozen=True, slots=True)
class LabelledSpec:
    """Fact kinds ``<prefix><value>``: each counted under its own name, by ``label``."""

    prefix: str
    label: str
    values: tuple[str, ...]
    """Every value of the label (the contract's enum), each exported from 0."""
    count_field: str | None = None
    """``WindowTotals`` field counting the facts of every value."""

    @property
    def counter(self) -> str:
        """The counters' common name: ``<counter>:<value>`` in ``QueueTotals``."""
        return self.prefix.removesuffix(":")


WITHIN: Final = "within target"

OFFERED: Final = FactSpec("offered", "offered", count_field="offered")
ANSWERED: Final = FactSpec(
    "answered", "answered", WITHIN, "answered_within_target", "answer_wait", ANSWER_WAIT_BOUNDS,
    count_field="answered", flag_field="answered_within", value_field="wait_seconds",
)  # fmt: skip
ABANDONED: Final = FactSpec(
    "abandoned", "abandoned", "short abandon", "short_abandoned",
    count_field="abandoned", flag_field="short_abandoned",
)  # fmt: skip
OFFER: Final = FactSpec("offer", "agent_offers", count_field="agent_offers")
OFFER_ANSWERED: Final = FactSpec(
    "offer_answered", "agent_offers_answered", count_field="agent_offers_answered"
)
HANDLED: Final = FactSpec(
    "handled", "handled", WITHIN, "handled_within_target", "handle_time", HANDLE_TIME_BOUNDS,
    count_field="handled", flag_field="handled_within", value_field="handle_seconds",
    exported=False,
)  # fmt: skip
CREATED: Final = FactSpec(
    "created", "tickets_created", "complaint", "complaints",
    count_field="tickets_created", flag_field="complaints",
)  # fmt: skip
FIRST_RESPONSE: Final = FactSpec(
    "first_response", "first_responses", WITHIN, "first_responses_within_target",
    "first_response", FIRST_RESPONSE_BOUNDS, "first_response_business",
    count_field="first_responses", flag_field="first_responses_within",
    value_field="first_response_seconds", exported=False,
)  # fmt: skip
FIRST_RESOLUTION: Final = FactSpec(
    "first_resolution", None, WITHIN, "solved_within_target",
    "resolution", RESOLUTION_BOUNDS, "resolution_business",
    count_field="first_resolutions", flag_field="solved_within",
    value_field="first_resolution_seconds",
)  # fmt: skip
FULL_RESOLUTION: Final = FactSpec(
    "full_resolution", histogram="full_resolution", bounds=RESOLUTION_BOUNDS
)
SOLVED: Final = FactSpec(
    "solved", "solved", "one touch", "solved_one_touch",
    count_field="solved", flag_field="first_contact_resolved",
)  # fmt: skip
REOPENED: Final = FactSpec("reopened", "reopened", count_field="reopened")
ESCALATED: Final = FactSpec("escalated", "escalated", count_field="escalated")
# Call flows (``stream.core.kpis.flows``).
TRANSFERRED_IN: Final = FactSpec("transferred_in", "transferred_in", count_field="transfers_in")
ABANDONED_ON_HOLD: Final = FactSpec(
    "abandoned_on_hold", "abandoned_on_hold", count_field="abandoned_on_hold"
)
CALLBACK_REQUESTED: Final = FactSpec(
    "callback_requested", "callback_requested", count_field="callbacks_requested"
)

FACTS: Final[tuple[FactSpec, ...]] = (
    OFFERED, ANSWERED, ABANDONED, OFFER, OFFER_ANSWERED, HANDLED, CREATED, FIRST_RESPONSE,
    FIRST_RESOLUTION, FULL_RESOLUTION, SOLVED, REOPENED, ESCALATED, TRANSFERRED_IN,
    ABANDONED_ON_HOLD, CALLBACK_REQUESTED,
)  # fmt: skip
"""Every plain fact kind, booked by ``stream.core.kpis.booking`` from its row alone."""

EXITED: Final = LabelledSpec("exited:", "reason", get_args(ExitReason))
TRANSFERRED: Final = LabelledSpec(
    "transferred:", "kind", get_args(TransferKind), count_field="transfers_out"
)
OFFER_MISSED: Final = LabelledSpec("offer_missed:", "reason", get_args(MissReason))
CALLBACK_COMPLETED: Final = LabelledSpec(
    "callback_completed:", "outcome", get_args(CallbackOutcome), count_field="callbacks_completed"
)
LABELLED: Final[tuple[LabelledSpec, ...]] = (EXITED, TRANSFERRED, OFFER_MISSED, CALLBACK_COMPLETED)
"""Every labelled fact kind, by prefix."""

SURVEY: Final = "survey"
"""A survey response: channel is the survey kind (``csat``, ``nps``), value the score; counted
in ``QueueTotals.surveys`` by kind and in the windows' CSAT / NPS fields."""
ONE_TOUCH_REOPENED: Final = "one_touch_reopened"
"""A one-touch solve reopened within 7 days (value: the solve's time): bumps the counter of the
same name and takes the solve out of the first-contact resolutions of the windows not final."""

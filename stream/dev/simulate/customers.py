"""Surveys (CSAT / NPS after calls and solved tickets, worse after long waits) and what a
customer may do after a contact: place an order, or churn. Calls and tickets both lead here."""

from __future__ import annotations

from typing import Literal

from stream.contract.events import CustomerChurned, OrderPlaced, SurveyResponded
from stream.dev.simulate.base import SimulationBase
from stream.dev.simulate.profiles import (
    CHURN_PROBABILITY,
    CSAT_WEIGHTS,
    HOUR,
    MINUTE,
    NPS_WEIGHTS,
    UNHAPPY_CHURN_PROBABILITY,
    QueueProfile,
)


class SimulationCustomers(SimulationBase):
    """Surveys and customers' orders and churns."""

    # -- surveys and customers ------------------------------------------------------------
    def _survey(
        self,
        about: Literal["call", "ticket"],
        contact_id: str,
        profile: QueueProfile,
        unhappy: bool,
    ) -> None:
        mood = "unhappy" if unhappy else "happy"
        kind: Literal["csat", "nps"]
        if self._rng.random() < 0.7:
            kind, score = "csat", self._rng.choices(range(1, 6), CSAT_WEIGHTS[mood])[0]
        else:
            kind, score = "nps", self._rng.choices(range(11), NPS_WEIGHTS[mood])[0]
        ticket_id = contact_id if about == "ticket" else None
        call_id = contact_id if about == "call" else None
        # The queue rides along: the survey travels on the tickets topic even for a call.
        self._emit(
            "tickets",
            contact_id,
            lambda eid, at: SurveyResponded(
                event_id=eid,
                occurred_at=at,
                queue=profile.name,
                kind=kind,
                score=score,
                ticket_id=ticket_id,
                call_id=call_id,
            ),
        )

    def _after_contact(self, profile: QueueProfile, customer_id: str, *, unhappy: bool) -> None:
        """Schedule what a customer may do after a contact: buy, or leave."""
        if self._rng.random() < profile.order_probability:
            value = round(self._rng.lognormvariate(4.0, 0.8), 2)
            self._at(
                self._exp(30 * MINUTE),
                lambda: self._emit(
                    "customers",
                    customer_id,
                    lambda eid, at: OrderPlaced(
                        event_id=eid, occurred_at=at, customer_id=customer_id, value=value
                    ),
                ),
            )
        churn = UNHAPPY_CHURN_PROBABILITY if unhappy else CHURN_PROBABILITY
        if self._rng.random() < churn:
            reason = self._rng.choice(("price", "service", "moved", "competitor"))
            self._at(
                self._exp(HOUR),
                lambda: self._emit(
                    "customers",
                    customer_id,
                    lambda eid, at: CustomerChurned(
                        event_id=eid, occurred_at=at, customer_id=customer_id, reason=reason
                    ),
                ),
            )

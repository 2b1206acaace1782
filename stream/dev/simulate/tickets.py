"""Tickets: each arrival (chat, email, web, social) scripted at once as its whole time-ordered
lifecycle — bot greeting, customer nudges, assignment, private notes, the first public response
after a channel-dependent delay (a few left waiting for days), pending / on-hold / solved /
closed, escalations, reopens and a survey (`_TicketScript`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from stream.contract.events import (
    Channel,
    Event,
    Priority,
    TicketAssigned,
    TicketCreated,
    TicketEscalated,
    TicketMessageAdded,
    TicketStatus,
    TicketStatusChanged,
)
from stream.dev.simulate.base import QueueState
from stream.dev.simulate.customers import SimulationCustomers
from stream.dev.simulate.profiles import (
    DAY,
    FIRST_RESPONSE_SECONDS,
    HOUR,
    MINUTE,
    NEGLECTED_PROBABILITY,
    PRIORITIES,
    TICKET_SURVEY_PROBABILITY,
    QueueProfile,
)


class SimulationTickets(SimulationCustomers):
    """Tickets and their scripted lifecycles."""

    # -- tickets: a scripted lifecycle ----------------------------------------------------
    def _ticket_arrives(self, state: QueueState) -> None:
        """Create a ticket and schedule its whole, time-ordered lifecycle at once."""
        profile = state.profile
        self._at(
            self._exp(HOUR / (profile.tickets_per_hour * self._rate)),
            lambda: self._ticket_arrives(state),
        )
        rng = self._rng
        ticket_id = self._new_id("ticket")
        channel: Channel = self._pick(profile.ticket_channels)
        priority: Priority = self._pick(PRIORITIES)
        customer_id = self._customer()
        category = rng.choice(profile.categories)
        agent = rng.choice(state.agents).agent_id
        self._emit(
            "tickets",
            ticket_id,
            lambda eid, at: TicketCreated(
                event_id=eid,
                occurred_at=at,
                ticket_id=ticket_id,
                queue=profile.name,
                channel=channel,
                priority=priority,
                customer_id=customer_id,
                category=category,
            ),
        )
        first_response = self._exp(FIRST_RESPONSE_SECONDS[channel])
        if rng.random() < NEGLECTED_PROBABILITY:
            first_response = 2 * DAY + self._exp(2 * DAY)
        # Before the first response, in order: a bot greeting, maybe a customer nudge, the
        # assignment, maybe a private note. None of them delays the first response.
        step = _TicketScript(self, ticket_id)
        if channel in ("chat", "web") and rng.random() < 0.7:
            step.at_least(min(self._exp(8.0), first_response * 0.05)).message("bot")
        if rng.random() < 0.25:
            step.at_least(first_response * rng.uniform(0.05, 0.4)).message("customer")
        step.at_least(first_response * rng.uniform(0.1, 0.5)).assigned(agent)
        if rng.random() < 0.25:
            step.at_least(first_response * rng.uniform(0.5, 0.95)).message(
                "agent", agent, public=False
            )
        step.at_least(first_response).message("agent", agent)
        unhappy = first_response > 2 * FIRST_RESPONSE_SECONDS[channel]
        if rng.random() < 0.06:
            step.after(self._exp(20 * MINUTE)).escalated(rng.choice((2, 2, 3)))
            unhappy = True
        if rng.random() < 0.5:
            # Waiting for the customer, who answers, after which the agent replies.
            step.after(self._exp(MINUTE)).status("pending")
            step.after(self._exp(45 * MINUTE)).message("customer")
            step.after(1.0).status("open")
            step.after(self._exp(20 * MINUTE)).message("agent", agent)
        if rng.random() < 0.05:
            step.after(self._exp(5 * MINUTE)).status("on_hold")
            step.after(self._exp(2 * HOUR)).status("open")
        step.after(self._exp(30 * MINUTE)).status("solved")
        if rng.random() < 0.08:
            unhappy = True
            step.after(self._exp(3 * HOUR)).message("customer")
            step.after(1.0).status("open")  # a reopen
            step.after(self._exp(30 * MINUTE)).message("agent", agent)
            step.after(self._exp(HOUR)).status("solved")
        if rng.random() < TICKET_SURVEY_PROBABILITY:
            step.after(self._exp(HOUR)).survey(profile, unhappy)
        if rng.random() < 0.5:
            step.after(self._exp(8 * HOUR)).status("closed")
        self._after_contact(profile, customer_id, unhappy=unhappy)


class _TicketScript:
    """Builds one ticket's lifecycle as scheduled emissions with a monotone cursor."""

    __slots__ = ("_offset", "_sim", "_ticket_id")

    def __init__(self, sim: SimulationCustomers, ticket_id: str) -> None:
        self._sim = sim
        self._ticket_id = ticket_id
        self._offset = 0.0

    def after(self, delay: float) -> _TicketScript:
        self._offset += max(0.0, delay)
        return self

    def at_least(self, offset: float) -> _TicketScript:
        self._offset = max(self._offset, offset)
        return self

    def _schedule(self, build: Callable[[str, datetime], Event]) -> None:
        sim, ticket_id = self._sim, self._ticket_id
        sim._at(self._offset, lambda: sim._emit("tickets", ticket_id, build))

    def message(
        self,
        author: Literal["agent", "customer", "bot"],
        agent_id: str | None = None,
        *,
        public: bool = True,
    ) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketMessageAdded(
                event_id=eid,
                occurred_at=at,
                ticket_id=ticket_id,
                author=author,
                public=public,
                agent_id=agent_id,
            )
        )

    def assigned(self, agent_id: str) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketAssigned(
                event_id=eid, occurred_at=at, ticket_id=ticket_id, agent_id=agent_id
            )
        )

    def status(self, status: TicketStatus) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketStatusChanged(
                event_id=eid, occurred_at=at, ticket_id=ticket_id, status=status
            )
        )

    def escalated(self, level: int) -> None:
        ticket_id = self._ticket_id
        self._schedule(
            lambda eid, at: TicketEscalated(
                event_id=eid, occurred_at=at, ticket_id=ticket_id, level=level
            )
        )

    def survey(self, profile: QueueProfile, unhappy: bool) -> None:
        sim, ticket_id = self._sim, self._ticket_id
        sim._at(self._offset, lambda: sim._survey("ticket", ticket_id, profile, unhappy))

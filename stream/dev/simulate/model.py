"""`Simulation`: the one public queueing model, put together from its domains — calls, agents
and call flows (``calls.py``), tickets (``tickets.py``), surveys and customers
(``customers.py``) — over the shared clock and emitters (``base.py``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from stream.dev.simulate.base import QueueState
from stream.dev.simulate.calls import SimulationCalls
from stream.dev.simulate.profiles import DEFAULT_QUEUES, HOUR, QueueProfile
from stream.dev.simulate.tickets import SimulationTickets


class Simulation(SimulationCalls, SimulationTickets):
    """A deterministic discrete-event simulation producing contract events in time order.

    The same ``seed``, ``start``, ``queues`` and ``rate_multiplier`` give the same events,
    ids included. ``rate_multiplier`` scales arrivals and staffing alike, so queues stay as busy.
    ``flows=False`` leaves out priorities, callbacks, transfers and hang-ups on hold (the
    traffic of earlier versions, event for event: what the connectors' generators tell their
    vendor's way). Iterate once: the simulation is its own state.
    """

    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        queues: Sequence[QueueProfile] = DEFAULT_QUEUES,
        rate_multiplier: float = 1.0,
        customers: int = 20_000,
        flows: bool = True,
    ) -> None:
        super().__init__(
            seed=seed,
            start=start,
            queues=queues,
            rate_multiplier=rate_multiplier,
            customers=customers,
            flows=flows,
        )
        for state in self._queues:
            self._at(0.0, functools.partial(self._open_queue, state))

    def _open_queue(self, state: QueueState) -> None:
        for agent in state.agents:
            self._agent_state(agent, "available")
            state.free.append(agent)
        profile = state.profile
        if profile.calls_per_hour > 0:
            self._at(
                self._exp(HOUR / (profile.calls_per_hour * self._rate)),
                lambda: self._call_arrives(state),
            )
        if profile.tickets_per_hour > 0:
            self._at(
                self._exp(HOUR / (profile.tickets_per_hour * self._rate)),
                lambda: self._ticket_arrives(state),
            )

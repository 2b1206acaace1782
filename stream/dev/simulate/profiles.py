"""The queueing model's parameters: `QueueProfile` (one queue's staffing, arrival rates and
contact shapes), `DEFAULT_QUEUES` (the four queues of the demo and the CLI), the probabilities and
means every domain of the model draws with, and `SimEvent` (one generated event with its
routing). Pure data: no randomness, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

from stream.contract.events import (
    CallbackOutcome,
    Channel,
    Event,
    Priority,
    TopicKind,
    TransferKind,
)

MINUTE: Final = 60.0
HOUR: Final = 3600.0
DAY: Final = 86400.0


@dataclass(frozen=True, slots=True)
class QueueProfile:
    """One queue: its staffing, its arrival rates and the shape of its contacts.

    Times are means of exponential distributions, in seconds.
    """

    name: str
    agents: int
    calls_per_hour: float
    tickets_per_hour: float
    talk_seconds: float = 240.0
    patience_seconds: float = 120.0
    after_call_work_seconds: float = 45.0
    fixed_after_call_work: bool = False
    """After-call work lasts exactly ``after_call_work_seconds`` (a PBX's fixed wrap-up time,
    e.g. Asterisk's ``wrapuptime``) instead of an exponential time with that mean."""
    phone_only: bool = False
    """Every call is a phone call (a PBX's queue), not 10 % chat."""
    hold_probability: float = 0.2
    hold_seconds: float = 45.0
    order_probability: float = 0.03
    categories: tuple[str, ...] = ("question", "complaint")
    ticket_channels: tuple[tuple[Channel, float], ...] = (
        ("email", 0.4),
        ("chat", 0.3),
        ("web", 0.2),
        ("social", 0.1),
    )


DEFAULT_QUEUES: Final[tuple[QueueProfile, ...]] = (
    # Offered call load is 60-85 % of the agents, so queues form and calls are abandoned.
    QueueProfile(
        name="billing",
        agents=6,
        calls_per_hour=60,
        tickets_per_hour=40,
        talk_seconds=240,
        categories=("invoice", "refund", "payment_failed", "complaint"),
    ),
    QueueProfile(
        name="tech-support",
        agents=8,
        calls_per_hour=55,
        tickets_per_hour=60,
        talk_seconds=360,
        after_call_work_seconds=60,
        hold_probability=0.35,
        categories=("login", "outage", "bug", "how_to", "complaint"),
        ticket_channels=(("email", 0.35), ("web", 0.3), ("chat", 0.25), ("social", 0.1)),
    ),
    QueueProfile(
        name="sales",
        agents=5,
        calls_per_hour=50,
        tickets_per_hour=20,
        talk_seconds=180,
        patience_seconds=60,
        after_call_work_seconds=30,
        hold_probability=0.1,
        order_probability=0.3,
        categories=("pricing", "upgrade", "demo_request"),
        ticket_channels=(("chat", 0.5), ("web", 0.3), ("email", 0.15), ("social", 0.05)),
    ),
    QueueProfile(
        name="returns",
        agents=3,
        calls_per_hour=30,
        tickets_per_hour=30,
        talk_seconds=200,
        after_call_work_seconds=40,
        categories=("return_label", "damaged_item", "refund_status", "complaint"),
        ticket_channels=(("email", 0.5), ("web", 0.3), ("social", 0.1), ("chat", 0.1)),
    ),
)
"""Four queues, about 200 calls and 150 tickets an hour in all: about 0.6 events/s."""

# Mean time to the first public agent response, by ticket channel.
FIRST_RESPONSE_SECONDS: Final[dict[str, float]] = {
    "chat": 90.0,
    "sms": 10 * MINUTE,
    "social": 20 * MINUTE,
    "web": 45 * MINUTE,
    "email": 2 * HOUR,
}
NEGLECTED_PROBABILITY: Final = 0.06  # tickets whose first response takes days
PRIORITIES: Final[tuple[tuple[Priority, float], ...]] = (
    ("low", 0.15),
    ("normal", 0.6),
    ("high", 0.2),
    ("urgent", 0.05),
)
CALL_CHANNELS: Final[tuple[tuple[Channel, float], ...]] = (("phone", 0.9), ("chat", 0.1))
PHONE_ONLY: Final[tuple[tuple[Channel, float], ...]] = (("phone", 1.0),)
BREAK_PROBABILITY: Final = 0.04  # an agent takes a break after a call
BREAK_SECONDS: Final = 5 * MINUTE
AWAY_REASONS: Final = ("break", "lunch", "training")
"""Why simulated agents go away (``agent.state_changed.reason``); the demo lists them."""
MISSED_RING_PROBABILITY: Final = 0.08  # the first ring of a call is missed
CALL_SURVEY_PROBABILITY: Final = 0.25
# Call flows (stream.core.kpis.flows), drawn from their own random stream (``_flow_rng``).
CALLBACK_PROBABILITY: Final = 0.3  # a caller about to hang up asks for a callback instead
CALLBACK_SECONDS: Final = 10 * MINUTE  # mean time until the callback is made
CALLBACK_OUTCOMES: Final[tuple[tuple[CallbackOutcome, float], ...]] = (
    ("connected", 0.8),
    ("no_answer", 0.15),
    ("canceled", 0.05),
)
TRANSFER_PROBABILITY: Final = 0.06  # a talk ends in a transfer to another queue
HOLD_HANG_UP_PROBABILITY: Final = 0.1  # the caller hangs up while on hold
TRANSFER_KINDS: Final[tuple[TransferKind, ...]] = ("blind", "attended")
TICKET_SURVEY_PROBABILITY: Final = 0.3
CHURN_PROBABILITY: Final = 0.01
UNHAPPY_CHURN_PROBABILITY: Final = 0.08
CSAT_WEIGHTS: Final = {"happy": (3, 4, 10, 35, 48), "unhappy": (25, 25, 25, 15, 10)}
NPS_WEIGHTS: Final = {
    "happy": (1, 1, 1, 1, 2, 3, 4, 10, 17, 25, 35),
    "unhappy": (12, 10, 12, 12, 12, 12, 10, 8, 6, 4, 2),
}


class SimEvent(NamedTuple):
    """One generated event with its routing: topic kind, key (the contact id), event time."""

    kind: TopicKind
    key: str
    event: Event
    at: float
    """``occurred_at`` as epoch seconds (milliseconds precision)."""

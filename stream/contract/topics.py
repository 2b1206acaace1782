"""The contract topics seen from a message: `topic_name` (the configured topic of a topic kind)
and `route` (topic kind, key and event time of one recorded message, dirty ones included: by
the event type's prefix and its contact-id field). Production code (the connectors'
publisher) and the dev tools (replay, benchmarks) share them; nothing here imports the
simulator."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

import msgspec

from stream.contract.decoder import Rejection, decode
from stream.contract.events import TopicKind, epoch_seconds

if TYPE_CHECKING:
    from stream.config import Settings

__all__ = ["route", "topic_name"]

_KIND_BY_TYPE_PREFIX: Final[dict[str, TopicKind]] = {
    "call": "calls",
    "ticket": "tickets",
    "survey": "tickets",
    "agent": "agents",
    "customer": "customers",
    "order": "customers",
}
_KEY_FIELDS: Final[dict[TopicKind, tuple[str, ...]]] = {
    "calls": ("call_id",),
    "tickets": ("ticket_id", "call_id"),
    "agents": ("agent_id",),
    "customers": ("customer_id",),
}


def topic_name(settings: Settings, kind: TopicKind) -> str:
    """The configured topic for a topic kind."""
    topics: dict[TopicKind, str] = {
        "calls": settings.topic_calls,
        "tickets": settings.topic_tickets,
        "agents": settings.topic_agents,
        "customers": settings.topic_customers,
    }
    return topics[kind]


def route(raw: bytes) -> tuple[TopicKind, str, float | None] | None:
    """Topic kind, key and event time (epoch s) of one recorded message; None if unroutable.

    Valid events route by their type; invalid ones (recorded dirty input) by the type's prefix
    and the contact id field, so that they still reach the processor and its dead-letter topic.
    """
    event = decode(raw)
    if not isinstance(event, Rejection):
        return event.topic_kind, event.contact_id, epoch_seconds(event.occurred_at)
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    if not isinstance(document, dict):
        return None
    kind = _KIND_BY_TYPE_PREFIX.get(str(document.get("type", "")).partition(".")[0])
    if kind is None:
        return None
    key = next((str(document[f]) for f in _KEY_FIELDS[kind] if document.get(f)), None)
    if key is None:
        return None
    at: float | None = None
    occurred_at = document.get("occurred_at")
    if isinstance(occurred_at, str):
        try:
            at = epoch_seconds(datetime.fromisoformat(occurred_at))
        except ValueError:
            at = None
    return kind, key, at

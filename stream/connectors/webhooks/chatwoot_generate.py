"""Real-shaped, signed Chatwoot webhook deliveries for the simulator's tickets.

``deliveries`` turns the simulator's ticket events (``stream.dev.simulate.Simulation``) into the
webhooks a Chatwoot account would have posted for the same traffic — same seed, same bodies —
shaped like Chatwoot's ``webhook_data`` (``docs/connectors/chatwoot.md``) and signed like
Chatwoot signs them (``X-Chatwoot-Signature`` over ``<timestamp>.<body>``, with the time of
sending). ``twin`` is the same traffic as contract events, as the Chatwoot source must produce
them: a test sends the deliveries through the gateway and compares the worker's ticket metrics
with those of the twin sent directly.

What Chatwoot reports differently from the simulator: a conversation's ``created_at`` is whole
seconds; there is no escalation and no ``closed`` status (resolved is the end), and NPS or call
surveys do not exist there — the twin leaves those out. Each ticket's queue is a team of that
name, its channel an inbox of the matching channel type, its agents users ``1..n``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import msgspec

from stream.connectors.webhooks.chatwoot import iso
from stream.connectors.webhooks.generation import json_body, run_all, run_live
from stream.dev.simulate import SimEvent

ACCOUNT: Final = 1
CHANNEL_TYPES: Final = {
    "chat": "Channel::WebWidget",
    "email": "Channel::Email",
    "web": "Channel::Api",
    "social": "Channel::FacebookPage",
    "sms": "Channel::Sms",
    "phone": "Channel::Voice",
}
INBOXES: Final = {channel: n for n, channel in enumerate(CHANNEL_TYPES, 1)}
STATUSES: Final = {"open": "open", "pending": "pending", "on_hold": "snoozed", "solved": "resolved"}
PRIORITIES: Final = {"low": "low", "normal": "medium", "high": "high", "urgent": "urgent"}


class TwinEvent(NamedTuple):
    """One contract event of the twin: topic kind, key, event time (epoch s), the event."""

    kind: str
    key: str
    at: float
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook: the conversation it is about, Chatwoot's event name, the body."""

    group: str
    event: str
    body: bytes
    delivery_id: str
    at: float = 0.0
    """When the vendor sends it: the time (epoch s) of the simulator event that made it."""

    def headers(self, secret: str, now: float) -> dict[str, str]:
        """The headers Chatwoot sends, signed at ``now`` (epoch s) with ``secret``."""
        return sign(self.body, secret, now) | {
            "Content-Type": "application/json",
            "X-Chatwoot-Delivery": self.delivery_id,
        }


def sign(body: bytes, secret: str, now: float) -> dict[str, str]:
    """``X-Chatwoot-Signature`` and ``X-Chatwoot-Timestamp`` of ``body`` sent at ``now``."""
    import hmac

    stamp = str(int(now))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Chatwoot-Signature": f"sha256={mac}", "X-Chatwoot-Timestamp": stamp}


@dataclass(slots=True)
class _Conversation:
    number: int
    queue: str
    channel: str
    customer: str | None
    contact: int
    category: str | None
    priority: str | None
    created_at: int
    status: str = "open"
    assignee: int | None = None
    updated_at: float = 0.0
    labels: list[str] = field(default_factory=list)


def _tag(event: Any) -> str:
    return str(type(event).__struct_config__.tag)


class _Builder:
    def __init__(self) -> None:
        self.conversations: dict[str, _Conversation] = {}
        self.users: dict[str, int] = {}
        self.contacts: dict[str, int] = {}
        self.teams: dict[str, int] = {}
        self.messages = 0

    def user(self, agent: str) -> int:
        return self.users.setdefault(agent, len(self.users) + 1)

    def contact(self, customer: str | None, ticket: str) -> int:
        return self.contacts.setdefault(customer or f"anonymous:{ticket}", len(self.contacts) + 1)

    def conversation_data(self, c: _Conversation) -> dict[str, Any]:
        assignee = None
        if c.assignee is not None:
            assignee = {
                "id": c.assignee,
                "name": f"Agent {c.assignee}",
                "available_name": f"Agent {c.assignee}",
                "avatar_url": "",
                "type": "user",
                "availability_status": "online",
                "thumbnail": "",
            }
        sender: dict[str, Any] = {"id": c.contact, "name": f"Customer {c.contact}",
                                  "email": f"customer{c.contact}@example.com", "phone_number": None,
                                  "identifier": c.customer, "thumbnail": "",
                                  "custom_attributes": {}, "additional_attributes": {},
                                  "type": "contact"}  # fmt: skip
        return {
            "additional_attributes": {},
            "can_reply": True,
            "channel": CHANNEL_TYPES[c.channel],
            "contact_inbox": {
                "id": c.number,
                "contact_id": c.contact,
                "inbox_id": INBOXES[c.channel],
                "source_id": f"src-{c.number}",
                "hmac_verified": False,
            },
            "id": c.number,
            "inbox_id": INBOXES[c.channel],
            "messages": [],
            "labels": list(c.labels),
            "meta": {
                "sender": sender,
                "assignee": assignee,
                "assignee_type": "User" if assignee else None,
                "team": {
                    "id": 1 + sorted({q.queue for q in self.conversations.values()}).index(c.queue),
                    "name": c.queue,
                    "description": "",
                    "allow_auto_assign": True,
                    "account_id": ACCOUNT,
                    "is_member": False,
                },
                "hmac_verified": False,
            },
            "status": c.status,
            "custom_attributes": {},
            "snoozed_until": None,
            "unread_count": 0,
            "first_reply_created_at": None,
            "priority": c.priority,
            "waiting_since": 0,
            "agent_last_seen_at": 0,
            "contact_last_seen_at": 0,
            "last_activity_at": int(c.updated_at),
            "timestamp": int(c.updated_at),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "account_id": ACCOUNT,
        }


def generate(events: Iterable[SimEvent]) -> tuple[list[Delivery], list[TwinEvent]]:
    """The Chatwoot deliveries of the simulator's ticket traffic, and its contract twin."""
    return run_all(steps, events)


def live(events: Iterable[SimEvent]) -> Iterator[Delivery]:
    """The deliveries of ``generate``, one by one as ``events`` come (it may be endless): each
    is made when the event that makes it is read, with that event's time as ``Delivery.at``."""
    return run_live(steps, events)


def steps(events: Iterable[SimEvent], out: list[Delivery], twin: list[TwinEvent]) -> Iterator[None]:
    """``generate``'s work, appending to ``out`` and ``twin``; pauses before each event."""
    b = _Builder()

    def deliver(group: str, event: str, payload: dict[str, Any], key: str) -> None:
        payload = {"event": event, **payload}
        digest = hashlib.sha1(key.encode()).hexdigest()
        delivery_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        out.append(Delivery(group, event, json_body(payload), delivery_id, sim.at))

    for sim in events:
        yield
        if sim.kind != "tickets":
            continue
        doc: dict[str, Any] = msgspec.to_builtins(sim.event)
        tag = _tag(sim.event)
        ticket = doc.get("ticket_id")
        if tag == "ticket.created" and isinstance(ticket, str):
            c = _Conversation(
                number=len(b.conversations) + 1, queue=doc["queue"], channel=doc["channel"],
                customer=doc.get("customer_id"), contact=b.contact(doc.get("customer_id"), ticket),
                category=doc.get("category"), priority=PRIORITIES.get(doc.get("priority") or ""),
                created_at=int(sim.at), updated_at=float(int(sim.at)),
                labels=[doc["category"]] if doc.get("category") else [],
            )  # fmt: skip
            b.conversations[ticket] = c
            deliver(ticket, "conversation_created", b.conversation_data(c), f"{ticket}:created")
            new = {"type": tag, "event_id": doc["event_id"], "occurred_at": iso(c.created_at),
                   "ticket_id": _tid(c), "queue": c.queue, "channel": c.channel}  # fmt: skip
            for name in ("priority", "customer_id", "category"):
                if doc.get(name) is not None:
                    new[name] = doc[name]
            twin.append(TwinEvent("tickets", _tid(c), float(c.created_at), new))
            continue
        if not isinstance(ticket, str) or ticket not in b.conversations:
            continue  # a call survey, or a ticket created before the traffic started
        conv = b.conversations[ticket]
        at = sim.at
        base = {"event_id": doc["event_id"], "occurred_at": iso(at), "ticket_id": _tid(conv)}
        if tag == "ticket.assigned":
            uid = b.user(doc["agent_id"])
            was, conv.assignee, conv.updated_at = conv.assignee, uid, at
            data = b.conversation_data(conv)
            data["changed_attributes"] = [
                {"assignee_id": {"previous_value": was, "current_value": uid}}
            ]
            deliver(ticket, "conversation_updated", data, doc["event_id"])
            assigned = {"type": tag, **base, "agent_id": f"chatwoot-user-{uid}"}
            twin.append(TwinEvent("tickets", _tid(conv), at, assigned))
        elif tag == "ticket.status_changed":
            status = STATUSES.get(doc["status"])
            if status is None or status == conv.status:  # no "closed" in Chatwoot
                continue
            previous, conv.status, conv.updated_at = conv.status, status, at
            data = b.conversation_data(conv)
            data["changed_attributes"] = [
                {"status": {"previous_value": previous, "current_value": status}}
            ]
            deliver(ticket, "conversation_status_changed", data, doc["event_id"])
            twin.append(TwinEvent("tickets", _tid(conv), at,
                                  {"type": tag, **base, "status": doc["status"]}))  # fmt: skip
        elif tag == "ticket.message_added":
            b.messages += 1
            conv.updated_at = at
            author = doc["author"]
            sender: dict[str, Any] | None
            new = {"type": tag, **base, "author": author}
            if author == "customer":
                kind = "incoming"
                sender = {"id": conv.contact, "name": f"Customer {conv.contact}", "type": "contact"}
            elif author == "bot":
                kind = "outgoing"
                sender = {"id": 1, "name": "Triage bot", "type": "agent_bot"}
            else:
                kind = "outgoing"
                uid = b.user(doc.get("agent_id") or "unknown-agent")
                sender = {"id": uid, "name": f"Agent {uid}", "email": f"agent{uid}@example.com",
                          "type": "user"}  # fmt: skip
                new["agent_id"] = f"chatwoot-user-{uid}"
            if doc.get("public") is False:
                new["public"] = False
            message = {
                "id": 100_000 + b.messages,
                "content": "…",
                "created_at": iso(at),
                "message_type": kind,
                "content_type": "text",
                "content_attributes": {},
                "source_id": None,
                "private": doc.get("public") is False,
                "sender": sender,
                "inbox": {"id": INBOXES[conv.channel], "name": f"{conv.channel} inbox"},
                "conversation": b.conversation_data(conv),
                "account": {"id": ACCOUNT, "name": "Simulated contact centre"},
            }
            deliver(ticket, "message_created", message, doc["event_id"])
            twin.append(TwinEvent("tickets", _tid(conv), at, new))
        elif tag == "survey.responded" and doc.get("kind") == "csat":
            b.messages += 1
            conv.updated_at = at
            message = {
                "id": 100_000 + b.messages,
                "content": "Please rate this conversation",
                "created_at": iso(at - 60),
                "message_type": "template",
                "content_type": "input_csat",
                "content_attributes": {"submitted_values": {
                    "csat_survey_response": {"rating": doc["score"], "feedback_message": ""}}},
                "source_id": None,
                "private": False,
                "sender": None,
                "inbox": {"id": INBOXES[conv.channel], "name": f"{conv.channel} inbox"},
                "conversation": b.conversation_data(conv),
                "account": {"id": ACCOUNT, "name": "Simulated contact centre"},
            }  # fmt: skip
            deliver(ticket, "message_updated", message, doc["event_id"])
            twin.append(TwinEvent("tickets", _tid(conv), at, {
                "type": tag, **base, "kind": "csat", "score": doc["score"]}))  # fmt: skip
    assert all(math.isfinite(t.at) for t in twin)


def _tid(c: _Conversation) -> str:
    return f"chatwoot-{ACCOUNT}-{c.number}"


def by_group(deliveries: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    """Deliveries by conversation, in the order Chatwoot made them."""
    groups: dict[str, list[Delivery]] = {}
    for d in deliveries:
        groups.setdefault(d.group, []).append(d)
    return groups

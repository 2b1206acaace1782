"""Real-shaped, signed Zammad trigger-webhook deliveries for the simulator's tickets.

``generate`` turns the simulator's ticket events (``stream.dev.simulate.Simulation``) into the
requests a Zammad trigger with a webhook action would have posted for the same traffic, and
its twin (the second value): the same traffic as contract events, as the Zammad source and the
gateway must produce them. A test sends the deliveries through the gateway and compares the
worker's ticket metrics with those of the twin sent directly.

Shapes, from Zammad's admin documentation ("Webhook Payload": the default JSON payload and the
request headers) and its ``TriggerWebhookJob``: one delivery per trigger run, ``{"ticket":
{...}, "article": {...}}``, the ticket a snapshot after the change (``id``, ``number``,
``title``, ``group`` / ``priority`` / ``owner`` / ``customer`` as objects, ``state`` and
``create_article_type`` as names, ``owner_id`` 1 for "not assigned", ``created_at`` /
``updated_at`` / ``last_owner_update_at`` in milliseconds), the article of the change (``id``,
``sender`` Customer / Agent / System, ``type``, ``internal``, ``created_by_id``,
``created_at``) or ``{}``; headers ``X-Zammad-Trigger``, ``X-Zammad-Delivery``, ``User-Agent:
Zammad User Agent`` and ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>``.

What Zammad reports differently from the simulator: the ticket is created with the customer's
first article; the owner's assignment also opens the ticket (new → open); every delivery
repeats the ticket's state, so most of them say a state the ticket already has (the source
makes no status event of ``new``; the gateway does not send a repeat of the status it last
sent, ``ticket.status_changed:unchanged``, counted as ignored; the first ``open`` after ``new``,
the agent's first reply, does go out, and the worker treats it as the no-op it is). Zammad's
default states have no "on hold" and its closed state is the end (``solved`` here), so the
simulator's on-hold spells and final closes are not in Zammad; nor are escalations or surveys —
the twin leaves those out. An urgent ticket is ``3 high`` (Zammad's highest default priority).
Each queue is a group of that name, customers and agents are users ``2..n`` (1 is Zammad's
system user).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from stream.connectors.webhooks.chatwoot import iso
from stream.connectors.webhooks.chatwoot_generate import TwinEvent
from stream.connectors.webhooks.generation import json_body, run_all, run_live
from stream.dev.simulate import SimEvent

TRIGGER: Final = "KPI stream: every ticket change"
ARTICLE_TYPES: Final = {"email": "email", "web": "web", "chat": "chat",
                        "social": "facebook feed post", "sms": "sms", "phone": "phone"}  # fmt: skip
STATES: Final = {"open": "open", "pending": "pending reminder", "solved": "closed"}
"""Simulator statuses Zammad has (on hold and closed-after-solved are not Zammad states)."""
MAPPED: Final = {"new": "open", "open": "open", "pending reminder": "pending", "closed": "solved"}
PRIORITIES: Final = {"low": "1 low", "normal": "2 normal", "high": "3 high", "urgent": "3 high"}
MAPPED_PRIORITY: Final = {"1 low": "low", "2 normal": "normal", "3 high": "high"}


def sign(body: bytes, secret: str) -> dict[str, str]:
    """``X-Hub-Signature`` of ``body`` with the webhook's HMAC SHA1 signature token."""
    return {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request: the ticket it is about, what changed (for reading), the body."""

    group: str
    change: str
    body: bytes
    delivery_id: str
    at: float = 0.0
    """When the vendor sends it: the time (epoch s) of the simulator event that made it."""

    def headers(self, secret: str, now: float = 0.0) -> dict[str, str]:
        """The headers Zammad sends (no timestamp: ``now`` is unused)."""
        return sign(self.body, secret) | {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Zammad User Agent",
            "X-Zammad-Trigger": TRIGGER,
            "X-Zammad-Delivery": self.delivery_id,
        }


def _ms(at: float) -> str:
    return iso(at)


def _uuid(key: str) -> str:
    d = hashlib.sha1(key.encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


@dataclass(slots=True)
class _Ticket:
    id: int
    queue: str
    channel: str
    customer: int
    priority: str
    created_at: float
    state: str = "new"
    owner: int = 1
    owner_at: float | None = None
    articles: int = 0


def _user(uid: int, role: str) -> dict[str, Any]:
    return {"id": uid, "login": f"{role.lower()}{uid}@example.com", "firstname": role,
            "lastname": str(uid), "email": f"{role.lower()}{uid}@example.com", "active": True,
            "roles": [role], "out_of_office": False, "vip": False}  # fmt: skip


class _Instance:
    def __init__(self) -> None:
        self.tickets: dict[str, _Ticket] = {}
        self.users: dict[str, int] = {}
        self.groups: dict[str, int] = {}
        self.articles = 0

    def user(self, who: str) -> int:
        return self.users.setdefault(who, len(self.users) + 2)

    def ticket(self, t: _Ticket, updated: float) -> dict[str, Any]:
        group = self.groups.setdefault(t.queue, len(self.groups) + 1)
        snapshot: dict[str, Any] = {
            "id": t.id, "number": str(31000 + t.id), "title": f"Request {t.id}",
            "group_id": group, "group": {"id": group, "name": t.queue, "active": True},
            "priority_id": int(t.priority[0]), "priority": {"id": int(t.priority[0]),
                                                             "name": t.priority},
            "state": t.state, "state_id": {"new": 1, "open": 2, "pending reminder": 3,
                                           "closed": 4}[t.state],
            "owner_id": t.owner, "owner": _user(t.owner, "Agent") if t.owner != 1 else None,
            "customer_id": t.customer, "customer": _user(t.customer, "Customer"),
            "create_article_type": ARTICLE_TYPES[t.channel],
            "create_article_sender": "Customer", "article_count": t.articles,
            "created_at": _ms(t.created_at), "updated_at": _ms(updated),
        }  # fmt: skip
        if t.owner_at is not None:
            snapshot["last_owner_update_at"] = _ms(t.owner_at)
        return snapshot

    def article(self, t: _Ticket, at: float, sender: str, by: int, internal: bool,
                kind: str) -> dict[str, Any]:  # fmt: skip
        self.articles += 1
        t.articles += 1
        return {"id": 100 + self.articles, "ticket_id": t.id, "sender": sender, "type": kind,
                "internal": internal, "created_by_id": by, "from": f"user {by}",
                "body": "…", "content_type": "text/html", "created_at": _ms(at),
                "updated_at": _ms(at)}  # fmt: skip


def generate(events: Iterable[SimEvent]) -> tuple[list[Delivery], list[TwinEvent]]:
    """The Zammad deliveries of the simulator's ticket traffic, and its contract twin."""
    return run_all(steps, events)


def live(events: Iterable[SimEvent]) -> Iterator[Delivery]:
    """The deliveries of ``generate``, one by one as ``events`` come (it may be endless): each
    is made when the event that makes it is read, with that event's time as ``Delivery.at``."""
    return run_live(steps, events)


def steps(events: Iterable[SimEvent], out: list[Delivery], twin: list[TwinEvent]) -> Iterator[None]:
    """``generate``'s work, appending to ``out`` and ``twin``; pauses before each event."""
    z = _Instance()

    def deliver(ticket: str, t: _Ticket, change: str, at: float, article: dict[str, Any],
                key: str) -> None:  # fmt: skip
        payload = {"ticket": z.ticket(t, at), "article": article}
        out.append(Delivery(ticket, change, json_body(payload), _uuid(key), at))

    def add(t: _Ticket, at: float, doc: dict[str, Any]) -> None:
        twin.append(
            TwinEvent(
                "tickets",
                f"zammad-{t.id}",
                at,
                {**doc, "occurred_at": iso(at), "ticket_id": f"zammad-{t.id}"},
            )
        )

    def state(t: _Ticket, at: float, new: str) -> None:
        """The ticket's state becomes ``new`` at ``at``: a contract event if it maps to
        another status (the snapshot of every delivery says it; only this one counts)."""
        if MAPPED[new] != MAPPED[t.state]:
            add(t, at, {"type": "ticket.status_changed", "status": MAPPED[new],
                        "event_id": f"zammad:{t.id}:state:{new}:{round(at * 1000)}"})  # fmt: skip
        t.state = new

    for sim in events:
        yield
        if sim.kind != "tickets":
            continue
        doc: dict[str, Any] = msgspec.to_builtins(sim.event)
        tag = str(type(sim.event).__struct_config__.tag)
        ticket = doc.get("ticket_id")
        at = sim.at
        if tag == "ticket.created" and isinstance(ticket, str):
            t = _Ticket(id=len(z.tickets) + 1, queue=doc["queue"], channel=doc["channel"],
                        customer=z.user(doc.get("customer_id") or f"anonymous:{ticket}"),
                        priority=PRIORITIES[doc.get("priority") or "normal"],
                        created_at=at)  # fmt: skip
            z.tickets[ticket] = t
            first = z.article(t, at, "Customer", t.customer, False, ARTICLE_TYPES[t.channel])
            deliver(ticket, t, "created", at, first, f"{ticket}:created")
            created = {"type": tag, "event_id": f"zammad:{t.id}:created", "queue": t.queue,
                       "channel": t.channel, "priority": MAPPED_PRIORITY[t.priority],
                       "customer_id": f"zammad-user-{t.customer}"}  # fmt: skip
            add(t, at, created)
            add(t, at, {"type": "ticket.message_added", "event_id": f"zammad:article:{first['id']}",
                        "author": "customer"})  # fmt: skip
            continue
        if not isinstance(ticket, str) or ticket not in z.tickets:
            continue  # a call survey, or a ticket created before the traffic started
        t = z.tickets[ticket]
        if tag == "ticket.assigned":
            t.owner, t.owner_at = z.user(doc["agent_id"]), at
            add(t, at, {"type": tag, "event_id": f"zammad:{t.id}:owner:{t.owner}",
                        "agent_id": f"zammad-user-{t.owner}"})  # fmt: skip
            deliver(ticket, t, "owner", at, {}, doc["event_id"])
        elif tag == "ticket.status_changed":
            new = STATES.get(doc["status"])
            if new is None or MAPPED[new] == MAPPED[t.state]:
                continue  # not a Zammad state, or no change: Zammad's trigger does not fire
            state(t, at, new)
            deliver(ticket, t, "state", at, {}, doc["event_id"])
        elif tag == "ticket.message_added":
            author = doc["author"]
            internal = doc.get("public") is False
            new_doc: dict[str, Any] = {"type": tag, "author": author}
            if author == "customer":
                article = z.article(
                    t, at, "Customer", t.customer, internal, ARTICLE_TYPES[t.channel]
                )
            elif author == "bot":
                article = z.article(t, at, "System", 1, internal, "note")
            else:
                uid = z.user(doc.get("agent_id") or "unknown-agent")
                kind = "note" if internal else ARTICLE_TYPES[t.channel]
                article = z.article(t, at, "Agent", uid, internal, kind)
                new_doc["agent_id"] = f"zammad-user-{uid}"
                if not internal and t.state == "new":
                    state(t, at, "open")  # Zammad opens a new ticket at the agent's reply
            if internal:
                new_doc["public"] = False
            new_doc["event_id"] = f"zammad:article:{article['id']}"
            add(t, at, new_doc)
            deliver(ticket, t, "article", at, article, doc["event_id"])

"""Real-shaped, signed Zendesk webhook deliveries for the simulator's tickets.

``generate`` turns the simulator's ticket events (``stream.dev.simulate.Simulation``) into the
requests a Zendesk account would have posted for the same traffic, and ``twin`` (the second
value) is the same traffic as contract events, as the Zendesk source must produce them: a test
sends the deliveries through the gateway and compares the worker's ticket metrics with those of
the twin sent directly.

Shapes, from Zendesk's developer documentation:

* "Webhook event types" / "Ticket events" (``zen:event-type:ticket.created``,
  ``ticket.status_changed`` with ``event.current`` / ``event.previous`` in capitals,
  ``ticket.comment_added`` with ``event.comment.{id, body, is_public, author.{id, is_staff,
  name}}``, ``ticket.agent_assignment_changed`` with ``event.current.id``,
  ``ticket.priority_changed``): the envelope ``{type, account_id, id, time (nanoseconds),
  zendesk_event_version, subject "zen:ticket:<id>", detail, event}``, ``detail`` the ticket with
  string ids, capitalised ``status`` / ``priority``, ``via.channel``, ``created_at`` in whole
  seconds;
* the satisfaction-rating trigger body of ``docs/connectors/zendesk.md`` (a 1..5 rating);
* "Verifying webhook authenticity": ``X-Zendesk-Webhook-Signature`` = base64 HMAC-SHA256 of
  ``timestamp + body`` with ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601, the time of
  sending), plus ``X-Zendesk-Webhook-Id`` / ``X-Zendesk-Webhook-Invocation-Id``.

What Zendesk reports differently from the simulator: a ticket's ``created_at`` is whole
seconds; an agent's first touch (the assignment) moves the ticket NEW → OPEN, which the source
counts as ignored (unchanged); an escalation is a priority change (ignored: no contract event);
there are no NPS or call surveys — the twin leaves those out. Each queue is a group
(``group_id``: ``groups`` gives the source config), customers and agents are users, the bot is
one more user listed in ``bots``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from stream.connectors.webhooks.chatwoot import iso
from stream.connectors.webhooks.chatwoot_generate import TwinEvent
from stream.connectors.webhooks.generation import json_body, run_all, run_live
from stream.dev.simulate import SimEvent

ACCOUNT: Final = 22129848
WEBHOOK_ID: Final = "01JGZK7E2X9QF6M3H4D5C8B0AV"
BOT_USER: Final = "8447300000001"
VIA: Final = {"email": "email", "web": "web", "chat": "chat", "social": "facebook",
              "sms": "sms", "phone": "voice"}  # fmt: skip
STATUSES: Final = {"open": "OPEN", "pending": "PENDING", "on_hold": "HOLD", "solved": "SOLVED",
                   "closed": "CLOSED"}  # fmt: skip


def group_id(queue: str) -> str:
    """The Zendesk group id of a simulator queue (stable: derived from its name)."""
    return str(8_447_320_000_000 + int(hashlib.sha1(queue.encode()).hexdigest()[:6], 16))


def options(queues: Iterable[str]) -> dict[str, Any]:
    """The ``sources:`` entry options that map these groups back to their queues."""
    return {"groups": {group_id(q): q for q in queues}, "bots": [BOT_USER]}


def stamp(now: float) -> str:
    """Zendesk's signature timestamp: ISO 8601, whole seconds, UTC."""
    return datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(body: bytes, secret: str, now: float) -> dict[str, str]:
    """The signature headers Zendesk sends with ``body`` at ``now`` (epoch s)."""
    at = stamp(now)
    mac = hmac.new(secret.encode(), at.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": at,
    }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request: the ticket it is about, Zendesk's event type, the body."""

    group: str
    event: str
    body: bytes
    invocation_id: str
    at: float = 0.0
    """When the vendor sends it: the time (epoch s) of the simulator event that made it."""

    def headers(self, secret: str, now: float) -> dict[str, str]:
        """The headers Zendesk sends, signed at ``now`` (epoch s) with ``secret``."""
        return sign(self.body, secret, now) | {
            "Content-Type": "application/json",
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Webhook-Id": WEBHOOK_ID,
            "X-Zendesk-Webhook-Invocation-Id": self.invocation_id,
        }


def _nanos(at: float) -> str:
    """Zendesk's event ``time``: nanoseconds (the simulator's times are milliseconds)."""
    ms = round(at * 1000)
    whole = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{ms % 1000:03d}000000Z"


def _uuid(key: str) -> str:
    d = hashlib.sha1(key.encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


@dataclass(slots=True)
class _Ticket:
    number: int
    queue: str
    channel: str
    requester: str
    priority: str
    tags: list[str]
    created_at: int
    status: str = "NEW"
    assignee: str | None = None


class _Account:
    def __init__(self) -> None:
        self.tickets: dict[str, _Ticket] = {}
        self.users: dict[str, str] = {}
        self.comments = 0

    def user(self, who: str) -> str:
        return self.users.setdefault(who, str(8_447_388_090_000 + len(self.users) + 1))

    def detail(self, t: _Ticket, updated: float) -> dict[str, Any]:
        return {
            "actor_id": t.assignee or t.requester, "assignee_id": t.assignee,
            "brand_id": "8447346621310", "created_at": stamp(t.created_at),
            "custom_status": "8447320465790", "description": "…", "external_id": None,
            "form_id": "8646151517822", "group_id": group_id(t.queue), "id": str(t.number),
            "is_public": True, "organization_id": None, "priority": t.priority,
            "requester_id": t.requester, "status": t.status, "subject": f"Ticket {t.number}",
            "submitter_id": t.requester, "tags": list(t.tags), "type": "QUESTION",
            "updated_at": stamp(updated), "via": {"channel": VIA[t.channel]},
        }  # fmt: skip


def generate(events: Iterable[SimEvent]) -> tuple[list[Delivery], list[TwinEvent]]:
    """The Zendesk deliveries of the simulator's ticket traffic, and its contract twin."""
    return run_all(steps, events)


def live(events: Iterable[SimEvent]) -> Iterator[Delivery]:
    """The deliveries of ``generate``, one by one as ``events`` come (it may be endless): each
    is made when the event that makes it is read, with that event's time as ``Delivery.at``."""
    return run_live(steps, events)


def steps(events: Iterable[SimEvent], out: list[Delivery], twin: list[TwinEvent]) -> Iterator[None]:
    """``generate``'s work, appending to ``out`` and ``twin``; pauses before each event."""
    acct = _Account()

    def deliver(ticket: str, t: _Ticket, kind: str, at: float, event: dict[str, Any],
                key: str) -> str:  # fmt: skip
        uid = _uuid(key)
        payload = {"type": f"zen:event-type:ticket.{kind}", "account_id": ACCOUNT, "id": uid,
                   "time": _nanos(at), "zendesk_event_version": "2022-11-06",
                   "subject": f"zen:ticket:{t.number}", "detail": acct.detail(t, at),
                   "event": event}  # fmt: skip
        out.append(Delivery(ticket, kind, json_body(payload), _uuid(f"invocation:{key}"), at))
        return uid

    for sim in events:
        yield
        if sim.kind != "tickets":
            continue
        doc: dict[str, Any] = msgspec.to_builtins(sim.event)
        tag = str(type(sim.event).__struct_config__.tag)
        ticket = doc.get("ticket_id")
        if tag == "ticket.created" and isinstance(ticket, str):
            t = _Ticket(
                number=1000 + len(acct.tickets) + 1, queue=doc["queue"], channel=doc["channel"],
                requester=acct.user(doc.get("customer_id") or f"anonymous:{ticket}"),
                priority=str(doc.get("priority") or "normal").upper(),
                tags=[doc["category"]] if doc.get("category") else [], created_at=int(sim.at),
            )  # fmt: skip
            acct.tickets[ticket] = t
            uid = deliver(ticket, t, "created", sim.at, {}, f"{ticket}:created")
            new = {"type": tag, "event_id": f"zendesk:{uid}:created",
                   "occurred_at": iso(t.created_at), "ticket_id": _tid(t), "queue": t.queue,
                   "channel": t.channel, "priority": t.priority.lower(),
                   "customer_id": f"zendesk-user-{t.requester}"}  # fmt: skip
            if t.tags:
                new["category"] = t.tags[0]
            twin.append(TwinEvent("tickets", _tid(t), float(t.created_at), new))
            continue
        if not isinstance(ticket, str) or ticket not in acct.tickets:
            continue  # a call survey, or a ticket created before the traffic started
        t = acct.tickets[ticket]
        at = sim.at
        base = {"occurred_at": iso(at), "ticket_id": _tid(t)}
        if tag == "ticket.assigned":
            agent = acct.user(doc["agent_id"])
            was, t.assignee = t.assignee, agent
            uid = deliver(ticket, t, "agent_assignment_changed", at,
                          {"current": {"id": agent}, "previous": was and {"id": was}},
                          doc["event_id"])  # fmt: skip
            assigned = {"type": tag, "event_id": f"zendesk:{uid}", **base,
                        "agent_id": f"zendesk-user-{agent}"}  # fmt: skip
            twin.append(TwinEvent("tickets", _tid(t), at, assigned))
            if t.status == "NEW":  # the agent's first touch opens the ticket: not a change here
                t.status = "OPEN"
                deliver(ticket, t, "status_changed", at, {"current": "OPEN", "previous": "NEW"},
                        f"{doc['event_id']}:opened")  # fmt: skip
        elif tag == "ticket.status_changed":
            status = STATUSES[doc["status"]]
            previous = t.status
            if status == previous or (status == "OPEN" and previous == "NEW"):
                continue  # Zendesk sends nothing when nothing changed
            t.status = status
            uid = deliver(ticket, t, "status_changed", at,
                          {"current": status, "previous": previous}, doc["event_id"])  # fmt: skip
            changed = {"type": tag, "event_id": f"zendesk:{uid}", **base, "status": doc["status"]}
            twin.append(TwinEvent("tickets", _tid(t), at, changed))
        elif tag == "ticket.message_added":
            acct.comments += 1
            comment_id = 30_064_117_800_000 + acct.comments
            author = doc["author"]
            message: dict[str, Any] = {"type": tag, **base, "author": author}
            message["event_id"] = f"zendesk:{ACCOUNT}:comment:{comment_id}"
            who: dict[str, Any]
            if author == "customer":
                who = {"id": t.requester, "is_staff": False, "name": f"Customer {t.requester}"}
            elif author == "bot":
                who = {"id": BOT_USER, "is_staff": True, "name": "Answer Bot"}
            else:
                agent = acct.user(doc.get("agent_id") or "unknown-agent")
                who = {"id": agent, "is_staff": True, "name": f"Agent {agent}"}
                message["agent_id"] = f"zendesk-user-{agent}"
            public = doc.get("public") is not False
            if not public:
                message["public"] = False
            comment = {"id": str(comment_id), "body": "…", "is_public": public, "author": who}
            deliver(ticket, t, "comment_added", at, {"comment": comment}, doc["event_id"])
            twin.append(TwinEvent("tickets", _tid(t), at, message))
        elif tag == "ticket.escalated":
            previous, t.priority = t.priority, "URGENT"
            deliver(ticket, t, "priority_changed", at,
                    {"current": "URGENT", "previous": previous}, doc["event_id"])  # fmt: skip
        elif tag == "survey.responded" and doc.get("kind") == "csat":
            body = {"type": "satisfaction_rated", "account_id": ACCOUNT,
                    "ticket_id": str(t.number), "rating": str(doc["score"]),
                    "time": iso(at)}  # fmt: skip
            out.append(Delivery(ticket, "satisfaction_rated", json_body(body),
                                _uuid(f"invocation:{doc['event_id']}"), at))  # fmt: skip
            twin.append(TwinEvent("tickets", _tid(t), at, {
                "type": tag, "event_id": f"zendesk:{ACCOUNT}:{t.number}:csat:{round(at * 1000)}",
                **base, "kind": "csat", "score": doc["score"]}))  # fmt: skip


def _tid(t: _Ticket) -> str:
    return f"zendesk-{t.number}"

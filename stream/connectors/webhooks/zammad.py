"""Zammad trigger webhooks → contract ticket events (the ``zammad`` source of the gateway).

A Zammad trigger with a webhook action posts ``{"ticket": {...}, "article": {...}}``
(``app/jobs/trigger_webhook_job.rb``): the ticket's attributes with ``group``, ``owner``,
``customer`` and ``priority`` as objects and ``state`` / ``create_article_type`` as names, and
the article of the change (empty when the change added none). A snapshot says what the ticket
is, not what happened, so each delivery gives, with ids from Zammad's own ids:

* ``ticket.created`` (``zammad:<id>:created``, at ``created_at``; queue = group name, channel
  from ``create_article_type``, priority, customer) — the same id every time, so only the first
  one counts;
* ``ticket.status_changed`` for the ticket's state at ``updated_at`` (new/open → open, pending
  reminder / pending close → pending, closed → solved, merged / removed → closed), except
  ``new`` and an open state at creation; the gateway does not send a repeat of the status it
  last sent for the ticket (``order.ContactOrder``: counted as ignored, ``unchanged``), and a
  repeat that still goes out (the first after a restart) does nothing in the worker;
* ``ticket.assigned`` when an owner is set (``zammad:<id>:owner:<owner>``);
* ``ticket.message_added`` for the article (``zammad:article:<id>``): sender Customer →
  customer, Agent → agent, System → bot; ``internal`` → a private note.

Signature: ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>`` with the webhook's signature
token (``lib/user_agent.rb``). Zammad sends no timestamp: a replay makes the same ids.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

from stream.config.secrets import Secret
from stream.connectors.webhooks.chatwoot import iso
from stream.connectors.webhooks.source import (
    BAD_SIGNATURE,
    MISSING_SIGNATURE,
    OK,
    SourceConfig,
    Translation,
    TranslationError,
    Verdict,
    same,
)
from stream.connectors.webhooks.zendesk import seconds

SIGNATURE_HEADER: Final = "X-Hub-Signature"
STATUSES: Final = ("open", "pending", "on_hold", "solved", "closed")
CHANNELS: Final = ("phone", "chat", "email", "social", "web", "sms")
DEFAULT_STATUSES: Final[Mapping[str, str]] = {
    "new": "open", "open": "open", "pending reminder": "pending", "pending close": "pending",
    "closed": "solved", "merged": "closed", "removed": "closed",
}  # fmt: skip
DEFAULT_CHANNELS: Final[Mapping[str, str]] = {
    "email": "email", "phone": "phone", "web": "web", "chat": "chat", "sms": "sms",
    "note": "web", "twitter status": "social", "twitter direct-message": "social",
    "facebook feed post": "social", "telegram personal-message": "chat",
    "whatsapp message": "chat",
}  # fmt: skip
DEFAULT_PRIORITIES: Final[Mapping[str, str]] = {"1 low": "low", "2 normal": "normal",
                                                "3 high": "high"}  # fmt: skip
_OPTIONS: Final = ("default_queue", "groups", "channels", "statuses", "priorities", "agents")


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ident(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise TranslationError("missing_field", f"{what}: expected an id, got {value!r}")
    return str(value)


class ZammadSource:
    """The ``zammad`` webhook source."""

    def __init__(self, name: str = "zammad", secret: Secret | None = None,
                 options: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.name = name
        self.secret = secret
        o = options or {}
        self.default_queue = str(o.get("default_queue", "zammad"))
        self.groups: Mapping[str, str] = o.get("groups", {})
        self.channels: Mapping[str, str] = o.get("channels", DEFAULT_CHANNELS)
        self.statuses: Mapping[str, str] = o.get("statuses", DEFAULT_STATUSES)
        self.priorities: Mapping[str, str] = o.get("priorities", DEFAULT_PRIORITIES)
        self.agents: Mapping[str, str] = o.get("agents", {})

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
        if self.secret is None:
            return OK
        signature = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
        if not signature:
            return MISSING_SIGNATURE
        mac = hmac.new(self.secret.reveal().encode(), body, hashlib.sha1).hexdigest()
        return OK if same(signature.strip(), f"sha1={mac}") else BAD_SIGNATURE

    def agent(self, user: Any) -> str:
        uid = _ident(user, "user id")
        return self.agents.get(uid, f"zammad-user-{uid}")

    def translate(self, payload: Any) -> Translation:
        if not isinstance(payload, Mapping) or not isinstance(payload.get("ticket"), Mapping):
            raise TranslationError("invalid_payload", "expected {ticket, article}")
        t = payload["ticket"]
        tid = _ident(t.get("id"), "ticket.id")
        ticket = f"zammad-{tid}"
        created_at = seconds(t.get("created_at"), "ticket.created_at")
        updated_at = seconds(t.get("updated_at") or t.get("created_at"), "ticket.updated_at")
        group = str(_obj(t.get("group")).get("name") or t.get("group") or "")
        created: dict[str, object] = {
            "type": "ticket.created", "event_id": f"zammad:{tid}:created",
            "occurred_at": iso(created_at), "ticket_id": ticket,
            "queue": (self.groups.get(group, group) or self.default_queue)[:64],
            "channel": self.channels.get(str(t.get("create_article_type", "")).lower(), "email"),
        }  # fmt: skip
        priority = self.priorities.get(str(_obj(t.get("priority")).get("name", "")).lower())
        if priority is not None:
            created["priority"] = priority
        if t.get("customer_id") not in (None, "", 1):
            created["customer_id"] = f"zammad-user-{t['customer_id']}"
        events: list[dict[str, object]] = [created]
        state = str(t.get("state", "")).lower()
        status = self.statuses.get(state)
        if status is None:
            raise TranslationError("unknown_status", f"ticket.state: {state!r} is not mapped")
        # "new" is the state a ticket is created in and never returns to: no change to report
        if state != "new" and not (status == "open" and updated_at <= created_at + 1):
            events.append({"type": "ticket.status_changed",
                           "event_id": f"zammad:{tid}:state:{state}:{round(updated_at * 1000)}",
                           "occurred_at": iso(updated_at), "ticket_id": ticket,
                           "status": status})  # fmt: skip
        owner = t.get("owner_id")
        if owner not in (None, "", 1):
            at = seconds(t.get("last_owner_update_at") or t.get("updated_at"), "owner time")
            events.append({"type": "ticket.assigned", "event_id": f"zammad:{tid}:owner:{owner}",
                           "occurred_at": iso(at), "ticket_id": ticket,
                           "agent_id": self.agent(owner)})  # fmt: skip
        a = _obj(payload.get("article"))
        if a.get("id") is not None:
            sender = str(a.get("sender", "")).lower()
            message: dict[str, object] = {
                "type": "ticket.message_added", "event_id": f"zammad:article:{a['id']}",
                "occurred_at": iso(seconds(a.get("created_at"), "article.created_at")),
                "ticket_id": ticket,
                "author": {"customer": "customer", "agent": "agent"}.get(sender, "bot"),
            }  # fmt: skip
            if message["author"] == "agent" and a.get("created_by_id") is not None:
                message["agent_id"] = self.agent(a["created_by_id"])
            if a.get("internal") is True:
                message["public"] = False
            events.append(message)
        return Translation(events)


def build(config: SourceConfig) -> ZammadSource:
    """The factory of kind ``zammad`` (``source.BUILTIN``)."""
    for key in config.options:
        if key not in _OPTIONS:
            raise config.error(str(key), f"unknown key (expected one of {', '.join(_OPTIONS)})")
    options = {
        "default_queue": config.options.get("default_queue", "zammad"),
        "groups": config.table("groups", {}),
        "channels": config.table("channels", DEFAULT_CHANNELS, CHANNELS),
        "statuses": config.table("statuses", DEFAULT_STATUSES, STATUSES),
        "priorities": config.table(
            "priorities", DEFAULT_PRIORITIES, ("low", "normal", "high", "urgent")
        ),
        "agents": config.table("agents", {}),
    }
    return ZammadSource(config.name, config.secret, options)

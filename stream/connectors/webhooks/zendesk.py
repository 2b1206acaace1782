"""Zendesk ticket-event webhooks → contract ticket events (the ``zendesk`` source of the gateway).

Zendesk event webhooks post ``{"type": "zen:event-type:ticket.<kind>", "id": <event uuid>,
"account_id", "time", "subject": "zen:ticket:<id>", "detail": <the ticket>, "event": {...}}``.

* ``ticket.created`` → ``ticket.created`` (queue from ``detail.group_id`` via ``groups``,
  channel from ``detail.via.channel``, priority, customer = requester, category = first tag),
  plus ``ticket.status_changed`` when it starts in another status than open and
  ``ticket.assigned`` when it starts assigned;
* ``ticket.status_changed`` → ``ticket.status_changed`` (NEW/OPEN → open, PENDING → pending,
  HOLD → on_hold, SOLVED → solved, CLOSED → closed; DELETED and the like are ignored, and so
  is a change whose ``previous`` maps to the same status, e.g. NEW → OPEN: ``unchanged``);
* ``ticket.comment_added`` → ``ticket.message_added`` (``author.is_staff`` → agent, else
  customer; users listed in ``bots`` → bot; ``is_public: false`` → a private note);
* ``ticket.agent_assignment_changed`` → ``ticket.assigned``;
* a satisfaction-rating trigger body (``docs/connectors/zendesk.md``) → ``survey.responded``;
* group and priority changes, and every other kind, are ignored (a ticket keeps its queue).

Event ids come from Zendesk's own ids (``zendesk:<event id>``, ``zendesk:<account>:comment:<id>``),
so a redelivery makes the same events and the worker drops the copies.

Signature: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp + body)) with
``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601); a timestamp further than
``tolerance_seconds`` (300) from the gateway's clock is refused as replayed.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from stream.config.secrets import Secret
from stream.connectors.webhooks.chatwoot import iso
from stream.connectors.webhooks.source import (
    BAD_SIGNATURE,
    MISSING_SIGNATURE,
    OK,
    STALE_TIMESTAMP,
    SourceConfig,
    Translation,
    TranslationError,
    Verdict,
    hmac_sha256,
    same,
)

SIGNATURE_HEADER: Final = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER: Final = "X-Zendesk-Webhook-Signature-Timestamp"
DEFAULT_TOLERANCE_SECONDS: Final = 300.0
PREFIX: Final = "zen:event-type:"
CHANNELS: Final = ("phone", "chat", "email", "social", "web", "sms")
STATUSES: Final = ("open", "pending", "on_hold", "solved", "closed")
PRIORITIES: Final = ("low", "normal", "high", "urgent")

DEFAULT_CHANNELS: Final[Mapping[str, str]] = {
    "email": "email", "web": "web", "web_form": "web", "web_widget": "web", "api": "web",
    "web_service": "web", "mobile_sdk": "chat", "chat": "chat", "native_messaging": "chat",
    "voice": "phone", "sms": "sms", "facebook": "social", "twitter": "social",
    "instagram_dm": "social", "whatsapp": "chat",
}  # fmt: skip
DEFAULT_STATUSES: Final[Mapping[str, str]] = {
    "new": "open", "open": "open", "pending": "pending", "hold": "on_hold",
    "solved": "solved", "closed": "closed",
}  # fmt: skip
DEFAULT_PRIORITIES: Final[Mapping[str, str]] = {
    "low": "low", "normal": "normal", "high": "high", "urgent": "urgent",
}  # fmt: skip
IGNORED_STATUSES: Final = frozenset({"deleted", "archived", "scrubbed"})
_OPTIONS: Final = (
    "tolerance_seconds", "default_queue", "default_channel", "groups", "channels", "statuses",
    "priorities", "agents", "bots",
)  # fmt: skip


@dataclass(frozen=True)
class ZendeskMapping:
    """How Zendesk's names become the contract's (``docs/connectors/zendesk.md``)."""

    groups: Mapping[str, str] = field(default_factory=dict)
    """Group id → queue (unlisted groups: ``zendesk-group-<id>``; no group: ``default_queue``)."""
    default_queue: str = "zendesk"
    channels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    default_channel: str = "web"
    statuses: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    priorities: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    agents: Mapping[str, str] = field(default_factory=dict)
    """User id → agent id (unlisted: ``zendesk-user-<id>``)."""
    bots: frozenset[str] = frozenset()
    """User ids whose comments are a bot's (never a first response)."""


def seconds(value: Any, what: str) -> float:
    """Zendesk's ISO 8601 times (nanoseconds allowed) as epoch seconds."""
    if not isinstance(value, str) or not value:
        raise TranslationError("invalid_time", f"{what}: {value!r}")
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # keep microseconds: Python parses at most six fractional digits
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise TranslationError("invalid_time", f"{what}: {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _ident(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value in ("", "0", 0):
        raise TranslationError("missing_field", f"{what}: expected an id, got {value!r}")
    return str(value)


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class ZendeskSource:
    """The ``zendesk`` webhook source."""

    def __init__(
        self,
        name: str = "zendesk",
        secret: Secret | None = None,
        mapping: ZendeskMapping | None = None,
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    ) -> None:
        self.name = name
        self.secret = secret
        self.mapping = mapping or ZendeskMapping()
        self.tolerance_seconds = tolerance_seconds

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
        if self.secret is None:
            return OK
        signature = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
        stamp = headers.get(TIMESTAMP_HEADER) or headers.get(TIMESTAMP_HEADER.lower())
        if not signature or not stamp:
            return MISSING_SIGNATURE
        expected = base64.b64encode(hmac_sha256(self.secret, stamp.encode() + body)).decode()
        if not same(signature.strip(), expected):
            return BAD_SIGNATURE
        try:
            at = seconds(stamp, "timestamp")
        except TranslationError:
            return BAD_SIGNATURE
        if not math.isfinite(at) or abs(now - at) > self.tolerance_seconds:
            return STALE_TIMESTAMP
        return OK

    def translate(self, payload: Any) -> Translation:
        if not isinstance(payload, Mapping):
            raise TranslationError("invalid_payload", "expected a JSON object")
        kind = payload.get("type")
        if not isinstance(kind, str) or not kind:
            raise TranslationError("missing_field", "type: the Zendesk event type")
        if kind == "satisfaction_rated":
            return Translation([self._rating(payload)])
        short = kind.removeprefix(PREFIX)
        if short == "ticket.created":
            return Translation(self._created(payload))
        if short == "ticket.status_changed":
            change = _obj(payload.get("event"))
            raw = str(change.get("current", "")).lower()
            if raw in IGNORED_STATUSES:
                return Translation([], ignored=f"ticket.status_changed:{raw}")
            before = self.mapping.statuses.get(str(change.get("previous") or "").lower())
            if before is not None and before == self.mapping.statuses.get(raw):
                # NEW -> OPEN (an agent's first touch) is open -> open here: nothing changed
                return Translation([], ignored="ticket.status_changed:unchanged")
            return Translation([self._status(payload, raw, "time")])
        if short == "ticket.comment_added":
            return self._comment(payload)
        if short == "ticket.agent_assignment_changed":
            current = _obj(payload.get("event")).get("current")
            agent = current.get("id") if isinstance(current, Mapping) else current
            if agent in (None, "", "0", 0):
                return Translation([], ignored="ticket.agent_assignment_changed:unassigned")
            at = seconds(payload.get("time"), "time")
            return Translation([self._assigned(payload, agent, at, self._event_id(payload))])
        return Translation([], ignored=short[:64])

    def _detail(self, p: Mapping[str, Any]) -> Mapping[str, Any]:
        return _obj(p.get("detail"))

    def ticket_id(self, p: Mapping[str, Any]) -> str:
        return f"zendesk-{_ident(self._detail(p).get('id'), 'detail.id')}"

    def _event_id(self, p: Mapping[str, Any]) -> str:
        return f"zendesk:{_ident(p.get('id'), 'id')}"

    def agent(self, user: Any) -> str:
        uid = _ident(user, "user id")
        return self.mapping.agents.get(uid, f"zendesk-user-{uid}")

    def queue(self, detail: Mapping[str, Any]) -> str:
        group = detail.get("group_id")
        if group in (None, "", "0", 0):
            return self.mapping.default_queue
        return self.mapping.groups.get(str(group), f"zendesk-group-{group}")[:64]

    def _created(self, p: Mapping[str, Any]) -> list[dict[str, object]]:
        d = self._detail(p)
        at = seconds(d.get("created_at") or p.get("time"), "detail.created_at")
        via = str(_obj(d.get("via")).get("channel", "")).lower()
        event: dict[str, object] = {
            "type": "ticket.created",
            "event_id": f"{self._event_id(p)}:created",
            "occurred_at": iso(at),
            "ticket_id": self.ticket_id(p),
            "queue": self.queue(d),
            "channel": self.mapping.channels.get(via, self.mapping.default_channel),
        }
        priority = self.mapping.priorities.get(str(d.get("priority", "")).lower())
        if priority is not None:
            event["priority"] = priority
        if d.get("requester_id") not in (None, "", "0", 0):
            event["customer_id"] = f"zendesk-user-{d['requester_id']}"
        tags = d.get("tags")
        if isinstance(tags, list) and tags and isinstance(tags[0], str):
            event["category"] = tags[0]
        events = [event]
        raw = str(d.get("status", "open")).lower()
        if self.mapping.statuses.get(raw, "open") != "open":
            events.append(self._status(p, raw, "created", at))
        if d.get("assignee_id") not in (None, "", "0", 0):
            events.append(self._assigned(p, d["assignee_id"], at, f"{self._event_id(p)}:assignee"))
        return events

    def _status(
        self, p: Mapping[str, Any], raw: str, suffix: str, at: float | None = None
    ) -> dict[str, object]:
        status = self.mapping.statuses.get(raw)
        if status is None:
            raise TranslationError("unknown_status", f"status: {raw!r} is not mapped")
        when = at if at is not None else seconds(p.get("time"), "time")
        event_id = self._event_id(p) + ("" if suffix == "time" else f":{suffix}:status")
        return {"type": "ticket.status_changed", "event_id": event_id, "occurred_at": iso(when),
                "ticket_id": self.ticket_id(p), "status": status}  # fmt: skip

    def _assigned(self, p: Mapping[str, Any], agent: Any, at: float, eid: str) -> dict[str, object]:
        return {"type": "ticket.assigned", "event_id": eid, "occurred_at": iso(at),
                "ticket_id": self.ticket_id(p), "agent_id": self.agent(agent)}  # fmt: skip

    def _comment(self, p: Mapping[str, Any]) -> Translation:
        comment = _obj(_obj(p.get("event")).get("comment"))
        author = _obj(comment.get("author"))
        account = _ident(p.get("account_id"), "account_id")
        event: dict[str, object] = {
            "type": "ticket.message_added",
            "event_id": f"zendesk:{account}:comment:{_ident(comment.get('id'), 'comment.id')}",
            "occurred_at": iso(seconds(p.get("time"), "time")),
            "ticket_id": self.ticket_id(p),
        }
        uid = str(author.get("id", ""))
        if uid in self.mapping.bots:
            event["author"] = "bot"
        elif author.get("is_staff") is True:
            event["author"] = "agent"
            event["agent_id"] = self.agent(author.get("id"))
        else:
            event["author"] = "customer"
        if comment.get("is_public") is False:
            event["public"] = False
        return Translation([event])

    def _rating(self, p: Mapping[str, Any]) -> dict[str, object]:
        raw = p.get("rating")
        text = str(raw).strip().lower()
        if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 5:
            score = raw
        elif text.isdigit() and 1 <= int(text) <= 5:
            score = int(text)
        elif text.startswith("good"):
            score = 5
        elif text.startswith("bad"):
            score = 1
        else:
            raise TranslationError("invalid_rating", f"rating: {raw!r} is not good, bad or 1..5")
        ticket = _ident(p.get("ticket_id"), "ticket_id")
        at = seconds(p.get("time"), "time")
        account = _ident(p.get("account_id"), "account_id")
        return {"type": "survey.responded",
                "event_id": f"zendesk:{account}:{ticket}:csat:{round(at * 1000)}",
                "occurred_at": iso(at), "ticket_id": f"zendesk-{ticket}", "kind": "csat",
                "score": score}  # fmt: skip


def load_mapping(config: SourceConfig) -> ZendeskMapping:
    """The mapping of a ``sources:`` entry of kind ``zendesk``; raises ``GatewayConfigError``."""
    for key in config.options:
        if key not in _OPTIONS:
            raise config.error(str(key), f"unknown key (expected one of {', '.join(_OPTIONS)})")
    default_queue = config.options.get("default_queue", "zendesk")
    if not isinstance(default_queue, str) or not 1 <= len(default_queue) <= 64:
        raise config.error("default_queue", "expected a queue name of 1..64 characters")
    default_channel = config.options.get("default_channel", "web")
    if default_channel not in CHANNELS:
        raise config.error("default_channel", f"expected one of {', '.join(CHANNELS)}")
    bots = config.options.get("bots") or []
    if not isinstance(bots, list):
        raise config.error("bots", "expected a list of user ids")
    return ZendeskMapping(
        groups=config.table("groups", {}),
        default_queue=default_queue,
        channels=config.table("channels", DEFAULT_CHANNELS, CHANNELS),
        default_channel=str(default_channel),
        statuses=config.table("statuses", DEFAULT_STATUSES, STATUSES),
        priorities=config.table("priorities", DEFAULT_PRIORITIES, PRIORITIES),
        agents=config.table("agents", {}),
        bots=frozenset(str(b) for b in bots),
    )


def build(config: SourceConfig) -> ZendeskSource:
    """The factory of kind ``zendesk`` (``source.BUILTIN``)."""
    return ZendeskSource(
        config.name,
        config.secret,
        load_mapping(config),
        tolerance_seconds=config.number("tolerance_seconds", DEFAULT_TOLERANCE_SECONDS),
    )

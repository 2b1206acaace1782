"""Chatwoot webhooks → contract ticket events (the ``chatwoot`` source of the gateway).

Chatwoot posts, for each subscribed event, the ``webhook_data`` of the conversation or message
(``app/listeners/webhook_listener.rb``) with ``event`` added: a conversation carries ``id``,
``account_id``, ``inbox_id``, ``channel`` (the inbox's channel type), ``status``, ``priority``,
``labels``, ``meta.sender`` (the contact), ``meta.assignee``, ``meta.team``, ``created_at``
(epoch s), ``updated_at`` (epoch s, fractional) and, for updates, ``changed_attributes``; a
message carries ``id``, ``message_type`` (incoming / outgoing / activity / template),
``private``, ``created_at``, ``sender`` (``type`` user, agent_bot or contact), ``content_type``,
``content_attributes`` and its ``conversation``.

What maps to what (the mappings are configurable, ``docs/connectors/chatwoot.md``):

* ``conversation_created`` → ``ticket.created`` (queue from the team, else the inbox; channel
  from the inbox's channel type; priority; customer; category = first label), plus
  ``ticket.status_changed`` when it starts in another status than open (a bot's ``pending``) and
  ``ticket.assigned`` when it starts assigned;
* ``conversation_status_changed`` → ``ticket.status_changed`` (open, pending, snoozed →
  on_hold, resolved → solved), at ``updated_at``;
* ``conversation_updated`` with a new assignee → ``ticket.assigned``; other updates are ignored
  (the queue of a ticket is the one it was created in);
* ``message_created`` → ``ticket.message_added``: incoming = customer, outgoing from a user =
  agent, from an agent bot = bot (bots never make a first response), private notes are not
  public; activity and template messages are ignored;
* ``message_updated`` of a CSAT survey message with a rating → ``survey.responded`` (csat).

Event ids come from Chatwoot's own ids (``chatwoot:<account>:<conversation>:...``,
``chatwoot:<account>:message:<id>``), so a redelivery makes the same events and the worker drops
the copies. Ticket ids are ``chatwoot-<account>-<conversation id>``.

Signature: Chatwoot signs a webhook that has a secret with ``X-Chatwoot-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` and ``X-Chatwoot-Timestamp`` (epoch s);
a timestamp further than ``tolerance_seconds`` (300) from the gateway's clock is refused as
replayed. Chatwoot versions that do not sign cannot be verified: such a source must be
configured ``unsigned: true`` (loopback only; put a proxy that checks a secret in front).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from stream.config.secrets import Secret
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

SIGNATURE_HEADER: Final = "X-Chatwoot-Signature"
TIMESTAMP_HEADER: Final = "X-Chatwoot-Timestamp"
DEFAULT_TOLERANCE_SECONDS: Final = 300.0

CHANNELS: Final = ("phone", "chat", "email", "social", "web", "sms")
STATUSES: Final = ("open", "pending", "on_hold", "solved", "closed")
PRIORITIES: Final = ("low", "normal", "high", "urgent")

DEFAULT_CHANNELS: Final[Mapping[str, str]] = {
    "Channel::WebWidget": "chat",
    "Channel::Api": "web",
    "Channel::Email": "email",
    "Channel::FacebookPage": "social",
    "Channel::Instagram": "social",
    "Channel::TwitterProfile": "social",
    "Channel::Tiktok": "social",
    "Channel::Whatsapp": "chat",
    "Channel::Telegram": "chat",
    "Channel::Line": "chat",
    "Channel::Sms": "sms",
    "Channel::TwilioSms": "sms",
    "Channel::Voice": "phone",
}
DEFAULT_STATUSES: Final[Mapping[str, str]] = {
    "open": "open",
    "pending": "pending",
    "snoozed": "on_hold",
    "resolved": "solved",
}
DEFAULT_PRIORITIES: Final[Mapping[str, str]] = {
    "low": "low",
    "medium": "normal",
    "high": "high",
    "urgent": "urgent",
}
BOT_SENDERS: Final = frozenset({"agent_bot", "captain_assistant", "bot"})
_OPTIONS: Final = (
    "tolerance_seconds", "default_queue", "default_channel", "queue_from", "teams", "inboxes",
    "channels", "statuses", "priorities", "agents",
)  # fmt: skip


@dataclass(frozen=True)
class ChatwootMapping:
    """How Chatwoot's names become the contract's (``docs/connectors/chatwoot.md``)."""

    teams: Mapping[str, str] = field(default_factory=dict)
    """Team name → queue (unlisted teams: the team's name)."""
    inboxes: Mapping[str, str] = field(default_factory=dict)
    """Inbox id → queue (unlisted inboxes: ``default_queue``)."""
    queue_from: str = "team"
    """``team``: the team, else the inbox; ``inbox``: the inbox only."""
    default_queue: str = "chatwoot"
    channels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    default_channel: str = "chat"
    statuses: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    priorities: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    agents: Mapping[str, str] = field(default_factory=dict)
    """User id → agent id (unlisted users: ``chatwoot-user-<id>``; a conversation's assignee
    carries no email, so the id is what both assignments and messages have)."""


def iso(seconds: float) -> str:
    """RFC 3339 UTC with milliseconds (integer arithmetic: 1.319 stays .319)."""
    ms = round(seconds * 1000)
    when = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(value: Any, what: str) -> float:
    """Chatwoot's times: epoch seconds (int or float) or an ISO 8601 / Rails text."""
    if isinstance(value, bool):
        raise TranslationError("invalid_time", f"{what}: {value!r}")
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    if isinstance(value, str) and value:
        text = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise TranslationError("invalid_time", f"{what}: {value!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    raise TranslationError("invalid_time", f"{what}: {value!r}")


def _ident(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise TranslationError("missing_field", f"{what}: expected an id, got {value!r}")
    return str(value)


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class ChatwootSource:
    """The ``chatwoot`` webhook source."""

    def __init__(
        self,
        name: str = "chatwoot",
        secret: Secret | None = None,
        mapping: ChatwootMapping | None = None,
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    ) -> None:
        self.name = name
        self.secret = secret
        self.mapping = mapping or ChatwootMapping()
        self.tolerance_seconds = tolerance_seconds

    # --- signature ------------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
        if self.secret is None:
            return OK
        signature = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
        stamp = headers.get(TIMESTAMP_HEADER) or headers.get(TIMESTAMP_HEADER.lower())
        if not signature or not stamp:
            return MISSING_SIGNATURE
        expected = "sha256=" + hmac_sha256(self.secret, stamp.encode() + b"." + body).hex()
        if not same(signature.strip(), expected):
            return BAD_SIGNATURE
        try:
            at = float(stamp)
        except ValueError:
            return BAD_SIGNATURE
        if not math.isfinite(at) or abs(now - at) > self.tolerance_seconds:
            return STALE_TIMESTAMP
        return OK

    # --- translation ----------------------------------------------------------------------------

    def translate(self, payload: Any) -> Translation:
        if not isinstance(payload, Mapping):
            raise TranslationError("invalid_payload", "expected a JSON object")
        kind = payload.get("event")
        if not isinstance(kind, str) or not kind:
            raise TranslationError("missing_field", "event: the Chatwoot event name")
        if kind == "conversation_created":
            return Translation(self._created(payload))
        if kind == "conversation_status_changed":
            return Translation([self._status(payload, payload.get("status"), "updated_at")])
        if kind == "conversation_updated":
            return self._updated(payload)
        if kind == "message_created":
            return self._message(payload)
        if kind == "message_updated":
            return self._survey(payload)
        return Translation([], ignored=kind[:64])

    def ticket_id(self, conversation: Mapping[str, Any]) -> str:
        account = _ident(conversation.get("account_id"), "account_id")
        return f"chatwoot-{account}-{_ident(conversation.get('id'), 'id')}"

    def _prefix(self, conversation: Mapping[str, Any]) -> str:
        account = _ident(conversation.get("account_id"), "account_id")
        return f"chatwoot:{account}:{_ident(conversation.get('id'), 'id')}"

    def queue(self, conversation: Mapping[str, Any]) -> str:
        m = self.mapping
        team = _obj(_obj(conversation.get("meta")).get("team")).get("name")
        if m.queue_from == "team" and isinstance(team, str) and team:
            return m.teams.get(team, team)[:64]
        inbox = conversation.get("inbox_id")
        return m.inboxes.get(str(inbox), m.default_queue)[:64]

    def channel(self, conversation: Mapping[str, Any]) -> str:
        kind = conversation.get("channel")
        return self.mapping.channels.get(str(kind), self.mapping.default_channel)

    def agent(self, user: Mapping[str, Any]) -> str:
        uid = _ident(user.get("id"), "user id")
        return self.mapping.agents.get(uid, f"chatwoot-user-{uid}")

    def _created(self, c: Mapping[str, Any]) -> list[dict[str, object]]:
        at = _seconds(c.get("created_at"), "created_at")
        prefix, ticket = self._prefix(c), self.ticket_id(c)
        event: dict[str, object] = {
            "type": "ticket.created",
            "event_id": f"{prefix}:created",
            "occurred_at": iso(at),
            "ticket_id": ticket,
            "queue": self.queue(c),
            "channel": self.channel(c),
        }
        priority = self.mapping.priorities.get(str(c.get("priority")))
        if priority is not None:
            event["priority"] = priority
        sender = _obj(_obj(c.get("meta")).get("sender"))
        if sender.get("id") is not None:
            identifier = sender.get("identifier")
            if isinstance(identifier, str) and 0 < len(identifier) <= 128:
                event["customer_id"] = identifier
            else:
                event["customer_id"] = f"chatwoot-contact-{_ident(sender.get('id'), 'sender')}"
        labels = c.get("labels")
        if isinstance(labels, list) and labels and isinstance(labels[0], str):
            event["category"] = labels[0]
        events = [event]
        status = self.mapping.statuses.get(str(c.get("status")), "open")
        if status != "open":
            events.append(self._status(c, c.get("status"), "created_at"))
        assignee = _obj(_obj(c.get("meta")).get("assignee"))
        if assignee.get("id") is not None:
            events.append(self._assigned(c, assignee, at))
        return events

    def _status(self, c: Mapping[str, Any], raw: Any, when: str) -> dict[str, object]:
        status = self.mapping.statuses.get(str(raw))
        if status is None:
            raise TranslationError("unknown_status", f"status: {raw!r} is not mapped")
        at = _seconds(c.get(when), when)
        return {
            "type": "ticket.status_changed",
            "event_id": f"{self._prefix(c)}:status:{raw}:{round(at * 1000)}",
            "occurred_at": iso(at),
            "ticket_id": self.ticket_id(c),
            "status": status,
        }

    def _assigned(
        self, c: Mapping[str, Any], assignee: Mapping[str, Any], at: float
    ) -> dict[str, object]:
        agent = self.agent(assignee)
        return {
            "type": "ticket.assigned",
            "event_id": f"{self._prefix(c)}:assignee:{assignee.get('id')}:{round(at * 1000)}",
            "occurred_at": iso(at),
            "ticket_id": self.ticket_id(c),
            "agent_id": agent,
        }

    def _updated(self, c: Mapping[str, Any]) -> Translation:
        changed = c.get("changed_attributes")
        keys: set[str] = set()
        if isinstance(changed, list):
            for item in changed:
                keys.update(k for k in _obj(item) if isinstance(k, str))
        elif isinstance(changed, Mapping):
            keys.update(k for k in changed if isinstance(k, str))
        assignee = _obj(_obj(c.get("meta")).get("assignee"))
        if "assignee_id" in keys and assignee.get("id") is not None:
            at = _seconds(c.get("updated_at"), "updated_at")
            return Translation([self._assigned(c, assignee, at)])
        return Translation([], ignored="conversation_updated")

    def _message(self, m: Mapping[str, Any]) -> Translation:
        kind = m.get("message_type")
        if kind in (2, "activity", 3, "template"):
            return Translation(
                [],
                ignored=f"message_created:{'activity' if kind in (2, 'activity') else 'template'}",
            )
        if m.get("content_type") == "input_csat":
            return Translation([], ignored="message_created:input_csat")
        c = _obj(m.get("conversation"))
        at = _seconds(m.get("created_at"), "created_at")
        mid = _ident(m.get("id"), "id")
        event: dict[str, object] = {
            "type": "ticket.message_added",
            "event_id": f"chatwoot:{_ident(c.get('account_id'), 'conversation.account_id')}"
            f":message:{mid}",
            "occurred_at": iso(at),
            "ticket_id": self.ticket_id(c),
        }
        sender = _obj(m.get("sender"))
        if kind in (0, "incoming"):
            event["author"] = "customer"
        elif kind in (1, "outgoing"):
            if str(sender.get("type")) in BOT_SENDERS:
                event["author"] = "bot"
            else:
                event["author"] = "agent"
                if sender.get("id") is not None:
                    event["agent_id"] = self.agent(sender)
        else:
            raise TranslationError("unknown_message_type", f"message_type: {kind!r}")
        if m.get("private") is True:
            event["public"] = False
        return Translation([event])

    def _survey(self, m: Mapping[str, Any]) -> Translation:
        if m.get("content_type") != "input_csat":
            return Translation([], ignored="message_updated")
        values = _obj(_obj(m.get("content_attributes")).get("submitted_values"))
        rating = _obj(values.get("csat_survey_response")).get("rating")
        if rating is None:
            return Translation([], ignored="message_updated:input_csat")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise TranslationError("invalid_rating", f"csat rating: {rating!r} is not 1..5")
        c = _obj(m.get("conversation"))
        at = _seconds(c.get("updated_at") or m.get("created_at"), "conversation.updated_at")
        mid = _ident(m.get("id"), "id")
        account = _ident(c.get("account_id"), "conversation.account_id")
        return Translation([{
            "type": "survey.responded",
            "event_id": f"chatwoot:{account}:csat:{mid}",
            "occurred_at": iso(at),
            "ticket_id": self.ticket_id(c),
            "kind": "csat",
            "score": rating,
        }])  # fmt: skip


def load_mapping(config: SourceConfig) -> ChatwootMapping:
    """The mapping of a ``sources:`` entry of kind ``chatwoot``; raises ``GatewayConfigError``."""
    for key in config.options:
        if key not in _OPTIONS:
            raise config.error(str(key), f"unknown key (expected one of {', '.join(_OPTIONS)})")
    queue_from = config.options.get("queue_from", "team")
    if queue_from not in ("team", "inbox"):
        raise config.error("queue_from", f"expected team or inbox, got {queue_from!r}")
    default_queue = config.options.get("default_queue", "chatwoot")
    if not isinstance(default_queue, str) or not 1 <= len(default_queue) <= 64:
        raise config.error("default_queue", "expected a queue name of 1..64 characters")
    default_channel = config.options.get("default_channel", "chat")
    if default_channel not in CHANNELS:
        raise config.error("default_channel", f"expected one of {', '.join(CHANNELS)}")
    return ChatwootMapping(
        teams=config.table("teams", {}),
        inboxes=config.table("inboxes", {}),
        queue_from=str(queue_from),
        default_queue=default_queue,
        channels=config.table("channels", DEFAULT_CHANNELS, CHANNELS),
        default_channel=str(default_channel),
        statuses=config.table("statuses", DEFAULT_STATUSES, STATUSES),
        priorities=config.table("priorities", DEFAULT_PRIORITIES, PRIORITIES),
        agents=config.table("agents", {}),
    )


def build(config: SourceConfig) -> ChatwootSource:
    """The factory of kind ``chatwoot`` (``source.BUILTIN``)."""
    return ChatwootSource(
        config.name,
        config.secret,
        load_mapping(config),
        tolerance_seconds=config.number("tolerance_seconds", DEFAULT_TOLERANCE_SECONDS),
    )

"""The Zammad source: X-Hub-Signature (sha1) checks and a trigger payload to exact events."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from stream.config.secrets import Secret
from stream.connectors.webhooks.source import SourceConfig, Verdict
from stream.connectors.webhooks.zammad import build

SECRET = "zammad-signature-token-0123"


def test_zammad_signature_and_a_trigger_payload() -> None:
    source = build(SourceConfig("zammad", "zammad", Secret(SECRET), {"groups": {"Users": "sup"}}))
    body = b'{"ticket":{},"article":{}}'
    good = {"X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()}
    assert source.verify(good, body, 0.0) == Verdict(True)
    assert source.verify({}, body, 0.0) == Verdict(False, "missing_signature", 401)
    assert source.verify(good, body + b" ", 0.0) == Verdict(False, "bad_signature", 403)
    payload: dict[str, Any] = {
        "ticket": {"id": 42, "number": "31042", "group": {"id": 1, "name": "Users"},
                   "state": "pending reminder", "priority": {"id": 3, "name": "3 high"},
                   "owner_id": 3, "customer_id": 7, "create_article_type": "email",
                   "created_at": "2026-11-22T09:00:00.000Z",
                   "updated_at": "2026-11-22T09:30:00.500Z"},
        "article": {"id": 99, "ticket_id": 42, "sender": "Agent", "type": "email",
                    "internal": False, "created_by_id": 3,
                    "created_at": "2026-11-22T09:30:00.000Z"},
    }  # fmt: skip
    assert source.translate(payload).events == [
        {"type": "ticket.created", "event_id": "zammad:42:created",
         "occurred_at": "2026-11-22T09:00:00.000Z", "ticket_id": "zammad-42", "queue": "sup",
         "channel": "email", "priority": "high", "customer_id": "zammad-user-7"},
        {"type": "ticket.status_changed", "event_id": "zammad:42:state:pending reminder:"
         "1795339800500", "occurred_at": "2026-11-22T09:30:00.500Z", "ticket_id": "zammad-42",
         "status": "pending"},
        {"type": "ticket.assigned", "event_id": "zammad:42:owner:3",
         "occurred_at": "2026-11-22T09:30:00.500Z", "ticket_id": "zammad-42",
         "agent_id": "zammad-user-3"},
        {"type": "ticket.message_added", "event_id": "zammad:article:99",
         "occurred_at": "2026-11-22T09:30:00.000Z", "ticket_id": "zammad-42", "author": "agent",
         "agent_id": "zammad-user-3"},
    ]  # fmt: skip

"""The Zendesk source: signatures (missing, wrong, tampered, replayed) and Zendesk's documented
example payloads translated to exact contract events."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.publish import prepare
from stream.connectors.webhooks.source import SourceConfig, Translation, TranslationError, Verdict
from stream.connectors.webhooks.zendesk import ZendeskSource, build

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
STAMP = "2025-01-08T14:25:31Z"
NOW = 1736346331.0  # STAMP as epoch seconds
CREATED = "cbe4028c-7239-495d-b020-f22348516046"
SOLVED = "a8b9c1d2-3e4f-5a6b-7c8d-9e0f1a2b3c4d"


def _sign(body: bytes, secret: str = SECRET, stamp: str = STAMP) -> dict[str, str]:
    mac = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {"X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp}  # fmt: skip


def _source(**options: Any) -> ZendeskSource:
    return build(SourceConfig("zendesk", "zendesk", Secret(SECRET), options))


def test_zendesk_signatures_missing_wrong_tampered_and_replayed_are_refused() -> None:
    source = _source()
    body = b'{"type":"zen:event-type:ticket.created"}'
    good = _sign(body)
    assert source.verify(good, body, NOW + 10) == Verdict(True)
    assert source.verify({k.lower(): v for k, v in good.items()}, body, NOW).ok
    assert source.verify({}, body, NOW) == Verdict(False, "missing_signature", 401)
    assert source.verify(_sign(body, "other"), body, NOW) == Verdict(False, "bad_signature", 403)
    assert source.verify(good, body + b" ", NOW).reason == "bad_signature"
    moved = {**good, "X-Zendesk-Webhook-Signature-Timestamp": "2025-01-08T14:25:32Z"}
    assert source.verify(moved, body, NOW).reason == "bad_signature"
    assert source.verify(good, body, NOW + 301) == Verdict(False, "stale_timestamp", 403)
    assert _source(tolerance_seconds=600).verify(good, body, NOW + 400).ok


DETAIL: dict[str, Any] = {
    "actor_id": "8447388090494", "assignee_id": "8447388090494", "brand_id": "8447346621310",
    "created_at": "2025-01-08T10:12:07Z", "custom_status": "8447320465790",
    "description": "Customer is experiencing login issues", "external_id": None,
    "form_id": "8646151517822", "group_id": "8447320466430", "id": "5158", "is_public": True,
    "organization_id": "8447346622462", "priority": "HIGH", "requester_id": "8447388090400",
    "status": "OPEN", "subject": "Cannot login", "submitter_id": "8447388090494",
    "tags": ["mobile", "login"], "type": "PROBLEM", "updated_at": "2025-01-08T10:12:07Z",
    "via": {"channel": "web_service"},
}  # fmt: skip


def _payload(kind: str, event: dict[str, Any], time: str, uid: str, **detail: Any) -> Any:
    return {"account_id": 22129848, "detail": {**DETAIL, **detail}, "event": event, "id": uid,
            "subject": "zen:ticket:5158", "time": time, "type": f"zen:event-type:ticket.{kind}",
            "zendesk_event_version": "2022-11-06"}  # fmt: skip


def test_zendesk_ticket_events_become_exact_contract_events() -> None:
    source = _source(groups={"8447320466430": "tech-support"})
    created = _payload("created", {}, "2025-01-08T10:12:07.672717030Z",
                       "cbe4028c-7239-495d-b020-f22348516046")  # fmt: skip
    made = source.translate(created).events
    assert made == [
        {"type": "ticket.created", "event_id": f"zendesk:{CREATED}:created",
         "occurred_at": "2025-01-08T10:12:07.000Z", "ticket_id": "zendesk-5158",
         "queue": "tech-support", "channel": "web", "priority": "high",
         "customer_id": "zendesk-user-8447388090400", "category": "mobile"},
        {"type": "ticket.assigned", "event_id": f"zendesk:{CREATED}:assignee",
         "occurred_at": "2025-01-08T10:12:07.000Z", "ticket_id": "zendesk-5158",
         "agent_id": "zendesk-user-8447388090494"},
    ]  # fmt: skip
    status = _payload(
        "status_changed",
        {"current": "SOLVED", "previous": "OPEN"},
        "2025-01-08T16:45:20.987654321Z",
        "a8b9c1d2-3e4f-5a6b-7c8d-9e0f1a2b3c4d",
    )
    assert source.translate(status).events == [
        {"type": "ticket.status_changed", "event_id": f"zendesk:{SOLVED}",
         "occurred_at": "2025-01-08T16:45:20.988Z", "ticket_id": "zendesk-5158",
         "status": "solved"}]  # fmt: skip
    hold = _payload("status_changed", {"current": "HOLD"}, "2025-01-08T16:45:20Z", "e1")
    assert source.translate(hold).events[0]["status"] == "on_hold"
    deleted = _payload("status_changed", {"current": "DELETED"}, "2025-01-08T16:45:20Z", "e2")
    assert source.translate(deleted) == Translation([], ignored="ticket.status_changed:deleted")
    comment = {
        "comment": {
            "id": 9876543210,
            "body": "We are investigating.",
            "is_public": True,
            "author": {"id": 8447388090495, "is_staff": True, "name": "Agent"},
        }
    }
    public = _payload("comment_added", comment, "2025-01-08T14:25:30.123456789Z", "d4f5")
    base = {"type": "ticket.message_added", "event_id": "zendesk:22129848:comment:9876543210",
            "occurred_at": "2025-01-08T14:25:30.123Z", "ticket_id": "zendesk-5158"}  # fmt: skip
    assert source.translate(public).events == [
        {**base, "author": "agent", "agent_id": "zendesk-user-8447388090495"}
    ]
    note = {"comment": {**comment["comment"], "is_public": False}}
    assert source.translate(_payload("comment_added", note, "2025-01-08T14:25:30.123Z", "x"))\
        .events[0]["public"] is False  # fmt: skip
    customer = {"comment": {**comment["comment"], "author": {"id": 1, "is_staff": False}}}
    got = source.translate(_payload("comment_added", customer, "2025-01-08T14:25:30.123Z", "y"))
    assert got.events == [{**base, "author": "customer"}]
    bot = _source(bots=["1"]).translate(_payload("comment_added", customer,
                                                 "2025-01-08T14:25:30.123Z", "y"))  # fmt: skip
    assert bot.events[0]["author"] == "bot"
    assign = _payload("agent_assignment_changed", {"current": {"id": "77"}, "previous": None},
                      "2025-01-08T11:00:00Z", "f00d")  # fmt: skip
    assert source.translate(assign).events == [
        {
            "type": "ticket.assigned",
            "event_id": "zendesk:f00d",
            "occurred_at": "2025-01-08T11:00:00.000Z",
            "ticket_id": "zendesk-5158",
            "agent_id": "zendesk-user-77",
        }
    ]
    group = _payload("group_assignment_changed", {"current": {"id": "9"}}, STAMP, "g")
    assert source.translate(group).ignored == "ticket.group_assignment_changed"
    rating = {
        "type": "satisfaction_rated",
        "account_id": 22129848,
        "ticket_id": "5158",
        "rating": "Good, I'm satisfied",
        "time": "2025-01-08T17:00:00Z",
    }
    assert source.translate(rating).events == [
        {"type": "survey.responded", "event_id": "zendesk:22129848:5158:csat:1736355600000",
         "occurred_at": "2025-01-08T17:00:00.000Z", "ticket_id": "zendesk-5158",
         "kind": "csat", "score": 5}]  # fmt: skip
    settings = Settings.from_env({})
    for p in (created, status, public, assign, rating):
        assert all(not isinstance(prepare(settings, e), str) for e in source.translate(p).events)
    with pytest.raises(TranslationError) as caught:
        source.translate({**rating, "rating": "meh"})
    assert caught.value.reason == "invalid_rating"
    with pytest.raises(TranslationError) as caught:
        source.translate({**public, "time": "yesterday"})
    assert caught.value.reason == "invalid_time"

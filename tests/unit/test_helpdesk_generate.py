"""The Zendesk and Zammad generators against their sources, and what changes nothing.

* Every generated delivery passes its source's signature check, and its tampered copy does not;
  translated in vendor order, each event id once and unchanged statuses dropped as the
  gateway's ``ContactOrder`` does, the deliveries give exactly the twin (Zammad: plus the
  first ``open`` after ``new`` of each ticket an agent answered, which the gateway cannot tell
  from a change).
* ``ContactOrder`` does not send a status change to the status it last sent for the ticket,
  counts it and tells the request; a creation does not set the status (it can be a retry after
  a restart, when a reopen must still go out).
* Zendesk NEW → OPEN is ignored as unchanged; Zammad's ``new`` state makes no status event.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from stream.config.secrets import Secret
from stream.connectors.webhooks import zammad_generate, zendesk_generate
from stream.connectors.webhooks.chatwoot_generate import TwinEvent
from stream.connectors.webhooks.order import ContactOrder, in_vendor_order
from stream.connectors.webhooks.source import SourceConfig, Translation, WebhookSource
from stream.connectors.webhooks.zammad import build as build_zammad
from stream.connectors.webhooks.zendesk import build as build_zendesk
from stream.dev.simulate import Simulation

SECRET = "helpdesk-secret-0123456789abcdef"
NOW = 1_800_000_000.0


def _traffic() -> Any:
    # six hours, slowly: whole lifecycles (reopens, surveys, closes), not only their starts
    sim = Simulation(seed=7, start=datetime(2026, 11, 22, 9, 0, tzinfo=UTC), rate_multiplier=0.3)
    return list(sim.events(until=sim.start + 6 * 3600))


def _zendesk(twin: list[TwinEvent]) -> WebhookSource:
    queues = {t.doc["queue"] for t in twin if t.doc["type"] == "ticket.created"}
    config = SourceConfig("zendesk", "zendesk", Secret(SECRET), zendesk_generate.options(queues))
    return build_zendesk(config)


def _zammad(_twin: list[TwinEvent]) -> WebhookSource:
    return build_zammad(SourceConfig("zammad", "zammad", Secret(SECRET)))


GENERATORS: dict[str, tuple[Callable[[Any], tuple[Sequence[Any], list[TwinEvent]]],
                            Callable[[list[TwinEvent]], WebhookSource]]] = {
    "zendesk": (zendesk_generate.generate, _zendesk),
    "zammad": (zammad_generate.generate, _zammad),
}  # fmt: skip


def _as_the_gateway_sends(
    source: WebhookSource, deliveries: Sequence[Any]
) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """Events sent, unchanged statuses not sent, ignored kinds: each ticket's deliveries
    translated, in vendor order, each event id once (the gateway's ``ContactOrder``)."""
    per: dict[str, list[dict[str, object]]] = defaultdict(list)
    ignored: dict[str, int] = defaultdict(int)
    for d in deliveries:
        got = source.translate(json.loads(d.body))
        if got.ignored is not None and not got.events:
            ignored[got.ignored] += 1
        per[d.group].extend(got.events)
    sent: list[dict[str, Any]] = []
    unchanged = 0
    for events in per.values():
        seen: set[str] = set()
        status = None
        for e in in_vendor_order(events):
            if e["event_id"] in seen:
                continue
            seen.add(str(e["event_id"]))
            if e["type"] == "ticket.status_changed":
                if e["status"] == status:
                    unchanged += 1
                    continue
                status = e["status"]
            sent.append(dict(e))
    return sent, unchanged, dict(ignored)


@pytest.mark.parametrize("vendor", sorted(GENERATORS))
def test_generated_deliveries_are_signed_and_translate_to_exactly_the_twin(vendor: str) -> None:
    generate, make_source = GENERATORS[vendor]
    deliveries, twin = generate(_traffic())
    source = make_source(twin)
    assert len(deliveries) > 100
    for d in deliveries:
        headers = d.headers(SECRET, NOW)
        assert source.verify(headers, d.body, NOW).ok
        assert source.verify(headers, d.body + b" ", NOW).reason == "bad_signature"
    sent, unchanged, ignored = _as_the_gateway_sends(source, deliveries)
    want = sorted(json.dumps(t.doc, sort_keys=True) for t in twin)
    got = sorted(json.dumps(e, sort_keys=True) for e in sent)
    answered = {t.key for t in twin if t.doc["type"] == "ticket.message_added"
                and t.doc["author"] == "agent" and t.doc.get("public", True)}  # fmt: skip
    if vendor == "zendesk":
        assert got == want
        assert unchanged == 0
        opened = sum(1 for d in deliveries if b'"previous":"NEW"' in d.body)
        assert opened == len({t.key for t in twin if t.doc["type"] == "ticket.assigned"})
        escalated = sum(1 for d in deliveries if d.event == "priority_changed")
        assert escalated > 0
        assert ignored == {"ticket.status_changed:unchanged": opened,
                           "ticket.priority_changed": escalated}  # fmt: skip
    else:
        extra = [e for e in got if e not in want]
        assert sorted(set(got) - set(extra)) == want
        leaked = [json.loads(e) for e in extra]
        assert all(e["type"] == "ticket.status_changed" and e["status"] == "open" for e in leaked)
        tickets = [e["ticket_id"] for e in leaked]
        assert len(set(tickets)) == len(tickets) and set(tickets) <= answered
        first_status: dict[str, str] = {}
        for e in in_vendor_order(sent):
            if e["type"] == "ticket.status_changed":
                first_status.setdefault(e["ticket_id"], e["event_id"])
        assert {first_status[e["ticket_id"]] for e in leaked} == {e["event_id"] for e in leaked}
        assert len(leaked) > 0 and unchanged > 0
        assert ignored == {}
    kinds = {t.doc["type"] for t in twin}
    assert {"ticket.created", "ticket.assigned", "ticket.message_added",
            "ticket.status_changed"} <= kinds  # fmt: skip
    assert ("survey.responded" in kinds) is (vendor == "zendesk")


def test_zendesk_signature_timestamp_is_the_time_of_sending() -> None:
    deliveries, twin = zendesk_generate.generate(_traffic())
    source = _zendesk(twin)
    d = deliveries[0]
    headers = d.headers(SECRET, NOW)
    assert headers["X-Zendesk-Webhook-Signature-Timestamp"] == "2027-01-15T08:00:00Z"
    assert source.verify(headers, d.body, NOW + 300).ok
    assert source.verify(headers, d.body, NOW + 301).reason == "stale_timestamp"
    assert source.verify(d.headers(SECRET, NOW - 3600), d.body, NOW).reason == "stale_timestamp"


def _ev(kind: str, at: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"t1:{kind}:{at}", "ticket_id": "t1",
            "occurred_at": f"2026-11-22T10:00:{at:02d}Z", **fields}  # fmt: skip


def test_a_status_change_to_the_status_last_sent_is_not_sent_and_is_counted() -> None:
    created = _ev("ticket.created", 1, queue="q", channel="chat")
    reopen_like = _ev("ticket.status_changed", 2, status="open")
    pending = _ev("ticket.status_changed", 3, status="pending")
    again = _ev("ticket.status_changed", 4, status="pending")
    opened = _ev("ticket.status_changed", 5, status="open")
    sent: list[list[str]] = []
    told: list[str] = []

    async def publish(events: Sequence[Mapping[str, Any]]) -> int:
        sent.append([str(e["event_id"]) for e in events])
        return len(events)

    async def run() -> ContactOrder:
        order = ContactOrder(hold_seconds=5.0, settle_seconds=0.02)

        def tell(e: Mapping[str, Any]) -> None:
            told.append(str(e["event_id"]))

        await asyncio.gather(*(order.publish([e], publish, tell)
                               for e in (again, created, pending, reopen_like)))  # fmt: skip
        await order.publish([again], publish, tell)  # a retry: a duplicate now
        await order.publish([opened], publish, tell)
        return order

    order = asyncio.run(run())
    # the creation does not set the status: "open" after it goes out (the worker's no-op)
    assert sent == [[created["event_id"], reopen_like["event_id"], pending["event_id"]],
                    [opened["event_id"]]]  # fmt: skip
    assert told == [again["event_id"]]
    assert (order.unchanged, order.duplicates) == (1, 1)


def test_zendesk_new_to_open_is_unchanged_and_zammad_new_makes_no_status() -> None:
    zendesk = build_zendesk(SourceConfig("zendesk", "zendesk", Secret(SECRET)))
    envelope = {"type": "zen:event-type:ticket.status_changed", "account_id": 1, "id": "e1",
                "time": "2026-11-22T10:00:00.123456789Z", "subject": "zen:ticket:7",
                "detail": {"id": "7"}}  # fmt: skip
    new_open = {**envelope, "event": {"current": "OPEN", "previous": "NEW"}}
    assert zendesk.translate(new_open) == Translation([], "ticket.status_changed:unchanged")
    reopened = {**envelope, "event": {"current": "OPEN", "previous": "PENDING"}}
    assert [e["status"] for e in zendesk.translate(reopened).events] == ["open"]
    zammad = _zammad([])
    ticket = {"id": 5, "group": {"name": "sup"}, "state": "new", "owner_id": 1,
              "customer_id": 3, "create_article_type": "email",
              "created_at": "2026-11-22T10:00:00.000Z",
              "updated_at": "2026-11-22T10:05:00.000Z"}  # fmt: skip
    got = zammad.translate({"ticket": ticket, "article": {}})
    assert [e["type"] for e in got.events] == ["ticket.created"]
    got = zammad.translate({"ticket": {**ticket, "state": "open"}, "article": {}})
    assert [e["type"] for e in got.events] == ["ticket.created", "ticket.status_changed"]

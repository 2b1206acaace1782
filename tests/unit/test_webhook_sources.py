"""The webhook gateway's pure parts: its config (file:line errors, secrets), the Chatwoot
source (signatures, real-shaped payloads to exact events) and per-contact delivery order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from stream.config import Settings
from stream.config.secrets import Secret
from stream.connectors.publish import prepare
from stream.connectors.webhooks.chatwoot import ChatwootSource, build
from stream.connectors.webhooks.chatwoot_generate import generate, sign
from stream.connectors.webhooks.config import parse_gateway_config
from stream.connectors.webhooks.order import ContactOrder
from stream.connectors.webhooks.source import (
    GatewayConfigError,
    SourceConfig,
    Translation,
    TranslationError,
    Verdict,
    WebhookSource,
    build_source,
    register,
)
from stream.dev.simulate import Simulation

SECRET = "chatwoot-webhook-secret-0123456789"
NOW = 1_795_341_000.0

# --- config ----------------------------------------------------------------------------------


def test_a_config_builds_its_sources_with_secrets_from_files_and_variables(tmp_path: Path) -> None:
    secret_file = tmp_path / "chatwoot.secret"
    secret_file.write_text(SECRET + "\n")
    text = (
        "port: 9100\n"
        "generic:\n"
        "  token_env: INGEST_TOKEN\n"
        "sources:\n"
        "  chatwoot:\n"
        f"    secret_file: {secret_file}\n"
        "    teams: {Support: support}\n"
        "    inboxes: {3: email-desk}\n"
        "  cw-local:\n"
        "    kind: chatwoot\n"
        "    unsigned: true\n"
    )
    config = parse_gateway_config(text, source="gw.yaml", env={"INGEST_TOKEN": "tok-1"})
    assert (config.host, config.port, config.generic_enabled) == ("127.0.0.1", 9100, True)
    assert config.generic_token == Secret("tok-1")
    chatwoot, local = config.sources
    assert (chatwoot.name, chatwoot.kind, chatwoot.secret) == ("chatwoot", "chatwoot",
                                                               Secret(SECRET))  # fmt: skip
    assert (local.name, local.kind, local.secret) == ("cw-local", "chatwoot", None)
    source = build_source(chatwoot)
    assert isinstance(source, ChatwootSource)
    assert source.mapping.teams == {"Support": "support"}
    assert source.mapping.inboxes == {"3": "email-desk"}
    assert SECRET not in repr(config) and "tok-1" not in repr(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: 80\nbogus: 1\n", "gw.yaml:2: bogus: unknown key"),
        ("port: -1\n", "gw.yaml:1: port: expected an integer >= 0, got -1"),
        ("sources:\n  chatwoot:\n    secret: abc\n",
         "gw.yaml:3: sources.chatwoot.secret: put the secret in a file"),
        ("sources:\n  chatwoot:\n    kind: chatwoot\n",
         "gw.yaml:2: sources.chatwoot: set exactly one of secret_file, secret_env"),
        ("sources:\n  chatwoot:\n    secret_env: NOPE\n",
         "gw.yaml:3: sources.chatwoot.secret_env: the variable NOPE is not set or empty"),
        ("generic:\n  token_file: /nonexistent/token\n",
         "gw.yaml:2: generic.token_file: cannot read /nonexistent/token"),
        ("sources:\n  a:\n    kind: nosuch\n    unsigned: true\n", "gw.yaml:3: sources.a.kind: "
         "unknown source kind 'nosuch'"),
        ("sources:\n  chatwoot:\n    unsigned: true\n    statuses:\n      resolved: done\n",
         "gw.yaml:5: sources.chatwoot.statuses.resolved: expected one of open, pending, on_hold, "
         "solved, closed, got 'done'"),
        ("sources:\n  chatwoot:\n    unsigned: true\n    queue_frm: team\n",
         "gw.yaml:4: sources.chatwoot.queue_frm: unknown key"),
        ("port: [1\n", "gw.yaml:2: invalid YAML"),
    ],
)  # fmt: skip
def test_config_errors_name_the_file_the_line_and_the_key(text: str, message: str) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        config = parse_gateway_config(text, source="gw.yaml", env={})
        for entry in config.sources:
            build_source(entry)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_registered_kind_builds_its_source() -> None:
    class Echo:
        name = "echo"

        def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
            return Verdict(True)

        def translate(self, payload: Any) -> Translation:
            return Translation([], ignored="echo")

    register("echo-test", lambda config: Echo())
    config = parse_gateway_config("sources:\n  e:\n    kind: echo-test\n    unsigned: true\n",
                                  env={})  # fmt: skip
    source = build_source(config.sources[0])
    assert isinstance(source, WebhookSource) and source.translate({}).ignored == "echo"


# --- Chatwoot signatures ---------------------------------------------------------------------


def _source(**options: Any) -> ChatwootSource:
    return build(SourceConfig("chatwoot", "chatwoot", Secret(SECRET), options))


def test_chatwoot_signatures_missing_wrong_tampered_and_replayed_are_refused() -> None:
    source = _source()
    body = b'{"event":"conversation_created","id":1}'
    good = sign(body, SECRET, NOW)
    assert source.verify(good, body, NOW + 10) == Verdict(True)
    lower = {k.lower(): v for k, v in good.items()}
    assert source.verify(lower, body, NOW).ok
    assert source.verify({}, body, NOW) == Verdict(False, "missing_signature", 401)
    only_signature = {"X-Chatwoot-Signature": good["X-Chatwoot-Signature"]}
    assert source.verify(only_signature, body, NOW).reason == "missing_signature"
    wrong = sign(body, "another-secret", NOW)
    assert source.verify(wrong, body, NOW) == Verdict(False, "bad_signature", 403)
    assert source.verify(good, body + b" ", NOW).reason == "bad_signature"
    moved = {**good, "X-Chatwoot-Timestamp": str(int(NOW) + 1)}  # the timestamp is signed too
    assert source.verify(moved, body, NOW).reason == "bad_signature"
    assert source.verify(good, body, NOW + 301) == Verdict(False, "stale_timestamp", 403)
    assert source.verify(good, body, NOW - 301).reason == "stale_timestamp"
    assert _source(tolerance_seconds=600).verify(good, body, NOW + 400).ok


# --- Chatwoot payloads -----------------------------------------------------------------------

CONVERSATION: dict[str, Any] = {
    "additional_attributes": {}, "can_reply": True, "channel": "Channel::Email",
    "contact_inbox": {"id": 7, "contact_id": 42, "inbox_id": 3, "source_id": "x"},
    "id": 1234, "inbox_id": 3, "messages": [], "labels": ["refund", "vip"],
    "meta": {"sender": {"id": 42, "name": "Ana", "identifier": "cust-42", "type": "contact"},
             "assignee": None, "assignee_type": None,
             "team": {"id": 2, "name": "Billing"}, "hmac_verified": False},
    "status": "open", "custom_attributes": {}, "snoozed_until": None, "unread_count": 1,
    "first_reply_created_at": None, "priority": "high", "waiting_since": 0,
    "agent_last_seen_at": 0, "contact_last_seen_at": 0, "last_activity_at": 1795341001,
    "timestamp": 1795341001, "created_at": 1795341001, "updated_at": 1795341001.25,
    "account_id": 5,
}  # fmt: skip
AGENT = {"id": 9, "name": "Jo", "available_name": "Jo", "type": "user"}


def test_chatwoot_conversations_become_exact_ticket_events() -> None:
    source = _source(teams={"Billing": "billing"})
    created = source.translate({"event": "conversation_created", **CONVERSATION})
    assert created.events == [{
        "type": "ticket.created", "event_id": "chatwoot:5:1234:created",
        "occurred_at": "2026-11-22T09:50:01.000Z", "ticket_id": "chatwoot-5-1234",
        "queue": "billing", "channel": "email", "priority": "high", "customer_id": "cust-42",
        "category": "refund"}]  # fmt: skip
    # a bot inbox starts conversations pending, maybe already assigned
    pending = {**CONVERSATION, "status": "pending", "meta": {**CONVERSATION["meta"],
               "assignee": AGENT, "team": None}}  # fmt: skip
    events = _source(inboxes={3: "email-desk"}).translate(
        {"event": "conversation_created", **pending}).events  # fmt: skip
    assert [e["type"] for e in events] == ["ticket.created", "ticket.status_changed",
                                           "ticket.assigned"]  # fmt: skip
    assert events[0]["queue"] == "email-desk"
    assert events[1]["status"] == "pending" and events[2]["agent_id"] == "chatwoot-user-9"
    status = {**CONVERSATION, "status": "resolved", "updated_at": 1795341999.5,
              "changed_attributes": [{"status": {"previous_value": "open",
                                                 "current_value": "resolved"}}]}  # fmt: skip
    assert source.translate({"event": "conversation_status_changed", **status}).events == [{
        "type": "ticket.status_changed",
        "event_id": "chatwoot:5:1234:status:resolved:1795341999500",
        "occurred_at": "2026-11-22T10:06:39.500Z", "ticket_id": "chatwoot-5-1234",
        "status": "solved"}]  # fmt: skip
    snoozed = {**status, "status": "snoozed"}
    got = source.translate({"event": "conversation_status_changed", **snoozed})
    assert got.events[0]["status"] == "on_hold"
    assigned = {**CONVERSATION, "meta": {**CONVERSATION["meta"], "assignee": AGENT},
                "changed_attributes": [{"assignee_id": {"previous_value": None,
                                                        "current_value": 9}}]}  # fmt: skip
    mapped = _source(agents={9: "agent-jo"})
    assert mapped.translate({"event": "conversation_updated", **assigned}).events == [{
        "type": "ticket.assigned", "event_id": "chatwoot:5:1234:assignee:9:1795341001250",
        "occurred_at": "2026-11-22T09:50:01.250Z", "ticket_id": "chatwoot-5-1234",
        "agent_id": "agent-jo"}]  # fmt: skip
    labels = {**CONVERSATION, "changed_attributes": [{"label_list": {}}]}
    assert source.translate({"event": "conversation_updated", **labels}) == Translation(
        [], ignored="conversation_updated"
    )
    assert source.translate({"event": "contact_created", "id": 1}).ignored == "contact_created"


def _message(**fields: Any) -> dict[str, Any]:
    return {"event": "message_created", "id": 777, "content": "hello",
            "created_at": "2026-11-22T09:51:00.125Z", "message_type": "incoming",
            "content_type": "text", "content_attributes": {}, "source_id": None,
            "private": False, "sender": {"id": 42, "name": "Ana", "type": "contact"},
            "inbox": {"id": 3, "name": "Email"}, "conversation": CONVERSATION,
            "account": {"id": 5, "name": "Acme"}, **fields}  # fmt: skip


def test_chatwoot_messages_become_exact_message_events_bots_and_notes_marked() -> None:
    source = _source()
    base = {"type": "ticket.message_added", "event_id": "chatwoot:5:message:777",
            "occurred_at": "2026-11-22T09:51:00.125Z", "ticket_id": "chatwoot-5-1234"}  # fmt: skip
    assert source.translate(_message()).events == [{**base, "author": "customer"}]
    agent = _message(message_type="outgoing", sender={**AGENT, "email": "jo@example.com"})
    assert source.translate(agent).events == [{**base, "author": "agent",
                                               "agent_id": "chatwoot-user-9"}]  # fmt: skip
    note = _message(message_type="outgoing", private=True, sender=AGENT)
    assert source.translate(note).events == [{**base, "author": "agent", "agent_id":
                                              "chatwoot-user-9", "public": False}]  # fmt: skip
    bot = _message(message_type="outgoing", sender={"id": 1, "name": "Bot", "type": "agent_bot"})
    assert source.translate(bot).events == [{**base, "author": "bot"}]
    rails_time = _message(created_at="2026-11-22 09:51:00 UTC", message_type=0)
    assert source.translate(rails_time).events[0]["occurred_at"] == "2026-11-22T09:51:00.000Z"
    assert source.translate(_message(message_type="activity")).ignored == (
        "message_created:activity"
    )
    with pytest.raises(TranslationError) as caught:
        source.translate(_message(message_type="sideways"))
    assert caught.value.reason == "unknown_message_type"
    with pytest.raises(TranslationError) as caught:
        source.translate(_message(created_at="yesterday"))
    assert (caught.value.reason, caught.value.detail) == ("invalid_time",
                                                          "created_at: 'yesterday'")  # fmt: skip
    with pytest.raises(TranslationError) as caught:
        source.translate([1, 2])
    assert caught.value.reason == "invalid_payload"


def test_a_chatwoot_csat_rating_becomes_a_survey_response() -> None:
    csat = _message(event="message_updated", message_type="template", content_type="input_csat",
                    content_attributes={"submitted_values": {"csat_survey_response": {
                        "rating": 4, "feedback_message": "ok"}}})  # fmt: skip
    assert _source().translate(csat).events == [{
        "type": "survey.responded", "event_id": "chatwoot:5:csat:777",
        "occurred_at": "2026-11-22T09:50:01.250Z", "ticket_id": "chatwoot-5-1234",
        "kind": "csat", "score": 4}]  # fmt: skip
    unrated = {**csat, "content_attributes": {}}
    assert _source().translate(unrated).ignored == "message_updated:input_csat"
    bad = {**csat, "content_attributes": {"submitted_values": {"csat_survey_response": {
        "rating": 9}}}}  # fmt: skip
    with pytest.raises(TranslationError):
        _source().translate(bad)


def test_generated_deliveries_translate_to_their_twin_and_every_event_is_valid() -> None:
    def traffic() -> Any:
        start = datetime(2026, 11, 22, 9, 50, tzinfo=UTC)
        sim = Simulation(seed=16, start=start, rate_multiplier=2, flows=False)
        return sim.events(until=sim.start + 1800)

    deliveries, twin = generate(traffic())
    assert (deliveries, twin) == generate(traffic())  # same traffic, same bodies
    source = ChatwootSource()
    made = [e for d in deliveries for e in source.translate(json.loads(d.body)).events]
    settings = Settings.from_env({})
    assert all(not isinstance(prepare(settings, e), str) for e in made)
    assert len(made) == len(twin) == 510

    def without_id(e: Mapping[str, Any]) -> bytes:
        return msgspec.json.encode({k: v for k, v in sorted(e.items()) if k != "event_id"})

    assert sorted(map(without_id, made)) == sorted(without_id(t.doc) for t in twin)
    assert len({e["event_id"] for e in made}) == len(made)


# --- per-contact order -------------------------------------------------------------------------


def _ev(kind: str, at: int, ticket: str = "t1", **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{ticket}:{kind}:{at}", "ticket_id": ticket,
            "occurred_at": f"2026-11-22T10:00:{at:02d}Z", **fields}  # fmt: skip


def test_one_contacts_deliveries_arriving_together_go_out_in_vendor_order_once() -> None:
    created = _ev("ticket.created", 1, queue="q", channel="chat")
    pending = _ev("ticket.status_changed", 2, status="pending")
    solved = _ev("ticket.status_changed", 3, status="solved")
    other = _ev("ticket.created", 1, "t2", queue="q", channel="chat")
    sent: list[list[str]] = []

    async def publish(events: Sequence[Mapping[str, Any]]) -> int:
        sent.append([str(e["event_id"]) for e in events])
        return len(events)

    async def run() -> list[int]:
        order = ContactOrder(hold_seconds=5.0, settle_seconds=0.05)
        answers = await asyncio.gather(*(order.publish([e], publish) for e in
                                         (solved, pending, other, solved, created)))  # fmt: skip
        assert order.duplicates == 1 and order.released_unordered == 0
        return list(answers)

    answers = asyncio.run(run())
    assert sorted(sent) == sorted([[created["event_id"], pending["event_id"], solved["event_id"]],
                                   [other["event_id"]]])  # fmt: skip
    assert answers == [3, 3, 1, 3, 3]


def test_an_event_waits_for_its_creation_then_is_released_and_counted() -> None:
    sent: list[str] = []

    async def publish(events: Sequence[Mapping[str, Any]]) -> int:
        sent.extend(str(e["event_id"]) for e in events)
        return len(events)

    async def run() -> ContactOrder:
        order = ContactOrder(hold_seconds=0.2, settle_seconds=0.0)
        await order.publish([_ev("ticket.message_added", 5, author="agent")], publish)
        return order

    order = asyncio.run(run())
    assert sent == ["t1:ticket.message_added:5"]
    assert (order.held, order.released_unordered) == (1, 1)


def test_a_message_before_its_conversation_waits_and_goes_out_after_it() -> None:
    created = _ev("ticket.created", 1, queue="q", channel="chat")
    message = _ev("ticket.message_added", 4, author="customer")
    sent: list[list[str]] = []

    async def publish(events: Sequence[Mapping[str, Any]]) -> int:
        sent.append([str(e["event_id"]) for e in events])
        return len(events)

    async def run() -> tuple[ContactOrder, list[int]]:
        order = ContactOrder(hold_seconds=30.0, settle_seconds=0.0)
        early = asyncio.ensure_future(order.publish([message], publish))
        await asyncio.sleep(0.1)  # the message is held: nothing went out
        assert sent == [] and not early.done()
        late = await order.publish([created], publish)
        return order, [await early, late]

    order, answers = asyncio.run(run())
    assert sent == [[created["event_id"], message["event_id"]]]
    assert answers == [2, 2]
    assert (order.held, order.released_unordered) == (1, 0)


def test_the_order_remembers_at_most_max_contacts() -> None:
    async def publish(events: Sequence[Mapping[str, Any]]) -> int:
        return len(events)

    async def run() -> ContactOrder:
        order = ContactOrder(hold_seconds=0.0, settle_seconds=0.0, max_contacts=2)
        for n in range(5):
            await order.publish([_ev("ticket.created", 1, f"t{n}", queue="q", channel="chat")],
                                publish)  # fmt: skip
        return order

    order = asyncio.run(run())
    assert list(order._contacts) == ["t3", "t4"]

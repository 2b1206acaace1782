"""The helpdesk demo's pieces, pure: live deliveries equal the generators' batch output, each
with its event's time; the tickets split a third each by ticket; the config the gateway reads;
the demo's summary with what was posted."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stream.connectors.webhooks import chatwoot_generate, live, zammad_generate, zendesk_generate
from stream.connectors.webhooks.config import load_gateway_config
from stream.connectors.webhooks.source import build_source
from stream.dev.demo import summary_line
from stream.dev.simulate import DEFAULT_QUEUES, PublishStats, Simulation

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
GENERATORS: list[Any] = [chatwoot_generate, zendesk_generate, zammad_generate]


def _sim() -> Simulation:
    return Simulation(seed=11, start=START, rate_multiplier=4)


@pytest.mark.parametrize("module", GENERATORS, ids=lambda m: m.__name__.rpartition(".")[2])
def test_live_gives_the_batch_deliveries_each_at_its_events_time(module: Any) -> None:
    sim = _sim()
    events = list(sim.events(until=sim.start + 900))
    batch, _twin = module.generate(events)
    assert len(batch) > 50
    lazy = list(itertools.islice(module.live(_sim().events()), len(batch)))  # endless input
    assert lazy == batch
    ticket_times = {e.at for e in events if e.kind == "tickets"}
    assert {d.at for d in batch} <= ticket_times
    assert [d.at for d in batch] == sorted(d.at for d in batch)
    assert batch[0].at == min(e.at for e in events if live.is_helpdesk_ticket(e))


def test_tickets_are_split_a_third_each_by_ticket_and_merged_in_time_order() -> None:
    merged = list(itertools.islice(live.deliveries(
        seed=11, start=START, queues=DEFAULT_QUEUES, rate_multiplier=4), 600))  # fmt: skip
    assert [at for at, _, _ in merged] == sorted(at for at, _, _ in merged)
    created = [v for _, v, d in merged if _is_creation(v, d.body)]
    assert created[:9] == list(live.VENDORS) * 3
    sim = _sim()
    firsts = [e for e in itertools.islice(sim.events(), 3000) if live.is_helpdesk_ticket(e)]
    assert merged[0][0] == firsts[0].at


def _is_creation(vendor: str, body: bytes) -> bool:
    doc = json.loads(body)
    if vendor == "chatwoot":
        return bool(doc["event"] == "conversation_created")
    if vendor == "zendesk":
        return bool(doc.get("type") == "zen:event-type:ticket.created")
    return bool(doc["article"] and doc["ticket"]["article_count"] == 1)


def test_a_call_survey_is_not_a_helpdesk_ticket() -> None:
    kinds = {(e.kind, live.is_helpdesk_ticket(e)) for e in itertools.islice(_sim().events(), 3000)}
    assert ("tickets", False) in kinds and ("tickets", True) in kinds
    assert not {k for k, ticket in kinds if ticket} - {"tickets"}


def test_the_config_serves_the_three_vendors_with_secrets_in_0600_files(tmp_path: Path) -> None:
    config, keys = live.config_files(tmp_path / "demo", 18_090)
    loaded = load_gateway_config(config)
    assert (loaded.host, loaded.port) == ("127.0.0.1", 18_090)
    assert [s.name for s in loaded.sources] == list(live.VENDORS)
    assert not loaded.generic_enabled
    for source in loaded.sources:
        build_source(source)
        path = tmp_path / "demo" / f"{source.name}.secret"
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.read_text() == keys[source.name] and len(keys[source.name]) == 48
        assert keys[source.name] not in config.read_text()
    again, new_keys = live.config_files(tmp_path / "demo", 18_091)
    assert again == config and set(new_keys.values()).isdisjoint(keys.values())


def test_the_summary_says_what_was_posted() -> None:
    stats = live.HelpdeskStats()
    stats.posted.update(chatwoot=3, zendesk=4, zammad=2)
    stats.refused["zammad"] = 1
    assert stats.line() == (
        "posted 9 helpdesk deliveries (chatwoot 3, zendesk 4, zammad 2), refused 1"
    )
    line = summary_line({}, PublishStats(events=5), datetime(2026, 1, 1, 9, 5), helpdesk="x")
    assert line.startswith("09:05:00  published 5 (+0 bad, +0 dup), x | accepted -")

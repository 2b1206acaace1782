"""The queue_log generator and the translator together, without a broker: the lines written for
the simulator's traffic translate back into the simulator's own call and agent events (whole
seconds; ids aside), event for event. Same seed, same lines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from stream.connectors.asterisk.generator import asterisk_profiles, config_yaml, generate
from stream.connectors.asterisk.queue_log import Line, parse
from stream.connectors.asterisk.settings import parse_config
from stream.connectors.asterisk.translator import Translator

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def _translate(lines: list[str], config_text: str) -> list[dict[str, Any]]:
    translator = Translator(parse_config(config_text))
    events: list[dict[str, Any]] = []
    last = 0
    for text in lines:
        parsed = parse(text.encode())
        assert isinstance(parsed, Line), (text, parsed)
        out = translator.translate(parsed)
        assert out.rejected is None and out.ignored is None, (text, out)
        events.extend(out.events)
        last = parsed.epoch
    events.extend(translator.advance(last, inclusive=True))
    return events


def _comparable(events: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """Each event without its ids; a call by the order its call.queued came in."""
    numbers: dict[str, int] = {}
    out: Counter[tuple[Any, ...]] = Counter()
    for e in events:
        if e["type"] == "call.queued":
            numbers[e["call_id"]] = len(numbers)
        out[
            (
                e["type"],
                e["occurred_at"],
                numbers.get(e.get("call_id", ""), -1),
                e.get("queue"),
                e.get("channel", "phone" if e["type"] == "call.queued" else None),
                e.get("agent_id"),
                e.get("state"),
                tuple(e.get("queues", ())),
            )
        ] += 1
    return out


def test_the_log_tells_the_simulators_story() -> None:
    generated = generate(7, START, 2 * 3600)
    events = _translate(generated.lines, config_yaml(asterisk_profiles()))
    assert len(generated.lines) > 1000
    types = Counter(e["type"] for e in generated.reference)
    assert types["call.abandoned"] > 10 and types["call.wrapup_completed"] > 100
    assert _comparable(events) == _comparable(generated.reference)
    # agent events in the same order per agent (the gauges keep the newest)
    for agent in {e["agent_id"] for e in generated.reference if "state" in e}:
        mine = [
            (e["occurred_at"], e["state"])
            for e in events
            if e.get("agent_id") == agent and "state" in e
        ]
        theirs = [
            (e["occurred_at"], e["state"])
            for e in generated.reference
            if e.get("agent_id") == agent and "state" in e
        ]
        assert mine == theirs, agent


def test_same_seed_same_lines() -> None:
    a = generate(11, START, 1800).lines
    assert a == generate(11, START, 1800).lines
    assert a != generate(12, START, 1800).lines
    assert a[0].split("|")[4] == "ADDMEMBER"

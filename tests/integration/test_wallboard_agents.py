"""The agent part of the wallboard end to end: real broker, real worker (clock frozen at
10:40:00Z), real ``redis-server``, the wallboard server and Debian's Chromium, headless.

The agents and calls of ``test_agent_reasons_and_rings`` plus three agents: a6 busy from 10:39:00
and in after-call work from 10:39:30, a7 away since 10:30:50 with a reason that is markup, a8
available since 10:39:50. The worker lists 6 agents (``STREAM_WALLBOARD_AGENTS``), so the newest
in state (a8) is left out. The page must show exactly the tiles ``/metrics`` exports, the list
in order with the exact times in state at the snapshot's instant, the targets file's colours,
the markup as text; then a3 goes on break and the page follows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from stream.dev.broker import EmbeddedBroker
from stream.dev.redis_server import RedisServer
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import accounted, publish, value, wait_until
from tests.integration.test_agent_reasons_and_rings import EVENTS, FROZEN, agent
from tests.integration.test_wallboard import (
    OUTPUT,
    WallboardProcess,
    browser,  # noqa: F401 (a fixture)
    expected_from_metrics,
    shown_numbers,
    tile_values,
    wallboards,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.integration

MARKUP = '<img src=x onerror="window.pwned=1">'
TARGETS = """\
agent_reasons: [lunch, break]
wallboard_thresholds:
  agents_away: {warn: 1, bad: 3}
queues:
  billing:
    team: Front office
    wallboard_thresholds:
      agent_answer_rate_today: {warn: 90%, bad: 50%}
      agents_on_queue: {warn: 5, bad: 2}
"""
B = ["billing"]
MORE = [
    agent(540, "a6", "busy", queues=B),
    agent(570, "a6", "after_call_work"),
    agent(50, "a7", "away", queues=B, reason=MARKUP),
    agent(590, "a8", "available", queues=B),
]
# (agent, state, reason, seconds in state at 10:40:00, seconds of the current call or None)
LISTED = [
    ("a5", "available", "", 600.0, None),
    ("a7", "away", MARKUP, 550.0, None),
    ("a1", "away", "lunch", 500.0, None),
    ("a2", "away", "lunch", 150.0, None),
    ("a3", "available", "", 100.0, None),
    ("a6", "after_call_work", "", 30.0, 60.0),
]

_ROWS = """() => [...document.querySelectorAll('.tile[data-queue="billing"] .agent')].map((r) => ({
  agent: r.dataset.agent,
  state: r.dataset.state,
  reason: r.dataset.reason,
  stateSeconds: Number(r.dataset.stateSeconds),
  callSeconds: r.dataset.callSeconds === '' ? null : Number(r.dataset.callSeconds),
  text: [...r.children].map((c) => c.textContent),
}))"""


def duration(seconds: float) -> str:
    """The page's format of a duration (``format(value, "duration")`` in wallboard.js)."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    m = s // 60
    return f"{m}:{s % 60:02d}" if m < 60 else f"{m // 60}h{m % 60:02d}"


def shown_soon_after(text: str, seconds: float) -> bool:
    """The page ticks durations from the snapshot's instant: what it shows is the exact value
    plus the (small, unknown) time since the snapshot was written."""
    return text in {duration(seconds + k) for k in range(0, 31)}


def rows(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(_ROWS)
    return found


def listed(page: Page) -> list[tuple[str, str, str, float, float | None]]:
    return [
        (r["agent"], r["state"], r["reason"], r["stateSeconds"], r["callSeconds"])
        for r in rows(page)
    ]


def test_the_wallboard_lists_agents_and_shows_the_agent_tiles(
    broker: EmbeddedBroker,
    workers: WorkerFactory,
    redis_server: RedisServer,
    wallboards: Callable[[str, str], WallboardProcess],  # noqa: F811
    browser: Callable[[], BrowserContext],  # noqa: F811
    tmp_path: Path,
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS)
    w = workers(
        frozen_time=FROZEN,
        STREAM_GRACE_SECONDS="1800",
        STREAM_REDIS_URL=redis_server.url,
        STREAM_TARGETS_FILE=str(targets),
        STREAM_WALLBOARD_AGENTS="6",
    )
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, [*EVENTS, *MORE])
    assert n == 26
    wait_until(lambda: accounted(w.scrape()) == n, 60, f"{n} messages accounted for")
    wait_until(
        lambda: value(w.scrape(), "contact_centre_agents_staffed", queue="billing") == 7,
        30,
        "seven staffed agents in billing",
    )
    m = w.scrape()
    expected = expected_from_metrics(m, "billing")
    # Hand-computed, so the comparison with the metrics cannot pass vacuously.
    assert {k: expected[k] for k in expected if k.startswith(("agent", "offers"))} == {
        "agents_available": 3,  # a3, a5, a8
        "agents_staffed": 7,
        "agents_on_queue": 4,  # and a6
        "agents_away": 3,  # a1, a2 lunch; a7 other
        "agents_ringing": 3,
        "offers_missed": 1,
        "agent_answer_rate_today": 0.2,
        "agents_required": None,  # no full 15-minute window with a handled call yet
    }

    wb = wallboards(redis_server.url, w.env["STREAM_APP_ID"])
    page = browser().new_page()
    page.goto(wb.url)
    page.wait_for_selector('.tile[data-queue="billing"] .agent', timeout=30_000)
    wait_until(lambda: listed(page) == LISTED, 30, lambda: f"the list, shown {listed(page)}")
    tile = tile_values(page)["billing"]
    assert shown_numbers(tile) == expected
    assert tile["agents_away"]["text"] == "3"
    assert tile["agent_answer_rate_today"]["text"] == "20%"
    assert tile["offers_missed"]["text"] == "1"
    # The targets file's thresholds: away (file) 3 ≤ bad 3 amber; answer rate (billing's own)
    # 20 % below 50 % red; on queue 4 below warn 5, not below bad 2: amber; missed: none set.
    statuses = {f: tile[f]["status"] for f in tile if f.startswith(("agent", "offers"))}
    assert statuses == {
        "agents_available": "none",
        "agents_staffed": "none",
        "agents_on_queue": "warn",
        "agents_away": "warn",
        "agents_ringing": "none",
        "offers_missed": "none",
        "agent_answer_rate_today": "bad",
        "agents_required": "none",  # no figure yet, and no threshold set for it
    }
    detail = '.tile[data-queue="billing"] .kpi[data-field="agents_away"] .detail'
    assert page.text_content(detail) == "lunch 2 · other 1"
    head = page.text_content('.tile[data-queue="billing"] .agents-head')
    assert head == "agents: 6 of 7, longest in state first"
    shown = rows(page)
    assert [r["text"][:2] for r in shown] == [
        ["a5", "available"],
        ["a7", f"away · {MARKUP}"],  # the markup as text
        ["a1", "away · lunch"],
        ["a2", "away · lunch"],
        ["a3", "available"],
        ["a6", "wrap-up"],
    ]
    for r, (_, _, _, in_state, call) in zip(shown, LISTED, strict=True):
        assert shown_soon_after(r["text"][2], in_state), r
        if call is None:
            assert r["text"][3] == "", r
        else:
            assert r["text"][3].startswith("call ") and shown_soon_after(r["text"][3][5:], call)
    assert page.evaluate("() => document.querySelectorAll('.tile img').length") == 0
    assert page.evaluate("() => window.pwned === undefined")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "wallboard-agents.png"), full_page=True)

    # Heartbeats (the same snapshot written again every 2 s) redraw no list.
    def stats() -> dict[str, int]:
        found: dict[str, int] = page.evaluate("() => ({...window.wallboardStats})")
        return found

    drawn, messages = stats()["agentListsDrawn"], stats()["messages"]
    wait_until(lambda: stats()["messages"] >= messages + 3, 30, "three more messages")
    assert stats()["agentListsDrawn"] == drawn

    # Live: a3 goes on break at 10:39:55: now the newest in state, it leaves the list and a8
    # (available since 10:39:50) comes in; away is 4, above its bad threshold; on queue 3.
    # Playwright's sync API holds this thread's event loop: publish from another thread.
    with ThreadPoolExecutor(1) as pool:
        more = [agent(595, "a3", "away", reason="break")]
        assert pool.submit(publish, broker.bootstrap, more).result(timeout=60) == 1
    after = [*LISTED[:4], LISTED[5], ("a8", "available", "", 10.0, None)]
    wait_until(lambda: listed(page) == after, 30, lambda: f"the new list, shown {listed(page)}")
    wait_until(
        lambda: tile_values(page)["billing"]["agents_away"]["text"] == "4",
        30,
        "the page to show four away",
    )
    assert stats()["agentListsDrawn"] == drawn + 1  # one change, one redraw of the list
    tile = tile_values(page)["billing"]
    assert tile["agents_away"]["status"] == "bad"
    assert page.text_content(detail) == "lunch 2 · break 1 · other 1"
    assert tile["agents_on_queue"]["text"] == "3"
    assert tile["agents_on_queue"]["status"] == "warn"  # 3: below 5, not below 2
    m = w.scrape()
    assert value(m, "contact_centre_agents", queue="billing", state="away", reason="break") == 1
    assert value(m, "contact_centre_agents_on_queue", queue="billing") == 3

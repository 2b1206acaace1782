"""The wallboard end to end: real broker, real worker, real Redis, real wallboard server, and
Debian's Chromium driven headless by Playwright.

The worker processes the known event set of ``test_exact_metrics`` with its clock frozen at
10:40:00Z and publishes snapshots to a ``redis-server`` started here (loopback, free port,
memory only). The page must show exactly what ``/metrics`` exports, filter by queue and team,
and grey a tile out once its worker stops. Redis going away must not stop the worker. Every wait
polls a condition with a bound; screenshots go to ``test-output/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.dev.redis_server import RedisServer, redis_server_binary
from stream.export.queue_snapshot import QueueSnapshot, statuses
from stream.export.snapshots import SnapshotPublisher, SnapshotReader, key_prefix
from stream.web.server import STATIC_DIR
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Samples, accounted, publish, total, value, wait_until
from tests.integration.test_exact_metrics import LATE, MAIN, ev
from tests.unit.test_snapshots import snapshot

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGETS = """\
queues:
  billing:
    team: Front office
  support:
    team: Tech
"""
STALE_SECONDS = "6"  # > 2 heartbeats (2 s each): a loaded machine must not grey a live tile


class WallboardProcess:
    """``python -m stream wallboard`` on a free 127.0.0.1 port."""

    def __init__(self, redis_url: str, app_id: str, log_path: Path, **extra: str) -> None:
        self.port = find_free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
        env.update(
            STREAM_REDIS_URL=redis_url,
            STREAM_APP_ID=app_id,
            STREAM_WALLBOARD_PORT=str(self.port),
            STREAM_WALLBOARD_STALE_SECONDS=STALE_SECONDS,
        )
        env.update(extra)
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream", "wallboard"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.healthy, 30, "the wallboard server to reach Redis")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"wallboard exited: {self.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.url + "healthz", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def wallboards(tmp_path: Path) -> Iterator[Callable[[str, str], WallboardProcess]]:
    started: list[WallboardProcess] = []

    def start(redis_url: str, app_id: str) -> WallboardProcess:
        wb = WallboardProcess(redis_url, app_id, tmp_path / f"wallboard-{len(started)}.log")
        started.append(wb)
        return wb

    try:
        yield start
    finally:
        for wb in started:
            wb.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Callable[[], BrowserContext]]:
    """Starts Chromium when called: Playwright's sync API keeps an event loop running in this
    thread from then on, so anything using ``asyncio.run`` (publishing) must come first."""
    assert Path(CHROMIUM).exists(), "no /usr/bin/chromium: run `make system`"
    with contextlib.ExitStack() as stack:

        def start() -> BrowserContext:
            p = stack.enter_context(sync_playwright())
            context = p.chromium.launch_persistent_context(
                tmp_path / "chromium-profile",  # a fresh user-data dir
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1600, "height": 900},
            )
            stack.callback(context.close)
            return context

        yield start


def tile_values(page: Page) -> dict[str, dict[str, Any]]:
    """Queue → field → {value (raw, as the page holds it), text (shown), status} of every
    visible tile."""
    result: dict[str, dict[str, Any]] = page.evaluate(
        """() => {
        const out = {};
        for (const tile of document.querySelectorAll('.tile:not(.hidden)')) {
          const fields = {};
          for (const kpi of tile.querySelectorAll('.kpi')) {
            fields[kpi.dataset.field] = {
              value: kpi.dataset.value,
              text: kpi.querySelector('.value').textContent,
              status: kpi.dataset.status,
            };
          }
          fields.stale = tile.classList.contains('stale');
          fields.team = tile.dataset.team;
          out[tile.dataset.queue] = fields;
        }
        return out;
      }"""
    )
    return result


def expected_from_metrics(m: Samples, queue: str) -> dict[str, float | None]:
    """What each tile field must show: the worker's own /metrics samples."""
    today = {"queue": queue, "window": "today"}
    backlog = [
        value(m, "contact_centre_tickets_open", queue=queue, status=s)
        for s in ("open", "pending", "on_hold")
    ]
    return {
        "calls_waiting": value(m, "contact_centre_calls_waiting", queue=queue),
        "oldest_call_waiting_seconds": value(
            m, "contact_centre_oldest_call_waiting_seconds", queue=queue
        ),
        "service_level_today": value(m, "contact_centre_service_level_ratio", **today),
        "average_speed_of_answer_today_seconds": value(
            m, "contact_centre_average_speed_of_answer_seconds", **today
        ),
        "abandon_rate_today": value(m, "contact_centre_abandon_rate_ratio", **today),
        "first_response_within_target_today": value(
            m, "contact_centre_first_response_within_target_ratio", **today
        ),
        "backlog": sum(n for n in backlog if n is not None),
        "agents_available": value(m, "contact_centre_agents", queue=queue, state="available"),
        "ewt_recent_seconds": value(m, "contact_centre_ewt_seconds", queue=queue, method="recent"),
        "ewt_erlang_c_seconds": value(
            m, "contact_centre_ewt_seconds", queue=queue, method="erlang_c"
        ),
        "agents_required": value(
            m, "contact_centre_agents_required", queue=queue, model="erlang_a"
        ),
        **agent_tiles_from_metrics(m, queue),
    }


def agent_tiles_from_metrics(m: Samples, queue: str) -> dict[str, float | None]:
    """What the agent tiles must show (``None``: no sample, shown as "—")."""
    away = [
        v
        for (name, labels), v in m.items()
        if name == "contact_centre_agents"
        and ("queue", queue) in labels
        and ("state", "away") in labels
    ]
    missed = [
        v
        for (name, labels), v in m.items()
        if name == "contact_centre_call_offers_missed_total" and ("queue", queue) in labels
    ]
    today = {"queue": queue, "window": "today"}
    offers = value(m, "contact_centre_agent_offers_in_window", **today)
    answered = value(m, "contact_centre_agent_offers_answered_in_window", **today)
    return {
        "agents_staffed": value(m, "contact_centre_agents_staffed", queue=queue),
        "agents_on_queue": value(m, "contact_centre_agents_on_queue", queue=queue),
        "agents_away": sum(away) if away else None,
        "agents_ringing": value(m, "contact_centre_agents_ringing", queue=queue),
        "offers_missed": sum(missed),
        "agent_answer_rate_today": None if not offers else (answered or 0) / offers,
    }


def shown_numbers(tile: dict[str, Any]) -> dict[str, float | None]:
    return {
        field: (None if tile[field]["value"] == "" else float(tile[field]["value"]))
        for field in tile
        if field not in ("stale", "team")
    }


def test_wallboard_shows_the_metrics_filters_and_greys_stale_tiles(
    broker: EmbeddedBroker,
    workers: WorkerFactory,
    redis_server: RedisServer,
    wallboards: Callable[[str, str], WallboardProcess],
    browser: Callable[[], BrowserContext],
    tmp_path: Path,
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS)
    w = workers(
        frozen_time="2026-11-22T10:40:00Z",
        STREAM_GRACE_SECONDS="1800",
        STREAM_REDIS_URL=redis_server.url,
        STREAM_TARGETS_FILE=str(targets),
    )
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    assert publish(broker.bootstrap, [*MAIN, *LATE]) == 45
    wait_until(lambda: accounted(w.scrape()) == 45, 60, "45 messages accounted for")
    wait_until(
        lambda: (
            value(w.scrape(), "contact_centre_agents", queue="billing", state="available")
            is not None
        ),
        30,
        "the agent's state in billing",
    )
    m = w.scrape()
    expected = {q: expected_from_metrics(m, q) for q in ("billing", "support")}
    # The hand-computed numbers of test_exact_metrics, so the comparison cannot pass vacuously.
    assert expected["billing"]["service_level_today"] == 0.5
    assert expected["billing"]["oldest_call_waiting_seconds"] == 120
    assert expected["support"]["first_response_within_target_today"] == 0.5
    assert (expected["billing"]["agents_available"], expected["support"]["agents_available"]) == (
        1,
        None,
    )

    wb = wallboards(redis_server.url, w.env["STREAM_APP_ID"])
    context = browser()
    page = context.new_page()
    page.goto(wb.url)
    page.wait_for_selector('.tile[data-queue="billing"]', timeout=30_000)
    page.wait_for_selector('.tile[data-queue="support"]', timeout=30_000)

    def matches() -> bool:
        tiles = tile_values(page)
        if sorted(tiles) != sorted(expected):
            return False
        return all(shown_numbers(tiles[q]) == expected[q] for q in expected)

    wait_until(matches, 30, "the tiles to show the metrics' values")
    tiles = tile_values(page)
    assert sorted(tiles) == ["billing", "support"]
    for queue in expected:
        assert shown_numbers(tiles[queue]) == expected[queue], queue
        assert tiles[queue]["stale"] is False
    billing, support = tiles["billing"], tiles["support"]
    # What a person reads, and the colours the targets give.
    assert billing["oldest_call_waiting_seconds"]["text"] == "2:00"
    assert billing["service_level_today"]["text"] == "50%"
    assert billing["abandon_rate_today"]["text"] == "33%"
    assert billing["average_speed_of_answer_today_seconds"]["text"] == "25s"
    assert billing["agents_available"]["text"] == "1"
    assert support["agents_available"]["text"] == "—"  # no agent ever named support
    assert billing["service_level_today"]["status"] == "bad"  # 50 % against the 80 % goal
    assert billing["oldest_call_waiting_seconds"]["status"] == "bad"  # 120 s > 2 × 20 s
    assert billing["abandon_rate_today"]["status"] == "bad"  # 33 % > 10 %
    assert billing["average_speed_of_answer_today_seconds"]["status"] == "warn"  # 25 s ≤ 40 s
    assert support["service_level_today"]["status"] == "good"
    assert support["first_response_within_target_today"]["status"] == "bad"
    assert (billing["team"], support["team"]) == ("Front office", "Tech")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "wallboard-known-events.png"), full_page=True)

    # Filters.
    team_page = context.new_page()
    team_page.goto(wb.url + "?team=Tech")
    team_page.wait_for_selector('.tile[data-queue="support"]', timeout=30_000)
    assert sorted(tile_values(team_page)) == ["support"]
    queues_page = context.new_page()
    queues_page.goto(wb.url + "?queues=billing,nope")
    queues_page.wait_for_selector('.tile[data-queue="billing"]', timeout=30_000)
    assert sorted(tile_values(queues_page)) == ["billing"]
    rotate_page = context.new_page()
    rotate_page.goto(wb.url + "?rotate=600&per=1")
    rotate_page.wait_for_selector('.tile[data-queue="billing"]', timeout=30_000)
    assert sorted(tile_values(rotate_page)) == ["billing"]  # page 1 of 2
    assert rotate_page.text_content("#page") == "page 1/2"

    # The worker stops: no more snapshots, so after STALE_SECONDS the tiles grey out.
    w.stop()
    wait_until(
        lambda: all(t["stale"] for t in tile_values(page).values()),
        30,
        "the tiles of the stopped worker to grey out",
    )
    assert "no update for" in (page.text_content('.tile[data-queue="billing"] .age') or "")
    # Greyed out, the values stay (the last known numbers), only their colour goes.
    assert shown_numbers(tile_values(page)["billing"]) == expected["billing"]
    page.screenshot(path=str(OUTPUT / "wallboard-stale.png"), full_page=True)


def stored_snapshots(url: str, app_id: str) -> dict[str, dict[str, Any]]:
    async def read() -> dict[str, dict[str, Any]]:
        reader = SnapshotReader(url, prefix=key_prefix(app_id))
        try:
            return await reader.fetch_all()
        finally:
            await reader.close()

    return asyncio.run(read())


def test_redis_outage_does_not_stop_processing_or_metrics(
    broker: EmbeddedBroker, workers: WorkerFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    w = workers(STREAM_REDIS_URL=redis_server.url)
    app_id = w.env["STREAM_APP_ID"]
    wait_until(lambda: w.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    first = ("calls", "r1", ev("call.queued", "10:29:00", call_id="r1", queue="billing"))
    assert publish(broker.bootstrap, [first]) == 1
    wait_until(
        lambda: (
            stored_snapshots(redis_server.url, app_id).get("billing", {}).get("calls_waiting") == 1
        ),
        30,
        "the billing snapshot in Redis",
    )
    port = redis_server.port
    redis_server.stop()
    wait_until(
        lambda: (value(w.scrape(), "contact_centre_snapshot_errors_total") or 0) >= 1,
        30,
        "publishing errors to be counted",
    )
    # Processing and /metrics go on without Redis.
    second = ("calls", "r2", ev("call.queued", "10:29:30", call_id="r2", queue="billing"))
    assert publish(broker.bootstrap, [second]) == 1
    wait_until(lambda: accounted(w.scrape()) == 2, 30, "the second event processed")
    assert total(w.scrape(), "contact_centre_calls_waiting") == 2
    # Redis comes back (empty: memory only): the next ticks fill it again.
    again = RedisServer(port, binary=redis_server_binary(prefer_system=True)).start()
    try:
        wait_until(
            lambda: (
                stored_snapshots(again.url, app_id).get("billing", {}).get("calls_waiting") == 2
            ),
            30,
            "the snapshot to be published again after the outage",
        )
    finally:
        again.stop()


def test_an_older_snapshot_cannot_overwrite_a_newer_one(redis_server: RedisServer) -> None:
    def snap(version: int, waiting: int) -> QueueSnapshot:
        return snapshot(queue="billing", at=0.0, version=version, calls_waiting=waiting)

    async def run() -> None:
        prefix = key_prefix("guard-test")
        clock = [1000.0]
        new_owner = SnapshotPublisher(
            redis_server.url, prefix=prefix, worker="new", wall=lambda: clock[0]
        )
        old_owner = SnapshotPublisher(
            redis_server.url, prefix=prefix, worker="old", wall=lambda: clock[0] + 1
        )
        reader = SnapshotReader(redis_server.url, prefix=prefix)
        try:
            async with reader.subscription() as updates:
                assert await new_owner.publish([snap(version=10, waiting=3)]) == 1
                # A later write of older state (the worker that lost the queue) is refused...
                assert await old_owner.publish([snap(version=9, waiting=7)]) == 0
                assert old_owner.refused == 1
                stored = (await reader.fetch_all())["billing"]
                assert (stored["worker"], stored["calls_waiting"], stored["version"]) == (
                    "new",
                    3,
                    10,
                )
                published = await updates.next(timeout=5)
                assert published is not None and published["worker"] == "new"
                assert await updates.next(timeout=0.2) is None  # the refused one was not sent
                # ...unless the stored snapshot is so old that its writer must be gone.
                clock[0] += 60
                assert await old_owner.publish([snap(version=9, waiting=7)]) == 1
                assert (await reader.fetch_all())["billing"]["worker"] == "old"
        finally:
            await new_owner.close()
            await old_owner.close()
            await reader.close()

    asyncio.run(run())


def test_wallboard_api_serves_stored_snapshots(
    redis_server: RedisServer, wallboards: Callable[[str, str], WallboardProcess]
) -> None:
    wb = wallboards(redis_server.url, "api-test")

    async def put() -> None:
        publisher = SnapshotPublisher(redis_server.url, prefix=key_prefix("api-test"), worker="t")
        try:
            await publisher.publish(
                [
                    snapshot(
                        queue="sales",
                        team="Growth",
                        at=0.0,
                        calls_waiting=4,
                        service_level_today=0.9,
                    )
                ]
            )
        finally:
            await publisher.close()

    asyncio.run(put())

    def api() -> dict[str, Any]:
        with urllib.request.urlopen(wb.url + "api/snapshots", timeout=5) as r:
            doc: dict[str, Any] = json.loads(r.read())
            return doc

    wait_until(lambda: len(api()["snapshots"]) == 1, 30, "the snapshot on /api/snapshots")
    doc = api()
    assert doc["redis"] is True
    assert doc["stale_seconds"] == float(STALE_SECONDS)
    (sales,) = doc["snapshots"]
    assert (sales["queue"], sales["team"], sales["calls_waiting"]) == ("sales", "Growth", 4)
    with urllib.request.urlopen(wb.url, timeout=5) as r:
        page = r.read().decode()
    assert "/static/wallboard.js" in page
    # No external resources: the page works offline.
    for path in STATIC_DIR.iterdir():
        assert "://" not in path.read_text(), path.name


# --- at scale: only what changed is drawn; streams are capped -------------------------------

_RECORD_MUTATIONS = """() => {
  window.recorded = [];
  const describe = (r) => {
    const node = r.target.nodeType === Node.ELEMENT_NODE ? r.target : r.target.parentElement;
    const tile = node.closest('.tile');
    return {
      type: r.type,
      queue: tile ? tile.dataset.queue : null,
      attribute: r.attributeName,
      added: [...r.addedNodes].map((n) => (n.dataset ? n.dataset.queue : '#text')),
      removed: r.removedNodes.length,
    };
  };
  window.observer = new MutationObserver((rs) => window.recorded.push(...rs.map(describe)));
  window.observer.observe(document.getElementById('tiles'), {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
}"""
_TAKE_MUTATIONS = """() => {
  window.recorded.push(...window.observer.takeRecords().map(() => ({type: 'late'})));
  const out = window.recorded;
  window.recorded = [];
  return out;
}"""


def _snap(queue: str, version: int, **values: Any) -> QueueSnapshot:
    base = snapshot(queue=queue, at=0.0, version=version, **values)
    return dataclasses.replace(base, status=statuses(base))


def test_a_snapshot_changes_only_its_own_tiles_nodes(
    redis_server: RedisServer, browser: Callable[[], BrowserContext], tmp_path: Path
) -> None:
    """The DOM mutations an update causes, counted by a MutationObserver on every tile: exactly
    the changed values of the changed tile; none for a heartbeat; one insertion for a new queue."""
    prefix = key_prefix("mutations")
    # Publishing runs on a loop of its own thread: Playwright's sync API holds this thread's.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    publisher = SnapshotPublisher(
        redis_server.url, prefix=prefix, worker="t", heartbeat_seconds=0.0
    )

    def put(*snaps: QueueSnapshot) -> None:
        done = asyncio.run_coroutine_threadsafe(publisher.publish(snaps), loop)
        assert done.result(timeout=30) == len(snaps)

    a = _snap("a", 1, calls_waiting=1, service_level_today=0.9)
    b = _snap("b", 1, calls_waiting=4, service_level_today=0.9)
    c = _snap("c", 1, calls_waiting=2, service_level_today=0.9)
    wb = WallboardProcess(
        redis_server.url,
        "mutations",
        tmp_path / "wallboard.log",
        STREAM_WALLBOARD_STALE_SECONDS="3600",  # no tile greys out while the test runs
    )
    try:
        put(a, b, c)
        page = browser().new_page()
        page.goto(wb.url)
        page.wait_for_selector('.tile[data-queue="c"]', timeout=30_000)

        def shows(queue: str, field: str, text: str) -> bool:
            sel = f'.tile[data-queue="{queue}"] .kpi[data-field="{field}"] .value'
            return page.text_content(sel) == text

        wait_until(lambda: shows("c", "calls_waiting", "2"), 30, "the three tiles drawn")
        page.evaluate(_RECORD_MUTATIONS)

        # A heartbeat of a (same values, a later write), then one value of b changes.
        put(a)
        put(dataclasses.replace(b, version=2, calls_waiting=5))
        wait_until(lambda: shows("b", "calls_waiting", "5"), 30, "b's new value")
        assert page.evaluate(_TAKE_MUTATIONS) == [
            {"type": "attributes", "queue": "b", "attribute": "data-value", "added": [],
             "removed": 0},
            {"type": "characterData", "queue": "b", "attribute": None, "added": [], "removed": 0},
        ]  # fmt: skip

        # c's service level drops below its goal: its value, text and colour, and the tile's.
        put(_snap("c", 2, calls_waiting=2, service_level_today=0.5))
        wait_until(lambda: shows("c", "service_level_today", "50%"), 30, "c's new level")
        assert [
            (m["type"], m["queue"], m["attribute"]) for m in page.evaluate(_TAKE_MUTATIONS)
        ] == [
            ("attributes", "c", "data-worst"),
            ("attributes", "c", "data-value"),
            ("attributes", "c", "data-status"),
            ("characterData", "c", None),
        ]

        # A new queue: one tile inserted in name order, nothing else outside it touched.
        put(_snap("bb", 1, calls_waiting=7))
        page.wait_for_selector('.tile[data-queue="bb"]', timeout=30_000)
        wait_until(lambda: shows("bb", "calls_waiting", "7"), 30, "the new tile drawn")
        outside = [m for m in page.evaluate(_TAKE_MUTATIONS) if m["queue"] != "bb"]
        assert outside == [
            {"type": "childList", "queue": None, "attribute": None, "added": ["bb"], "removed": 0}
        ]
        order = page.evaluate(
            "() => [...document.querySelectorAll('.tile')].map(t => t.dataset.queue)"
        )
        assert order == ["a", "b", "bb", "c"]
        assert shows("a", "calls_waiting", "1") and shows("c", "calls_waiting", "2")
    finally:
        wb.stop()
        asyncio.run_coroutine_threadsafe(publisher.close(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def _health(wb: WallboardProcess) -> dict[str, Any]:
    with urllib.request.urlopen(wb.url + "healthz", timeout=5) as r:
        doc: dict[str, Any] = json.loads(r.read())
        return doc


def test_streams_beyond_the_cap_get_503_with_retry_after_and_the_page_retries(
    redis_server: RedisServer, browser: Callable[[], BrowserContext], tmp_path: Path
) -> None:
    wb = WallboardProcess(
        redis_server.url, "cap-test", tmp_path / "wallboard.log", STREAM_WALLBOARD_MAX_CLIENTS="2"
    )
    try:
        held = [urllib.request.urlopen(wb.url + "events", timeout=10) for _ in range(2)]
        for stream in held:
            assert stream.status == 200
            assert stream.headers["Content-Type"] == "text/event-stream"
            assert stream.readline() == b"retry: 2000\n"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(wb.url + "events", timeout=10)
        assert refused.value.code == 503
        assert refused.value.headers["Retry-After"] == "10"
        assert refused.value.headers["Content-Type"].startswith("application/json")
        body = json.loads(refused.value.read())
        assert (body["clients"], body["max_clients"], body["retry_after_seconds"]) == (2, 2, 10)
        assert "STREAM_WALLBOARD_MAX_CLIENTS" in body["error"]
        assert _health(wb) == {"redis": True, "clients": 2, "max_clients": 2, "refused": 1}

        # A page opened now is refused too, says so, and gets in once a screen goes away.
        page = browser().new_page()
        page.goto(wb.url)
        wait_until(
            lambda: "refused" in (page.text_content("#connection") or ""),
            30,
            "the page to show the refusal",
        )
        assert _health(wb)["refused"] == 2
        held.pop().close()
        # The server notices a closed stream at its next write (the clock, every 5 s).
        wait_until(lambda: _health(wb)["clients"] <= 1, 30, "the closed stream to be let go")
        wait_until(
            lambda: page.text_content("#connection") == "live", 60, "the page to get a stream"
        )
        assert _health(wb)["clients"] == 2
        for stream in held:
            stream.close()
    finally:
        wb.stop()

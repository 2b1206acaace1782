"""End to end on the real broker: estimated wait (both methods), its measured error and agents
required (Erlang C, Erlang A) give exact figures, also after the worker is killed and restarted
(the EWT inputs and settled errors ride in the stored queue record).

The events are those of ``tests/unit/test_estimates.py`` (10:00-10:20, three agents, twelve
calls), the wall clock frozen at 10:25, so the last full 15-minute window is 10:00-10:15.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from stream.dev.broker import EmbeddedBroker
from tests.integration.conftest import WorkerFactory
from tests.integration.harness import Publishable, Samples, accounted, publish, value, wait_until
from tests.unit import test_estimates as scenario

pytestmark = pytest.mark.integration
FROZEN = datetime.fromtimestamp(scenario.NOW2, UTC).isoformat().replace("+00:00", "Z")
EVENTS: list[Publishable] = [
    (topic, None if key is None else key.decode(), msgspec.json.decode(body or b"null"))
    for topic, key, body in scenario.SCENARIO
]
Q = {"queue": "billing"}


def figures(m: Samples) -> dict[str, Any]:
    out: dict[str, Any] = {"buckets": {}}
    for method in ("recent", "erlang_c"):
        out[f"ewt:{method}"] = value(m, "contact_centre_ewt_seconds", **Q, method=method)
        out[f"unestimated:{method}"] = value(
            m, "contact_centre_ewt_unestimated_total", **Q, method=method
        )
        for part in ("count", "sum"):
            out[f"{part}:{method}"] = value(
                m, f"contact_centre_ewt_error_seconds_{part}", **Q, method=method
            )
        out["buckets"][method] = {
            le: value(m, "contact_centre_ewt_error_seconds_bucket", **Q, method=method, le=le)
            for le in scenario.BOUNDS
        }
    for model in ("erlang_c", "erlang_a"):
        out[f"required:{model}"] = value(m, "contact_centre_agents_required", **Q, model=model)
    for name in ("contact_centre_agents_on_queue", "contact_centre_calls_waiting"):
        out[name] = value(m, name, **Q)
    return out


def settled(m: Samples) -> bool:
    return value(m, "contact_centre_ewt_error_seconds_count", **Q, method="recent") == 8


def test_ewt_and_agents_required_exact_and_after_a_restart(
    broker: EmbeddedBroker, workers: WorkerFactory, tmp_path: Path
) -> None:
    env = {"STREAM_GRACE_SECONDS": "60"}
    first = workers(frozen_time=FROZEN, **env)
    wait_until(lambda: first.partitions() == {0, 1, 2, 3}, 90, "the worker to own all partitions")
    n = publish(broker.bootstrap, EVENTS)
    assert n == len(EVENTS) == 45
    wait_until(lambda: accounted(first.scrape()) == n, 60, f"{n} messages accounted for")
    wait_until(lambda: settled(first.scrape()), 60, "eleven answered calls settled")
    before = figures(first.scrape())
    scenario.check(before)
    first.kill()
    second = workers(frozen_time=FROZEN, **env)
    wait_until(lambda: second.partitions() == {0, 1, 2, 3}, 120, "the restarted worker")
    wait_until(lambda: accounted(second.scrape()) == n, 90, "the changelog restored")
    wait_until(lambda: settled(second.scrape()), 30, "the settled errors restored")
    after = figures(second.scrape())
    scenario.check(after)
    assert after == before

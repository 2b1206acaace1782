"""The worker creates the topics it writes to (dead letters, closed windows) before it starts."""

from __future__ import annotations

import asyncio
import uuid

from stream.broker import create_topics
from stream.config import Settings
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import find_free_port
from stream.worker.startup import ensure_output_topics
from tests.integration.test_broker import partition_counts


def _settings(bootstrap: str, prefix: str) -> Settings:
    return Settings.from_env(
        {
            "STREAM_BROKER_URL": f"kafka://{bootstrap}",
            "STREAM_TOPIC_DEAD_LETTER": f"{prefix}-dead-letter",
            "STREAM_TOPIC_WINDOWS": f"{prefix}-windows",
            "STREAM_PARTITIONS": "6",
        }
    )


def test_missing_output_topics_are_created_with_the_workers_partitions(
    broker: EmbeddedBroker,
) -> None:
    prefix = f"out-{uuid.uuid4().hex[:8]}"
    settings = _settings(broker.bootstrap, prefix)
    names = [settings.topic_dead_letter, settings.topic_windows]

    assert ensure_output_topics(settings)

    assert asyncio.run(partition_counts(broker.bootstrap, names)) == dict.fromkeys(names, 6)


def test_existing_output_topics_are_kept_as_they_are(broker: EmbeddedBroker) -> None:
    prefix = f"out-{uuid.uuid4().hex[:8]}"
    settings = _settings(broker.bootstrap, prefix)
    asyncio.run(create_topics(broker.bootstrap, [settings.topic_windows], 2))

    assert ensure_output_topics(settings)

    counts = asyncio.run(
        partition_counts(broker.bootstrap, [settings.topic_dead_letter, settings.topic_windows])
    )
    assert counts == {settings.topic_dead_letter: 6, settings.topic_windows: 2}


def test_an_unreachable_broker_is_reported_not_fatal() -> None:
    settings = _settings(f"127.0.0.1:{find_free_port()}", "nowhere")  # nothing listens there

    assert ensure_output_topics(settings, timeout=2.0) is False


def test_input_partition_counts_are_read_before_the_start(broker: EmbeddedBroker) -> None:
    """What the watermark expects (stream.core.progress): every partition of every input topic."""
    from stream.worker.startup import partition_counts as read_counts

    prefix = f"in-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topics(broker.bootstrap, [f"{prefix}-calls"], 3))
    settings = _settings(broker.bootstrap, prefix)
    topics = [f"{prefix}-calls", f"{prefix}-missing"]
    assert read_counts(settings, topics) == {f"{prefix}-calls": 3}
    unreachable = Settings(broker_url=f"kafka://127.0.0.1:{find_free_port()}")
    assert read_counts(unreachable, topics, timeout=2) == {}

"""A message the producer refuses for itself does not stop Faust's producer
(``stream.worker.delivery``).

A real Faust producer on the embedded broker sends a 2 MB message (over its 1 MB request size)
and then a small one. With Faust's own topic class the producer buffer's task crashes on the
first — the worker's poison pill — and the second is never sent; with ``GuardedTopic`` the first
goes to ``on_refused`` with its error and the second reaches the broker.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust
import pytest

from stream.broker import create_topics
from stream.dev.broker import EmbeddedBroker
from stream.worker.delivery import GuardedTopic
from tests.integration.harness import consume_all

pytestmark = pytest.mark.integration


async def send_big_then_small(broker: EmbeddedBroker, topic_class: type[Any] | None) -> Any:
    """Send both through ``send_soon``; returns the producer buffer after draining it."""
    await create_topics(broker.bootstrap, ["out"], 1)
    extra: dict[str, Any] = {"Topic": topic_class} if topic_class is not None else {}
    app = faust.App("refused-test", broker=broker.url, producer_max_request_size=1_000_000,
                    **extra)  # fmt: skip
    topic = app.topic("out", key_serializer="raw", value_serializer="raw")
    await app.producer.start()
    buffer = app.producer.buffer
    try:
        topic.send_soon(key=b"big", value=b"x" * 2_000_000)
        topic.send_soon(key=b"small", value=b"small")
        started = time.monotonic()
        while buffer.size and not buffer.crashed and time.monotonic() - started < 10:
            await asyncio.sleep(0.05)
        if not buffer.crashed:
            await app.producer.flush()
    finally:
        if not buffer.crashed:
            await app.producer.stop()
        else:  # the crashed service cannot stop cleanly: close its Kafka producer at least
            await app.producer._producer.stop()  # type: ignore[attr-defined]
    return buffer


def test_a_refused_message_is_handed_over_and_the_next_one_is_sent(broker: EmbeddedBroker) -> None:
    refused: list[tuple[str, str, int]] = []

    def on_refused(topic: str, fut: Any, error: BaseException) -> None:
        refused.append((topic, type(error).__name__, len(fut.message.value)))

    topic_class = type("Topic", (GuardedTopic,), {"on_refused": on_refused})
    buffer = asyncio.run(send_big_then_small(broker, topic_class))
    assert not buffer.crashed
    assert refused == [("out", "MessageSizeTooLargeError", 2_000_000)]
    assert [(r.key, r.value) for r in consume_all(broker.bootstrap, "out", 1)] == [
        (b"small", b"small")
    ]


def test_without_the_guard_the_producer_buffer_crashes(broker: EmbeddedBroker) -> None:
    """What the guard prevents (so the test above can fail): nothing is sent after the refusal."""
    buffer = asyncio.run(send_big_then_small(broker, None))
    assert buffer.crashed
    assert consume_all(broker.bootstrap, "out", 1, timeout=3) == []

"""Topic creation against any Kafka-compatible broker (the worker's output topics, the CLI).

The embedded Tansu broker of the demo and the tests is `stream.dev.broker` (the ``demo`` extra);
the worker never imports it.

Broker behaviour `create_topics` guards against (Tansu 0.6.0 and Kafka):

* CreateTopics accepts zero partitions and invalid names on Tansu, so the arguments are
  validated here;
* CreateTopics for an existing topic answers ``TOPIC_ALREADY_EXISTS`` (36), which is fine here;
* a new topic's metadata can take a moment to show every partition (Kafka propagates it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TopicCreationError", "create_topics"]

log = logging.getLogger(__name__)

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_TOPIC_ALREADY_EXISTS = 36


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic, or created it differently than asked."""


async def create_topics(
    bootstrap: str | list[str],
    names: Iterable[str],
    partitions: int,
    *,
    replication_factor: int = 1,
    timeout: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Create the topics, each with ``partitions`` partitions; existing topics are kept.

    A topic created here is then described and must have exactly ``partitions`` partitions.
    An existing topic with another count is left alone with a warning: partitions cannot be
    changed here (Tansu does not support CreatePartitions), and keyed data would move.

    ``security``: the client's security arguments (``stream.config.security.aiokafka_options``).

    :raises ValueError: invalid name or partition count (checked here: Tansu accepts both).
    :raises TopicCreationError: the broker refused a topic or ignored the partition count.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    wanted = list(dict.fromkeys(names))
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    for name in wanted:
        if not _TOPIC_NAME.match(name) or name in {".", ".."}:
            raise ValueError(f"invalid topic name {name!r} (allowed: 1..249 of [A-Za-z0-9._-])")
    if not wanted:
        return
    timeout_ms = int(timeout * 1000)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="stream-admin",
        request_timeout_ms=timeout_ms,
        **(security or {}),
    )
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name in wanted],
            timeout_ms=timeout_ms,
        )
        created: list[str] = []
        existing: list[str] = []
        for entry in response.topic_errors:
            topic, code = str(entry[0]), int(entry[1])
            message = entry[2] if len(entry) > 2 else None
            if code == 0:
                created.append(topic)
            elif code == _TOPIC_ALREADY_EXISTS:
                existing.append(topic)
            else:
                raise TopicCreationError(
                    f"broker refused to create topic {topic!r}: error {code} {message or ''}"
                )
        counts = await _partition_counts(admin, wanted, timeout)
        for topic in wanted:
            count = counts.get(topic)
            if count == partitions:
                continue
            if topic in created:
                raise TopicCreationError(
                    f"topic {topic!r} was created with {count} partitions, asked for {partitions}"
                )
            log.warning(
                "topic %s already exists with %s partitions, not %d; left as it is",
                topic,
                count,
                partitions,
                extra={"topic": topic, "partitions": count, "wanted_partitions": partitions},
            )
        log.info(
            "topics ready: %d created, %d existing",
            len(created),
            len(existing),
            extra={
                "topics_created": created,
                "topics_existing": existing,
                "partitions": partitions,
            },
        )
    finally:
        await admin.close()


async def _partition_counts(admin: Any, topics: list[str], timeout: float) -> dict[str, int]:
    """Partition count per topic from metadata, retrying while Kafka propagates new topics."""
    deadline = time.monotonic() + timeout
    while True:
        described = await admin.describe_topics(topics)
        counts = {
            str(t["topic"]): len(t["partitions"]) for t in described if t.get("error_code") == 0
        }
        if all(counts.get(t, 0) > 0 for t in topics) or time.monotonic() >= deadline:
            return counts
        await asyncio.sleep(0.2)

"""Starting one worker: the broker checks before the app exists, the app, the Faust worker.

Before the start, the worker checks its access, creates its missing output topics and reads the
input topics' partition counts (each of those talks to the broker once); then it builds the
wiring (``stream.worker.app``) and runs it in a ``faust.Worker`` until stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import faust

from stream.broker import create_topics
from stream.config import Settings, load_targets
from stream.config.paths import writable_directory
from stream.config.security import aiokafka_options, check_access
from stream.worker import heap
from stream.worker.app import Wiring
from stream.worker.logs import logging_config

log = logging.getLogger("stream.worker.startup")


def partition_counts(
    settings: Settings, topics: Iterable[str], timeout: float = 10.0
) -> dict[str, int]:
    """Partition counts of ``topics`` from the broker's metadata (missing topics: absent;
    an unreachable broker: empty, logged — the consumer's metadata is used later)."""

    async def read() -> dict[str, int]:
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(
            bootstrap_servers=settings.bootstrap_servers, **aiokafka_options(settings)
        )
        try:
            await asyncio.wait_for(client.bootstrap(), timeout)
            cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
            found = {t: len(cluster.partitions_for_topic(t) or ()) for t in topics}
            return {t: n for t, n in found.items() if n}
        finally:
            await client.close()

    try:
        return asyncio.run(read())
    except Exception as exc:  # not fatal: see the docstring
        log.warning("could not read the input topics' partition counts: %s", exc)
        return {}


def ensure_output_topics(settings: Settings, timeout: float = 10.0) -> bool:
    """Create the topics the worker writes to besides its own (dead letters, closed windows)
    when they are missing, with the worker's partition count; False when that failed.

    Faust creates only its internal topics. Left to the broker's auto-creation, the first message
    to a missing topic waits for metadata while every message behind it in Faust's producer
    buffer waits too; on the embedded Tansu broker a run of the benchmark stalled that way
    (the worker sent nothing for minutes, then could not even stop). A failure here — no right
    to create topics, broker not up yet — is logged, not fatal: the topics may well exist."""
    names = [settings.topic_dead_letter, settings.topic_windows]
    try:
        asyncio.run(
            create_topics(
                settings.bootstrap_servers,
                names,
                settings.partitions,
                timeout=timeout,
                security=aiokafka_options(settings),
            )
        )
    except Exception as exc:  # any failure: carry on, see the docstring
        log.warning(
            "could not create the output topics (they must exist): %s",
            exc,
            extra={"topics": names, "error": f"{type(exc).__name__}: {exc}"},
        )
        return False
    return True


def run_worker(settings: Settings) -> None:
    """Run one worker until stopped (SIGINT/SIGTERM)."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    writable_directory(settings.data_dir, "data_dir")  # Faust makes it without its parents
    check_access(settings)  # refused credentials or TLS: one clear error, not a retry loop
    ensure_output_topics(settings)
    counts = partition_counts(settings, settings.input_topics)
    wiring = Wiring(settings, load_targets(settings.targets_file), counts)
    heap.tune_collector(settings.gc_young_threshold)  # after the imports: see stream.worker.heap
    worker = faust.Worker(
        wiring.app,
        loglevel=settings.log_level,
        logging_config=logging_config(settings.log_level, settings.log_format),
        quiet=True,
    )
    worker.execute_from_commandline()

"""The two Faust agents: the batch loops of stage 1 (``route``) and stage 2 (``aggregate``).

Each takes a batch of its topic's events (``take_events``), hands it to the pipeline and
performs the effects before the next; Faust acks a batch once the loop moves on. With the batch
consumer (``stream.worker.consumer``) the pipeline's topics bypass these loops; they still
subscribe the topics and are the path with ``STREAM_BATCH_CONSUMER=0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stream.stages.route import Message
from stream.worker import heap

if TYPE_CHECKING:
    from stream.worker.app import Wiring


def install(wiring: Wiring) -> None:
    """Add the ``route`` and ``aggregate`` agents to the wiring's app."""
    app, s = wiring.app, wiring.settings

    @app.agent(wiring.inputs, name="route")
    async def route(stream: Any) -> None:
        async for events in stream.take_events(s.batch_max, s.batch_within_seconds):
            batch = [
                Message(m.topic, m.partition, m.offset, m.key, m.value)
                for m in (e.message for e in events)
            ]
            with heap.collector_paused():
                effects = wiring.pipeline.route(batch)
            wiring.note_routed(batch)
            await wiring.perform(effects)
            if wiring.progress_due():
                await wiring.perform(wiring.report_progress())

    @app.agent(wiring.by_queue, name="aggregate")
    async def aggregate(stream: Any) -> None:
        async for events in stream.take_events(s.batch_max, s.batch_within_seconds):
            by_partition: dict[int, list[bytes]] = {}
            for e in events:
                by_partition.setdefault(e.message.partition, []).append(e.message.value)
            for partition, payloads in by_partition.items():
                with heap.collector_paused():
                    effects = wiring.pipeline.aggregate(partition, payloads)
                await wiring.perform(effects)

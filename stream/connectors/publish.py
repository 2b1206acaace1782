"""The one producer every connector publishes through, and the ingest dead-letter topic.

``Publisher.publish`` takes contract event dicts made by a translator, validates each with the
contract's own decoder (``stream.contract.decoder.decode``: a translator bug is caught here, not in
the
worker), routes it to its topic keyed by its contact id (``docs/events.md``), and returns only
after the broker acknowledged every one of them: a transport commits its checkpoint or answers
2xx after that, never before ("nothing lost"). The producer uses ``acks=all``. A send retried
after a lost acknowledgement, a re-read file or a vendor's retry makes the same ``event_id``
again, and the worker drops the copy ("nothing counted twice"). The idempotent producer
(``idempotent=True``) also keeps retried sends from being written twice; it is off by default
because the embedded broker answers its InitProducerId with an unknown error (Tansu 0.6.0,
checked 2026-12-07), and the worker's de-duplication makes it a nicety, not a promise.

A vendor record that cannot be translated goes to ``kpi-ingest-dead-letter``
(``STREAM_TOPIC_INGEST_DEAD_LETTER``) with its original bytes and the headers ``connector``,
``reason``, ``detail`` and ``source`` (``dead_letter``), and is counted.

The producer starts on first use, so a connector can start while the broker is down: every
publish then raises ``BrokerUnavailable`` (a file transport waits and retries, an HTTP one
answers 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from stream.config import Settings
from stream.connectors.metrics import ConnectorMetrics
from stream.contract.decoder import Rejection, decode
from stream.contract.topics import topic_name

log = logging.getLogger(__name__)

MAX_DEAD_LETTER_BYTES: Final = 512 * 1024
"""Original bytes kept in one ingest dead letter; a longer record is cut (header
``truncated_from_bytes``). Transports refuse bodies over their own limit before this."""
MAX_DETAIL_BYTES: Final = 1000


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge every event in time; nothing may be committed."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One validated contract event, ready to send."""

    topic: str
    key: bytes
    value: bytes
    event_type: str


INVALID_TRANSLATION: Final = "invalid_translation"
"""The ingest dead-letter reason of a translated event that the contract decoder refused."""


def prepare(settings: Settings, event: Mapping[str, object]) -> Prepared | str:
    """Encode and validate one contract event dict: its topic and key, or why it is invalid."""
    try:
        value = msgspec.json.encode(event)
    except (TypeError, msgspec.EncodeError) as exc:
        return f"cannot encode: {exc}"
    decoded = decode(value, max_bytes=settings.max_event_bytes)
    if isinstance(decoded, Rejection):
        return f"{decoded.reason}: {decoded.detail}"
    return Prepared(
        topic_name(settings, decoded.topic_kind),
        decoded.contact_id.encode(),
        value,
        str(event.get("type")),
    )


def _cut(text: str, limit: int) -> bytes:
    return text.encode("utf-8", "replace")[:limit]


class Publisher:
    """An idempotent ``acks=all`` producer for contract events and ingest dead letters."""

    def __init__(
        self,
        settings: Settings,
        *,
        connector: str,
        metrics: ConnectorMetrics,
        timeout: float = 30.0,
        ensure_topics: bool = True,
        idempotent: bool = False,
    ) -> None:
        self.settings = settings
        self.connector = connector
        self.metrics = metrics
        self.timeout = timeout
        self.ensure_topics = ensure_topics
        self.idempotent = idempotent
        self._producer: Any = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect now (optional: ``publish`` connects on first use). Raises BrokerUnavailable."""
        await self._ensure()

    async def stop(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.flush()
            finally:
                await producer.stop()

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            from aiokafka import AIOKafkaProducer
            from aiokafka.errors import KafkaError

            from stream.config.security import aiokafka_options

            s = self.settings
            producer = AIOKafkaProducer(
                bootstrap_servers=s.bootstrap_servers,
                client_id=f"stream-connector-{self.connector}",
                acks="all",
                enable_idempotence=self.idempotent,
                max_request_size=s.producer_max_request_bytes,
                request_timeout_ms=int(self.timeout * 1000),
                **aiokafka_options(s),
            )
            try:
                await asyncio.wait_for(producer.start(), self.timeout)
            except (KafkaError, OSError, TimeoutError) as exc:
                await producer.stop()
                self.metrics.publish_failed()
                raise BrokerUnavailable(f"cannot reach the broker: {exc!r}") from exc
            if self.ensure_topics:
                await self._create_topics()
            self._producer = producer
            return producer

    async def _create_topics(self) -> None:
        from stream.broker import create_topics
        from stream.config.security import aiokafka_options

        s = self.settings
        names = [*s.input_topics, s.topic_ingest_dead_letter]
        try:
            await create_topics(
                s.bootstrap_servers, names, s.partitions, security=aiokafka_options(s)
            )
        except Exception as exc:  # creation may be refused (ACLs): the topics may exist anyway
            log.warning("could not create topics %s: %r", names, exc)

    async def publish(
        self,
        events: Sequence[Mapping[str, object]],
        *,
        origin: bytes | None = None,
        source: str = "",
    ) -> int:
        """Send ``events`` and wait for the broker to acknowledge all; returns how many were sent.

        An event the contract decoder refuses (a translator bug) is not sent: the vendor record
        it came from (``origin``, else the event itself) is dead-lettered as
        ``invalid_translation``. Raises ``BrokerUnavailable`` if any acknowledgement is missing.
        """
        ready: list[Prepared] = []
        for event in events:
            p = prepare(self.settings, event)
            if isinstance(p, str):
                raw = origin if origin is not None else msgspec.json.encode(event)
                await self.dead_letter(raw, INVALID_TRANSLATION, p, source=source)
                continue
            ready.append(p)
        if not ready:
            return 0
        t = time.perf_counter()
        await self._send_all([(p.topic, p.value, p.key, None) for p in ready])
        self.metrics.published(time.perf_counter() - t)
        for p in ready:
            self.metrics.translated(p.event_type)
        return len(ready)

    async def dead_letter(
        self, raw: bytes, reason: str, detail: str, *, source: str, key: bytes | None = None
    ) -> None:
        """Keep one untranslatable vendor record in the ingest dead-letter topic; count it.

        Raises ``BrokerUnavailable`` like ``publish`` (the record must not be committed then).
        """
        headers = [
            ("connector", self.connector.encode()),
            ("reason", reason.encode()),
            ("detail", _cut(detail, MAX_DETAIL_BYTES)),
            ("source", _cut(source, MAX_DETAIL_BYTES)),
        ]
        value = raw
        if len(raw) > MAX_DEAD_LETTER_BYTES:
            value = raw[:MAX_DEAD_LETTER_BYTES]
            headers.append(("truncated_from_bytes", str(len(raw)).encode()))
        await self._send_all([(self.settings.topic_ingest_dead_letter, value, key, headers)])
        self.metrics.rejected(reason)

    async def _send_all(
        self, records: Sequence[tuple[str, bytes, bytes | None, list[tuple[str, bytes]] | None]]
    ) -> None:
        """Send (topic, value, key, headers) records; return once the broker acked every one."""
        producer = await self._ensure()
        from aiokafka.errors import KafkaError

        try:
            futures = [
                await producer.send(topic, value, key=key, headers=headers)
                for topic, value, key, headers in records
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self.timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            self.metrics.publish_failed()
            raise BrokerUnavailable(f"the broker did not acknowledge: {exc!r}") from exc

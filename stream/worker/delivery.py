"""Sending without a poison pill: the Faust topic class of the worker, which survives a message
the producer refuses for itself.

Faust's ``send_soon`` queues a message in the producer's buffer; one task sends the queue in
order, and an exception there — aiokafka raising ``MessageSizeTooLargeError`` at once for a
message over ``producer_max_request_size``, wrapped in ``ProducerSendError`` — crashes that task
and with it the worker. On restart the worker meets the same input, builds the same message and
stops again: one record stops a queue's numbers for good. A refusal the broker sends back later
(a broker limit below the producer's, a corrupt record) is only logged by Faust, and the message
is silently lost.

``GuardedTopic`` catches both, for per-record errors only (``PER_RECORD_ERRORS``), and hands the
refused message to ``on_refused`` (the wiring dead-letters it, see ``Pipeline.refused``).
Everything else — a broker that is down or slow, a missing topic — is left to Faust and
aiokafka as before: retried, or the worker stops and resumes from its committed offsets
(at-least-once, docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import faust
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)
from faust.exceptions import ProducerSendError
from faust.types import FutureMessage, RecordMetadata
from faust.types.transports import ProducerT

log = logging.getLogger(__name__)

PER_RECORD_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,  # also InvalidMessageError's code 2 below
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
)
"""Errors about the message itself: sending it again can never succeed (none is retriable)."""

Refused = Callable[[str, FutureMessage, BaseException], None]
"""``on_refused(topic name, the refused message, the error)``."""


def per_record(exc: BaseException | None) -> BaseException | None:
    """The per-record error behind ``exc`` (itself or its cause), else None."""
    for candidate in (exc, exc.__cause__ if exc is not None else None):
        if isinstance(candidate, PER_RECORD_ERRORS):
            return candidate
    return None


class GuardedTopic(faust.Topic):
    """A topic whose refused messages go to ``on_refused`` instead of stopping the worker."""

    on_refused: ClassVar[Refused | None] = None

    async def publish_message(
        self, fut: FutureMessage, wait: bool = False
    ) -> Awaitable[RecordMetadata]:
        try:
            return await super().publish_message(fut, wait=wait)
        except ProducerSendError as exc:
            error = per_record(exc)
            if error is None:
                raise
            self._refused(fut, error)
            if wait:  # a direct send: its caller learns of the refusal
                raise
            fut.set_exception(exc)
            fut.exception()  # retrieved: the refusal is handled, not an unobserved error
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.set_exception(exc)
            done.exception()
            return done

    def _on_published(
        self, fut: asyncio.Future[Any], message: FutureMessage, producer: ProducerT, state: Any
    ) -> None:
        super()._on_published(fut, message, producer, state)
        if not fut.cancelled() and (error := per_record(fut.exception())) is not None:
            self._refused(message, error)

    def _refused(self, fut: FutureMessage, error: BaseException) -> None:
        topic = self._topic_name_or_default(fut.message.channel)
        handler = type(self).on_refused
        log.error(
            "the producer refused a message: %s",
            error,
            extra={"topic": topic, "error": f"{type(error).__name__}: {error}"},
        )
        if handler is not None:
            try:
                handler(topic, fut, error)
            except Exception:  # the guard itself must not become the poison pill
                log.exception("handling a refused message failed", extra={"topic": topic})

"""Per-contact order of webhook deliveries: what one contact's events go out in, and when.

Helpdesks deliver webhooks concurrently and retry them, so a conversation's ``message_created``
can arrive before its ``conversation_created``, and a ``resolved`` before the ``pending`` that
happened first. The worker rejects a ticket event for a ticket it has not seen created, and
reads a status change after ``solved`` as a reopen: the order matters.

``ContactOrder.publish`` therefore gathers the deliveries of one contact (the ticket, call,
agent or customer id of its events) that arrive within ``settle_seconds`` of each other, sorts
their events by the vendor's own time (``occurred_at``; a creation first on a tie), and
publishes them in one send. An event that needs its contact's creation (every ticket event but
``ticket.created``, every call event but ``call.queued``) waits for it up to ``hold_seconds``;
after that it is published anyway and counted (``released_unordered``): the creation may have
been published by a previous process (a restart), and the worker is the judge. Each request is
answered only after its own events were acknowledged. Events this process already published
(same ``event_id``: a vendor retry) are not sent again; a copy that still gets through (after a
restart) is dropped by the worker.

Memory: one small entry per recent contact (published ids), at most ``max_contacts``, least
recently used first out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

Publish = Callable[[Sequence[Mapping[str, Any]]], Awaitable[int]]

CREATING: Final = frozenset({"ticket.created", "call.queued"})
_RANK: Final = {"ticket.created": 0, "call.queued": 0, "ticket.assigned": 1}


class Closing(RuntimeError):
    """The gateway is stopping: a waiting delivery is refused (503) and retried by the vendor."""


def contact_key(event: Mapping[str, Any]) -> str:
    """The contact an event belongs to (its topic key): ticket, call, agent or customer id."""
    for name in ("ticket_id", "call_id", "agent_id", "customer_id"):
        value = event.get(name)
        if isinstance(value, str) and value:
            if name == "agent_id" and not str(event.get("type", "")).startswith("agent."):
                continue
            return value
    return ""


def needs_creation(event: Mapping[str, Any]) -> bool:
    """Whether the worker rejects ``event`` before its contact's creating event."""
    kind = str(event.get("type", ""))
    if kind in CREATING:
        return False
    if kind.startswith("ticket.") or kind.startswith("call."):
        return True
    return kind == "survey.responded" and isinstance(event.get("ticket_id"), str)


def _at(event: Mapping[str, Any]) -> float:
    """The event's time in epoch seconds (an invalid one sorts last: the decoder refuses it)."""
    try:
        when = datetime.fromisoformat(str(event.get("occurred_at")))
    except ValueError:
        return float("inf")
    return when.timestamp() if when.tzinfo is not None else float("inf")


def in_vendor_order(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``events`` sorted by their time, a creation first and then an assignment on a tie."""
    indexed = list(enumerate(events))
    indexed.sort(key=lambda p: (_at(p[1]), _RANK.get(str(p[1].get("type")), 2), p[0]))
    return [e for _, e in indexed]


@dataclass(slots=True)
class _Waiting:
    events: Sequence[Mapping[str, Any]]
    done: asyncio.Future[int]


@dataclass(slots=True)
class _Contact:
    created: bool = False
    ids: set[str] = field(default_factory=set)
    pending: list[_Waiting] = field(default_factory=list)
    last_arrival: float = 0.0
    first_pending: float = 0.0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    flusher: asyncio.Task[None] | None = None


class ContactOrder:
    """Publishes each contact's events in the vendor's order, whatever order they came in."""

    def __init__(
        self,
        hold_seconds: float = 2.0,
        settle_seconds: float = 0.02,
        *,
        max_contacts: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hold_seconds = hold_seconds
        self.settle_seconds = settle_seconds
        self.max_contacts = max_contacts
        self.clock = clock
        self.closing = False
        self.held = 0
        """Sends that waited for their contact's creation."""
        self.released_unordered = 0
        """Sends published after ``hold_seconds`` without their contact's creation."""
        self.duplicates = 0
        """Events not sent again because this process had already published them."""
        self._contacts: OrderedDict[str, _Contact] = OrderedDict()

    def _contact(self, key: str) -> _Contact:
        contact = self._contacts.get(key)
        if contact is None:
            contact = self._contacts[key] = _Contact()
            if len(self._contacts) > self.max_contacts:  # one out per one in: O(1)
                oldest = next(iter(self._contacts))
                entry = self._contacts[oldest]
                if entry.pending or entry.flusher is not None:
                    self._contacts.move_to_end(oldest)  # busy: it goes out later
                else:
                    del self._contacts[oldest]
        else:
            self._contacts.move_to_end(key)
        return contact

    def close(self) -> None:
        """Refuse every waiting delivery from now on (``Closing``)."""
        self.closing = True
        for contact in self._contacts.values():
            contact.arrived.set()

    async def publish(self, events: Sequence[Mapping[str, Any]], publish: Publish) -> int:
        """Publish ``events`` (one contact's) in order with the other deliveries of that
        contact; returns how many were sent. Raises what ``publish`` raises, or ``Closing``."""
        if not events:
            return 0
        if self.closing:
            raise Closing("the gateway is stopping")
        key = contact_key(events[0])
        contact = self._contact(key)
        now = self.clock()
        if not contact.pending:
            contact.first_pending = now
        contact.last_arrival = now
        waiting = _Waiting(events, asyncio.get_running_loop().create_future())
        contact.pending.append(waiting)
        contact.arrived.set()
        if contact.flusher is None:
            contact.flusher = asyncio.create_task(self._flush(contact, publish))
        return await asyncio.shield(waiting.done)

    async def _flush(self, contact: _Contact, publish: Publish) -> None:
        try:
            while contact.pending:
                await self._settle(contact)
                batch, contact.pending = contact.pending, []
                if self.closing:
                    _fail(batch, Closing("the gateway is stopping"))
                    continue
                try:
                    sent = await self._send(contact, batch, publish)
                except Exception as exc:
                    _fail(batch, exc)
                    continue
                for w in batch:
                    if not w.done.done():
                        w.done.set_result(sent)
        finally:
            contact.flusher = None

    async def _settle(self, contact: _Contact) -> None:
        """Wait until no delivery of this contact came for ``settle_seconds`` and, when some
        event needs the creation, until the creation is here (at most ``hold_seconds``)."""
        counted = False
        while not self.closing:
            now = self.clock()
            quiet = contact.last_arrival + self.settle_seconds - now
            events = [e for w in contact.pending for e in w.events]
            blocked = (
                not contact.created
                and any(needs_creation(e) for e in events)
                and not any(str(e.get("type")) in CREATING for e in events)
            )
            if blocked and not counted:
                self.held += 1
                counted = True
            if blocked:
                left = contact.first_pending + self.hold_seconds - now
                if left <= 0:
                    self.released_unordered += 1
                    contact.created = True  # the worker judges; do not hold this contact again
                    blocked = False
            if quiet <= 0 and not blocked:
                return
            timeout = quiet if not blocked else max(quiet, left)
            contact.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(contact.arrived.wait(), max(timeout, 0.001))

    async def _send(self, contact: _Contact, batch: list[_Waiting], publish: Publish) -> int:
        todo: list[Mapping[str, Any]] = []
        seen = set(contact.ids)
        for event in in_vendor_order([e for w in batch for e in w.events]):
            event_id = str(event.get("event_id"))
            if event_id in seen:
                self.duplicates += 1
                continue
            seen.add(event_id)
            todo.append(event)
        sent = await publish(todo) if todo else 0
        for event in todo:
            contact.ids.add(str(event.get("event_id")))
            if str(event.get("type")) in CREATING:
                contact.created = True
        return sent


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for w in batch:
        if not w.done.done():
            w.done.set_exception(exc)
            # the request may have gone (client disconnect): mark the exception as retrieved
            w.done.exception()

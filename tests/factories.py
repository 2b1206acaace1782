"""The builders of contract events shared by the tests (unit and integration).

* ``Events``: contract event documents (the JSON a source publishes) with unique event ids,
  and the ``(topic, key, document)`` messages the integration harness publishes;
* ``CallEvents``: typed call events (``stream.contract.events`` structs) at seconds after a start,
for
  the pure lifecycle tests, and ``run_calls`` to apply them to one call record;
* ``Targets``: the answer, abandon, response, resolution and handle-time targets those tests use;
* ``changelog_event``: a Faust changelog event of one stored record, the way Faust's recovery
  hands it to a table's store (``apply_changelog_batch``), for the store tests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import Message as KafkaMessage

from stream.contract.decoder import Rejection
from stream.core.lifecycle import CallRecord, apply_call
from stream.store import records

__all__ = ["DAY", "CallEvents", "Events", "Publishable", "Targets", "changelog_event", "run_calls"]

Publishable = tuple[str, str | None, dict[str, Any] | bytes | None]
"""A message to publish: topic, key, the event document (or raw bytes; None: a tombstone)."""

DAY = "2026-11-22"
"""The day of the integration tests' traffic (``Events`` times without a date fall on it)."""


class Events:
    """Contract event documents whose ids are ``<prefix>-<n>``, unique within the builder.

    ``at`` is a clock time on ``day`` (``"10:00:05"``) or a full RFC 3339 time (kept as given);
    an ``event_id`` among ``fields`` replaces the numbered one.
    """

    def __init__(self, prefix: str, day: str = DAY) -> None:
        self.prefix = prefix
        self.day = day
        self._ids = itertools.count(1)

    def __call__(self, type_: str, at: str, /, **fields: Any) -> dict[str, Any]:
        occurred = at if "T" in at else f"{self.day}T{at}Z"
        doc: dict[str, Any] = {"type": type_, "event_id": f"{self.prefix}-{next(self._ids)}"}
        doc["occurred_at"] = occurred
        doc.update(fields)
        return doc

    def on(self, topic: str, key: str, type_: str, at: str, /, **fields: Any) -> Publishable:
        """The event as a message on ``topic`` with ``key``."""
        return (topic, key, self(type_, at, **fields))

    def call(self, call_id: str, type_: str, at: str, /, **fields: Any) -> Publishable:
        """A call event on the calls topic, keyed and labelled by ``call_id``."""
        return self.on("calls", call_id, type_, at, call_id=call_id, **fields)

    def ticket(self, ticket_id: str, type_: str, at: str, /, **fields: Any) -> Publishable:
        """A ticket event on the tickets topic, keyed and labelled by ``ticket_id``."""
        return self.on("tickets", ticket_id, type_, at, ticket_id=ticket_id, **fields)

    def agent(self, agent_id: str, state: str, at: str, /, **fields: Any) -> Publishable:
        """An ``agent.state_changed`` on the agents topic, keyed by ``agent_id``."""
        return self.on(
            "agents", agent_id, "agent.state_changed", at, agent_id=agent_id, state=state, **fields
        )

    def call_steps(self, call_id: str, *steps: tuple[str, str], **first: Any) -> list[Publishable]:
        """One call's events from ``(type, at)`` steps: ``first`` (the queue) goes on the first
        step, ``agent_id="a1"`` on an answer."""
        out: list[Publishable] = []
        for i, (type_, at) in enumerate(steps):
            extra = first if i == 0 else ({"agent_id": "a1"} if type_ == "call.answered" else {})
            out.append(self.call(call_id, type_, at, **extra))
        return out

    def ticket_steps(
        self, ticket_id: str, *steps: tuple[str, str, dict[str, Any]]
    ) -> list[Publishable]:
        """One ticket's events from ``(type, at, fields)`` steps."""
        return [self.ticket(ticket_id, t, at, **fields) for t, at, fields in steps]


class Targets:
    """The targets of the lifecycle tests: answer in 20 s, abandons under 5 s are short."""

    answer_target_seconds = 20.0
    short_abandon_seconds = 5.0
    first_response_seconds = 3600.0
    resolution_seconds = 86400.0
    handle_time_seconds = 300.0


class CallEvents:
    """Typed events of call ``c1`` (unless given), ``s`` seconds after ``t0`` (epoch seconds);
    the event id is ``e<s>``: ``ev = CallEvents(T0)``; ``ev(CallQueued, 0, queue="billing")``."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0

    def at(self, s: float) -> datetime:
        """The UTC time ``s`` seconds after the start."""
        return datetime.fromtimestamp(self.t0 + s, UTC)

    def __call__(self, cls: Any, s: float, /, **fields: Any) -> Any:
        fields.setdefault("call_id", "c1")
        return cls(event_id=f"e{s}", occurred_at=self.at(s), **fields)


def run_calls(*events: Any) -> tuple[CallRecord | None, list[Any]]:
    """Apply ``events`` in order to one call record of queue ``billing`` (phone): the record and
    every fact booked; a rejection ends the run and is the last item of the list."""
    rec: CallRecord | None = None
    facts: list[Any] = []
    for e in events:
        result = apply_call(rec, e, e.occurred_at.timestamp(), "billing", "phone", Targets())
        if isinstance(result, Rejection):
            return rec, [*facts, result]
        rec, new = result
        facts += new
    return rec, facts


def changelog_event(
    app: Any, topic: str, partition: int, offset: int, name: str, value: bytes | None
) -> Any:
    """The changelog event at ``offset`` of ``topic``'s ``partition`` storing ``value`` (``None``:
    a deletion) under the record key of ``name`` in that partition."""
    key = records.key(partition, name)
    message = KafkaMessage(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0.0,
        timestamp_type=0,
        headers=[],
        key=key,
        value=value,
        checksum=None,
    )
    return faust.Event(app, key, value, [], message)

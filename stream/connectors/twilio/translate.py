"""One TaskRouter event callback (its form fields) as contract events: pure, no I/O, no clock.

The mapping (``docs/connectors/twilio.md``):

* ``task.created`` (when it names a TaskQueue) and ``task-queue.entered`` → ``call.queued``;
* ``reservation.created`` → ``call.offered`` (the worker's phone rings);
* ``reservation.accepted`` → ``call.answered``; ``reservation.rejected`` / ``.timeout`` /
  ``.canceled`` / ``.rescinded`` → ``call.offer_missed`` (rejected / no_answer / canceled);
* ``task.canceled`` → ``call.exited`` (reason ``timeout``) when ``TaskCanceledReason`` is one of
  ``timeout_reasons`` (TaskRouter's own ``Task TTL Exceeded`` by default), else
  ``call.abandoned``;
* ``task.transfer-initiated`` → ``call.transferred`` (COLD → blind, WARM → attended);
* ``task.wrapup`` → ``call.ended``; ``task.completed`` → ``call.ended`` + ``call.wrapup_completed``
  (a task can be completed straight from ``assigned``; when ``task.wrapup`` came first the
  second ``call.ended`` has the same ``event_id`` and the worker drops it);
* ``worker.activity.update`` → ``agent.state_changed`` (activity name → state);
* anything else is ignored (counted by kind).

Event ids come from Twilio's ids, so a retried callback makes the same ids: a task's lifecycle
events (each happens once per task) are ``twilio:<TaskSid>:<type>`` — ``task.created`` and
``task-queue.entered`` both make the one ``call.queued``; ``call.ended`` and
``call.transferred`` share ``twilio:<TaskSid>:talk_ended`` (the first ends the talk) —, a
ring and a missed offer are ``twilio:<ReservationSid>:call.offered`` / ``:call.offer_missed``,
an agent state is ``twilio:<EventSid>`` (else
``twilio:<WorkerSid>:<EventType>:<Timestamp>``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from stream.connectors.twilio.settings import TwilioConfig
from stream.contract.decoder import Rejection

_MISSED: Final = {
    "reservation.rejected": "rejected",
    "reservation.timeout": "no_answer",
    "reservation.canceled": "canceled",
    "reservation.rescinded": "canceled",
}
_MAX_REASON: Final = 64

REQUIRES: Final[dict[str, frozenset[str]]] = {
    "call.queued": frozenset(),
    "call.answered": frozenset({"call.queued"}),
    "call.abandoned": frozenset({"call.queued"}),
    "call.exited": frozenset({"call.queued"}),
    "call.offer_missed": frozenset({"call.queued"}),
    "call.offered": frozenset({"call.queued"}),
    "call.transferred": frozenset({"call.answered"}),
    "call.ended": frozenset({"call.answered"}),
    "call.wrapup_completed": frozenset({"call.ended", "call.transferred"}),
}
"""What must have been published for a task before an event of this type (any one of a set
ending in ``_completed``; all of the others). Agent events need nothing."""


@dataclass(frozen=True, slots=True)
class Translated:
    """The contract events of one callback; ``task_sid`` is None for worker events."""

    kind: str
    task_sid: str | None
    events: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Ignored:
    """A callback with no KPI meaning (counted by its EventType)."""

    kind: str


def occurred_at(form: Mapping[str, str]) -> str | Rejection:
    """RFC 3339 UTC time of the callback: ``TimestampMs`` when sent, else ``Timestamp`` (s)."""
    raw = form.get("TimestampMs")
    scale = 1000.0
    if not raw:
        raw, scale = form.get("Timestamp"), 1.0
    if not raw:
        return Rejection("missing_field", "no Timestamp")
    try:
        seconds = int(raw) / scale
    except ValueError:
        return Rejection("invalid_timestamp", f"Timestamp is not an integer: {raw[:40]!r}")
    try:
        at = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return Rejection("invalid_timestamp", f"Timestamp out of range: {raw[:40]!r}")
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _agent(form: Mapping[str, str], config: TwilioConfig, prefix: str = "Worker") -> str | None:
    name, sid = form.get(f"{prefix}Name"), form.get(f"{prefix}Sid")
    for candidate in (name, sid):
        if candidate and candidate in config.agents:
            return config.agents[candidate]
    return name or sid or None


def _queue(form: Mapping[str, str], config: TwilioConfig) -> str | None:
    name = form.get("TaskQueueName") or form.get("TaskQueueSid")
    if not name:
        return None
    return config.queues.get(name, name)


def _channel(form: Mapping[str, str], config: TwilioConfig) -> str:
    name = form.get("TaskChannelUniqueName", "")
    return config.channels.get(name, config.default_channel)


def _queues_of(form: Mapping[str, str], config: TwilioConfig) -> list[str] | None:
    """``WorkerAttributes.queues`` when it is a list of queue names (renamed), else None."""
    raw = form.get("WorkerAttributes")
    if not raw:
        return None
    try:
        attrs = json.loads(raw)
    except ValueError:
        return None
    queues = attrs.get("queues") if isinstance(attrs, dict) else None
    if not isinstance(queues, list) or not all(isinstance(q, str) and q for q in queues):
        return None
    return [config.queues.get(q, q) for q in queues]


def translate(form: Mapping[str, str], config: TwilioConfig) -> Translated | Ignored | Rejection:
    """The contract events of one callback, or why it has none (ignored / rejected)."""
    kind = form.get("EventType")
    if not kind:
        return Rejection("missing_field", "no EventType")
    if kind == "worker.activity.update":
        return _activity(kind, form, config)
    if not (kind.startswith("task") or kind.startswith("reservation.")):
        return Ignored(kind)
    builder = _TASK_EVENTS.get(kind)
    if builder is None:
        return Ignored(kind)
    task = form.get("TaskSid")
    if not task:
        return Rejection("missing_field", f"{kind} without TaskSid")
    at = occurred_at(form)
    if isinstance(at, Rejection):
        return at
    made = builder(task, at, form, config)
    if isinstance(made, (Rejection, Ignored)):
        return made
    return Translated(kind, task, tuple(made))


_SAME_ID: Final = {"call.ended": "talk_ended", "call.transferred": "talk_ended"}
"""Both end the talk, once: with one event id the worker keeps whichever comes first and drops
the other as a copy, even when this process no longer remembers the task (a restart)."""


def _lifecycle(task: str, type_: str, at: str, **extra: Any) -> dict[str, Any]:
    name = _SAME_ID.get(type_, type_)
    return {"type": type_, "event_id": f"twilio:{task}:{name}", "occurred_at": at,
            "call_id": task, **extra}  # fmt: skip


def _queued(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]] | Ignored | Rejection:
    queue = _queue(form, config)
    if queue is None:
        if form.get("EventType") == "task.created":
            return Ignored("task.created")  # not routed yet: task-queue.entered will queue it
        return Rejection("missing_field", "task-queue.entered without TaskQueueName")
    return [_lifecycle(task, "call.queued", at, queue=queue, channel=_channel(form, config))]


def _accepted(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]] | Rejection:
    agent = _agent(form, config)
    if agent is None:
        return Rejection("missing_field", "reservation.accepted without WorkerName/WorkerSid")
    return [_lifecycle(task, "call.answered", at, agent_id=agent)]


def _offered(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]] | Rejection:
    agent, reservation = _agent(form, config), form.get("ReservationSid")
    if agent is None or not reservation:
        return Rejection("missing_field", "reservation.created without a worker or ReservationSid")
    return [{"type": "call.offered", "event_id": f"twilio:{reservation}:call.offered",
             "occurred_at": at, "call_id": task, "agent_id": agent}]  # fmt: skip


def _missed(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]] | Rejection:
    kind = form["EventType"]
    agent, reservation = _agent(form, config), form.get("ReservationSid")
    if agent is None or not reservation:
        return Rejection("missing_field", f"{kind} without a worker or ReservationSid")
    return [{"type": "call.offer_missed", "event_id": f"twilio:{reservation}:call.offer_missed",
             "occurred_at": at, "call_id": task, "agent_id": agent,
             "reason": _MISSED[kind]}]  # fmt: skip


def _canceled(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]]:
    if form.get("TaskCanceledReason", "") in config.timeout_reasons:
        return [_lifecycle(task, "call.exited", at, reason="timeout")]
    return [_lifecycle(task, "call.abandoned", at)]


def _transferred(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]] | Rejection:
    mode = form.get("TransferMode", "").upper()
    if mode not in ("COLD", "WARM"):
        return Rejection("invalid_enum", f"TransferMode {mode[:20]!r} is neither COLD nor WARM")
    extra: dict[str, Any] = {"kind": "blind" if mode == "COLD" else "attended"}
    target = form.get("TransferTo")
    if target:
        extra["to"] = config.agents.get(target, config.queues.get(target, target))[:128]
    agent = _agent(form, config, "TransferInitiatingWorker") or _agent(form, config)
    if agent is not None:
        extra["agent_id"] = agent
    return [_lifecycle(task, "call.transferred", at, **extra)]


def _wrapup(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]]:
    return [_lifecycle(task, "call.ended", at)]


def _completed(
    task: str, at: str, form: Mapping[str, str], config: TwilioConfig
) -> list[dict[str, Any]]:
    return [_lifecycle(task, "call.ended", at), _lifecycle(task, "call.wrapup_completed", at)]


_TASK_EVENTS: Final[dict[str, Any]] = {
    "task.created": _queued,
    "task-queue.entered": _queued,
    "reservation.created": _offered,
    "reservation.accepted": _accepted,
    **dict.fromkeys(_MISSED, _missed),
    "task.canceled": _canceled,
    "task.transfer-initiated": _transferred,
    "task.wrapup": _wrapup,
    "task.completed": _completed,
}


def _activity(kind: str, form: Mapping[str, str], config: TwilioConfig) -> Translated | Rejection:
    agent = _agent(form, config)
    name = form.get("WorkerActivityName")
    if agent is None or not name:
        return Rejection("missing_field", f"{kind} without a worker or WorkerActivityName")
    at = occurred_at(form)
    if isinstance(at, Rejection):
        return at
    state = config.activities.get(name, "away")
    stamp = form.get("TimestampMs") or form.get("Timestamp", "")
    sid = form.get("EventSid") or form.get("Sid", "")
    event_id = f"twilio:{sid}" if sid.startswith("EV") else (
        f"twilio:{form.get('WorkerSid') or agent}:{kind}:{stamp}"
    )  # fmt: skip
    event: dict[str, Any] = {"type": "agent.state_changed", "event_id": event_id[:128],
                             "occurred_at": at, "agent_id": agent, "state": state}  # fmt: skip
    if state == "away":
        event["reason"] = name[:_MAX_REASON]
    queues = _queues_of(form, config)
    if queues is not None:
        event["queues"] = queues
    return Translated(kind, None, (event,))

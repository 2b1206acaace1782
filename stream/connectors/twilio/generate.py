"""Signed, real-shaped TaskRouter event callbacks for the simulator's calls and agents.

``callbacks`` turns the simulator's contract events (``stream.simulate.Simulation``) into the
callbacks a TaskRouter Workspace would have posted for the same traffic — same seed, same
callbacks — each signed like Twilio signs it (``X-Twilio-Signature`` for the callback URL and
the form, with the given auth token). A test sends them through the connector and compares the
worker's metrics with those of the same traffic sent as contract events (``contract_twin``).

What TaskRouter reports differently: it has no hold events (a hold is a Conference matter), so
the twin has none (they change no call metric); every queued call is announced twice
(``task.created`` naming its queue and ``task-queue.entered``), an answer is preceded by its
``reservation.created``, a completion ends the call itself (``task.completed`` after
``task.wrapup``): the connector must turn those into exactly one event each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from stream.events import AgentStateChanged, CallQueued
from stream.simulate import SimEvent

ACTIVITY_NAMES: Final = {
    "available": "Available",
    "busy": "Busy",
    "after_call_work": "Wrap Up",
    "away": "Break",
    "offline": "Offline",
}
"""Activity names the generated workers report (``twin_config`` maps them back)."""
TWIN_CONFIG_YAML: Final = "activities: {Busy: busy, 'Wrap Up': after_call_work}\n"
_CHANNELS: Final = {"phone": "voice", "chat": "chat", "sms": "sms", "email": "email"}
_CALL_TYPES: Final = frozenset(
    {"call.queued", "call.answered", "call.abandoned", "call.ended", "call.wrapup_completed"}
)
ACCOUNT: Final = "AC" + "0" * 31 + "1"
WORKSPACE: Final = "WS" + "0" * 31 + "1"


@dataclass(frozen=True, slots=True)
class Callback:
    """One callback: the contact it belongs to (TaskSid, or WorkerSid), its form, signature."""

    group: str
    form: dict[str, str]
    signature: str


def _sid(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:32]


def _tag(event: Any) -> str:
    return str(type(event).__struct_config__.tag)


def contract_twin(events: Iterable[SimEvent]) -> list[SimEvent]:
    """The simulator's call and agent events that TaskRouter reports (holds left out)."""
    return [
        e
        for e in events
        if e.kind == "agents" or (e.kind == "calls" and _tag(e.event) in _CALL_TYPES)
    ]


def _forms(twin: Iterable[SimEvent]) -> Iterator[tuple[str, dict[str, str]]]:
    queue_of: dict[str, tuple[str, str]] = {}
    for sim in twin:
        ev = sim.event
        doc: dict[str, Any] = msgspec.to_builtins(ev)
        type_ = _tag(ev)
        ms = str(round(sim.at * 1000))
        base = {
            "AccountSid": ACCOUNT,
            "WorkspaceSid": WORKSPACE,
            "WorkspaceName": "Simulated contact centre",
            "Timestamp": str(int(sim.at)),
            "TimestampMs": ms,
        }
        if isinstance(ev, AgentStateChanged):
            worker = _sid("WK", doc["agent_id"])
            form = {
                **base,
                "EventType": "worker.activity.update",
                "Sid": _sid("EV", doc["event_id"]),
                "ResourceType": "Worker",
                "ResourceSid": worker,
                "WorkerSid": worker,
                "WorkerName": doc["agent_id"],
                "WorkerActivityName": ACTIVITY_NAMES[ev.state],
                "WorkerAttributes": msgspec.json.encode(
                    {"queues": doc.get("queues") or []}
                ).decode(),
            }
            yield worker, form
            continue
        call = doc["call_id"]
        task = _sid("WT", call)
        if isinstance(ev, CallQueued):
            queue_of[call] = (ev.queue, _CHANNELS.get(ev.channel, "default"))
        queue, channel = queue_of[call]
        task_fields = {
            **base,
            "ResourceType": "Task",
            "ResourceSid": task,
            "TaskSid": task,
            "TaskAttributes": msgspec.json.encode({"call_sid": _sid("CA", call)}).decode(),
            "TaskChannelUniqueName": channel,
            "TaskQueueSid": _sid("WQ", queue),
            "TaskQueueName": queue,
            "WorkflowSid": _sid("WW", "inbound"),
            "WorkflowName": "Inbound",
        }

        def make(
            event_type: str, fields: dict[str, str] = task_fields, c: str = call, **extra: str
        ) -> tuple[str, dict[str, str]]:
            sid = _sid("EV", c, event_type)
            return fields["TaskSid"], {**fields, "EventType": event_type, "Sid": sid, **extra}

        if type_ == "call.queued":
            yield make("task.created", TaskAssignmentStatus="pending")
            yield make("task-queue.entered", TaskAssignmentStatus="pending")
        elif type_ == "call.answered":
            agent = doc["agent_id"]
            who = {"WorkerSid": _sid("WK", agent), "WorkerName": agent,
                   "ReservationSid": _sid("WR", call, agent)}  # fmt: skip
            yield make("reservation.created", TaskAssignmentStatus="reserved", **who)
            yield make("reservation.accepted", TaskAssignmentStatus="assigned", **who)
        elif type_ == "call.abandoned":
            yield make(
                "task.canceled", TaskAssignmentStatus="canceled", TaskCanceledReason="hangup"
            )
        elif type_ == "call.ended":
            yield make("task.wrapup", TaskAssignmentStatus="wrapping")
        elif type_ == "call.wrapup_completed":
            yield make(
                "task.completed",
                TaskAssignmentStatus="completed",
                TaskCompletedReason="Task completed",
            )


def callbacks(events: Iterable[SimEvent], *, token: str, url: str) -> list[Callback]:
    """The callbacks of ``contract_twin(events)``, each signed for ``url`` with ``token``."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    out = []
    for group, form in _forms(contract_twin(events)):
        out.append(Callback(group, form, str(validator.compute_signature(url, form))))
    return out


def by_group(items: Iterable[Callback]) -> Mapping[str, list[Callback]]:
    """Callbacks per task (or worker), in the order TaskRouter made them."""
    groups: dict[str, list[Callback]] = {}
    for cb in items:
        groups.setdefault(cb.group, []).append(cb)
    return groups

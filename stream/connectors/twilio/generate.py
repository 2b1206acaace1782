"""Signed, real-shaped TaskRouter event callbacks for the simulator's calls and agents.

``callbacks`` turns the simulator's contract events (``stream.dev.simulate.Simulation``) into the
callbacks a TaskRouter Workspace would have posted for the same traffic — same seed, same
callbacks — each signed like Twilio signs it (``X-Twilio-Signature`` for the callback URL and
the form, with the given auth token). A test sends them through the connector and compares the
worker's metrics with those of the same traffic sent as contract events (``contract_twin``).

What TaskRouter reports differently: it has no hold events (a hold is a Conference matter), so
the twin has none (they change no call metric); every queued call is announced twice
(``task.created`` naming its queue and ``task-queue.entered``), a ring is a
``reservation.created`` (the twin's ``call.offered``) ended by its ``reservation.accepted`` or
missed, an away agent's reason is its activity's name, a completion ends the call itself
(``task.completed`` after ``task.wrapup``): the connector must turn those into exactly one
event each.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import msgspec

from stream.contract.events import CallQueued
from stream.dev.simulate import SimEvent

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
    {"call.queued", "call.answered", "call.abandoned", "call.ended", "call.wrapup_completed",
     "call.offered", "call.offer_missed"}
)  # fmt: skip
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


class TwinEvent(NamedTuple):
    """One contract event of the twin: topic kind, key, event time (epoch s), the event."""

    kind: str
    key: str
    at: float
    doc: dict[str, Any]


def contract_twin(events: Iterable[SimEvent]) -> list[TwinEvent]:
    """The simulator's call and agent events that TaskRouter reports (holds left out)."""
    out = []
    for e in events:
        if e.kind == "agents" or (e.kind == "calls" and _tag(e.event) in _CALL_TYPES):
            doc: dict[str, Any] = msgspec.to_builtins(e.event)
            if isinstance(e.event, CallQueued):
                doc["channel"] = e.event.channel
            out.append(TwinEvent(e.kind, e.key, e.at, doc))
    return out


def with_variety(twin: Iterable[TwinEvent], *, seed: int) -> list[TwinEvent]:
    """``twin`` with what the simulator does not make but TaskRouter reports (contract types
    ``call.offer_missed``, ``call.exited``, ``call.transferred``): some answered calls first
    ring another worker who rejects or lets it time out, some abandons are TaskRouter's own
    queue timeouts, some talks end in a cold transfer instead of the wrap-up."""
    rng = random.Random(seed)
    out: list[TwinEvent] = []
    agents: list[str] = []
    for e in twin:
        doc, type_ = e.doc, e.doc["type"]
        if e.kind == "agents" and doc["agent_id"] not in agents:
            agents.append(doc["agent_id"])
        if type_ == "call.answered" and agents and rng.random() < 0.2:
            other = rng.choice(agents)
            reason = rng.choice(("rejected", "no_answer"))
            out.append(TwinEvent(e.kind, e.key, round(e.at - 0.6, 3), {
                "type": "call.offered", "event_id": f"{doc['event_id']}-rang",
                "occurred_at": _iso(e.at - 0.6), "call_id": doc["call_id"],
                "agent_id": other}))  # fmt: skip
            out.append(TwinEvent(e.kind, e.key, round(e.at - 0.5, 3), {
                "type": "call.offer_missed", "event_id": f"{doc['event_id']}-missed",
                "occurred_at": _iso(e.at - 0.5), "call_id": doc["call_id"],
                "agent_id": other, "reason": reason}))  # fmt: skip
        elif type_ == "call.abandoned" and rng.random() < 0.3:
            doc = {**doc, "type": "call.exited", "reason": "timeout"}
        elif type_ == "call.ended" and rng.random() < 0.1:
            doc = {**doc, "type": "call.transferred", "kind": "blind", "to": "WKsupervisor"}
        out.append(TwinEvent(e.kind, e.key, e.at, doc))
    return out


def _iso(at: float) -> str:
    return (
        datetime.fromtimestamp(round(at, 3), UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _forms(twin: Iterable[TwinEvent]) -> Iterator[tuple[str, dict[str, str]]]:
    queue_of: dict[str, tuple[str, str]] = {}
    ringing: dict[tuple[str, str], str] = {}  # (call, agent) → ReservationSid of the open ring
    for sim in twin:
        doc = sim.doc
        type_ = doc["type"]
        ms = str(round(sim.at * 1000))
        base = {
            "AccountSid": ACCOUNT,
            "WorkspaceSid": WORKSPACE,
            "WorkspaceName": "Simulated contact centre",
            "Timestamp": str(int(sim.at)),
            "TimestampMs": ms,
        }
        if type_ == "agent.state_changed":
            worker = _sid("WK", doc["agent_id"])
            form = {
                **base,
                "EventType": "worker.activity.update",
                "Sid": _sid("EV", doc["event_id"]),
                "ResourceType": "Worker",
                "ResourceSid": worker,
                "WorkerSid": worker,
                "WorkerName": doc["agent_id"],
                # An away reason is the activity's name (a Break, Lunch or Training activity).
                "WorkerActivityName": doc.get("reason") or ACTIVITY_NAMES[doc["state"]],
                "WorkerAttributes": msgspec.json.encode(
                    {"queues": doc.get("queues") or []}
                ).decode(),
            }
            yield worker, form
            continue
        call = doc["call_id"]
        task = _sid("WT", call)
        if type_ == "call.queued":
            queue_of[call] = (doc["queue"], _CHANNELS.get(doc["channel"], "default"))
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
        elif type_ == "call.offered":
            agent = doc["agent_id"]
            ringing[call, agent] = reservation = _sid("WR", call, agent, doc["event_id"])
            who = {"WorkerSid": _sid("WK", agent), "WorkerName": agent,
                   "ReservationSid": reservation}  # fmt: skip
            yield make("reservation.created", fields=task_fields, c=reservation,
                       TaskAssignmentStatus="reserved", **who)  # fmt: skip
        elif type_ == "call.answered":
            agent = doc["agent_id"]
            reservation = ringing.pop((call, agent), _sid("WR", call, agent))
            who = {"WorkerSid": _sid("WK", agent), "WorkerName": agent,
                   "ReservationSid": reservation}  # fmt: skip
            yield make("reservation.accepted", TaskAssignmentStatus="assigned", **who)
        elif type_ == "call.offer_missed":
            agent = doc["agent_id"]
            reservation = ringing.pop((call, agent), _sid("WR", call, agent, "missed"))
            who = {"WorkerSid": _sid("WK", agent), "WorkerName": agent,
                   "ReservationSid": reservation}  # fmt: skip
            missed = (
                "reservation.rejected" if doc["reason"] == "rejected" else "reservation.timeout"
            )
            yield make(missed, c=reservation, TaskAssignmentStatus="pending", **who)
        elif type_ == "call.exited":
            yield make("task.canceled", TaskAssignmentStatus="canceled",
                       TaskCanceledReason="Task TTL Exceeded")  # fmt: skip
        elif type_ == "call.transferred":
            yield make("task.transfer-initiated", TransferMode="COLD", TransferType="WORKER",
                       TransferTo=doc["to"], TransferInitiatingWorkerSid="")  # fmt: skip
            yield make("task.wrapup", TaskAssignmentStatus="wrapping")
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


def callbacks(events: Iterable[TwinEvent], *, token: str, url: str) -> list[Callback]:
    """The callbacks TaskRouter makes for ``events`` (``contract_twin``, ``with_variety``), each
    signed for ``url`` with ``token``."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    out = []
    for group, form in _forms(events):
        out.append(Callback(group, form, str(validator.compute_signature(url, form))))
    return out


def by_group(items: Iterable[Callback]) -> Mapping[str, list[Callback]]:
    """Callbacks per task (or worker), in the order TaskRouter made them."""
    groups: dict[str, list[Callback]] = {}
    for cb in items:
        groups.setdefault(cb.group, []).append(cb)
    return groups

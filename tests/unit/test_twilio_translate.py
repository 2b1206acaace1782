"""The TaskRouter callback translator: real-shaped callbacks in, exact contract events out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from stream.config import Settings
from stream.connectors.publish import prepare
from stream.connectors.twilio.order import TaskOrder, ready
from stream.connectors.twilio.settings import TwilioConfig, load_config
from stream.connectors.twilio.translate import Ignored, Translated, translate
from stream.contract.decoder import Rejection

TASK = "WT0f6bd0c8a4e83a2ba0a6d8b6b6c61b3e"
RES = "WR5b3b0a8f1d2c4e6f8a0b2c4d6e8f0a1b"
WORKER = "WK7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
AT = "1764066612345"  # 2025-11-25T10:30:12.345Z
ISO = "2025-11-25T10:30:12.345Z"


def callback(event_type: str, **fields: str) -> dict[str, str]:
    """The form fields TaskRouter posts (Event Callbacks reference), trimmed to what we read."""
    form = {
        "EventType": event_type,
        "AccountSid": "AC00000000000000000000000000000001",
        "WorkspaceSid": "WS00000000000000000000000000000001",
        "WorkspaceName": "Contact centre",
        "EventDescription": f"{event_type} happened",
        "Sid": "EV11111111111111111111111111111111",
        "Timestamp": str(int(AT) // 1000),
        "TimestampMs": AT,
    }
    if event_type.startswith(("task", "reservation")):
        form.update(
            ResourceType="Task",
            ResourceSid=TASK,
            TaskSid=TASK,
            TaskAttributes='{"from":"+15550100","call_sid":"CA1"}',
            TaskAge="12",
            TaskPriority="0",
            TaskAssignmentStatus="pending",
            TaskChannelUniqueName="voice",
            TaskQueueSid="WQ00000000000000000000000000000001",
            TaskQueueName="Billing",
            WorkflowSid="WW00000000000000000000000000000001",
            WorkflowName="Inbound",
        )
    if event_type.startswith(("reservation", "worker")):
        form.update(WorkerSid=WORKER, WorkerName="alice", WorkerActivityName="Available")
    if event_type.startswith("reservation"):
        form.update(ReservationSid=RES)
    form.update(fields)
    return form


def lifecycle(type_: str, **extra: Any) -> dict[str, Any]:
    name = "talk_ended" if type_ in ("call.ended", "call.transferred") else type_
    return {"type": type_, "event_id": f"twilio:{TASK}:{name}", "occurred_at": ISO,
            "call_id": TASK, **extra}  # fmt: skip


CONFIG = TwilioConfig(queues={"Billing": "billing"}, agents={"alice": "a201"})

ROWS: list[tuple[str, dict[str, str], object]] = [
    ("task.created names its queue", callback("task.created"),
     [lifecycle("call.queued", queue="billing", channel="phone")]),
    ("task.created before routing", callback("task.created", TaskQueueName="", TaskQueueSid=""),
     Ignored("task.created")),
    ("task-queue.entered chat", callback("task-queue.entered", TaskChannelUniqueName="chat"),
     [lifecycle("call.queued", queue="billing", channel="chat")]),
    ("unknown channel: default", callback("task-queue.entered", TaskChannelUniqueName="video"),
     [lifecycle("call.queued", queue="billing", channel="phone")]),
    ("queue not renamed", callback("task-queue.entered", TaskQueueName="Sales"),
     [lifecycle("call.queued", queue="Sales", channel="phone")]),
    ("accepted", callback("reservation.accepted"), [lifecycle("call.answered", agent_id="a201")]),
    ("accepted, worker not renamed", callback("reservation.accepted", WorkerName="bob"),
     [lifecycle("call.answered", agent_id="bob")]),
    ("rejected", callback("reservation.rejected"),
     [{"type": "call.offer_missed", "event_id": f"twilio:{RES}:call.offer_missed",
       "occurred_at": ISO, "call_id": TASK, "agent_id": "a201", "reason": "rejected"}]),
    ("timeout", callback("reservation.timeout"),
     [{"type": "call.offer_missed", "event_id": f"twilio:{RES}:call.offer_missed",
       "occurred_at": ISO, "call_id": TASK, "agent_id": "a201", "reason": "no_answer"}]),
    ("canceled", callback("reservation.canceled"),
     [{"type": "call.offer_missed", "event_id": f"twilio:{RES}:call.offer_missed",
       "occurred_at": ISO, "call_id": TASK, "agent_id": "a201", "reason": "canceled"}]),
    ("rescinded", callback("reservation.rescinded"),
     [{"type": "call.offer_missed", "event_id": f"twilio:{RES}:call.offer_missed",
       "occurred_at": ISO, "call_id": TASK, "agent_id": "a201", "reason": "canceled"}]),
    ("caller hung up", callback("task.canceled", TaskCanceledReason="hangup"),
     [lifecycle("call.abandoned")]),
    ("task TTL exceeded", callback("task.canceled", TaskCanceledReason="Task TTL Exceeded"),
     [lifecycle("call.exited", reason="timeout")]),
    ("cold transfer", callback("task.transfer-initiated", TransferMode="COLD", TransferTo=WORKER,
                               TransferInitiatingWorkerSid=WORKER, TransferType="WORKER"),
     [lifecycle("call.transferred", kind="blind", to=WORKER, agent_id=WORKER)]),
    ("warm transfer to a queue", callback("task.transfer-initiated", TransferMode="WARM",
                                          TransferTo="Billing", TransferType="QUEUE"),
     [lifecycle("call.transferred", kind="attended", to="billing")]),
    ("wrapup", callback("task.wrapup"), [lifecycle("call.ended")]),
    ("completed", callback("task.completed"),
     [lifecycle("call.ended"), lifecycle("call.wrapup_completed")]),
    ("seconds only", {**callback("task.wrapup"), "TimestampMs": ""},
     [{**lifecycle("call.ended"), "occurred_at": "2025-11-25T10:30:12.000Z"}]),
    ("available", callback("worker.activity.update"),
     [{"type": "agent.state_changed", "event_id": "twilio:EV11111111111111111111111111111111",
       "occurred_at": ISO, "agent_id": "a201", "state": "available"}]),
    ("offline, no event sid", {**callback("worker.activity.update", WorkerActivityName="Offline"),
                               "Sid": ""},
     [{"type": "agent.state_changed",
       "event_id": f"twilio:{WORKER}:worker.activity.update:{AT}",
       "occurred_at": ISO, "agent_id": "a201", "state": "offline"}]),
    ("break: away with its reason", callback("worker.activity.update", WorkerActivityName="Break",
                                             WorkerAttributes='{"queues":["Billing","sales"]}'),
     [{"type": "agent.state_changed", "event_id": "twilio:EV11111111111111111111111111111111",
       "occurred_at": ISO, "agent_id": "a201", "state": "away", "reason": "Break",
       "queues": ["billing", "sales"]}]),
    ("worker attributes", callback("worker.attributes.update"),
     Ignored("worker.attributes.update")),
    ("reservation created", callback("reservation.created"),
     [{"type": "call.offered", "event_id": f"twilio:{RES}:call.offered",
       "occurred_at": ISO, "call_id": TASK, "agent_id": "a201"}]),
    ("reservation created, no worker",
     {**callback("reservation.created"), "WorkerName": "", "WorkerSid": ""},
     Rejection("missing_field", "reservation.created without a worker or ReservationSid")),
    ("task updated", callback("task.updated"), Ignored("task.updated")),
    ("workflow", callback("workflow.target-matched"), Ignored("workflow.target-matched")),
    ("no EventType", {"TaskSid": TASK}, Rejection("missing_field", "no EventType")),
    ("no TaskSid", {**callback("task.wrapup"), "TaskSid": ""},
     Rejection("missing_field", "task.wrapup without TaskSid")),
    ("no time", {**callback("task.wrapup"), "TimestampMs": "", "Timestamp": ""},
     Rejection("missing_field", "no Timestamp")),
    ("bad time", {**callback("task.wrapup"), "TimestampMs": "soon"},
     Rejection("invalid_timestamp", "Timestamp is not an integer: 'soon'")),
    ("accepted, no worker", {**callback("reservation.accepted"), "WorkerName": "", "WorkerSid": ""},
     Rejection("missing_field", "reservation.accepted without WorkerName/WorkerSid")),
    ("bad transfer mode", callback("task.transfer-initiated", TransferMode="LUKEWARM"),
     Rejection("invalid_enum", "TransferMode 'LUKEWARM' is neither COLD nor WARM")),
]  # fmt: skip


@pytest.mark.parametrize(("form", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_callback_translates_to_exact_events(form: dict[str, str], expected: object) -> None:
    got = translate(form, CONFIG)
    if isinstance(expected, list):
        assert isinstance(got, Translated)
        assert list(got.events) == expected
        settings = Settings.from_env({})
        for event in got.events:  # every made event passes the contract decoder
            checked = prepare(settings, event)
            # call.exited / offer_missed / transferred: checked once the contract has them
            pending = isinstance(checked, Rejection) and "unknown_type" in checked.detail
            assert pending or not isinstance(checked, Rejection), (event, checked)
    else:
        assert got == expected


def test_a_retried_callback_makes_the_same_event_ids() -> None:
    first = translate(callback("reservation.accepted"), CONFIG)
    again = translate({**callback("reservation.accepted"), "Sid": "EV2"}, CONFIG)
    assert isinstance(first, Translated) and isinstance(again, Translated)
    assert first.events == again.events


def test_config_file_maps_activities_channels_and_timeouts(tmp_path: Path) -> None:
    path = tmp_path / "twilio.yaml"
    path.write_text(
        "queues: {Billing: billing}\nagents: {WK1: a201}\n"
        "activities: {Busy: busy, 'Wrap Up': after_call_work}\n"
        "channels: {video: web}\ndefault_channel: chat\n"
        "timeout_reasons: [Workflow Timeout]\n"
    )
    config = load_config(path)
    assert config.activities == {
        "Available": "available", "Offline": "offline", "Busy": "busy",
        "Wrap Up": "after_call_work",
    }  # fmt: skip
    assert config.channels["video"] == "web" and config.channels["voice"] == "phone"
    assert config.default_channel == "chat"
    got = translate(callback("task.canceled", TaskCanceledReason="Workflow Timeout"), config)
    assert isinstance(got, Translated) and got.events[0]["type"] == "call.exited"
    got = translate(callback("task.canceled", TaskCanceledReason="Task TTL Exceeded"), config)
    assert isinstance(got, Translated) and got.events[0]["type"] == "call.abandoned"
    bad = {
        "queues: {}\nactivities:\n  Busy: working\n": "3: activities.Busy: expected one of "
        "available, busy, after_call_work, away, offline, got 'working'",
        "colour: blue\n": "1: unknown key 'colour'; allowed keys: queues, agents, activities, "
        "channels, default_channel, timeout_reasons",
        "default_chanel: chat\n": "1: unknown key 'default_chanel' (did you mean "
        "'default_channel'?)",
        "timeout_reasons: Workflow Timeout\n": "1: timeout_reasons: expected a list of reasons, "
        "got 'Workflow Timeout'",
        "timeout_reasons:\n  - ok\n  - [1]\n": "3: timeout_reasons[1]: expected a reason, got "
        "a list",
        "agents:\n  WK1:\n": "2: agents.WK1: expected a name, got null",
    }
    for text, said in bad.items():
        path.write_text(text)
        with pytest.raises(ValueError) as error:
            load_config(path)
        assert str(error.value).startswith(f"{path}:{said}"), str(error.value)


def test_ready_needs_the_predecessors_in_order() -> None:
    ended = [lifecycle("call.ended")]
    assert not ready(set(), [lifecycle("call.answered")])
    assert ready({"call.queued"}, [lifecycle("call.answered")])
    assert not ready({"call.queued"}, ended)
    assert ready({"call.queued", "call.answered"}, ended)
    done = [lifecycle("call.ended"), lifecycle("call.wrapup_completed")]
    assert ready({"call.queued", "call.answered"}, done)
    assert ready({"call.answered", "call.transferred"}, [lifecycle("call.wrapup_completed")])
    assert ready(set(), [lifecycle("call.queued", queue="q")])


def _order_of(arrivals: Sequence[str], hold: float = 5.0) -> tuple[list[str], TaskOrder]:
    """Callbacks of one task started concurrently in ``arrivals`` order; published types."""
    published: list[str] = []
    order = TaskOrder(hold)

    async def publish(events: Sequence[dict[str, Any]]) -> int:
        await asyncio.sleep(0)
        published.extend(e["type"] for e in events)
        return len(events)

    async def run() -> None:
        jobs = []
        for kind in arrivals:
            got = translate(callback(kind), CONFIG)
            assert isinstance(got, Translated)
            jobs.append(asyncio.create_task(order.publish(TASK, got.events, publish)))
            await asyncio.sleep(0)
        await asyncio.gather(*jobs)

    asyncio.run(run())
    return published, order


LIFE = ["call.queued", "call.answered", "call.ended", "call.wrapup_completed"]


@pytest.mark.parametrize(
    "arrivals",
    [
        ["task.created", "reservation.accepted", "task.wrapup", "task.completed"],
        ["task.completed", "task.wrapup", "reservation.accepted", "task.created"],
        ["reservation.accepted", "task.completed", "task-queue.entered", "task.wrapup"],
        ["task.wrapup", "task.created", "task.completed", "reservation.accepted", "task.created"],
    ],
)
def test_any_arrival_order_publishes_the_lifecycle_in_order_once(arrivals: list[str]) -> None:
    published, order = _order_of(arrivals)
    assert published == LIFE
    assert order.released_unordered == 0


def test_completed_straight_from_assigned_ends_the_call_itself() -> None:
    published, _ = _order_of(["task.created", "reservation.accepted", "task.completed"])
    assert published == LIFE


def test_a_transfer_ends_the_talk_and_the_wrapup_adds_no_second_end() -> None:
    published: list[str] = []
    order = TaskOrder(5.0)

    async def publish(events: Sequence[dict[str, Any]]) -> int:
        published.extend(e["type"] for e in events)
        return len(events)

    async def run() -> None:
        for form in (
            callback("task.created"),
            callback("reservation.accepted"),
            callback("task.transfer-initiated", TransferMode="COLD", TransferTo="WK9"),
            callback("task.wrapup"),
            callback("task.completed"),
        ):
            got = translate(form, CONFIG)
            assert isinstance(got, Translated)
            await order.publish(TASK, got.events, publish)

    asyncio.run(run())
    assert published == ["call.queued", "call.answered", "call.transferred",
                         "call.wrapup_completed"]  # fmt: skip


def test_a_missing_predecessor_is_released_after_the_hold_and_counted() -> None:
    published, order = _order_of(["task.wrapup"], hold=0.01)
    assert published == ["call.ended"]
    assert (order.held, order.released_unordered) == (1, 1)


def test_a_failed_publish_marks_nothing_so_the_retry_publishes_again() -> None:
    order = TaskOrder(0.0)
    got = translate(callback("task.created"), CONFIG)
    assert isinstance(got, Translated)
    sent: list[int] = []

    async def failing(events: Sequence[dict[str, Any]]) -> int:
        raise RuntimeError("broker down")

    async def working(events: Sequence[dict[str, Any]]) -> int:
        sent.append(len(events))
        return len(events)

    async def run() -> None:
        with pytest.raises(RuntimeError):
            await order.publish(TASK, got.events, failing)
        await order.publish(TASK, got.events, working)
        await order.publish(TASK, got.events, working)  # a duplicate delivery: nothing to send

    asyncio.run(run())
    assert sent == [1]


def test_stopping_refuses_held_callbacks_instead_of_sending_them_out_of_order() -> None:
    from stream.connectors.twilio.order import Closing

    order = TaskOrder(60.0)
    got = translate(callback("task.wrapup"), CONFIG)
    assert isinstance(got, Translated)

    async def publish(events: Sequence[dict[str, Any]]) -> int:
        raise AssertionError("nothing may be sent")

    async def run() -> None:
        held = asyncio.create_task(order.publish(TASK, got.events, publish))
        await asyncio.sleep(0.01)
        order.close()
        with pytest.raises(Closing):
            await held

    asyncio.run(run())


def test_after_a_restart_released_callbacks_keep_their_order_among_themselves() -> None:
    # A fresh process: call.queued was published by the previous one. call.ended and
    # call.answered both miss a predecessor; at the hold's end call.answered goes first.
    published, order = _order_of(["task.completed", "task.wrapup", "reservation.accepted"], 0.05)
    assert published == ["call.answered", "call.ended", "call.wrapup_completed"]
    assert (order.held, order.released_unordered) == (3, 1)  # the others were then in order

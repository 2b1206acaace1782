"""Per-task lifecycle order: a callback's events are published only after their predecessors.

TaskRouter sends a task's callbacks concurrently, so ``task.wrapup`` can arrive before that
task's ``reservation.accepted``; the worker rejects a ``call.ended`` for a call it has not seen
answered. ``TaskOrder.publish`` therefore holds a callback (its HTTP request stays open) until
every contract event it needs (``translate.REQUIRES``) was acknowledged for that task, or
``hold_seconds`` passed — then it publishes anyway and counts it (``released_unordered``): after
a connector restart the predecessor may have been published by the previous process, and the
worker is the judge (it drops a copy by ``event_id`` and dead-letters a real inconsistency with
its reason). Nothing is acknowledged to Twilio before the broker acknowledged its events, so a
crash while holding loses nothing: Twilio retries, and the retry makes the same ``event_id``.

Memory: one small entry per recent task (the types and ids published for it), at most
``max_tasks`` (least recently used first out).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from stream.connectors.twilio.translate import REQUIRES

_ALL_TYPES: Final = frozenset(REQUIRES)


class Closing(RuntimeError):
    """The connector is stopping: a held callback is refused (503) rather than sent out of
    order; Twilio retries it, and the next process publishes it in order."""


Publish = Callable[[Sequence[dict[str, Any]]], Awaitable[int]]


@dataclass(slots=True)
class _Task:
    types: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: Counter[str] = field(default_factory=Counter)
    """Types of the events of this task's requests now waiting or publishing here."""

    def notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


def ready(published: set[str], events: Sequence[dict[str, Any]]) -> bool:
    """Whether every event's predecessors are in ``published`` or earlier in ``events``."""
    have = set(published)
    for event in events:
        needs = REQUIRES.get(str(event["type"]), frozenset())
        if needs:
            any_of = str(event["type"]).endswith("_completed")
            if not ((needs & have) if any_of else needs <= have):
                return False
        have.add(str(event["type"]))
    return True


class TaskOrder:
    """Publishes each task's events in lifecycle order, whatever order the callbacks came in."""

    def __init__(
        self,
        hold_seconds: float = 2.0,
        *,
        max_tasks: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hold_seconds = hold_seconds
        self.max_tasks = max_tasks
        self.clock = clock
        self.released_unordered = 0
        self.held = 0
        self.closing = False
        self._tasks: OrderedDict[str, _Task] = OrderedDict()

    def _task(self, sid: str) -> _Task:
        task = self._tasks.get(sid)
        if task is None:
            task = self._tasks[sid] = _Task()
            while len(self._tasks) > self.max_tasks:
                self._tasks.popitem(last=False)
        else:
            self._tasks.move_to_end(sid)
        return task

    def close(self) -> None:
        """Refuse every held callback from now on (``Closing``); the ready ones still go."""
        self.closing = True
        for task in self._tasks.values():
            changed, task.changed = task.changed, asyncio.Event()
            changed.set()

    async def publish(
        self, task_sid: str, events: Sequence[dict[str, Any]], publish: Publish
    ) -> int:
        """Wait for the predecessors (bounded), then ``publish`` what this task still lacks.

        After ``hold_seconds`` a missing predecessor is assumed published by someone else (a
        previous process) — unless a request of this process holds it: then this one keeps
        waiting for it, so two released callbacks never overtake each other.
        Raises what ``publish`` raises (``BrokerUnavailable``): nothing is marked published;
        ``Closing`` when the connector stops while this callback is held.
        """
        task = self._task(task_sid)
        own = Counter(str(e["type"]) for e in events)
        task.pending.update(own)
        try:
            await self._wait(task, events, own)
            async with task.lock:
                todo = [
                    e
                    for e in events
                    if e["event_id"] not in task.ids
                    # a transfer ended the talk: the task's own wrap-up must not end it again
                    and not (e["type"] == "call.ended" and "call.transferred" in task.types)
                    # the first of the two ends the talk: a transfer after the wrap-up is late
                    and not (e["type"] == "call.transferred" and "call.ended" in task.types)
                ]
                sent = await publish(todo) if todo else 0
                for e in todo:
                    task.types.add(str(e["type"]))
                    task.ids.add(str(e["event_id"]))
        finally:
            task.pending.subtract(own)
            task.notify()
        return sent

    async def _wait(self, task: _Task, events: Sequence[dict[str, Any]], own: Counter[str]) -> None:
        if ready(task.types, events):
            return
        self.held += 1
        deadline = self.clock() + self.hold_seconds
        expired = False
        while True:
            if expired:
                elsewhere = {t for t in _ALL_TYPES if task.pending[t] - own[t] <= 0}
                if ready(task.types | elsewhere, events):
                    self.released_unordered += 1
                    return
            elif ready(task.types, events):
                return
            if self.closing:
                raise Closing("the connector is stopping")
            remaining = None if expired else deadline - self.clock()
            if remaining is not None and remaining <= 0:
                expired = True
                continue
            changed = task.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
            if ready(task.types, events):
                return

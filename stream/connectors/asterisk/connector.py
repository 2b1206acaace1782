"""The Asterisk connector's run loop: lines from the follower or a whole file, translated,
published through the shared ``Publisher``, and committed to the checkpoint after the acks.

One batch at a time: its complete lines are parsed and translated (``Translator``), every
event is checked against the contract (``publish.prepare``) so a translator mistake is kept as
the line that caused it, and the batch goes to the broker; only when the broker acknowledged
every event and every dead letter of the batch is the checkpoint (position + translator state)
written. While the broker is down the same batch is retried (waits growing to 10 s) and
nothing after it is read: no line is skipped. A stop (SIGTERM, Ctrl-C) lets the current batch
finish and commit, so a restart neither loses nor repeats a line.

``--once`` (or the path ``-``: stdin) reads everything once (a backfill; no checkpoint). Its
end is the log's last second: wrap-ups due by then complete, later ones do not (the log does
not say they did). Following, a wrap-up completes when a later line arrives or, on a quiet
log, when the wall clock is ``WRAPUP_GRACE_SECONDS`` past its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from stream.config import Settings
from stream.connectors.asterisk.follow import (
    Checkpoint,
    Follower,
    read_checkpoint,
    write_checkpoint,
)
from stream.connectors.asterisk.queue_log import Line, parse
from stream.connectors.asterisk.settings import AsteriskConfig
from stream.connectors.asterisk.translator import Event, Translator
from stream.connectors.metrics import ConnectorMetrics
from stream.connectors.publish import BrokerUnavailable, Publisher, prepare
from stream.contract.decoder import Rejection

__all__ = ["Batch", "Connector", "RunStats"]

log = logging.getLogger(__name__)

CONNECTOR: Final = "asterisk"
WRAPUP_GRACE_SECONDS: Final = 2
POLL_SECONDS: Final = 0.2
MAX_RETRY_SECONDS: Final = 10.0


@dataclass(slots=True)
class RunStats:
    lines: int = 0
    events: int = 0
    rejected: int = 0
    ignored: int = 0
    retries: int = 0
    commits: int = 0
    at_end: int = 0
    """Events of the wrap-ups completed at the end of a ``once`` read (due by its last line)."""


@dataclass(slots=True)
class Batch:
    """A batch ready to send: contract events, and the lines to dead-letter."""

    events: list[Event] = field(default_factory=list)
    dead: list[tuple[bytes, str, str, str]] = field(default_factory=list)
    """(line, reason, detail, source)"""
    last_epoch: int | None = None


class Connector:
    """Translates and publishes; ``follow`` and ``once`` are the two ways to read."""

    def __init__(
        self,
        settings: Settings,
        config: AsteriskConfig,
        *,
        metrics: ConnectorMetrics | None = None,
        publisher: Publisher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else ConnectorMetrics(CONNECTOR)
        self.publisher = publisher or Publisher(settings, connector=CONNECTOR, metrics=self.metrics)
        self.translator = Translator(config)
        self.clock = clock
        self.stats = RunStats()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the current batch, commit it, and return from ``follow``."""
        self._stopping.set()

    # -- translating ------------------------------------------------------------------------

    def translate(self, lines: Iterable[bytes], start: int, source: str) -> Batch:
        """Translate lines read from byte ``start`` of ``source`` (mutates the translator)."""
        batch = Batch()
        offset = start
        metrics = self.metrics
        for raw in lines:
            where = f"{source}:{offset}"
            offset += len(raw) + 1
            metrics.received()
            self.stats.lines += 1
            if not raw.strip():
                continue
            parsed = parse(raw)
            if not isinstance(parsed, Line):
                batch.dead.append((raw, parsed.reason, parsed.detail, where))
                continue
            batch.last_epoch = parsed.epoch
            outcome = self.translator.translate(parsed)
            if outcome.ignored is not None:
                metrics.ignored(outcome.ignored)
                self.stats.ignored += 1
            if outcome.rejected is not None:
                batch.dead.append((raw, outcome.rejected.reason, outcome.rejected.detail, where))
            for event in outcome.events:
                checked = prepare(self.settings, event)
                if isinstance(checked, Rejection):  # a translator mistake: keep the line
                    batch.dead.append((raw, "invalid_translation", checked.detail, where))
                else:
                    batch.events.append(event)
        return batch

    # -- sending ----------------------------------------------------------------------------

    async def deliver(self, batch: Batch) -> bool:
        """Send the batch; retry while the broker is down. True once all were acked; False
        when stopped while the broker is down (then nothing may be committed)."""
        delay = 0.5
        sent_dead = 0
        while True:
            try:
                while sent_dead < len(batch.dead):
                    raw, reason, detail, where = batch.dead[sent_dead]
                    await self.publisher.dead_letter(raw, reason, detail, source=where)
                    sent_dead += 1
                    self.stats.rejected += 1
                if batch.events:
                    await self.publisher.publish(batch.events)
                    self.stats.events += len(batch.events)
                return True
            except BrokerUnavailable as exc:
                if self._stopping.is_set():
                    log.warning("stopped while the broker is down: the batch is not committed")
                    return False
                self.stats.retries += 1
                log.warning("broker unavailable, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(MAX_RETRY_SECONDS, delay * 2)

    # -- following --------------------------------------------------------------------------

    async def follow(self, path: Path, checkpoint_path: Path) -> RunStats:
        """Follow ``path`` until ``stop()``; resume from and commit to ``checkpoint_path``."""
        saved = read_checkpoint(checkpoint_path)
        if saved is not None:
            self.translator.state = saved.state
            log.info(
                "resuming %s at byte %d (inode %d) with %d open calls",
                path,
                saved.position.offset,
                saved.position.inode,
                len(saved.state.calls),
            )
        follower = Follower(path, saved.position if saved is not None else None)
        committed = saved.position if saved is not None else None
        try:
            while not self._stopping.is_set():
                chunk = follower.read()
                if chunk is not None:
                    source = f"{path}@{chunk.position.inode}"
                    batch = self.translate(chunk.lines, chunk.start, source)
                else:
                    until = int(self.clock()) - WRAPUP_GRACE_SECONDS
                    batch = Batch(events=self._checked(self.translator.advance(until)))
                if (batch.events or batch.dead) and not await self.deliver(batch):
                    break
                position = follower.position
                if position != committed or batch.events:
                    checkpoint = Checkpoint(
                        path=str(path), position=position, state=self.translator.state
                    )
                    write_checkpoint(checkpoint_path, checkpoint)
                    committed = position
                    self.stats.commits += 1
                self.metrics.checkpoint_lag(follower.lag_bytes())
                if chunk is None:
                    # Wake early on stop; otherwise poll the file again.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)
        finally:
            follower.close()
        return self.stats

    def _checked(self, events: list[Event]) -> list[Event]:
        good = []
        for event in events:
            if isinstance(prepare(self.settings, event), Rejection):
                log.error("dropping an invalid wrap-up event (a translator bug): %s", event)
            else:
                good.append(event)
        return good

    # -- once -------------------------------------------------------------------------------

    async def once(
        self,
        source: BinaryIO,
        name: str,
        *,
        batch_lines: int = 5000,
        on_progress: Callable[[int], None] | None = None,
    ) -> RunStats:
        """Translate and publish everything in ``source`` (a backfill), then its wrap-ups."""
        start = 0
        last_epoch: int | None = None
        for lines, size in _batches(source, batch_lines):
            batch = self.translate(lines, start, name)
            start += size
            if batch.last_epoch is not None:
                last_epoch = batch.last_epoch
            if (batch.events or batch.dead) and not await self.deliver(batch):
                return self.stats
            if on_progress is not None:
                on_progress(size)
            if self._stopping.is_set():
                return self.stats
        if last_epoch is not None:
            tail = self._checked(self.translator.advance(last_epoch, inclusive=True))
            if tail and await self.deliver(Batch(events=tail)):
                self.stats.at_end = len(tail)
        return self.stats

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)


def _batches(source: BinaryIO, batch_lines: int) -> Iterator[tuple[list[bytes], int]]:
    lines: list[bytes] = []
    size = 0
    for raw in source:
        size += len(raw)
        lines.append(raw.rstrip(b"\n"))
        if len(lines) >= batch_lines:
            yield lines, size
            lines, size = [], 0
    if lines:
        yield lines, size


def open_source(path: str) -> BinaryIO:
    """The file at ``path``, or stdin for ``-``."""
    if path == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")

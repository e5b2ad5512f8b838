"""`UsageRecorder`: the relay's usage sink, queueing records in memory and writing them in batches.

`submit` is called on the request path, so it only appends to a bounded deque: it never blocks,
never raises, and drops (and counts) records when the store falls behind. A background `run()` task
flushes them through the writer: a child process in a running node (`writer_process`), or a worker
thread; the store is never touched on the event loop.

No record leaves silently. Every record ends in exactly one counter: `written` (the writer
acknowledged it stored), `dropped` (the queue was full when it arrived), or `lost` (the writer gave
up on its batch, the writer died holding it too often, or it was still queued at close), and each
drop or loss is logged (drops once per flush interval, as a count). `stats()` is what metrics export.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from tollgate.usage.record import UsageRecord

logger = logging.getLogger(__name__)

DEFAULT_MAX_QUEUE = 100_000
DEFAULT_BATCH_SIZE = 500
DEFAULT_FLUSH_INTERVAL = 0.5
#: How many writers may die holding the same batch before it is counted lost (a batch that kills
#: every writer must not stop the flow forever).
DEFAULT_MAX_RESENDS = 3


class UsageBatchLostError(Exception):
    """The writer tried and gave up on a batch (e.g. the database refused it several times): not retried."""

    def __init__(self, count: int, reason: str) -> None:
        super().__init__(f"{count} usage records not stored: {reason}")
        self.count = count
        self.reason = reason


class UsageWriterGoneError(ConnectionError):
    """The writer went away holding a batch, not knowing its fate; the recorder sends it again."""


class UsageWriter(Protocol):
    """A synchronous writer (`Store.insert_usage`, or a fake in tests), called in a worker thread.

    Returning means every record of the batch is stored; raising means none is (one transaction).
    """

    def insert_usage(self, records: list[UsageRecord]) -> None: ...


class AsyncUsageWriter(Protocol):
    """An asynchronous writer, awaited on the event loop (`UsageWriterProcess`).

    Returns how many records were stored once they are (acknowledged, not merely sent). Raises
    `UsageBatchLostError` for a batch it gave up on, `UsageWriterGoneError` when it died holding it,
    anything else for a failure worth retrying.
    """

    async def write(self, records: list[UsageRecord]) -> int: ...


@dataclass(frozen=True, slots=True)
class UsageRecorderStats:
    """Counters for metrics: records waiting, and where every other record went."""

    queued: int
    written: int
    dropped: int
    lost: int
    resent: int


class UsageRecorder:
    """Batching usage sink; one per process, owned by the app that starts `run()` and awaits `aclose()`.

    Flushes every `flush_interval` seconds, or sooner once `batch_size` records wait. A failed write
    is logged once per burst of failures (with the exception type only: records carry no bodies, but
    driver messages may echo parameters) and the batch is retried on the next flush. Memory stays
    bounded while the store is down: one batch waits for retry and new records queue up to
    `max_queue`, beyond which they are dropped and counted in `dropped`. A batch whose writer died
    holding it is sent again, at most `max_resends` times (a writer that died after storing it but
    before acknowledging makes a duplicate: delivery is at least once, never silently lost).
    """

    def __init__(
        self,
        writer: UsageWriter | AsyncUsageWriter,
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_resends: int = DEFAULT_MAX_RESENDS,
    ) -> None:
        self._writer = writer
        self._queue: deque[UsageRecord] = deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_resends = max_resends
        self._pending: list[UsageRecord] = []  # a batch whose write failed, retried first
        self._pending_resends = 0  # how many writers died holding `_pending`
        self._wakeup: asyncio.Event | None = None
        self._closing = False
        self._failing = False
        self._dropped_logged = 0
        self._lock = asyncio.Lock()
        #: Records refused by `submit` because the queue was full.
        self.dropped = 0
        #: Records the writer acknowledged as stored.
        self.written = 0
        #: Records taken from the queue that were never stored (writer gave up, died too often, or close).
        self.lost = 0
        #: Records sent again because their writer died holding them.
        self.resent = 0

    def submit(self, record: UsageRecord) -> None:
        """Queue one record; O(1), never blocks, never raises. Drops (and counts) when full."""
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            return
        self._queue.append(record)
        if len(self._queue) >= self._batch_size and self._wakeup is not None:
            self._wakeup.set()

    @property
    def queued(self) -> int:
        return len(self._queue) + len(self._pending)

    def stats(self) -> UsageRecorderStats:
        return UsageRecorderStats(self.queued, self.written, self.dropped, self.lost, self.resent)

    async def run(self) -> None:
        """Flush loop; runs until `aclose()` (or cancellation, after which `aclose()` still flushes)."""
        self._wakeup = asyncio.Event()
        while not self._closing:
            with contextlib.suppress(TimeoutError):  # the interval elapsed: flush anyway
                await asyncio.wait_for(self._wakeup.wait(), self._flush_interval)
            self._wakeup.clear()
            await self.flush()
            self._log_drops()

    async def flush(self) -> None:
        """Write what is queued when the flush starts, in batches of `batch_size`; keeps a failed batch
        for the next flush.

        Records that arrive while a batch is being written wait for the next flush (`batch_size` of
        them, or the interval): draining them at once would write a small batch per acknowledgement
        round trip under steady load, and the writer's cost per batch (a transaction, its commit)
        would then be paid every few records instead of every few hundred.
        """
        async with self._lock:
            due = len(self._queue)
            while self._pending or (self._queue and (due > 0 or self._closing)):
                if self._pending:
                    batch = self._pending
                else:
                    batch = self._take_batch()
                    due -= len(batch)
                self._pending = []
                try:
                    stored = await self._write(batch)
                except UsageBatchLostError as exc:
                    self._lose(len(batch), exc.reason)
                    continue
                except UsageWriterGoneError as exc:
                    if self._resend_later(batch, exc):
                        return
                    continue
                except asyncio.CancelledError:
                    self._pending = batch  # its fate is unknown: keep it, `aclose()` sends it again
                    raise
                except Exception as exc:  # any driver error: keep the batch, say so once, try again later
                    self._pending = batch
                    if not self._failing:
                        logger.warning(
                            "usage write failed (%s); %d records kept for retry", type(exc).__name__, len(batch)
                        )
                    self._failing = True
                    return
                self._pending_resends = 0
                self.written += stored
                if stored != len(batch):
                    self._lose(len(batch) - stored, "the writer stored only part of the batch")
                if self._failing:
                    logger.info("usage writes recovered")
                    self._failing = False

    async def aclose(self) -> None:
        """Stop the loop and flush what is left (one attempt; what still fails is counted and logged as lost)."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        await self.flush()
        self._log_drops()
        self.discard("still queued when the recorder closed")

    def discard(self, reason: str) -> None:
        """Give up on everything still queued: counted in `lost` and logged with `reason` (at shutdown)."""
        if self._pending or self._queue:
            self._lose(self.queued, reason)
            self._pending.clear()
            self._queue.clear()

    def _resend_later(self, batch: list[UsageRecord], exc: Exception) -> bool:
        """Keep `batch` for the next flush (True), or count it lost once too many writers died with it."""
        self._pending_resends += 1
        if self._pending_resends > self._max_resends:
            self._pending_resends = 0
            self._lose(len(batch), f"{self._max_resends + 1} writers exited holding it")
            return False
        logger.warning("usage writer exited holding %d records (%s); sending them again", len(batch), exc)
        self._pending = batch
        self.resent += len(batch)
        return True

    def _lose(self, count: int, reason: str) -> None:
        self.lost += count
        logger.error("%d usage records lost: %s (%d lost in all)", count, reason, self.lost)

    def _log_drops(self) -> None:
        new = self.dropped - self._dropped_logged
        if new:
            self._dropped_logged = self.dropped
            logger.warning(
                "usage queue full (%d records): %d records dropped (%d in all)", self._max_queue, new, self.dropped
            )

    async def _write(self, batch: list[UsageRecord]) -> int:
        writer = self._writer
        if hasattr(writer, "write"):
            return int(await writer.write(batch))
        await asyncio.to_thread(writer.insert_usage, batch)
        return len(batch)

    def _take_batch(self) -> list[UsageRecord]:
        count = min(self._batch_size, len(self._queue))
        return [self._queue.popleft() for _ in range(count)]

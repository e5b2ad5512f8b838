"""`UsageRecorder`: the relay's usage sink, queueing records in memory and writing them in batches.

`submit` is called on the request path, so it only appends to a bounded deque: it never blocks,
never raises, and drops (and counts) records when the store falls behind. A background `run()` task
flushes them through the writer: a child process in a running node (`writer_process`), or a worker
thread; the store is never touched on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Protocol

from tollgate.usage.record import UsageRecord

logger = logging.getLogger(__name__)

DEFAULT_MAX_QUEUE = 100_000
DEFAULT_BATCH_SIZE = 500
DEFAULT_FLUSH_INTERVAL = 0.5


class UsageWriter(Protocol):
    """A synchronous writer (`Store.insert_usage`, or a fake in tests), called in a worker thread."""

    def insert_usage(self, records: list[UsageRecord]) -> None: ...


class AsyncUsageWriter(Protocol):
    """An asynchronous writer, awaited on the event loop (`UsageWriterProcess`)."""

    async def write(self, records: list[UsageRecord]) -> None: ...


class UsageRecorder:
    """Batching usage sink; one per process, owned by the app that starts `run()` and awaits `aclose()`.

    Flushes every `flush_interval` seconds, or sooner once `batch_size` records wait. A failed write
    is logged once per burst of failures (with the exception type only: records carry no bodies, but
    driver messages may echo parameters) and the batch is retried on the next flush. Memory stays
    bounded while the store is down: one batch waits for retry and new records queue up to
    `max_queue`, beyond which they are dropped and counted in `dropped`.
    """

    def __init__(
        self,
        writer: UsageWriter | AsyncUsageWriter,
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> None:
        self._writer = writer
        self._queue: deque[UsageRecord] = deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._pending: list[UsageRecord] = []  # a batch whose write failed, retried first
        self._wakeup: asyncio.Event | None = None
        self._closing = False
        self._failing = False
        self._lock = asyncio.Lock()
        #: Records dropped because the queue was full or the retry buffer overflowed.
        self.dropped = 0
        #: Records written to the store.
        self.written = 0

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

    async def run(self) -> None:
        """Flush loop; runs until `aclose()` (or cancellation, after which `aclose()` still flushes)."""
        self._wakeup = asyncio.Event()
        while not self._closing:
            with contextlib.suppress(TimeoutError):  # the interval elapsed: flush anyway
                await asyncio.wait_for(self._wakeup.wait(), self._flush_interval)
            self._wakeup.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything queued now, in batches of `batch_size`; keeps a failed batch for the next flush."""
        async with self._lock:
            while self._pending or self._queue:
                batch = self._pending or self._take_batch()
                self._pending = []
                try:
                    await self._write(batch)
                except Exception as exc:  # any driver error: keep the batch, say so once, try again later
                    self._pending = batch
                    if not self._failing:
                        logger.warning(
                            "usage write failed (%s); %d records kept for retry", type(exc).__name__, len(batch)
                        )
                    self._failing = True
                    return
                self.written += len(batch)
                if self._failing:
                    logger.info("usage writes recovered")
                    self._failing = False

    async def aclose(self) -> None:
        """Stop the loop and flush what is left (one attempt; what still fails is counted as dropped)."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        await self.flush()
        if self._pending or self._queue:
            self.dropped += self.queued
            self._pending.clear()
            self._queue.clear()

    async def _write(self, batch: list[UsageRecord]) -> None:
        writer = self._writer
        if hasattr(writer, "write"):
            await writer.write(batch)
        else:
            await asyncio.to_thread(writer.insert_usage, batch)

    def _take_batch(self) -> list[UsageRecord]:
        count = min(self._batch_size, len(self._queue))
        return [self._queue.popleft() for _ in range(count)]

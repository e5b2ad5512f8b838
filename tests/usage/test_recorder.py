"""The batching usage recorder: non-blocking submit, batches, interval flush, drops, retry after failure."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from tollgate.usage.record import UsageRecord
from tollgate.usage.recorder import UsageRecorder


def rec(i: int = 0) -> UsageRecord:
    return UsageRecord(
        ts=float(i),
        request_id=str(i),
        gateway="g",
        provider="p",
        proxy=None,
        key_id=None,
        method="POST",
        path="/v1/x",
        request_model=None,
        response_model=None,
        prompt_tokens=1,
        completion_tokens=1,
        total_tokens=2,
        status=200,
        latency_ms=1.0,
        ttfb_ms=None,
        is_streaming=False,
    )


class FakeWriter:
    def __init__(self) -> None:
        self.batches: list[list[UsageRecord]] = []
        self.fail = False
        self.threads: set[int] = set()

    def insert_usage(self, records: list[UsageRecord]) -> None:
        self.threads.add(threading.get_ident())
        if self.fail:
            raise ConnectionError("db down: password=hunter2")
        self.batches.append(list(records))


async def test_flushes_by_batch_size_in_a_worker_thread() -> None:
    writer = FakeWriter()
    recorder = UsageRecorder(writer, batch_size=3, flush_interval=60)
    task = asyncio.create_task(recorder.run())
    await asyncio.sleep(0)
    for i in range(7):
        recorder.submit(rec(i))
    for _ in range(100):
        if recorder.written >= 6:
            break
        await asyncio.sleep(0.01)
    assert [len(b) for b in writer.batches][:2] == [3, 3]
    assert threading.get_ident() not in writer.threads
    await recorder.aclose()
    await task
    assert sum(len(b) for b in writer.batches) == 7 and recorder.dropped == 0


async def test_flushes_on_the_interval() -> None:
    writer = FakeWriter()
    recorder = UsageRecorder(writer, batch_size=500, flush_interval=0.05)
    task = asyncio.create_task(recorder.run())
    recorder.submit(rec())
    await asyncio.sleep(0.2)
    assert writer.batches == [[rec()]]
    await recorder.aclose()
    await task


def test_full_queue_drops_and_counts_without_blocking() -> None:
    recorder = UsageRecorder(FakeWriter(), max_queue=2)
    for i in range(5):
        recorder.submit(rec(i))
    assert recorder.queued == 2 and recorder.dropped == 3


async def test_failure_logged_once_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    writer = FakeWriter()
    writer.fail = True
    recorder = UsageRecorder(writer, batch_size=2)
    caplog.set_level(logging.WARNING, logger="tollgate.usage.recorder")
    for i in range(3):
        recorder.submit(rec(i))
    await recorder.flush()
    await recorder.flush()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ConnectionError" in warnings[0].getMessage()
    assert "hunter2" not in caplog.text
    assert recorder.queued == 3
    writer.fail = False
    await recorder.flush()
    assert [r.request_id for b in writer.batches for r in b] == ["0", "1", "2"]


async def test_aclose_counts_what_could_not_be_written() -> None:
    writer = FakeWriter()
    writer.fail = True
    recorder = UsageRecorder(writer)
    recorder.submit(rec())
    await recorder.aclose()
    assert recorder.dropped == 1 and recorder.queued == 0

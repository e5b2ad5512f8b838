"""The batching usage recorder: non-blocking submit, batches, interval flush, drops, retry after failure."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from tollgate.usage.record import UsageRecord
from tollgate.usage.recorder import UsageBatchLostError, UsageRecorder, UsageRecorderStats, UsageWriterGoneError


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


async def test_aclose_counts_and_logs_what_could_not_be_written(caplog: pytest.LogCaptureFixture) -> None:
    writer = FakeWriter()
    writer.fail = True
    recorder = UsageRecorder(writer)
    recorder.submit(rec())
    caplog.set_level(logging.WARNING, logger="tollgate.usage.recorder")
    await recorder.aclose()
    assert (recorder.lost, recorder.dropped, recorder.queued, recorder.written) == (1, 0, 0, 0)
    assert "1 usage records lost: still queued when the recorder closed (1 lost in all)" in caplog.messages


async def test_drops_are_logged_as_a_count_and_exported() -> None:
    recorder = UsageRecorder(FakeWriter(), max_queue=2, flush_interval=0.01)
    for i in range(5):
        recorder.submit(rec(i))
    with_log = logging.getLogger("tollgate.usage.recorder")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    with_log.addHandler(handler)
    try:
        task = asyncio.create_task(recorder.run())
        for _ in range(100):
            if records:
                break
            await asyncio.sleep(0.01)
        recorder.submit(rec(9))  # queue drained: accepted
        await recorder.aclose()
        await task
    finally:
        with_log.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["usage queue full (2 records): 3 records dropped (3 in all)"]
    assert recorder.stats() == UsageRecorderStats(queued=0, written=3, dropped=3, lost=0, resent=0)


class AckWriter:
    """An async writer speaking the acknowledgement contract, scripted per call."""

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.stored: list[UsageRecord] = []

    async def write(self, records: list[UsageRecord]) -> int:
        step = self.script.pop(0) if self.script else "ok"
        if step == "gone":
            raise UsageWriterGoneError("the usage writer process exited")
        if step == "lost":
            raise UsageBatchLostError(len(records), "the usage writer gave up after 5 attempts")
        if step == "half":
            self.stored += records[: len(records) // 2]
            return len(records) // 2
        self.stored += records
        return len(records)


async def test_written_counts_acknowledged_rows_and_a_batch_given_up_on_is_lost_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tollgate.usage.recorder")
    writer = AckWriter(["ok", "lost", "half"])
    recorder = UsageRecorder(writer, batch_size=2)
    for i in range(6):
        recorder.submit(rec(i))
    await recorder.flush()
    assert [r.request_id for r in writer.stored] == ["0", "1", "4"]
    assert recorder.stats() == UsageRecorderStats(queued=0, written=3, dropped=0, lost=3, resent=0)
    assert caplog.messages == [
        "2 usage records lost: the usage writer gave up after 5 attempts (2 lost in all)",
        "1 usage records lost: the writer stored only part of the batch (3 lost in all)",
    ]


async def test_a_batch_held_by_a_dead_writer_is_sent_again_then_lost_after_too_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tollgate.usage.recorder")
    writer = AckWriter(["gone", "ok"])
    recorder = UsageRecorder(writer, batch_size=10)
    recorder.submit(rec(1))
    await recorder.flush()
    assert (recorder.queued, recorder.resent, recorder.written) == (1, 1, 0)
    await recorder.flush()
    assert (recorder.queued, recorder.resent, recorder.written, recorder.lost) == (0, 1, 1, 0)
    assert [r.request_id for r in writer.stored] == ["1"]

    poison = AckWriter(["gone"] * 10)
    recorder = UsageRecorder(poison, batch_size=10, max_resends=2)
    recorder.submit(rec(2))
    for _ in range(2):
        await recorder.flush()
        assert recorder.queued == 1
    await recorder.flush()  # the third writer death with the same batch
    assert recorder.stats() == UsageRecorderStats(queued=0, written=0, dropped=0, lost=1, resent=2)
    assert "1 usage records lost: 3 writers exited holding it (1 lost in all)" in caplog.messages


async def test_a_cancelled_flush_keeps_its_batch() -> None:
    gate = asyncio.Event()

    class SlowWriter:
        async def write(self, records: list[UsageRecord]) -> int:
            await gate.wait()
            return len(records)

    recorder = UsageRecorder(SlowWriter())
    recorder.submit(rec(1))
    task = asyncio.create_task(recorder.flush())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.queued == 1
    gate.set()
    await recorder.aclose()
    assert (recorder.written, recorder.lost) == (1, 0)


async def test_records_arriving_during_a_write_wait_for_the_next_flush() -> None:
    """Under steady load, records keep arriving while a batch is written; a flush takes only what
    was queued when it started, so the writer gets full batches, not one small batch per round trip."""

    class SlowWriter:
        def __init__(self) -> None:
            self.batches: list[list[str]] = []
            self.writing = asyncio.Event()
            self.release = asyncio.Event()

        async def write(self, records: list[UsageRecord]) -> int:
            self.batches.append([r.request_id for r in records])
            self.writing.set()
            await self.release.wait()
            return len(records)

    writer = SlowWriter()
    recorder = UsageRecorder(writer, batch_size=4, flush_interval=60)
    for i in range(6):
        recorder.submit(rec(i))
    flushing = asyncio.create_task(recorder.flush())
    await writer.writing.wait()
    for i in range(6, 9):  # arrive while the first batch is being written
        recorder.submit(rec(i))
    writer.release.set()
    await flushing
    # the 6 queued at the start took two batches (the second filled up with newer records); then it stops
    assert writer.batches == [["0", "1", "2", "3"], ["4", "5", "6", "7"]]
    assert (recorder.queued, recorder.written) == (1, 8)
    await recorder.aclose()  # closing writes everything left
    assert writer.batches[2:] == [["8"]] and recorder.written == 9

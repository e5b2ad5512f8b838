"""The child-process usage writer against a real SQLite store: batches land and are acknowledged,
close flushes, a dead child is replaced, a batch a dying child held is sent again, and a batch the
child gives up on is counted and logged as lost."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from tollgate.store import Store
from tollgate.usage.record import UsageRecord
from tollgate.usage.recorder import UsageRecorder, UsageRecorderStats
from tollgate.usage.writer_process import RETRY_DELAY_ENV, UsageWriterProcess


def rec(i: int) -> UsageRecord:
    return UsageRecord(
        ts=time.time(),
        request_id=f"req-{i}",
        gateway="default",
        provider="openai",
        proxy=None,
        key_id="abc",
        method="POST",
        path="/openai/v1/chat/completions",
        request_model="gpt-4o",
        response_model="gpt-4o",
        prompt_tokens=3,
        completion_tokens=4,
        total_tokens=7,
        status=200,
        latency_ms=1.5,
        ttfb_ms=0.5,
        is_streaming=False,
    )


def count_rows(url: str) -> int:
    with Store.open(url) as store:
        return sum(row.requests for row in store.usage_summary())


def request_ids(url: str) -> set[str]:
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return {row[0] for row in conn.execute("SELECT request_id FROM usage")}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    Store.open(url).close()  # migrated before the child opens it
    return url


async def test_batches_are_written_by_the_child_and_close_flushes(db_url: str) -> None:
    writer = UsageWriterProcess(db_url)
    assert await writer.write([rec(i) for i in range(250)]) == 250
    assert count_rows(db_url) == 250  # acknowledged means committed
    assert await writer.write([rec(i) for i in range(250, 300)]) == 50
    await writer.aclose()
    assert count_rows(db_url) == 300


async def test_written_counts_rows_stored_not_rows_piped(db_url: str) -> None:
    path = db_url.removeprefix("sqlite:///")
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # the child's INSERT waits behind this
    writer = UsageWriterProcess(db_url)
    recorder = UsageRecorder(writer, batch_size=100, flush_interval=60)
    for i in range(40):
        recorder.submit(rec(i))
    flush = asyncio.create_task(recorder.flush())
    await asyncio.sleep(0.5)
    assert not flush.done() and recorder.written == 0  # piped but not stored: not counted
    locker.execute("COMMIT")
    locker.close()
    await flush
    assert recorder.written == 40 == count_rows(db_url)
    await recorder.aclose()
    await writer.aclose()


async def test_a_batch_held_by_a_child_that_dies_is_sent_again(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tollgate.usage.recorder")
    path = db_url.removeprefix("sqlite:///")
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    writer = UsageWriterProcess(db_url)
    recorder = UsageRecorder(writer, batch_size=100, flush_interval=60)
    for i in range(25):
        recorder.submit(rec(i))
    flush = asyncio.create_task(recorder.flush())
    await asyncio.sleep(0.5)  # the child holds the batch, waiting for the lock
    child = writer._proc
    assert child is not None
    child.kill()
    await flush
    assert (recorder.queued, recorder.resent, recorder.written) == (25, 25, 0)
    locker.execute("COMMIT")
    locker.close()
    await recorder.flush()
    assert writer._proc is not child
    assert recorder.stats() == UsageRecorderStats(queued=0, written=25, dropped=0, lost=0, resent=25)
    assert request_ids(db_url) == {f"req-{i}" for i in range(25)}
    assert "usage writer exited holding 25 records (the usage writer process exited); sending them again" in (
        caplog.messages
    )
    await recorder.aclose()
    await writer.aclose()


async def test_a_batch_the_child_gives_up_on_is_counted_and_logged_lost(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(RETRY_DELAY_ENV, "0.01")
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON usage BEGIN SELECT RAISE(ABORT, 'refused'); END")
    caplog.set_level(logging.WARNING, logger="tollgate.usage.recorder")
    writer = UsageWriterProcess(db_url)
    recorder = UsageRecorder(writer, batch_size=10, flush_interval=60)
    for i in range(12):
        recorder.submit(rec(i))
    await recorder.flush()
    assert recorder.stats() == UsageRecorderStats(queued=0, written=0, dropped=0, lost=12, resent=0)
    assert caplog.messages == [
        "10 usage records lost: the usage writer gave up after 5 attempts (10 lost in all)",
        "2 usage records lost: the usage writer gave up after 5 attempts (12 lost in all)",
    ]
    await recorder.aclose()
    await writer.aclose()


async def test_a_dead_child_is_replaced_on_the_next_write(db_url: str) -> None:
    writer = UsageWriterProcess(db_url)
    await writer.write([rec(1)])
    proc = writer._proc
    assert proc is not None
    proc.kill()
    await proc.wait()
    # the first write after the death may hit the broken pipe: the recorder keeps that batch and retries
    recorder = UsageRecorder(writer, batch_size=10, flush_interval=60)
    recorder.submit(rec(2))
    await recorder.flush()
    await recorder.flush()
    await recorder.aclose()
    await writer.aclose()
    assert writer._proc is not proc
    assert request_ids(db_url) == {"req-1", "req-2"}
    assert (recorder.dropped, recorder.lost, recorder.written) == (0, 0, 1)


async def test_a_gateway_node_starts_its_writer_child_before_the_first_request(tmp_path: Path) -> None:
    """The child imports the store (seconds of CPU on a small loaded machine): it starts with the
    node, so that work never competes with the first requests."""
    from tollgate.node import Node, NodeConfig

    node = Node(NodeConfig(db_url=f"sqlite:///{tmp_path / 'node.db'}", role="gateway", port=0))
    await node.start()
    try:
        assert node.usage_writer is not None
        proc = node.usage_writer._proc
        assert proc is not None and proc.returncode is None  # running, and no request has been made
        assert node.recorder is not None and node.recorder.written == 0
    finally:
        await node.shutdown()
    assert proc.returncode == 0  # closed with the node: end of input, then a clean exit

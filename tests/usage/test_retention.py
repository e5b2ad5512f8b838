"""Retention of raw usage records: the setting, chunked pruning between batches, and the real writer child."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tollgate.store import Store
from tollgate.store.usage_query import SummaryQuery
from tollgate.usage.record import UsageRecord
from tollgate.usage.retention import RETENTION_ENV, UsageRetention, parse_retention
from tollgate.usage.writer_process import UsageWriterProcess


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("30m", timedelta(minutes=30)),
        ("", None),
        ("0", None),
        ("off", None),
        (None, None),
    ],
)
def test_parse_retention(text: str | None, expected: timedelta | None) -> None:
    assert parse_retention(text) == expected


def test_a_bad_setting_is_named_and_keeps_everything(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(RETENTION_ENV, "a month")
    with caplog.at_level(logging.ERROR, logger="tollgate.usage.retention"):
        assert UsageRetention.from_env().keep is None
    assert caplog.records[0].getMessage() == (
        "TOLLGATE_USAGE_RETENTION='a month': use a number and a unit (30m, 12h, 90d, 2w), or 'off'; "
        "raw usage records are kept"
    )


class FakeStore:
    def __init__(self, expired: int, fail: bool = False) -> None:
        self.expired = expired
        self.fail = fail
        self.calls: list[tuple[float, int, int | None]] = []

    def prune_usage(self, before: float, *, batch: int = 10_000, max_rows: int | None = None) -> int:
        self.calls.append((before, batch, max_rows))
        if self.fail:
            raise ConnectionError("down")
        deleted = min(self.expired, max_rows or self.expired)
        self.expired -= deleted
        return deleted


def test_a_backlog_is_pruned_a_chunk_per_batch_then_once_an_interval() -> None:
    now = [1000.0]
    retention = UsageRetention(timedelta(seconds=100), interval=60, chunk=10, clock=lambda: now[0])
    store = FakeStore(expired=25)
    assert [retention.tick(store) for _ in range(4)] == [10, 10, 5, 0]
    assert store.calls == [(900.0, 10, 10)] * 3  # the fourth tick waits for the interval
    now[0] = 1059.0
    assert retention.tick(store) == 0 and len(store.calls) == 3
    now[0] = 1060.0
    assert retention.tick(store) == 0 and store.calls[-1] == (960.0, 10, 10)


def test_a_failing_prune_waits_an_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    retention = UsageRetention(timedelta(hours=1), interval=60, chunk=10, clock=lambda: now[0])
    store = FakeStore(expired=5, fail=True)
    with caplog.at_level(logging.WARNING):
        assert retention.tick(store) == 0
        assert retention.tick(store) == 0
    assert len(store.calls) == 1
    assert [r.getMessage() for r in caplog.records] == ["usage retention: pruning failed (ConnectionError)"]


def test_keep_forever_never_prunes() -> None:
    store = FakeStore(expired=5)
    assert UsageRetention(None).tick(store) == 0 and store.calls == []


def rec(request_id: str, age: float) -> UsageRecord:
    return UsageRecord(
        ts=time.time() - age,
        request_id=request_id,
        gateway="default",
        provider="openai",
        proxy=None,
        key_id=None,
        method="POST",
        path="/v1/chat/completions",
        request_model="gpt-4o",
        response_model=None,
        prompt_tokens=10,
        completion_tokens=5,
        total_tokens=15,
        status=200,
        latency_ms=5.0,
        ttfb_ms=None,
        is_streaming=False,
    )


async def test_the_writer_child_prunes_expired_records_and_keeps_rollups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    with Store.open(url) as store:
        store.insert_usage([rec(f"old{i}", age=3 * 86400 + i) for i in range(30)])
    monkeypatch.setenv(RETENTION_ENV, "2d")
    writer = UsageWriterProcess(url)
    assert await writer.write([rec("new", age=0)]) == 1
    await writer.aclose()  # the child prunes after acknowledging, before it reads the end of input
    with Store.open(url) as store:
        assert [r.request_id for r in store.usage_records()] == ["new"]
        [total] = store.usage_summary(SummaryQuery())
        assert total.requests == 31

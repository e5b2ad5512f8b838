"""The recorder writing into a real SQLite store (priced, rolled up), and the CLI's summary formatting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tollgate.store import Store
from tollgate.store.usage_query import SummaryQuery, UsageFilter
from tollgate.usage.record import UsageRecord
from tollgate.usage.recorder import UsageRecorder
from tollgate.usage.summary import format_records, format_summary


def rec(provider: str, status: int = 200, age: float = 0.0) -> UsageRecord:
    return UsageRecord(
        ts=time.time() - age,
        request_id="r",
        gateway="default",
        provider=provider,
        proxy=None,
        key_id=None,
        method="POST",
        path="/v1/chat/completions",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini",
        prompt_tokens=100,
        completion_tokens=20,
        total_tokens=120,
        status=status,
        latency_ms=12.5,
        ttfb_ms=3.0,
        is_streaming=True,
    )


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TOLLGATE_SECRET_KEY", raising=False)
    return f"sqlite:///{tmp_path / 'usage.db'}"


async def test_recorder_into_store(db_url: str) -> None:
    with Store.open(db_url) as store:
        recorder = UsageRecorder(store)
        for _ in range(3):
            recorder.submit(rec("openai"))
        recorder.submit(rec("anthropic", status=500))
        recorder.submit(rec("openai", age=2 * 86400))
        await recorder.aclose()
        day = SummaryQuery(UsageFilter(start=time.time() - 86400), group_by=("provider",))
        rows = [(a.group, a.requests, a.errors, a.total_tokens, round(a.cost, 9)) for a in store.usage_summary(day)]
    # gpt-4o-mini: 100 prompt tokens at 0.15 and 20 completion tokens at 0.60 per million
    one = (100 * 0.15 + 20 * 0.60) / 1e6
    assert rows == [(("openai",), 3, 0, 360, round(3 * one, 9)), (("anthropic",), 1, 1, 120, round(one, 9))]


SUMMARY = {
    "groupBy": ["proxy"],
    "bucket": None,
    "currency": "USD",
    "pricesAsOf": "2025-11-30",
    "rows": [
        {"bucket": None, "group": {"proxy": "team"}, "requests": 1200, "errors": 3, "promptTokens": 10,
         "completionTokens": 20, "totalTokens": 30, "cost": 1234.5, "avgLatencyMs": 12.345},
        {"bucket": None, "group": {"proxy": None}, "requests": 1, "errors": 0, "promptTokens": 0,
         "completionTokens": 0, "totalTokens": 0, "cost": 0.0, "avgLatencyMs": None},
    ],
    "total": {"requests": 1201, "errors": 3, "promptTokens": 10, "completionTokens": 20, "totalTokens": 30,
              "cost": 1234.5, "avgLatencyMs": 12.335},
}  # fmt: skip


def test_format_summary_aligns_and_marks_missing_groups() -> None:
    assert format_summary(SUMMARY).splitlines() == [
        "proxy   requests  errors  prompt  completion  total      cost  avg ms",
        "team       1,200       3      10          20     30  1,234.50    12.3",
        "(none)         1       0       0           0      0    0.0000       -",
        "total      1,201       3      10          20     30  1,234.50    12.3",
        "cost in USD at list prices as of 2025-11-30",
    ]
    assert format_summary({**SUMMARY, "rows": []}) == "no usage recorded in this period"


def test_format_records() -> None:
    record = {
        "time": "2026-11-02T00:01:00Z",
        "provider": "openai",
        "proxy": None,
        "keyId": None,
        "responseModel": None,
        "requestModel": "gpt-4o",
        "status": 200,
        "promptTokens": None,
        "completionTokens": 5,
        "cost": None,
        "latencyMs": 3.25,
    }
    assert format_records([record]).splitlines() == [
        "time                 provider  proxy  key  model   status  prompt  completion  cost   ms",
        "2026-11-02 00:01:00  openai    -      -    gpt-4o     200       -           5     -  3.2",
    ]

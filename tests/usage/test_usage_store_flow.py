"""The recorder writing into a real SQLite store, the summary formatting, and the `tollgate usage` command."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tollgate.cli.usage import parse_period, usage
from tollgate.store import Store
from tollgate.store.records import UsageSummaryRow
from tollgate.usage.record import UsageRecord
from tollgate.usage.recorder import UsageRecorder
from tollgate.usage.summary import format_json, format_table


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
        request_model="m",
        response_model="m",
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


async def test_recorder_into_store_and_cli(db_url: str) -> None:
    with Store.open(db_url) as store:
        recorder = UsageRecorder(store)
        for _ in range(3):
            recorder.submit(rec("openai"))
        recorder.submit(rec("anthropic", status=500))
        recorder.submit(rec("openai", age=2 * 86400))
        await recorder.aclose()
    runner = CliRunner()
    result = runner.invoke(usage, ["--db", db_url, "--since", "24h", "--output", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert [(r["group"], r["requests"], r["errors"], r["total_tokens"]) for r in rows] == [
        ("openai", 3, 0, 360),
        ("anthropic", 1, 1, 120),
    ]
    table = runner.invoke(usage, ["--db", db_url, "--since", "7d"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["provider", "requests", "errors", "prompt", "completion", "total", "p50", "ms"]
    assert lines[1].split()[:2] == ["openai", "4"] and lines[-1].split()[:3] == ["total", "5", "1"]


def test_cli_rejects_a_bad_period(db_url: str) -> None:
    result = CliRunner().invoke(usage, ["--db", db_url, "--since", "yesterday"])
    assert result.exit_code == 2 and "30m, 1h, 24h, 7d" in result.output


def test_cli_default_db_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOLLGATE_SECRET_KEY", raising=False)
    monkeypatch.setenv("TOLLGATE_DB", f"sqlite:///{tmp_path / 'env.db'}")
    result = CliRunner().invoke(usage, ["--by", "model"])
    assert result.exit_code == 0 and "no usage recorded" in result.output
    assert (tmp_path / "env.db").exists()


def test_parse_period() -> None:
    assert parse_period("90m").total_seconds() == 5400
    assert parse_period("2w").days == 14


def test_format_table_aligns_and_marks_missing_groups() -> None:
    rows = [UsageSummaryRow("team", 1200, 3, 10, 20, 30, 12.345), UsageSummaryRow(None, 1, 0, 0, 0, 0, None)]
    lines = format_table(rows, "proxy").splitlines()
    assert lines[1].split() == ["team", "1,200", "3", "10", "20", "30", "12.3"]
    assert lines[2].split()[0] == "(none)" and lines[2].split()[-1] == "-"
    assert len({len(line) for line in lines[:2]}) == 1
    assert json.loads(format_json(rows, "proxy"))["rows"][1]["group"] is None

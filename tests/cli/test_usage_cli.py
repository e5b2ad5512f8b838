"""`tollgate usage` through a real management API: summaries, records, exports, prices, and its errors."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli.conftest import LiveAPI
from tests.usage_records import usage_record
from tollgate.cli import main
from tollgate.cli._times import parse_duration
from tollgate.usage.record import UsageRecord


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def record(age: float, request_id: str, **changes: object) -> UsageRecord:
    base = {"latency_ms": 100.0, "ttfb_ms": None, "is_streaming": False}
    return usage_record(ts=time.time() - age, request_id=request_id, **{**base, **changes})


@pytest.fixture
def metered(api: LiveAPI) -> LiveAPI:
    api._store.insert_usage(
        [
            record(60, "a"),
            record(120, "b"),
            record(180, "c", provider="anthropic", proxy=None, response_model="claude-sonnet-4-5", status=429),
            record(3 * 86400, "old"),  # outside the default 24 hours
        ]
    )
    return api


def test_summary_table(metered: LiveAPI) -> None:
    result = run("usage")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "provider   requests  errors  prompt  completion  total    cost  avg ms",
        "openai            2       0   2,000       1,000  3,000  0.0150   100.0",
        "anthropic         1       1   1,000         500  1,500  0.0105   100.0",
        "total             3       1   3,000       1,500  4,500  0.0255   100.0",
        "cost in USD at list prices as of 2025-11-30",
    ]


def test_summary_json_by_two_dimensions_over_a_week(metered: LiveAPI) -> None:
    result = run("usage", "--since", "7d", "--by", "proxy,model", "-o", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [(r["group"], r["requests"]) for r in body["rows"]] == [
        ({"proxy": "team", "model": "gpt-4o-2024-08-06"}, 3),
        ({"proxy": None, "model": "claude-sonnet-4-5"}, 1),
    ]


def test_summary_filters_and_buckets(metered: LiveAPI) -> None:
    body = json.loads(run("usage", "--status", "4xx", "--by", "", "--bucket", "hour", "-o", "json").stdout)
    assert [(r["group"], r["requests"], r["errors"]) for r in body["rows"]] == [({}, 1, 1)]
    assert body["bucket"] == "hour"


def test_records(metered: LiveAPI) -> None:
    result = run("usage", "records", "--limit", "2", "-o", "json")
    page = json.loads(result.stdout)
    assert [r["requestId"] for r in page["items"]] == ["a", "b"]
    more = run("usage", "records", "--limit", "2", "--cursor", page["nextCursor"], "-o", "json")
    assert [r["requestId"] for r in json.loads(more.stdout)["items"]] == ["c"]
    table = run("usage", "records", "--key", "tg_0123456789ab_secretpart", "--provider", "anthropic")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["time", "provider", "proxy", "key", "model", "status", "prompt", "completion", "cost",
                                "ms"]  # fmt: skip
    assert lines[1].split()[2:] == ["anthropic", "-", "0123456789ab", "claude-sonnet-4-5", "429", "1,000", "500",
                                    "0.0105", "100.0"]  # fmt: skip
    assert len(lines) == 2


def test_export_to_a_file(metered: LiveAPI, tmp_path: Path) -> None:
    out = tmp_path / "usage.csv"
    result = run("usage", "export", "--since", "30d", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("id,time,requestId,")
    assert [line.split(",")[2] for line in lines[1:]] == ["a", "b", "c", "old"]
    as_json = run("usage", "export", "--format", "json", "--provider", "anthropic")
    assert [r["requestId"] for r in json.loads(as_json.stdout)] == ["c"]


def test_prices(api: LiveAPI) -> None:
    result = run("usage", "prices", "--model", "gpt-4o")
    assert result.stdout.splitlines() == [
        "model   input  output  cached input",
        "gpt-4o    2.5      10          1.25",
        "USD per 1M tokens, list prices as of 2025-11-30",
    ]


def test_errors_exit_with_stable_codes(api: LiveAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = run("usage", "--since", "yesterday")
    assert bad.exit_code == 2 and "use a number and a unit: 30m, 12h, 90d, 2w" in bad.output
    refused = run("usage", "--status", "tea")
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "Error: request query: status: 'tea' is not a status, a class such as 4xx, 'error' or 'ok'",
    ]
    assert run("usage", "--token", "wrong-token").exit_code == 4
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("TOLLGATE_URL", f"http://127.0.0.1:{port}")
    assert run("usage").exit_code == 3
    assert run("usage", "export").exit_code == 3


def test_durations_are_parsed_in_one_place() -> None:
    assert parse_duration("90m", "--since").total_seconds() == 5400
    assert parse_duration("2w", "--since").days == 14

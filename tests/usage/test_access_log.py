"""The access log: JSON and plain lines from usage records, written by the real writer child."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.usage_records import usage_record
from tollgate.store import Store
from tollgate.usage.access_log import ACCESS_LOG_ENV, ACCESS_LOG_FORMAT_ENV, AccessLog, json_line, plain_line
from tollgate.usage.writer_process import UsageWriterProcess

RECORD = usage_record(ts=1_793_577_660.25, request_id="req-1")
REFUSED = RECORD._replace(
    request_id="req-2", proxy=None, key_id=None, response_model=None, request_model=None, prompt_tokens=None,
    completion_tokens=None, total_tokens=None, status=401, ttfb_ms=None, is_streaming=False,
    error_code="invalid_api_key",
)  # fmt: skip


def test_json_line() -> None:
    assert json.loads(json_line(RECORD)) == {
        "time": "2026-11-02T00:01:00.250Z",
        "request_id": "req-1",
        "gateway": "default",
        "provider": "openai",
        "proxy": "team",
        "key_id": "0123456789ab",
        "method": "POST",
        "path": "/team/v1/chat/completions",
        "request_model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "status": 200,
        "latency_ms": 120.5,
        "ttfb_ms": 30.25,
        "stream": True,
        "error": None,
    }


def test_plain_lines() -> None:
    assert plain_line(RECORD).decode() == (
        "2026-11-02T00:01:00.250Z req-1 default openai/team key=0123456789ab POST /team/v1/chat/completions "
        "model=gpt-4o-2024-08-06 status=200 tokens=1000/500/1500 latency_ms=120.5 ttfb_ms=30.2 stream=1 error=-"
    )
    assert plain_line(REFUSED).decode() == (
        "2026-11-02T00:01:00.250Z req-2 default openai key=- POST /team/v1/chat/completions "
        "model=- status=401 tokens=-/-/- latency_ms=120.5 ttfb_ms=- stream=0 error=invalid_api_key"
    )


def test_one_write_per_batch_and_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    AccessLog(out, "plain").write([RECORD, REFUSED])
    assert out.getvalue().count("\n") == 2
    monkeypatch.delenv(ACCESS_LOG_ENV, raising=False)
    assert not AccessLog.from_env().enabled


def test_an_unopenable_file_means_no_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ACCESS_LOG_ENV, str(tmp_path / "missing-dir" / "access.log"))
    assert not AccessLog.from_env().enabled


@pytest.mark.parametrize("fmt", ["json", "plain"])
async def test_the_writer_child_logs_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    Store.open(url).close()
    log_file = tmp_path / "access.log"
    monkeypatch.setenv(ACCESS_LOG_ENV, str(log_file))
    monkeypatch.setenv(ACCESS_LOG_FORMAT_ENV, fmt)
    writer = UsageWriterProcess(url)
    assert await writer.write([RECORD, REFUSED]) == 2
    assert await writer.write([RECORD._replace(request_id="req-3")]) == 1
    await writer.aclose()
    lines = log_file.read_text().splitlines()
    if fmt == "json":
        assert [json.loads(line)["request_id"] for line in lines] == ["req-1", "req-2", "req-3"]
    else:
        assert [line.split()[1] for line in lines] == ["req-1", "req-2", "req-3"]
    assert "tg_" not in log_file.read_text()


def test_cache_fields_only_on_cached_routes() -> None:
    hit = RECORD._replace(cache_result="hit", saved_tokens=1500, prompt_tokens=0, completion_tokens=0, total_tokens=0)
    line = json.loads(json_line(hit))
    assert (line["cache"], line["saved_tokens"], line["total_tokens"]) == ("hit", 1500, 0)
    assert "cache" not in json.loads(json_line(RECORD))
    assert plain_line(hit).decode().endswith(" error=- cache=hit")


@pytest.mark.parametrize(
    "ts",
    [1_793_577_660.25, 1_793_577_660.0, 1_743_633_814.5369995, 1_785_816_733.0709994, 1_798_000_000.9999995,
     1_798_000_000.9999994, 1_798_000_059.99951, 1_700_000_000.0005],
)  # fmt: skip
def test_line_times_are_what_datetime_writes(ts: float) -> None:
    from datetime import UTC, datetime

    from tollgate.usage.access_log import _time

    assert _time(ts) == datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""The usage API over SQLite and PostgreSQL: records and cursors, filters, summaries, exports, prices, errors."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from tests.usage_records import usage_record
from tollgate.control.usage_schemas import UsageSummary
from tollgate.store import Store
from tollgate.usage.record import UsageRecord

DAY0 = 1_793_577_600.0  # 2026-11-02T00:00:00Z
GPT4O_COST = 0.0075  # 1000 prompt + 500 completion tokens at 2.50 / 10.00 per million
SONNET_COST = 0.0105  # the same at 3 / 15


def record(ts: float, request_id: str, **changes: object) -> UsageRecord:
    return usage_record(ts=ts, request_id=request_id, **changes)


@pytest.fixture
def seeded(store: Store) -> Store:
    store.insert_usage(
        [
            record(DAY0 + 60, "a"),
            record(
                DAY0 + 3 * 3600 + 5,
                "b",
                provider="anthropic",
                proxy=None,
                request_model="claude-sonnet-4-5",
                response_model=None,
                status=529,
                ttfb_ms=None,
                is_streaming=False,
                error_code="overloaded",
            ),
            record(DAY0 + 86400 + 7, "c", request_model="=HYPERLINK(1)", response_model=None, prompt_tokens=None),
        ]
    )
    return store


def test_a_record_in_full(client: TestClient, seeded: Store) -> None:
    answer = client.get(
        "/api/v1/usage/records", params={"limit": 1, "provider": "openai", "to": "2026-11-03T00:00:00Z"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["items"] == [
        {
            "id": 1,
            "time": "2026-11-02T00:01:00Z",
            "requestId": "a",
            "gateway": "default",
            "provider": "openai",
            "proxy": "team",
            "keyId": "0123456789ab",
            "method": "POST",
            "path": "/team/v1/chat/completions",
            "requestModel": "gpt-4o",
            "responseModel": "gpt-4o-2024-08-06",
            "promptTokens": 1000,
            "completionTokens": 500,
            "totalTokens": 1500,
            "cachedTokens": None,
            "cost": pytest.approx(GPT4O_COST),
            "status": 200,
            "latencyMs": 120.5,
            "ttfbMs": 30.25,
            "streaming": True,
            "errorCode": None,
            "cacheResult": None,
            "savedTokens": None,
        }
    ]
    assert body["nextCursor"] is not None


def test_cursor_pages_to_the_end(client: TestClient, seeded: Store) -> None:
    first = client.get("/api/v1/usage/records", params={"limit": 2}).json()
    assert [r["requestId"] for r in first["items"]] == ["c", "b"]
    second = client.get("/api/v1/usage/records", params={"limit": 2, "cursor": first["nextCursor"]}).json()
    assert [r["requestId"] for r in second["items"]] == ["a"]
    assert second["nextCursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "5xx"}, ["b"]),
        ({"status": "error"}, ["b"]),
        ({"status": "ok"}, ["c", "a"]),
        ({"status": "200"}, ["c", "a"]),
        ({"key": "0123456789ab", "model": "gpt-4o-2024-08-06"}, ["a"]),
        ({"model": "=HYPERLINK(1)"}, ["c"]),
        ({"proxy": "team", "from": "2026-11-02T00:02:00Z"}, ["c"]),
        ({"from": "2026-11-02T03:00:00", "to": "2026-11-02T04:00:00"}, ["b"]),  # no zone: UTC
        ({"gateway": "eu"}, []),
    ],
)
def test_record_filters(client: TestClient, seeded: Store, params: dict[str, str], expected: list[str]) -> None:
    answer = client.get("/api/v1/usage/records", params=params)
    assert answer.status_code == 200, answer.text
    assert [r["requestId"] for r in answer.json()["items"]] == expected


def test_summary_by_provider_and_day(client: TestClient, seeded: Store) -> None:
    answer = client.get(
        "/api/v1/usage/summary",
        params={"groupBy": "provider", "bucket": "day", "from": "2026-11-02T00:00:00Z", "to": "2026-11-04T00:00:00Z"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    UsageSummary.model_validate(body)  # the body is built by hand: it must match its documented schema
    assert (body["from"], body["to"], body["bucket"], body["groupBy"]) == (
        "2026-11-02T00:00:00Z",
        "2026-11-04T00:00:00Z",
        "day",
        ["provider"],
    )
    assert (body["currency"], body["pricesAsOf"]) == ("USD", "2025-11-30")
    rows = [
        (r["bucket"], r["group"], r["requests"], r["errors"], r["promptTokens"], r["cost"], r["avgTtfbMs"])
        for r in body["rows"]
    ]
    assert rows == [
        ("2026-11-02T00:00:00Z", {"provider": "anthropic"}, 1, 1, 1000, SONNET_COST, None),
        ("2026-11-02T00:00:00Z", {"provider": "openai"}, 1, 0, 1000, GPT4O_COST, 30.25),
        ("2026-11-03T00:00:00Z", {"provider": "openai"}, 1, 0, 0, 0.0, 30.25),  # unknown model, no prompt count
    ]
    assert body["total"] == {
        "requests": 3,
        "errors": 1,
        "streams": 2,
        "promptTokens": 2000,
        "completionTokens": 1500,
        "totalTokens": 4500,
        "cachedTokens": 0,
        "cost": pytest.approx(GPT4O_COST + SONNET_COST),
        "avgLatencyMs": 120.5,
        "maxLatencyMs": 120.5,
        "avgTtfbMs": 30.25,
    }


def test_summary_grouped_by_two_dimensions_without_a_range(client: TestClient, seeded: Store) -> None:
    body = client.get("/api/v1/usage/summary", params=[("groupBy", "proxy,status")]).json()
    assert [(r["group"], r["requests"]) for r in body["rows"]] == [
        ({"proxy": "team", "status": 200}, 2),
        ({"proxy": None, "status": 529}, 1),
    ]


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        (
            {"groupBy": "colour"},
            "groupBy",
            "cannot group by 'colour' (choose from provider, proxy, key, model, status, gateway)",
        ),
        ({"groupBy": "model,model"}, "groupBy", "a dimension is named twice"),
        ({"bucket": "minute"}, "from", "minute buckets need a start time"),
        (
            {"bucket": "minute", "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
            "bucket",
            "44640 minutes in the range; at most 10080 per summary",
        ),
        ({"status": "tea"}, "status", "'tea' is not a status, a class such as 4xx, 'error' or 'ok'"),
        ({"status": "2²²"}, "status", "'2²²' is not a status, a class such as 4xx, 'error' or 'ok'"),
    ],
)
def test_summary_refuses_bad_parameters(
    client: TestClient, seeded: Store, params: dict[str, str], field: str, reason: str
) -> None:
    answer = client.get("/api/v1/usage/summary", params=params)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["type"] == "validation_error"
    assert error["errors"] == [{"resource": "request query", "field": field, "reason": reason}]


def test_a_cursor_that_was_not_issued_is_refused(client: TestClient, seeded: Store) -> None:
    answer = client.get("/api/v1/usage/records", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == "request query: cursor: not a cursor this API returned"


def test_csv_export(client: TestClient, seeded: Store) -> None:
    answer = client.get("/api/v1/usage/export", params={"format": "csv", "provider": "openai"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="usage.csv"'
    lines = answer.text.splitlines()
    assert lines[0] == (
        "id,time,requestId,gateway,provider,proxy,keyId,method,path,requestModel,responseModel,promptTokens,"
        "completionTokens,totalTokens,cachedTokens,cost,status,latencyMs,ttfbMs,streaming,errorCode,cacheResult,"
        "savedTokens"
    )
    # a client-chosen model that a spreadsheet would run as a formula is defused with a quote
    assert lines[1] == (
        "3,2026-11-03T00:00:07Z,c,default,openai,team,0123456789ab,POST,/team/v1/chat/completions,"
        "'=HYPERLINK(1),,,500,1500,,0.0,200,120.5,30.25,True,,,"
    )
    assert lines[2].startswith("1,2026-11-02T00:01:00Z,a,default,openai,team,0123456789ab,")
    assert len(lines) == 3


def test_json_export_equals_the_records(client: TestClient, seeded: Store) -> None:
    answer = client.get("/api/v1/usage/export", params={"format": "json"})
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.text) == client.get("/api/v1/usage/records").json()["items"]
    empty = client.get("/api/v1/usage/export", params={"format": "json", "gateway": "none"})
    assert json.loads(empty.text) == []


def test_export_streams_every_page(client: TestClient, store: Store) -> None:
    store.insert_usage([record(DAY0 + i, f"r{i}") for i in range(2500)])
    rows = list(csv.reader(io.StringIO(client.get("/api/v1/usage/export").text)))
    assert len(rows) == 2501
    assert [row[2] for row in rows[1:]] == [f"r{i}" for i in reversed(range(2500))]


def test_prices(client: TestClient, store: Store) -> None:
    body = client.get("/api/v1/usage/prices").json()
    assert (body["asOf"], body["currency"], body["unit"]) == ("2025-11-30", "USD", "per 1M tokens")
    assert body["models"]["gpt-4o"] == {"input": 2.5, "output": 10.0, "cachedInput": 1.25}
    assert body["aliases"]["claude-sonnet-4-0"] == "claude-sonnet-4"


def test_usage_needs_the_admin_token(store: Store) -> None:
    from tollgate.control.app import create_app
    from tollgate.control.auth import AdminAuth

    with TestClient(create_app(store, auth=AdminAuth(store, env_token="x" * 20))) as anonymous:
        for path in ("records", "summary", "export", "prices"):
            assert anonymous.get(f"/api/v1/usage/{path}").status_code == 401

"""Usage: requests, errors, tokens, cost and latency over a time range (chart and totals), the same split by
provider, proxy, model and key, the latest requests, and CSV/JSON export: all from the usage API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.pages import Page, render, signed_in

#: Range choice -> (length, time bucket of the chart).
RANGES: dict[str, tuple[timedelta, str]] = {
    "1h": (timedelta(hours=1), "minute"),
    "6h": (timedelta(hours=6), "minute"),
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "hour"),
    "30d": (timedelta(days=30), "day"),
}
FILTERS = ("provider", "proxy", "model", "key")
_STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _filters(request: Request) -> tuple[str, dict[str, str]]:
    choice = request.query_params.get("range", "24h")
    choice = choice if choice in RANGES else "24h"
    length, _ = RANGES[choice]
    params = {"from": (datetime.now(UTC) - length).isoformat()}
    for name in FILTERS:
        value = request.query_params.get(name, "").strip()
        if value:
            params[name] = value
    return choice, params


def _floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if bucket in ("hour", "day"):
        moment = moment.replace(minute=0)
    if bucket == "day":
        moment = moment.replace(hour=0)
    return moment


def chart_data(rows: list[dict[str, Any]], start: datetime, bucket: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two charts over every bucket of the range (empty ones as zero or a gap, so time reads evenly):
    ok and failed requests with tokens, and average latency with cost."""
    by_bucket = {datetime.fromisoformat(r["bucket"].replace("Z", "+00:00")): r for r in rows if r["bucket"]}
    labels: list[str] = []
    series: dict[str, list[Any]] = {"ok": [], "failed": [], "tokens": [], "latency": [], "cost": []}
    moment, end = _floor(start, bucket), datetime.now(UTC)
    while moment <= end:
        row = by_bucket.get(moment, {})
        labels.append(moment.strftime("%m-%d %H:%M" if bucket != "day" else "%Y-%m-%d"))
        series["ok"].append(int(row.get("requests", 0)) - int(row.get("errors", 0)))
        series["failed"].append(int(row.get("errors", 0)))
        series["tokens"].append(int(row.get("totalTokens", 0)))
        latency = row.get("avgLatencyMs")
        series["latency"].append(round(float(latency), 1) if latency is not None else None)
        series["cost"].append(round(float(row.get("cost", 0.0)), 6))
        moment += _STEP[bucket]
    traffic = {
        "labels": labels,
        "stacked": True,
        "axes": {"y": "requests", "y1": "tokens"},
        "datasets": [
            {"label": "requests", "data": series["ok"]},
            {"label": "errors", "data": series["failed"]},
            {"label": "tokens", "data": series["tokens"], "axis": "y1", "type": "line"},
        ],
    }
    latency_cost = {
        "labels": labels,
        "stacked": False,
        "axes": {"y": "ms", "y1": "cost"},
        "datasets": [
            {"label": "average latency (ms)", "data": series["latency"], "type": "line"},
            {"label": "cost", "data": series["cost"], "axis": "y1"},
        ],
    }
    return traffic, latency_cost


async def usage_page(request: Request) -> Response:
    session = await signed_in(request)
    choice, params = _filters(request)
    bucket = RANGES[choice][1]
    timeline = await session.api.get("/usage/summary", bucket=bucket, **params)
    groups = await session.api.get("/usage/summary", groupBy="provider,proxy,model,key", **params)
    records = await session.api.get("/usage/records", limit="50", **params)
    start = datetime.fromisoformat(params["from"])
    traffic, latency_cost = chart_data(timeline["rows"], start, bucket)
    context = {
        "range": choice,
        "ranges": list(RANGES),
        "filters": {name: request.query_params.get(name, "") for name in FILTERS},
        "total": timeline["total"],
        "currency": timeline["currency"],
        "groups": sorted(groups["rows"], key=lambda r: -r["requests"]),
        "records": records["items"],
        "chart_json": json.dumps(traffic),
        "latency_json": json.dumps(latency_cost),
        "export_query": urlencode({**{k: v for k, v in params.items() if k != "from"}, "range": choice}),
    }
    return render(request, Page("usage.html", "Usage", nav="usage", context=context), session)


async def export(request: Request) -> Response:
    """The usage API's export of the page's filters, as a download (CSV or JSON)."""
    session = await signed_in(request)
    _, params = _filters(request)
    fmt = "json" if request.query_params.get("format") == "json" else "csv"
    answer = await session.api.send("GET", "/usage/export", params={**params, "format": fmt})
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "text/csv"),
        headers={"Content-Disposition": f'attachment; filename="tollgate-usage.{fmt}"'},
    )


routes = [
    Route("/usage", usage_page, methods=["GET"]),
    Route("/usage/export", export, methods=["GET"]),
]

"""Bodies of the usage API (camelCase on the wire): records, pages, summaries, the price table.

Conversions from the store's value types live here too, so routes and the export share one shape.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from tollgate.control.schemas import APIModel
from tollgate.store.usage_query import StoredUsage, UsageAggregate


class UsageRecordInfo(APIModel):
    """One request as metered. Never a key value, a credential or a body: the key is its id."""

    id: int
    time: datetime = Field(description="When the request arrived (UTC).")
    request_id: str
    gateway: str
    provider: str
    proxy: str | None
    key_id: str | None
    method: str
    path: str = Field(description="The path below the gateway, without the query string.")
    request_model: str | None
    response_model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    cost: float | None = Field(description="At the price table's prices when the record was written.")
    status: int
    latency_ms: float
    ttfb_ms: float | None
    streaming: bool
    error_code: str | None
    cache_result: str | None = Field(
        default=None, description="On a cached route: hit, semantic_hit, miss, bypass or unavailable."
    )
    saved_tokens: int | None = Field(
        default=None, description="On a cache hit: the tokens the cached answer was metered at (tokens here are 0)."
    )


class UsageRecordPage(APIModel):
    items: list[UsageRecordInfo]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last.")


class UsageSums(APIModel):
    requests: int
    errors: int = Field(description="Requests answered with status >= 400.")
    streams: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int
    cost: float
    avg_latency_ms: float | None
    max_latency_ms: float | None
    avg_ttfb_ms: float | None


class UsageSummaryRow(UsageSums):
    bucket: datetime | None = Field(description="Start of the time bucket (UTC); null without buckets.")
    group: dict[str, str | int | None] = Field(description="The group's value of each groupBy dimension.")


class UsageSummary(APIModel):
    start: datetime | None = Field(alias="from")
    end: datetime | None = Field(alias="to")
    bucket: str | None
    group_by: list[str]
    currency: str
    prices_as_of: str | None
    rows: list[UsageSummaryRow]
    total: UsageSums


class PriceInfo(APIModel):
    input: float
    output: float
    cached_input: float | None


class PriceTableInfo(APIModel):
    as_of: str | None
    currency: str
    unit: str
    models: dict[str, PriceInfo]
    aliases: dict[str, str]


def record_info(row: StoredUsage) -> UsageRecordInfo:
    return UsageRecordInfo(
        id=row.id,
        time=datetime.fromtimestamp(row.ts, UTC),
        request_id=row.request_id,
        gateway=row.gateway,
        provider=row.provider,
        proxy=row.proxy,
        key_id=row.key_id,
        method=row.method,
        path=row.path,
        request_model=row.request_model,
        response_model=row.response_model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        total_tokens=row.total_tokens,
        cached_tokens=row.cached_tokens,
        cost=row.cost,
        status=row.status,
        latency_ms=row.latency_ms,
        ttfb_ms=row.ttfb_ms,
        streaming=row.is_streaming,
        error_code=row.error_code,
        cache_result=row.cache_result,
        saved_tokens=row.saved_tokens,
    )


def sums_json(aggregate: UsageAggregate) -> dict[str, int | float | None]:
    """An aggregate's measures under their wire names (the fields of `UsageSums`)."""
    return {
        "requests": aggregate.requests,
        "errors": aggregate.errors,
        "streams": aggregate.streams,
        "promptTokens": aggregate.prompt_tokens,
        "completionTokens": aggregate.completion_tokens,
        "totalTokens": aggregate.total_tokens,
        "cachedTokens": aggregate.cached_tokens,
        "cost": round(aggregate.cost, 9),
        "avgLatencyMs": _round(aggregate.avg_latency_ms),
        "maxLatencyMs": aggregate.latency_ms_max if aggregate.requests else None,
        "avgTtfbMs": _round(aggregate.avg_ttfb_ms),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

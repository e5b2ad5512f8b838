"""The usage API: per-request records (filtered, cursor-paged), CSV/JSON export, summaries, the price table.

Read-only over the store. Summaries come from the hourly and daily roll-ups wherever the range
allows (see `store.usage_summary`), so they answer in milliseconds at millions of records.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from tollgate.control.deps import StoreDep
from tollgate.control.usage_export import EXPORT_MEDIA_TYPES, export_lines
from tollgate.control.usage_schemas import (
    PriceTableInfo,
    UsageRecordInfo,
    UsageRecordPage,
    UsageSummary,
    record_info,
    sums_json,
)
from tollgate.errors import ResourceValidationError
from tollgate.store.usage_query import BUCKET_SECONDS, DIMENSIONS, Bucket, SummaryQuery, UsageAggregate, UsageFilter

router = APIRouter(tags=["usage"])

#: Most time buckets one summary may return per group (e.g. a week of minutes).
MAX_BUCKETS = 10_080
MAX_PAGE = 1000

_STATUS_PATTERN = "^([1-5][0-9][0-9]|[1-5]xx|error|ok)$"
_STATUS_HELP = "An exact status (429), a class (2xx, 4xx, 5xx), `error` (>= 400) or `ok` (< 400)."


def _invalid(field: str, reason: str) -> ResourceValidationError:
    """A 422 in the API's validation shape, like FastAPI's own query parameter errors."""
    return ResourceValidationError("request query", field, reason)


def _status_range(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    value = text.strip().lower()
    if value == "error":
        return 400, None
    if value == "ok":
        return None, 399
    if len(value) == 3 and value[0] in "12345" and value[1:] == "xx":
        low = int(value[0]) * 100
        return low, low + 99
    if value.isdigit() and 100 <= int(value) <= 599:
        return int(value), int(value)
    raise _invalid("status", f"{text!r} is not a status, a class such as 4xx, 'error' or 'ok'")


def usage_filter(
    start: Annotated[datetime | None, Query(alias="from", description="Records at or after this time.")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Records before this time.")] = None,
    provider: Annotated[str | None, Query(max_length=63)] = None,
    proxy: Annotated[str | None, Query(max_length=63)] = None,
    key: Annotated[str | None, Query(max_length=12, description="An API key id (tg_<id>_...).")] = None,
    model: Annotated[str | None, Query(max_length=256, description="Response model, else request model.")] = None,
    gateway: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[
        str | None,
        # Documented, not enforced here: `_status_range` is the rule (and also takes case and spaces).
        Query(max_length=5, description=_STATUS_HELP, json_schema_extra={"pattern": _STATUS_PATTERN}),
    ] = None,
) -> UsageFilter:
    """The filter every usage endpoint takes, from query parameters (times without a zone are UTC)."""
    status_min, status_max = _status_range(status)
    return UsageFilter(
        start=_seconds(start),
        end=_seconds(end),
        provider=provider,
        proxy=proxy,
        key=key,
        model=model,
        gateway=gateway,
        status_min=status_min,
        status_max=status_max,
    )


FilterDep = Annotated[UsageFilter, Depends(usage_filter)]


def _seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def encode_cursor(ts: float, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{ts!r}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        ts, row_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        return float(ts), int(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid("cursor", "not a cursor this API returned") from None


@router.get("/usage/records")
def list_records(
    store: StoreDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="`nextCursor` of the previous page (opaque: any other text is a 422)."),
    ] = None,
) -> UsageRecordPage:
    """Metered requests, newest first, one page at a time (follow `nextCursor`)."""
    before = decode_cursor(cursor) if cursor else None
    rows = store.usage_records(flt, limit=limit, before=before)
    next_cursor = encode_cursor(rows[-1].ts, rows[-1].id) if len(rows) == limit else None
    return UsageRecordPage(items=[record_info(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/usage/export",
    response_class=StreamingResponse,
    responses={200: {"content": {t: {} for t in EXPORT_MEDIA_TYPES.values()}, "description": "The records."}},
)
def export_records(
    store: StoreDep, flt: FilterDep, format: Annotated[Literal["csv", "json"], Query()] = "csv"
) -> StreamingResponse:
    """Every matching record, newest first, as CSV (a header line, then one line per record) or a JSON array.

    Streamed page by page, so an export of millions of records holds one page in memory.
    """

    def pages() -> Iterator[list[UsageRecordInfo]]:
        before = None
        while True:
            rows = store.usage_records(flt, limit=MAX_PAGE, before=before)
            yield [record_info(row) for row in rows]
            if len(rows) < MAX_PAGE:
                return
            before = (rows[-1].ts, rows[-1].id)

    return StreamingResponse(
        export_lines(pages(), format),
        media_type=EXPORT_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="usage.{format}"'},
    )


@router.get("/usage/summary", response_model=UsageSummary)
def summary(
    store: StoreDep,
    flt: FilterDep,
    group_by: Annotated[
        list[str],
        Query(
            alias="groupBy",
            description=f"Dimensions to group by, repeated or comma-separated: {DIMENSIONS}.",
            # Documents the repeated form (the handler's check below is the rule): each a dimension, once.
            json_schema_extra={"items": {"type": "string", "enum": list(DIMENSIONS)}, "uniqueItems": True},
        ),
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    bucket: Annotated[Bucket | None, Query(description="Also split by time: minute, hour or day (UTC).")] = None,
) -> Response:
    """Requests, errors, tokens, cost and latency per group (and time bucket) over the filtered records.

    Rules across parameters (a 422 otherwise): `bucket=minute` needs `from`, and the range holds at most
    MAX_BUCKETS buckets.

    The body is built as plain data and serialised once (orjson), not through a model per row: a
    month of daily buckets per model is hundreds of rows, and validating each cost more than the query.
    """
    dimensions = tuple(d.strip() for part in group_by for d in part.split(",") if d.strip())
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise _invalid("groupBy", f"cannot group by {unknown[0]!r} (choose from {', '.join(DIMENSIONS)})")
    if len(set(dimensions)) != len(dimensions):
        raise _invalid("groupBy", "a dimension is named twice")
    if bucket is not None:
        _check_buckets(flt, bucket)
    query = SummaryQuery(flt, group_by=dimensions, bucket=bucket)  # type: ignore[arg-type]
    aggregates = store.usage_summary(query)
    total = UsageAggregate(bucket=None, group=())
    for aggregate in aggregates:
        total.merge(aggregate)
    body = {
        "from": _timestamp(flt.start),
        "to": _timestamp(flt.end),
        "bucket": bucket,
        "groupBy": list(dimensions),
        "currency": store.prices.currency,
        "pricesAsOf": store.prices.as_of,
        "rows": [
            {"bucket": _timestamp(a.bucket), "group": dict(zip(dimensions, a.group, strict=True)), **sums_json(a)}
            for a in aggregates
        ],
        "total": sums_json(total),
    }
    return Response(orjson.dumps(body), media_type="application/json")


def _check_buckets(flt: UsageFilter, bucket: Bucket) -> None:
    if flt.start is None:
        if bucket == "minute":
            raise _invalid("from", "minute buckets need a start time")
        return
    end = flt.end if flt.end is not None else datetime.now(UTC).timestamp()
    count = (end - flt.start) / BUCKET_SECONDS[bucket]
    if count > MAX_BUCKETS:
        raise _invalid("bucket", f"{count:.0f} {bucket}s in the range; at most {MAX_BUCKETS} per summary")


def _timestamp(seconds: float | None) -> str | None:
    """ISO 8601 in UTC with a Z, as the API's models render datetimes."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@router.get("/usage/prices")
def prices(store: StoreDep) -> PriceTableInfo:
    """The price table costs are computed with: the shipped list prices plus the deployment's TOLLGATE_PRICES file."""
    return PriceTableInfo.model_validate(store.prices.to_document())

"""Usage summaries: sums per group and time bucket, read from roll-ups wherever whole hours or days allow.

A range [start, end) is cut into parts: whole UTC days from the daily roll-ups, whole hours from the
hourly ones, and only the partial hours at the edges from raw rows (minute buckets read raw rows
only). The parts' sums are merged by (bucket, group). So a 30-day summary reads about 30 daily rows
per group plus at most two hours of raw rows, whatever the number of records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from tollgate.store.schema import usage, usage_rollup
from tollgate.store.usage_query import BUCKET_SECONDS, SummaryQuery, UsageAggregate, UsageFilter
from tollgate.store.usage_rollups import DAY, HOUR, raw_bucket
from tollgate.store.usage_rows import RAW_DIMENSIONS, conditions

RAW = 0
#: (source, start, end): source RAW, HOUR or DAY; None bounds are open.
Part = tuple[int, float | None, float | None]

_ROLLUP_DIMENSIONS: dict[str, ColumnElement[Any]] = {
    "provider": usage_rollup.c.provider,
    "proxy": usage_rollup.c.proxy,
    "key": usage_rollup.c.key_id,
    "model": usage_rollup.c.model,
    "status": usage_rollup.c.status,
    "gateway": usage_rollup.c.gateway,
}


def _floor(value: float, size: int) -> int:
    return int(value // size) * size


def _ceil(value: float, size: int) -> int:
    return -int(-value // size) * size


def plan(start: float | None, end: float | None, bucket: str | None) -> list[Part]:
    """The parts that cover [start, end) exactly: raw edges, hourly and daily roll-ups (see module doc)."""
    if bucket == "minute":
        return [(RAW, start, end)]
    h0 = None if start is None else _ceil(start, HOUR)
    h1 = None if end is None else _floor(end, HOUR)
    if h0 is not None and h1 is not None and h0 >= h1:
        return [(RAW, start, end)]
    parts: list[Part] = []
    if start is not None and h0 is not None and start < h0:
        parts.append((RAW, start, h0))
    if end is not None and h1 is not None and h1 < end:
        parts.append((RAW, h1, end))
    if bucket == "hour":
        return [*parts, (HOUR, h0, h1)]
    d0 = None if h0 is None else _ceil(h0, DAY)
    d1 = None if h1 is None else _floor(h1, DAY)
    if d0 is not None and d1 is not None and d0 >= d1:
        return [*parts, (HOUR, h0, h1)]
    if h0 is not None and d0 is not None and h0 < d0:
        parts.append((HOUR, h0, d0))
    if h1 is not None and d1 is not None and d1 < h1:
        parts.append((HOUR, d1, h1))
    return [*parts, (DAY, d0, d1)]


def summarize(conn: Connection, query: SummaryQuery) -> list[UsageAggregate]:
    """The summary `query` asks for: one aggregate per (bucket, group), oldest bucket first, busiest group first."""
    flt = query.filter
    merged: dict[tuple[Any, ...], UsageAggregate] = {}
    for source, start, end in plan(flt.start, flt.end, query.bucket):
        select_ = _raw_select if source == RAW else _rollup_select
        for row in conn.execute(select_(conn, query, source, start, end)):
            if not row[-12]:  # no rows matched: an ungrouped aggregate still answers one row of NULLs
                continue
            aggregate = _aggregate(row, len(query.group_by), query.bucket is not None)
            key = (aggregate.bucket, aggregate.group)
            if key in merged:
                merged[key].merge(aggregate)
            else:
                merged[key] = aggregate
    return sorted(merged.values(), key=lambda a: (a.bucket or 0, -a.requests, tuple(str(v) for v in a.group)))


def _aggregate(row: Any, groups: int, bucketed: bool) -> UsageAggregate:
    values = tuple(row)
    offset = 1 if bucketed else 0
    group = tuple(None if v == "" else v for v in values[offset : offset + groups])
    sums = values[offset + groups :]
    return UsageAggregate(
        bucket=int(values[0]) if bucketed else None,
        group=group,
        requests=int(sums[0]),
        errors=int(sums[1] or 0),
        streams=int(sums[2] or 0),
        prompt_tokens=int(sums[3] or 0),
        completion_tokens=int(sums[4] or 0),
        total_tokens=int(sums[5] or 0),
        cached_tokens=int(sums[6] or 0),
        cost=float(sums[7] or 0.0),
        latency_ms_sum=float(sums[8] or 0.0),
        latency_ms_max=float(sums[9] or 0.0),
        ttfb_ms_sum=float(sums[10] or 0.0),
        ttfb_count=int(sums[11] or 0),
    )


def _raw_select(conn: Connection, query: SummaryQuery, _source: int, start: float | None, end: float | None) -> Any:
    dims = [RAW_DIMENSIONS[name].label(f"d{i}") for i, name in enumerate(query.group_by)]
    bucket = [raw_bucket(conn, BUCKET_SECONDS[query.bucket]).label("bucket")] if query.bucket else []
    t = usage.c
    sums = [
        func.count(),
        func.sum(case((t.status >= 400, 1), else_=0)),
        func.sum(case((t.is_streaming, 1), else_=0)),
        func.sum(t.prompt_tokens),
        func.sum(t.completion_tokens),
        func.sum(t.total_tokens),
        func.sum(t.cached_tokens),
        func.sum(t.cost),
        func.sum(t.latency_ms),
        func.max(t.latency_ms),
        func.sum(t.ttfb_ms),
        func.count(t.ttfb_ms),
    ]
    return select(*bucket, *dims, *sums).where(*conditions(query.filter, start, end)).group_by(*bucket, *dims)


def _rollup_select(conn: Connection, query: SummaryQuery, period: int, start: float | None, end: float | None) -> Any:
    t = usage_rollup.c
    dims = [_ROLLUP_DIMENSIONS[name].label(f"d{i}") for i, name in enumerate(query.group_by)]
    bucket: list[ColumnElement[Any]] = []
    if query.bucket:
        size = BUCKET_SECONDS[query.bucket]
        bucket = [(t.bucket if size == period else t.bucket - t.bucket % size).label("bucket")]
    sums = [
        func.sum(t.requests),
        func.sum(case((t.status >= 400, t.requests), else_=0)),
        func.sum(t.streams),
        func.sum(t.prompt_tokens),
        func.sum(t.completion_tokens),
        func.sum(t.total_tokens),
        func.sum(t.cached_tokens),
        func.sum(t.cost),
        func.sum(t.latency_ms_sum),
        func.max(t.latency_ms_max),
        func.sum(t.ttfb_ms_sum),
        func.sum(t.ttfb_count),
    ]
    where = [t.period == period, *_rollup_conditions(query.filter)]
    if start is not None:
        where.append(t.bucket >= int(start))
    if end is not None:
        where.append(t.bucket < int(end))
    return select(*bucket, *dims, *sums).where(*where).group_by(*bucket, *dims)


def _rollup_conditions(flt: UsageFilter) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    for name in ("provider", "proxy", "key", "model", "gateway"):
        value = getattr(flt, name)
        if value is not None:
            terms.append(_ROLLUP_DIMENSIONS[name] == value)
    if flt.status_min is not None:
        terms.append(usage_rollup.c.status >= flt.status_min)
    if flt.status_max is not None:
        terms.append(usage_rollup.c.status <= flt.status_max)
    return terms

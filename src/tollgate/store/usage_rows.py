"""Raw rows of the `usage` table: batch inserts (with cost and roll-ups), filtered listings, pruning.

The insert is the usage writer's one statement family: it prices each record, writes the rows in
multi-row INSERTs (one unnest() INSERT on PostgreSQL) and adds their sums to the roll-ups in the same
transaction. Listings page by a (ts, id) cursor, newest first, so a page costs the same at any depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, select

from tollgate.store import usage_rollups
from tollgate.store.schema import usage, usage_rollup_coarse
from tollgate.store.usage_query import StoredUsage, UsageFilter
from tollgate.store.usage_rollups import WEEK, RollupKey, RollupSums
from tollgate.usage.pricing import PriceTable
from tollgate.usage.record import UsageRecord

#: The record's fields that are columns: a prefix of it, up to `cached_tokens` (the fields after it,
#: client API, upstream time and trace, feed metrics and traces only).
_FIELDS = UsageRecord._fields[: UsageRecord._fields.index("cached_tokens") + 1]
_STORED = len(_FIELDS)
#: Columns written: the record's stored fields in order, then the cost the store adds.
_COLUMNS = (*_FIELDS, "cost")
_I = {name: i for i, name in enumerate(_FIELDS)}
#: Text columns with a length limit, by position in a UsageRecord: values are cut to fit, so one
#: odd request (a 5 kB path, a made-up model name) can never make a whole batch fail.
_LIMITS: tuple[tuple[int, int], ...] = tuple(
    (i, length) for i, name in enumerate(_FIELDS) if (length := getattr(usage.c[name].type, "length", None))
)
#: Columns whose values come from the client (path, models) and may be of any length; the others are
#: names the resource model bounds or values the gateway makes itself.
#: Rows per INSERT statement: one multi-row statement is one database step for a hundred rows
#: (measured: cheaper than executemany's statement per row, even in the writer's own process).
ROWS_PER_STATEMENT = 100
_CLIENT_TEXT = tuple((i, n) for i, n in _LIMITS if _FIELDS[i] in ("path", "request_model", "response_model"))


def _fit(record: UsageRecord) -> tuple[Any, ...]:
    """The record's stored fields as a row, text cut to its column's length (nearly always fits)."""
    for i, limit in _CLIENT_TEXT:
        text = record[i]
        if isinstance(text, str) and len(text) > limit:
            break
    else:
        return record[:_STORED]
    row: list[Any] = list(record[:_STORED])
    for i, limit in _LIMITS:
        value = row[i]
        if isinstance(value, str) and len(value) > limit:
            row[i] = value[:limit]
    return tuple(row)


def insert_records(conn: Connection, records: Sequence[UsageRecord], prices: PriceTable) -> None:
    """Bulk insert, each row priced with `prices`, and add the batch's sums to the roll-ups."""
    if not records:
        return
    rows: list[tuple[Any, ...]] = []
    hourly: dict[RollupKey, RollupSums] = {}
    i_cached = _I["cached_tokens"]
    i_ts, i_gateway, i_provider, i_proxy, i_key = _I["ts"], _I["gateway"], _I["provider"], _I["proxy"], _I["key_id"]
    i_request_model, i_response_model, i_status = _I["request_model"], _I["response_model"], _I["status"]
    i_prompt, i_completion, i_total = _I["prompt_tokens"], _I["completion_tokens"], _I["total_tokens"]
    i_stream, i_latency, i_ttfb = _I["is_streaming"], _I["latency_ms"], _I["ttfb_ms"]
    for record in records:
        row = _fit(record)
        model = row[i_response_model] or row[i_request_model]
        prompt, completion = row[i_prompt], row[i_completion]
        cached = row[i_cached]
        cost = prices.cost(model, prompt, completion, cached) if (prompt or completion) else 0.0
        rows.append((*row, cost))
        dimensions = (row[i_gateway], row[i_provider], row[i_proxy] or "", row[i_key] or "", model or "", row[i_status])
        key = usage_rollups.hour_key(row[i_ts], dimensions)
        sums = hourly.get(key)
        if sums is None:
            sums = hourly[key] = RollupSums()
        sums.add_request(
            bool(row[i_stream]), prompt, completion, row[i_total], cached, cost, row[i_latency], row[i_ttfb]
        )
    _insert_rows(conn, rows)
    usage_rollups.add(conn, usage_rollups.all_periods(hourly))


#: PostgreSQL array type of each written column, for the unnest() form of the insert.
_PG_TYPES = {
    "ts": "double precision",
    "latency_ms": "double precision",
    "ttfb_ms": "double precision",
    "cost": "double precision",
    "prompt_tokens": "integer",
    "completion_tokens": "integer",
    "total_tokens": "integer",
    "cached_tokens": "integer",
    "saved_tokens": "integer",
    "status": "integer",
    "is_streaming": "boolean",
}
_PG_INSERT = (
    f"INSERT INTO usage ({', '.join(_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_PG_TYPES.get(c, 'varchar')}[]" for c in _COLUMNS)
    + ")"
)


def _insert_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    if conn.dialect.name == "postgresql":
        # One array per column: psycopg parses placeholders on every call, and a 100-row VALUES list
        # has 2,000 of them; the arrays make it 20 whatever the batch size.
        conn.exec_driver_sql(_PG_INSERT, tuple(list(column) for column in zip(*rows, strict=True)))
        return
    marker = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
    row = "(" + ", ".join([marker] * len(_COLUMNS)) + ")"
    head = f"INSERT INTO usage ({', '.join(_COLUMNS)}) VALUES "
    full = head + ", ".join([row] * ROWS_PER_STATEMENT)
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[start : start + ROWS_PER_STATEMENT]
        sql = full if len(part) == ROWS_PER_STATEMENT else head + ", ".join([row] * len(part))
        conn.exec_driver_sql(sql, tuple(value for values in part for value in values))


def model_column() -> ColumnElement[Any]:
    """The model a record is counted under: what the vendor answered with, else what the client asked for.

    The same expression as the `ix_usage_model_ts` index, so a filter on it uses the index.
    """
    return func.coalesce(usage.c.response_model, usage.c.request_model)


#: A grouping or filter dimension -> its column in the raw table.
RAW_DIMENSIONS: dict[str, ColumnElement[Any]] = {
    "provider": usage.c.provider,
    "proxy": usage.c.proxy,
    "key": usage.c.key_id,
    "model": model_column(),
    "status": usage.c.status,
    "gateway": usage.c.gateway,
}


def conditions(flt: UsageFilter, start: float | None, end: float | None) -> list[ColumnElement[bool]]:
    """WHERE terms for raw rows: [start, end) and the filter's dimension values."""
    terms: list[ColumnElement[bool]] = []
    if start is not None:
        terms.append(usage.c.ts >= start)
    if end is not None:
        terms.append(usage.c.ts < end)
    for name in ("provider", "proxy", "key", "model", "gateway"):
        value = getattr(flt, name)
        if value is not None:
            terms.append(RAW_DIMENSIONS[name] == value)
    if flt.status_min is not None and flt.status_min == flt.status_max:
        terms.append(usage.c.status == flt.status_min)  # an equality, so (status, ts) is walked in ts order
    else:
        if flt.status_min is not None:
            terms.append(usage.c.status >= flt.status_min)
        if flt.status_max is not None:
            terms.append(usage.c.status <= flt.status_max)
    return terms


_LISTED = (
    "id",
    "ts",
    "request_id",
    "gateway",
    "provider",
    "proxy",
    "key_id",
    "method",
    "path",
    "request_model",
    "response_model",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cost",
    "status",
    "latency_ms",
    "ttfb_ms",
    "is_streaming",
    "error_code",
    "cache_result",
    "saved_tokens",
)


def fetch_page(
    conn: Connection, flt: UsageFilter, limit: int, before: tuple[float, int] | None, prices: PriceTable
) -> list[StoredUsage]:
    """Up to `limit` records matching `flt`, newest first, strictly older than the `before` (ts, id) cursor.

    A record written before costs were stored is priced now with `prices`.
    """
    rows: list[Any] = []
    for part in _status_parts(conn, flt):
        query = select(*(usage.c[name] for name in _LISTED)).where(*conditions(part, part.start, part.end))
        if before is not None:
            ts, row_id = before
            query = query.where(usage.c.ts <= ts, (usage.c.ts < ts) | (usage.c.id < row_id))
        rows += conn.execute(query.order_by(usage.c.ts.desc(), usage.c.id.desc()).limit(limit)).all()
    rows.sort(key=lambda row: (row.ts, row.id), reverse=True)
    page = []
    for row in rows[:limit]:
        values = row._asdict()
        if values["cost"] is None:
            model = values["response_model"] or values["request_model"]
            values["cost"] = prices.cost(
                model, values["prompt_tokens"], values["completion_tokens"], values["cached_tokens"]
            )
        values["is_streaming"] = bool(values["is_streaming"])
        page.append(StoredUsage(**values))
    return page


#: A status range with at most this many distinct statuses is listed one status at a time.
_MAX_STATUS_PARTS = 16


def _status_parts(conn: Connection, flt: UsageFilter) -> list[UsageFilter]:
    """`flt` as one filter per status when it asks for a range (4xx, error), else `flt` itself.

    Newest-first pages of a range ("the latest 5xx") would make the database collect every match
    and sort it (the range spans the (status, ts) index); one exact status per query walks that
    index already in order and stops at the page size. The statuses present come from the weekly
    roll-up (a few hundred rows), and the pages are merged.
    """
    if flt.status_min == flt.status_max:
        return [flt]
    query = select(usage_rollup_coarse.c.status).distinct().where(usage_rollup_coarse.c.period == WEEK)
    if flt.status_min is not None:
        query = query.where(usage_rollup_coarse.c.status >= flt.status_min)
    if flt.status_max is not None:
        query = query.where(usage_rollup_coarse.c.status <= flt.status_max)
    statuses = [int(status) for status in conn.execute(query).scalars()]
    if not statuses or len(statuses) > _MAX_STATUS_PARTS:
        return [flt]  # nothing rolled up yet (or many statuses): one query over the range
    return [replace(flt, status_min=status, status_max=status) for status in statuses]


def prune(conn: Connection, before: float, limit: int) -> int:
    """Delete up to `limit` raw rows older than `before` (unix seconds); the roll-ups keep their sums."""
    oldest = select(usage.c.id).where(usage.c.ts < before).limit(limit).scalar_subquery()
    return int(conn.execute(delete(usage).where(usage.c.id.in_(oldest))).rowcount)


def oldest_ts(conn: Connection) -> float | None:
    """The time of the oldest raw row (None when there is none)."""
    value = conn.execute(select(func.min(usage.c.ts))).scalar()
    return None if value is None else float(value)

"""Rows of the `usage` table: batch inserts from the recorder and the grouped summary behind `tollgate usage`.

Counts and sums are aggregated in SQL. The median latency uses `percentile_cont` on PostgreSQL; SQLite
has no percentile function, so there it is computed from the ordered latencies of the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from statistics import median
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Connection, case, func, select

from tollgate.store.records import UsageSummaryRow
from tollgate.store.schema import usage
from tollgate.usage.record import UsageRecord

GroupBy = Literal["provider", "proxy", "model", "key", "gateway"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)


_COLUMNS = UsageRecord._fields
#: Text columns with a length limit, by position in a UsageRecord: values are cut to fit, so one
#: odd request (a 5 kB path, a made-up model name) can never make a whole batch fail.
_LIMITS: tuple[tuple[int, int], ...] = tuple(
    (i, length) for i, name in enumerate(_COLUMNS) if (length := getattr(usage.c[name].type, "length", None))
)


#: Columns whose values come from the client (path, models) and may be of any length; the others are
#: names the resource model bounds or values the gateway makes itself.
_CLIENT_TEXT = tuple((i, n) for i, n in _LIMITS if _COLUMNS[i] in ("path", "request_model", "response_model"))


def _fit(record: UsageRecord) -> tuple[object, ...]:
    """The record as a row, text cut to its column's length (checked cheaply: nearly always fits)."""
    for i, limit in _CLIENT_TEXT:
        text = record[i]
        if isinstance(text, str) and len(text) > limit:
            break
    else:
        return record
    row: list[object] = list(record)
    for i, limit in _LIMITS:
        value = row[i]
        if isinstance(value, str) and len(value) > limit:
            row[i] = value[:limit]
    return tuple(row)


#: Rows per INSERT statement: one multi-row statement is one database step (one GIL release with
#: SQLite) for a hundred rows.
ROWS_PER_STATEMENT = 100


def insert_records(conn: Connection, records: Sequence[UsageRecord]) -> None:
    """Bulk insert in multi-row statements; rows are the records themselves (no per-row ORM work)."""
    if not records:
        return
    marker = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
    row = "(" + ", ".join([marker] * len(_COLUMNS)) + ")"
    head = f"INSERT INTO usage ({', '.join(_COLUMNS)}) VALUES "
    full = head + ", ".join([row] * ROWS_PER_STATEMENT)
    for start in range(0, len(records), ROWS_PER_STATEMENT):
        part = records[start : start + ROWS_PER_STATEMENT]
        sql = full if len(part) == ROWS_PER_STATEMENT else head + ", ".join([row] * len(part))
        params = [value for record in part for value in _fit(record)]
        conn.exec_driver_sql(sql, tuple(params))


def _group_column(group_by: str) -> ColumnElement[Any]:
    columns: dict[str, ColumnElement[Any]] = {
        "provider": usage.c.provider,
        "proxy": usage.c.proxy,
        "model": func.coalesce(usage.c.response_model, usage.c.request_model),
        "key": usage.c.key_id,
        "gateway": usage.c.gateway,
    }
    if group_by not in columns:
        raise ValueError(f"cannot group usage by {group_by!r} (choose one of {', '.join(GROUP_BY_CHOICES)})")
    return columns[group_by]


def summary(conn: Connection, since: datetime | None, group_by: str) -> list[UsageSummaryRow]:
    """Requests, errors (status >= 400), token sums and p50 latency per group, busiest group first."""
    group = _group_column(group_by).label("grp")
    is_pg = conn.dialect.name == "postgresql"
    columns: list[Any] = [
        group,
        func.count().label("requests"),
        func.sum(case((usage.c.status >= 400, 1), else_=0)).label("errors"),
        func.coalesce(func.sum(usage.c.prompt_tokens), 0).label("prompt"),
        func.coalesce(func.sum(usage.c.completion_tokens), 0).label("completion"),
        func.coalesce(func.sum(usage.c.total_tokens), 0).label("total"),
    ]
    if is_pg:
        columns.append(func.percentile_cont(0.5).within_group(usage.c.latency_ms).label("p50"))
    query = select(*columns).group_by(group)
    if since is not None:
        query = query.where(usage.c.ts >= since.timestamp())
    rows = conn.execute(query).all()
    medians = {row.grp: row.p50 for row in rows} if is_pg else _sqlite_medians(conn, since, group_by)
    result = [
        UsageSummaryRow(
            group=row.grp,
            requests=int(row.requests),
            errors=int(row.errors or 0),
            prompt_tokens=int(row.prompt),
            completion_tokens=int(row.completion),
            total_tokens=int(row.total),
            p50_latency_ms=None if medians.get(row.grp) is None else float(medians[row.grp]),
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (-r.requests, r.group or ""))


def _sqlite_medians(conn: Connection, since: datetime | None, group_by: str) -> dict[str | None, float]:
    query = select(_group_column(group_by).label("grp"), usage.c.latency_ms)
    if since is not None:
        query = query.where(usage.c.ts >= since.timestamp())
    latencies: dict[str | None, list[float]] = defaultdict(list)
    for row in conn.execute(query):
        latencies[row.grp].append(row.latency_ms)
    return {group: median(values) for group, values in latencies.items()}

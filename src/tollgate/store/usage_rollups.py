"""Usage roll-ups: hourly and daily sums per combination of dimensions, so summaries never scan raw rows.

Two grains: `usage_rollup` keeps every dimension (gateway, provider, proxy, key, model, status);
`usage_rollup_coarse` drops gateway and key, so summaries that need neither read far fewer rows.
Both are maintained by the usage writer in the same transaction as the raw rows they sum (`add`), so
they always agree until retention prunes raw rows; `rebuild` recomputes a range from raw rows (the
migration that introduces them, a repair, the benchmark's bulk seeding). Not on the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, Connection, Integer, case, cast, delete, func, literal, select

from tollgate.store.schema import usage, usage_rollup, usage_rollup_coarse
from tollgate.usage.pricing import PriceTable, default_table

HOUR = 3600
DAY = 86400
#: Weeks aligned on the unix epoch (they start on Thursdays, 00:00 UTC): never shown, only a cache
#: level that lets a month-long summary read four rows per group instead of thirty.
WEEK = 7 * DAY
#: Roll-up periods, finest first: every raw row is summed into one row of each.
PERIODS = (HOUR, DAY, WEEK)

#: (period, bucket, gateway, provider, proxy, key_id, model, status); '' for an absent proxy, key or model.
RollupKey = tuple[int, int, str, str, str, str, str, int]

#: (period, bucket, provider, proxy, model, status) of `usage_rollup_coarse`.
CoarseKey = tuple[int, int, str, str, str, int]

_KEY_COLUMNS = ("period", "bucket", "gateway", "provider", "proxy", "key_id", "model", "status")
_COARSE_KEY_COLUMNS = ("period", "bucket", "provider", "proxy", "model", "status")
_SUM_COLUMNS = (
    "requests",
    "streams",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cost",
    "latency_ms_sum",
    "latency_ms_max",
    "ttfb_ms_sum",
    "ttfb_count",
)
#: Rows per upsert statement (19 parameters each: well under SQLite's 32,766 limit).
ROWS_PER_STATEMENT = 200


@dataclass(slots=True)
class RollupSums:
    """The running sums of one roll-up row (one writer batch's contribution, or a rebuilt row)."""

    requests: int = 0
    streams: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    latency_ms_sum: float = 0.0
    latency_ms_max: float = 0.0
    ttfb_ms_sum: float = 0.0
    ttfb_count: int = 0

    def add_request(
        self,
        streaming: bool,
        prompt: int | None,
        completion: int | None,
        total: int | None,
        cached: int | None,
        cost: float,
        latency_ms: float,
        ttfb_ms: float | None,
    ) -> None:
        self.requests += 1
        self.streams += 1 if streaming else 0
        self.prompt_tokens += prompt or 0
        self.completion_tokens += completion or 0
        self.total_tokens += total or 0
        self.cached_tokens += cached or 0
        self.cost += cost
        self.latency_ms_sum += latency_ms
        self.latency_ms_max = max(self.latency_ms_max, latency_ms)
        if ttfb_ms is not None:
            self.ttfb_ms_sum += ttfb_ms
            self.ttfb_count += 1

    def merge(self, other: RollupSums) -> None:
        self.requests += other.requests
        self.streams += other.streams
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        self.cached_tokens += other.cached_tokens
        self.cost += other.cost
        self.latency_ms_sum += other.latency_ms_sum
        self.latency_ms_max = max(self.latency_ms_max, other.latency_ms_max)
        self.ttfb_ms_sum += other.ttfb_ms_sum
        self.ttfb_count += other.ttfb_count

    def values(self) -> tuple[int | float, ...]:
        return (
            self.requests,
            self.streams,
            self.prompt_tokens,
            self.completion_tokens,
            self.total_tokens,
            self.cached_tokens,
            self.cost,
            self.latency_ms_sum,
            self.latency_ms_max,
            self.ttfb_ms_sum,
            self.ttfb_count,
        )


def hour_key(ts: float, dimensions: tuple[str, str, str, str, str, int]) -> RollupKey:
    """The hourly roll-up row of a request at `ts` with (gateway, provider, proxy, key, model, status)."""
    second = int(ts)
    return (HOUR, second - second % HOUR, *dimensions)


def all_periods(hourly: dict[RollupKey, RollupSums]) -> dict[RollupKey, RollupSums]:
    """`hourly` plus the daily and weekly rows it sums into: a batch is summed per hour first, so the
    coarser periods cost one merge per hourly row, not one per record."""
    groups = dict(hourly)
    for (_, bucket, *dimensions), sums in hourly.items():
        for period in PERIODS[1:]:
            key: RollupKey = (period, bucket - bucket % period, *dimensions)  # type: ignore[assignment]
            target = groups.get(key)
            if target is None:
                target = groups[key] = RollupSums()
            target.merge(sums)
    return groups


def coarse(groups: dict[RollupKey, RollupSums]) -> dict[CoarseKey, RollupSums]:
    """The same sums keyed without gateway and key."""
    merged: dict[CoarseKey, RollupSums] = {}
    for (period, bucket, _gateway, provider, proxy, _key, model, status), sums in groups.items():
        key = (period, bucket, provider, proxy, model, status)
        target = merged.get(key)
        if target is None:
            target = merged[key] = RollupSums()
        target.merge(sums)
    return merged


def add(conn: Connection, groups: dict[RollupKey, RollupSums]) -> None:
    """Add `groups` to both roll-ups (insert, or add to the row already there), in key order.

    Key order makes concurrent writers (several nodes on PostgreSQL) lock rows in the same order,
    so they wait for each other instead of deadlocking.
    """
    if not groups:
        return
    _upsert(conn, "usage_rollup", _KEY_COLUMNS, groups)
    _upsert(conn, "usage_rollup_coarse", _COARSE_KEY_COLUMNS, coarse(groups))


def _upsert(
    conn: Connection,
    table: str,
    key_columns: tuple[str, ...],
    groups: dict[RollupKey, RollupSums] | dict[CoarseKey, RollupSums],
) -> None:
    rows = [(*key, *sums.values()) for key, sums in sorted(groups.items())]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        # One array per column, whatever the number of rows: psycopg parses a statement's placeholders
        # on every call, which cost ~40 ms per 200-row VALUES list (the writer's main cost).
        columns = list(zip(*rows, strict=True))
        conn.exec_driver_sql(_upsert_sql_pg(table, key_columns), tuple(list(column) for column in columns))
        return
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[start : start + ROWS_PER_STATEMENT]
        sql = _upsert_sql(conn, table, key_columns, len(part))
        conn.exec_driver_sql(sql, tuple(v for row in part for v in row))


#: PostgreSQL array type of each roll-up column, for the unnest() form of the upsert.
_PG_TYPES = {
    "period": "integer",
    "bucket": "bigint",
    "status": "integer",
    "gateway": "varchar",
    "provider": "varchar",
    "proxy": "varchar",
    "key_id": "varchar",
    "model": "varchar",
    **{c: "double precision" for c in ("cost", "latency_ms_sum", "latency_ms_max", "ttfb_ms_sum")},
}


def _updates(table: str, greatest: str) -> str:
    return ", ".join(
        f"{c} = {greatest}({table}.{c}, excluded.{c})" if c == "latency_ms_max" else f"{c} = {table}.{c} + excluded.{c}"
        for c in _SUM_COLUMNS
    )


def _upsert_sql_pg(table: str, key_columns: tuple[str, ...]) -> str:
    columns = (*key_columns, *_SUM_COLUMNS)
    arrays = ", ".join(f"%s::{_PG_TYPES.get(c, 'bigint')}[]" for c in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {_updates(table, 'GREATEST')}"
    )


def _upsert_sql(conn: Connection, table: str, key_columns: tuple[str, ...], count: int) -> str:
    marker = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
    greatest = "GREATEST" if conn.dialect.name == "postgresql" else "MAX"
    columns = (*key_columns, *_SUM_COLUMNS)
    row = "(" + ", ".join([marker] * len(columns)) + ")"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * count)} "
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {_updates(table, greatest)}"
    )


def rebuild(
    conn: Connection, start: float | None = None, end: float | None = None, prices: PriceTable | None = None
) -> int:
    """Recompute the roll-ups of whole weeks from `start` to `end` (unix seconds) from raw rows.

    The range is widened to whole weeks (a week row needs every hour of its week); an open end
    stops at the first or last week that has raw rows, so roll-ups of weeks already pruned are left
    alone. Works a day at a time (memory stays bounded at millions of rows). Rows without a stored
    cost (written before costs were) are priced with `prices` (default: the process's table).
    Returns the number of hourly roll-up rows written.
    """
    first, last = conn.execute(select(func.min(usage.c.ts), func.max(usage.c.ts))).one()
    if first is None:
        return 0
    low = int(first if start is None else start) // WEEK * WEEK
    high = -(-int(last + 1 if end is None else end) // WEEK) * WEEK
    table = prices or default_table()
    for rollup in (usage_rollup, usage_rollup_coarse):
        conn.execute(delete(rollup).where(rollup.c.bucket >= low, rollup.c.bucket < high))
    written = 0
    for week in range(low, high, WEEK):
        weekly: dict[RollupKey, RollupSums] = {}
        for day in range(week, week + WEEK, DAY):
            hourly = _raw_hour_sums(conn, day, day + DAY, table)
            groups: dict[RollupKey, RollupSums] = {}
            for key, sums in hourly:
                groups[key] = sums
                _period, _bucket, *dimensions = key
                day_key: RollupKey = (DAY, day, *dimensions)  # type: ignore[assignment]
                week_key: RollupKey = (WEEK, week, *dimensions)  # type: ignore[assignment]
                groups.setdefault(day_key, RollupSums()).merge(sums)
                weekly.setdefault(week_key, RollupSums()).merge(sums)
            _insert(conn, groups)
            written += len(hourly)
        _insert(conn, weekly)
    return written


def _raw_hour_sums(conn: Connection, low: int, high: int, prices: PriceTable) -> list[tuple[RollupKey, RollupSums]]:
    hour = raw_bucket(conn, HOUR).label("bucket")
    model = func.coalesce(usage.c.response_model, usage.c.request_model, "").label("model")
    unpriced = usage.c.cost.is_(None)
    query = select(
        hour,
        usage.c.gateway,
        usage.c.provider,
        func.coalesce(usage.c.proxy, "").label("proxy"),
        func.coalesce(usage.c.key_id, "").label("key_id"),
        model,
        usage.c.status,
        func.count().label("requests"),
        func.sum(cast(usage.c.is_streaming, Integer)).label("streams"),
        func.coalesce(func.sum(usage.c.prompt_tokens), 0).label("prompt"),
        func.coalesce(func.sum(usage.c.completion_tokens), 0).label("completion"),
        func.coalesce(func.sum(usage.c.total_tokens), 0).label("total"),
        func.coalesce(func.sum(usage.c.cached_tokens), 0).label("cached"),
        func.coalesce(func.sum(usage.c.cost), 0.0).label("cost"),
        func.sum(case((unpriced, usage.c.prompt_tokens))).label("unpriced_prompt"),
        func.sum(case((unpriced, usage.c.completion_tokens))).label("unpriced_completion"),
        func.sum(case((unpriced, usage.c.cached_tokens))).label("unpriced_cached"),
        func.sum(usage.c.latency_ms).label("latency_sum"),
        func.max(usage.c.latency_ms).label("latency_max"),
        func.coalesce(func.sum(usage.c.ttfb_ms), 0.0).label("ttfb_sum"),
        func.count(usage.c.ttfb_ms).label("ttfb_count"),
    )
    query = query.where(usage.c.ts >= low, usage.c.ts < high).group_by(
        hour, usage.c.gateway, usage.c.provider, "proxy", "key_id", model, usage.c.status
    )
    result = []
    for row in conn.execute(query):
        cost = float(row.cost)
        if row.unpriced_prompt is not None or row.unpriced_completion is not None:
            cost += prices.cost(row.model or None, row.unpriced_prompt, row.unpriced_completion, row.unpriced_cached)
        key: RollupKey = (
            HOUR,
            int(row.bucket),
            row.gateway,
            row.provider,
            row.proxy,
            row.key_id,
            row.model,
            int(row.status),
        )
        sums = RollupSums(
            requests=int(row.requests),
            streams=int(row.streams or 0),
            prompt_tokens=int(row.prompt),
            completion_tokens=int(row.completion),
            total_tokens=int(row.total),
            cached_tokens=int(row.cached),
            cost=cost,
            latency_ms_sum=float(row.latency_sum),
            latency_ms_max=float(row.latency_max),
            ttfb_ms_sum=float(row.ttfb_sum),
            ttfb_count=int(row.ttfb_count),
        )
        result.append((key, sums))
    return result


def raw_bucket(conn: Connection, seconds: int) -> ColumnElement[int]:
    """SQL for the start of the `seconds`-long bucket a raw row's `ts` falls in (integer unix seconds).

    SQLite lacks floor() in most builds: a cast truncates, which is floor for positive times.
    PostgreSQL's cast rounds, so it gets floor().
    """
    if conn.dialect.name == "postgresql":
        return cast(func.floor(usage.c.ts / seconds), BigInteger) * seconds
    return cast(usage.c.ts / seconds, Integer) * seconds


def _insert(conn: Connection, groups: dict[RollupKey, RollupSums]) -> None:
    """Write rebuilt rows (their range was emptied first) in multi-row statements, both grains."""
    _upsert(conn, "usage_rollup", _KEY_COLUMNS, groups)
    _upsert(conn, "usage_rollup_coarse", _COARSE_KEY_COLUMNS, coarse(groups))


def fill_weeks(conn: Connection) -> None:
    """Add week rows to both roll-ups from their day rows, in SQL (the migration that adds weeks)."""
    for table, key_columns in ((usage_rollup, _KEY_COLUMNS), (usage_rollup_coarse, _COARSE_KEY_COLUMNS)):
        t = table.c
        dimensions = [t[name] for name in key_columns[2:]]
        week = (t.bucket - t.bucket % WEEK).label("week")
        sums = [func.max(t[c]) if c == "latency_ms_max" else func.sum(t[c]) for c in _SUM_COLUMNS]
        query = select(literal(WEEK), week, *dimensions, *sums).where(t.period == DAY).group_by(week, *dimensions)
        conn.execute(table.insert().from_select([*key_columns, *_SUM_COLUMNS], query))


def fill_coarse(conn: Connection) -> None:
    """Build `usage_rollup_coarse` from `usage_rollup` in SQL (the migration that adds it)."""
    t = usage_rollup.c
    sums = [func.max(t.latency_ms_max) if name == "latency_ms_max" else func.sum(t[name]) for name in _SUM_COLUMNS]
    keys = [t[name] for name in _COARSE_KEY_COLUMNS]
    query = select(*keys, *sums).group_by(*keys)
    conn.execute(usage_rollup_coarse.insert().from_select([*_COARSE_KEY_COLUMNS, *_SUM_COLUMNS], query))

"""Usage analytics at scale: seed N synthetic usage records, then time the console's queries.

    .venv/bin/python bench/usage_scale.py --backend sqlite --rows 1000000
    .venv/bin/python bench/usage_scale.py --backend postgresql --rows 10000000 \\
        --url "postgresql://$USER@127.0.0.1:5432/test?options=-csearch_path%3Dusage_bench"
    .venv/bin/python bench/usage_scale.py --backend sqlite --reuse --db /tmp/usage-10m.db   # time again

Seeding is a bulk load, not the writer's path: the store is created by its migrations, the usage
table's secondary indexes are dropped, rows go in with executemany (SQLite, one transaction per
100k rows) or COPY (PostgreSQL), the indexes are created again, and the roll-ups are built by
GROUP BYs in SQL that compute what `usage_rollups.rebuild` computes (see `_rollups`). Every row
is priced from the price table. The data (fixed random seed): 30 days ending now, in time order;
3 gateways, 6 providers, ~20 models, 40 proxies (30% of requests go to providers directly), 400 keys (each tied to one
proxy or provider), statuses 200 (94%), 429 (3%), 400, 500, 502 (1% each), 60% streams.

Each query runs through the management API in-process (FastAPI TestClient: routing, validation,
the store call, JSON), `--repeat` times after one warm-up; wall-clock p50 / p95 / max and this
process's CPU time per query (with SQLite that includes the database's own work; with PostgreSQL
the server's work is in its own processes) are printed and written as JSON with `--json`, with the
machine's load average before and after: on a shared machine the wall times carry the queueing.
`--writer` also measures the writer's insert rate (rows/s of
`Store.insert_usage` with roll-ups, 500-record batches) on a copy of the schema.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.schema import CreateIndex, DropIndex

from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.store import Store, usage_rollups
from tollgate.store.schema import usage
from tollgate.usage.pricing import default_table
from tollgate.usage.record import UsageRecord

SPAN_DAYS = 30
TOKEN = "bench-admin-token-0123456789"
PROVIDERS = {
    "openai": ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "o4-mini"],
    "anthropic": ["claude-sonnet-4-5-20250929", "claude-haiku-4-5", "claude-opus-4-1"],
    "gemini": ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"],
    "mistral": ["mistral-small-latest", "mistral-large-latest", "codestral-latest"],
    "azure-openai": ["gpt-4o-2024-11-20", "gpt-4o-mini-2024-07-18", "gpt-4.1-mini"],
    "azure-ai-foundry": ["gpt-4o", "mistral-small", "my-finetune"],
}
STATUSES = [200] * 94 + [429] * 3 + [400, 500, 502]
COLUMNS = (*UsageRecord._fields, "cached_tokens", "cost")


def synthetic_rows(count: int, end: float, seed: int = 11) -> Iterator[tuple[Any, ...]]:
    """`count` rows in time order over the SPAN_DAYS before `end`, as tuples in COLUMNS order."""
    rng = random.Random(seed)
    prices = default_table()
    providers = list(PROVIDERS)
    proxies = [f"team-{i:02d}" for i in range(40)]
    # 400 keys: 280 on proxies (7 each), 120 on providers directly (20 each)
    keys: list[tuple[str, str | None, str, list[str]]] = []
    for i in range(280):
        provider = providers[i % 6]
        models = rng.sample(PROVIDERS[provider], k=min(2, len(PROVIDERS[provider])))
        keys.append((f"{i:012x}", proxies[i // 7], provider, models))
    for i in range(280, 400):
        provider = providers[i % 6]
        keys.append((f"{i:012x}", None, provider, PROVIDERS[provider]))
    weights = [3 if proxy else 1 for _, proxy, _, _ in keys]  # 70% of requests through proxies
    gateways = ["default"] * 6 + ["eu"] * 3 + ["us"]
    start = end - SPAN_DAYS * 86400
    step = SPAN_DAYS * 86400 / count
    key_picks = rng.choices(range(len(keys)), weights=weights, k=min(count, 1_000_000))
    for n in range(count):
        key_id, proxy, provider, models = keys[key_picks[n % len(key_picks)]]
        model = models[n % len(models)] if len(models) < 3 else rng.choice(models)
        status = rng.choice(STATUSES)
        streaming = rng.random() < 0.6
        ok = status == 200
        prompt = int(rng.lognormvariate(6.5, 1.0)) + 1 if ok else None
        completion = int(rng.lognormvariate(5.0, 0.9)) + 1 if ok else None
        cached = (prompt // 2 if prompt and rng.random() < 0.2 else None) if ok else None
        latency = rng.uniform(80, 4000) if ok else rng.uniform(5, 300)
        cost = prices.cost(model, prompt, completion, cached) if ok else 0.0
        yield (
            start + n * step,
            f"req-{n:010d}",
            rng.choice(gateways),
            provider,
            proxy,
            key_id,
            "POST",
            f"/{proxy or provider}/v1/chat/completions",
            model.split("-20")[0],
            model if ok else None,
            prompt,
            completion,
            None if prompt is None else prompt + (completion or 0),
            status,
            latency,
            latency * 0.2 if streaming and ok else None,
            streaming,
            None if ok else f"http_{status}",
            cached,
            cost,
        )


def seed(store: Store, rows: int, end: float) -> dict[str, float]:
    """Bulk-load `rows` records and build the roll-ups; returns the seconds each step took."""
    timings: dict[str, float] = {}
    engine = store._engine
    indexes = [ix for ix in usage.indexes]
    with engine.begin() as conn:
        for index in indexes:
            conn.execute(DropIndex(index, if_exists=True))
    began = time.perf_counter()
    if store.backend == "sqlite":
        _seed_sqlite(store, rows, end)
    else:
        _seed_postgresql(store, rows, end)
    timings["insert_s"] = time.perf_counter() - began
    began = time.perf_counter()
    with engine.begin() as conn:
        for index in indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))
    timings["indexes_s"] = time.perf_counter() - began
    timings["rollups_s"] = _rollups(store)
    with engine.begin() as conn:
        if store.backend == "postgresql":
            conn.execute(text("ANALYZE usage"))
            conn.execute(text("ANALYZE usage_rollup"))
        else:
            conn.execute(text("ANALYZE"))
        timings["rollup_rows"] = conn.execute(text("SELECT count(*) FROM usage_rollup")).scalar_one()
        timings["coarse_rollup_rows"] = conn.execute(text("SELECT count(*) FROM usage_rollup_coarse")).scalar_one()
    return timings


_SUMS = (
    "requests, streams, prompt_tokens, completion_tokens, total_tokens, cached_tokens, cost, "
    "latency_ms_sum, latency_ms_max, ttfb_ms_sum, ttfb_count"
)
_KEYS = "period, bucket, gateway, provider, proxy, key_id, model, status"


def _rollups(store: Store) -> float:
    """Build both roll-ups from the raw rows in SQL (a bulk load's shortcut) and refresh the statistics.

    The same sums `usage_rollups.rebuild` computes (tests check that one against the writer), done by
    the database in a few GROUP BYs instead of row by row in Python; it needs every row priced,
    which the seeding does. Returns seconds.
    """
    began = time.perf_counter()
    pg = store.backend == "postgresql"
    hour = "CAST(floor(ts / 3600) AS BIGINT) * 3600" if pg else "CAST(ts / 3600 AS INTEGER) * 3600"
    streams = "CASE WHEN is_streaming THEN 1 ELSE 0 END"
    with store._engine.begin() as conn:
        conn.execute(text("DELETE FROM usage_rollup"))
        conn.execute(text("DELETE FROM usage_rollup_coarse"))
        conn.execute(
            text(
                f"INSERT INTO usage_rollup ({_KEYS}, {_SUMS}) SELECT 3600, {hour}, gateway, provider, "
                "COALESCE(proxy, ''), COALESCE(key_id, ''), COALESCE(response_model, request_model, ''), status, "
                f"count(*), sum({streams}), COALESCE(sum(prompt_tokens), 0), COALESCE(sum(completion_tokens), 0), "
                "COALESCE(sum(total_tokens), 0), COALESCE(sum(cached_tokens), 0), COALESCE(sum(cost), 0), "
                "sum(latency_ms), max(latency_ms), COALESCE(sum(ttfb_ms), 0), count(ttfb_ms) "
                "FROM usage GROUP BY 2, 3, 4, 5, 6, 7, 8"
            )
        )
        sums = ", ".join(f"max({c})" if c == "latency_ms_max" else f"sum({c})" for c in _SUMS.split(", "))
        for period, source in ((86400, 3600), (7 * 86400, 86400)):
            conn.execute(
                text(
                    f"INSERT INTO usage_rollup ({_KEYS}, {_SUMS}) SELECT {period}, bucket - bucket % {period}, "
                    f"gateway, provider, proxy, key_id, model, status, {sums} FROM usage_rollup "
                    f"WHERE period = {source} GROUP BY 2, 3, 4, 5, 6, 7, 8"
                )
            )
        usage_rollups.fill_coarse(conn)
    with store._engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - began


def _seed_sqlite(store: Store, rows: int, end: float) -> None:
    sql = f"INSERT INTO usage ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    raw = store._engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        generator = synthetic_rows(rows, end)
        while True:
            chunk = [row for _, row in zip(range(100_000), generator, strict=False)]
            if not chunk:
                break
            cursor.execute("BEGIN")
            cursor.executemany(sql, chunk)
            cursor.execute("COMMIT")
            _progress(cursor.execute("SELECT max(id) FROM usage").fetchone()[0], rows)
    finally:
        raw.close()


def _seed_postgresql(store: Store, rows: int, end: float) -> None:
    raw = store._engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            done = 0
            generator = synthetic_rows(rows, end)
            while done < rows:
                with cursor.copy(f"COPY usage ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in zip(range(500_000), generator, strict=False):
                        copy.write_row(row[1])
                        done += 1
                driver.commit()
                _progress(done, rows)
    finally:
        raw.close()


def _progress(done: int, total: int) -> None:
    print(f"  seeded {done:,} / {total:,}", file=sys.stderr, flush=True)


def console_queries(now: float) -> list[tuple[str, str, dict[str, str]]]:
    """What the console asks for: (name, path, query parameters)."""

    def iso(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).isoformat()

    day, week, month = iso(now - 86400), iso(now - 7 * 86400), iso(now - 30 * 86400)
    return [
        ("24h by provider", "/api/v1/usage/summary", {"from": day, "groupBy": "provider"}),
        ("24h by provider, hourly", "/api/v1/usage/summary", {"from": day, "groupBy": "provider", "bucket": "hour"}),
        ("30d by model, daily", "/api/v1/usage/summary", {"from": month, "groupBy": "model", "bucket": "day"}),
        ("30d cost by proxy", "/api/v1/usage/summary", {"from": month, "groupBy": "proxy"}),
        ("30d total", "/api/v1/usage/summary", {"from": month}),
        ("7d one proxy by key", "/api/v1/usage/summary", {"from": week, "proxy": "team-07", "groupBy": "key"}),
        (
            "30d errors by status, daily",
            "/api/v1/usage/summary",
            {"from": month, "status": "error", "groupBy": "status", "bucket": "day"},
        ),
        ("30d one key, daily", "/api/v1/usage/summary", {"from": month, "key": "000000000007", "bucket": "day"}),
        ("1h by minute", "/api/v1/usage/summary", {"from": iso(now - 3600), "bucket": "minute"}),
        ("latest 100 records", "/api/v1/usage/records", {"limit": "100"}),
        ("latest 100 of one key", "/api/v1/usage/records", {"limit": "100", "key": "000000000007"}),
        ("latest 100 errors (5xx)", "/api/v1/usage/records", {"limit": "100", "status": "5xx"}),
        (
            "100 of one model, 20 days ago",
            "/api/v1/usage/records",
            {"limit": "100", "model": "claude-haiku-4-5", "to": iso(now - 20 * 86400)},
        ),
    ]


def time_queries(store: Store, now: float, repeat: int) -> list[dict[str, Any]]:
    app = create_app(store, auth=AdminAuth(store, env_token=TOKEN))
    results = []
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for name, path, params in console_queries(now):
            response = client.get(path, params=params)
            response.raise_for_status()
            body = response.json()
            size = len(body.get("rows", body.get("items", [])))
            samples, cpu = [], []
            for _ in range(repeat):
                began, began_cpu = time.perf_counter(), time.process_time()
                client.get(path, params=params).raise_for_status()
                samples.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            samples.sort()
            cpu.sort()
            p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
            cpu95 = cpu[min(len(cpu) - 1, round(0.95 * len(cpu)) - 1)]
            results.append(
                {
                    "query": name,
                    "rows": size,
                    "p50_ms": statistics.median(samples),
                    "p95_ms": p95,
                    "max_ms": samples[-1],
                    "cpu_p50_ms": statistics.median(cpu),
                    "cpu_p95_ms": cpu95,
                }
            )
            print(
                f"  {name:<32} {size:>5} rows  p50 {results[-1]['p50_ms']:8.1f} ms  p95 {p95:8.1f} ms"
                f"  (this process's CPU: p50 {results[-1]['cpu_p50_ms']:7.1f} ms, p95 {cpu95:7.1f} ms)",
                flush=True,
            )
    return results


def _fresh_url(backend: str, url: str) -> str:
    """An empty database beside the benchmark's (a new SQLite file, or a second PostgreSQL schema)."""
    if backend == "sqlite":
        return f"sqlite:///{Path(tempfile.mkdtemp()) / 'writer.db'}"
    other = url.replace("search_path%3D", "search_path%3Dw_")
    _empty_pg_schema(other)
    return other


def writer_rate(url_factory: Callable[[], str], batches: int) -> float:
    """Rows per second `Store.insert_usage` (priced + roll-ups) sustains in 500-record batches."""
    url = url_factory()
    with Store.open(url) as store:
        end = time.time()
        generator = synthetic_rows(batches * 500, end, seed=5)
        records = [UsageRecord(*row[:18]) for row in generator]
        began = time.perf_counter()
        for i in range(batches):
            store.insert_usage(records[i * 500 : (i + 1) * 500])
        return batches * 500 / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default: a temporary one)")
    parser.add_argument("--url", default=None, help="PostgreSQL URL (its search_path schema is emptied!)")
    parser.add_argument("--reuse", action="store_true", help="Time an already seeded database.")
    parser.add_argument("--seed-only", action="store_true", help="Seed, do not time.")
    parser.add_argument("--rollups-only", action="store_true", help="Rebuild the roll-ups of a seeded database.")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--writer", type=int, default=0, metavar="BATCHES", help="Also measure the writer.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")
    args = parser.parse_args()
    os.environ.setdefault("TOLLGATE_SECRET_KEY_FILE", str(Path(tempfile.gettempdir()) / "usage-bench-secret.key"))
    if args.backend == "sqlite":
        db = args.db or Path(tempfile.mkdtemp()) / "usage-bench.db"
        url = f"sqlite:///{db}"
        if not (args.reuse or args.rollups_only):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:
        url = args.url or f"postgresql://{getpass.getuser()}@127.0.0.1:5432/test?options=-csearch_path%3Dusage_bench"
        if not (args.reuse or args.rollups_only):
            _empty_pg_schema(url)
    result: dict[str, Any] = {"backend": args.backend, "rows": args.rows, "load_average": os.getloadavg()}
    now = time.time()
    with Store.open(url) as store:
        if args.rollups_only:
            began = time.perf_counter()
            result["seed"] = {"rollups_s": _rollups(store), "rollups_wall_s": time.perf_counter() - began}
            print(f"  {result['seed']}", file=sys.stderr)
        elif not args.reuse:
            print(f"seeding {args.rows:,} rows into {args.backend}", file=sys.stderr)
            result["seed"] = seed(store, args.rows, now)
            print(f"  {result['seed']}", file=sys.stderr)
        if args.reuse or args.rollups_only:
            with store._engine.connect() as conn:
                now = float(conn.execute(text("SELECT max(ts) FROM usage")).scalar_one()) + 1
        if not args.seed_only:
            print(f"timing {args.repeat} runs per query ({args.backend}, {args.rows:,} rows)")
            result["queries"] = time_queries(store, now, args.repeat)
            result["load_average_after"] = os.getloadavg()
    if args.writer:
        result["writer_rows_per_s"] = writer_rate(lambda: _fresh_url(args.backend, url), args.writer)
        print(f"writer: {result['writer_rows_per_s']:,.0f} rows/s (priced, with roll-ups, 500-record batches)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def _empty_pg_schema(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = parsed.query["options"]
    schema = (options if isinstance(options, str) else options[0]).split("search_path=")[1]
    conninfo = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


if __name__ == "__main__":
    main()

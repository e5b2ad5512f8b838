"""Usage rows: priced batch inserts, roll-ups kept in step, filtered pages, summaries, retention, migration.

Every test runs on SQLite and PostgreSQL. Times are fixed (2026-11-02 00:00 UTC is a day boundary) so
bucket boundaries are exact.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Table, text

from tollgate.store import Store
from tollgate.store.migrations import MIGRATIONS
from tollgate.store.schema import usage_rollup, usage_rollup_coarse
from tollgate.store.usage_query import SummaryQuery, UsageAggregate, UsageFilter
from tollgate.store.usage_summary import RAW, plan
from tollgate.usage.record import UsageRecord

DAY0 = 1_793_577_600.0  # 2026-11-02T00:00:00Z
H = 3600.0
D = 86400.0


def record(
    ts: float,
    *,
    provider: str = "openai",
    proxy: str | None = None,
    key_id: str | None = "abcdefabcdef",
    model: str | None = "gpt-4o",
    response_model: str | None = "gpt-4o-2024-08-06",
    status: int = 200,
    tokens: tuple[int | None, int | None, int | None] = (1000, 500, 1500),
    latency: float = 100.0,
    ttfb: float | None = None,
    streaming: bool = False,
    gateway: str = "default",
    request_id: str = "r",
) -> UsageRecord:
    return UsageRecord(
        ts=ts,
        request_id=request_id,
        gateway=gateway,
        provider=provider,
        proxy=proxy,
        key_id=key_id,
        method="POST",
        path="/v1/chat/completions",
        request_model=model,
        response_model=response_model,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        total_tokens=tokens[2],
        status=status,
        latency_ms=latency,
        ttfb_ms=ttfb,
        is_streaming=streaming,
    )


#: gpt-4o at 2.50 in / 10.00 out per million: 1000 prompt + 500 completion tokens cost 0.0075.
GPT4O_COST = (1000 * 2.5 + 500 * 10.0) / 1e6
#: claude-sonnet-4-5 at 3 / 15: the same tokens cost 0.0105.
SONNET_COST = (1000 * 3.0 + 500 * 15.0) / 1e6


def rollup_rows(store: Store, table: Table = usage_rollup) -> list[tuple[object, ...]]:
    with store._engine.connect() as conn:
        return [tuple(r) for r in conn.execute(table.select().order_by(*table.primary_key.columns))]


def totals(aggregates: list[UsageAggregate]) -> list[tuple[object, ...]]:
    return [(a.bucket, a.group, a.requests, a.errors, a.prompt_tokens, round(a.cost, 9)) for a in aggregates]


# --- writing ------------------------------------------------------------------------------------


def test_records_are_priced_when_written(store: Store) -> None:
    store.insert_usage(
        [
            record(DAY0 + 1, request_id="a"),
            record(DAY0 + 2, provider="anthropic", model="claude-sonnet-4-5", response_model=None, request_id="b"),
            record(DAY0 + 3, model="my-own-llm", response_model=None, request_id="c"),
            record(DAY0 + 4, status=429, tokens=(None, None, None), request_id="d"),
        ]
    )
    page = store.usage_records()
    assert [(r.request_id, r.cost) for r in page] == [
        ("d", 0.0),
        ("c", 0.0),  # unknown model: 0, never a failure
        ("b", pytest.approx(SONNET_COST)),
        ("a", pytest.approx(GPT4O_COST)),
    ]
    assert page[3].response_model == "gpt-4o-2024-08-06"
    assert page[3].cached_tokens is None


def test_cache_hits_are_stored_with_their_saved_tokens_and_cost_nothing(store: Store) -> None:
    hit = record(DAY0 + 1, tokens=(0, 0, 0), request_id="hit")._replace(cache_result="hit", saved_tokens=1500)
    miss = record(DAY0 + 2, request_id="miss")._replace(cache_result="miss")
    store.insert_usage([hit, miss, record(DAY0 + 3, request_id="plain")])
    page = store.usage_records()
    assert [(r.request_id, r.cache_result, r.saved_tokens) for r in page] == [
        ("plain", None, None),
        ("miss", "miss", None),
        ("hit", "hit", 1500),
    ]
    assert (page[2].total_tokens, page[2].cost) == (0, 0.0)


def test_usage_writes_do_not_bump_the_revision(store: Store) -> None:
    store.insert_usage([record(DAY0)])
    store.insert_usage([])
    assert store.current_revision() == 0


def test_rollups_agree_with_a_rebuild_from_raw_rows(store: Store) -> None:
    """The writer's incremental roll-ups equal the ones recomputed from scratch (several batches, same keys)."""
    batches = [
        [
            record(DAY0 + i * 1000 + b, latency=10.0 * i + b, ttfb=1.0 if i % 2 else None, streaming=i % 3 == 0)
            for i in range(20)
        ]
        for b in range(3)
    ]
    batches.append([record(DAY0 + 5, proxy="team", key_id=None, status=500, model="claude-haiku-4-5")])
    for batch in batches:
        store.insert_usage(batch)
    incremental = rollup_rows(store)
    incremental_coarse = rollup_rows(store, usage_rollup_coarse)
    # hourly: 6 hours of one group, 1 of the other; daily and weekly: 1 each
    assert len(incremental) == len(incremental_coarse) == 6 + 1 + 1 + 1 + 1 + 1
    with store._engine.begin() as conn:
        from tollgate.store import usage_rollups

        usage_rollups.rebuild(conn, None, None, store.prices)
    for table, before, keys in ((usage_rollup, incremental, 8), (usage_rollup_coarse, incremental_coarse, 6)):
        rebuilt = rollup_rows(store, table)
        assert [r[:keys] for r in rebuilt] == [r[:keys] for r in before]
        for mine, theirs in zip(before, rebuilt, strict=True):
            assert mine[keys:] == pytest.approx(theirs[keys:])
    day_coarse = next(r for r in incremental_coarse if r[0] == 86400 and r[3] == "")
    assert day_coarse[:6] == (86400, int(DAY0), "openai", "", "gpt-4o-2024-08-06", 200)
    assert day_coarse[6:] == pytest.approx(next(r for r in incremental if r[0] == 86400 and r[4] == "")[8:])
    week = next(r for r in incremental if r[0] == 7 * 86400 and r[4] == "")
    assert week[1] == int(DAY0) - int(DAY0) % (7 * 86400)  # weeks start on Thursdays (the epoch's weekday)
    assert week[8:] == pytest.approx(next(r for r in incremental if r[0] == 86400 and r[4] == "")[8:])
    day = next(r for r in incremental if r[0] == 86400 and r[4] == "")
    # period, bucket, gateway, provider, proxy, key, model, status, requests, streams, prompt, completion,
    # total, cached, cost, latency sum, latency max, ttfb sum, ttfb count
    assert day[:14] == (
        86400,
        int(DAY0),
        "default",
        "openai",
        "",
        "abcdefabcdef",
        "gpt-4o-2024-08-06",
        200,
        60,
        21,
        60_000,
        30_000,
        90_000,
        0,
    )
    assert day[14] == pytest.approx(60 * GPT4O_COST)
    assert day[15:] == pytest.approx((sum(10.0 * i + b for i in range(20) for b in range(3)), 192.0, 30.0, 30))


def test_concurrent_writers_add_to_the_same_rollup_rows(store: Store) -> None:
    """Several nodes' writers hit the same (hour, group) rows at once: no lost update, no deadlock."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"]
                store.insert_usage(
                    [record(DAY0 + i, model=models[(i + n) % 3], response_model=None) for i in range(30)]
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    summary = store.usage_summary(SummaryQuery(group_by=("model",)))
    assert [(a.group, a.requests) for a in summary] == [
        (("claude-sonnet-4-5",), 200),
        (("gpt-4o",), 200),
        (("gpt-4o-mini",), 200),
    ]


def test_client_supplied_text_longer_than_its_column_is_cut_not_fatal(store: Store) -> None:
    """One odd request (a 5 kB path, a made-up 1 kB model) must not make its whole batch fail on PostgreSQL."""
    odd = record(DAY0, response_model="m" * 1000)._replace(path="/openai/v1/" + "x" * 5000, request_model="r" * 1000)
    store.insert_usage([record(DAY0), odd])
    models = {a.group for a in store.usage_summary(SummaryQuery(group_by=("model",)))}
    assert models == {("gpt-4o-2024-08-06",), ("m" * 256,)}


# --- listing ------------------------------------------------------------------------------------


def test_pages_walk_every_record_once_newest_first(store: Store) -> None:
    # 25 records, several sharing a timestamp, so the cursor must break ties by id
    records = [record(DAY0 + i // 3, request_id=f"r{i:02d}") for i in range(25)]
    store.insert_usage(records)
    seen: list[str] = []
    before = None
    while True:
        page = store.usage_records(limit=7, before=before)
        seen += [r.request_id for r in page]
        if len(page) < 7:
            break
        before = (page[-1].ts, page[-1].id)
    assert seen == [f"r{i:02d}" for i in reversed(range(25))]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (UsageFilter(provider="anthropic"), ["b"]),
        (UsageFilter(proxy="team"), ["c"]),
        (UsageFilter(key="000000000001"), ["d"]),
        (UsageFilter(model="gpt-4o-2024-08-06"), ["c", "a"]),
        (UsageFilter(model="gpt-4o-mini"), ["e"]),  # no response model: the request model counts
        (UsageFilter(status_min=400, status_max=499), ["d"]),
        (UsageFilter(status_min=500, status_max=599), ["f"]),
        (UsageFilter(gateway="eu"), ["f"]),
        (UsageFilter(start=DAY0 + 2, end=DAY0 + 4), ["c", "b"]),
        (UsageFilter(provider="openai", start=DAY0 + 3), ["f", "e", "d", "c"]),
    ],
)
def test_filters(store: Store, flt: UsageFilter, expected: list[str]) -> None:
    store.insert_usage(
        [
            record(DAY0 + 1, request_id="a"),
            record(DAY0 + 2, provider="anthropic", model="claude", response_model="claude-x", request_id="b"),
            record(DAY0 + 3, proxy="team", request_id="c"),
            record(DAY0 + 4, key_id="000000000001", status=429, model="x", response_model="y", request_id="d"),
            record(DAY0 + 5, model="gpt-4o-mini", response_model=None, request_id="e"),
            record(DAY0 + 6, gateway="eu", status=502, model="z", response_model="z", request_id="f"),
        ]
    )
    assert [r.request_id for r in store.usage_records(flt)] == expected


def test_pages_of_a_status_range_merge_the_statuses_in_order(store: Store) -> None:
    """A range (5xx) is listed one status at a time and merged: same order and pages as one query."""
    statuses = [500, 502, 503, 200, 429]
    store.insert_usage([record(DAY0 + i // 2, status=statuses[i % 5], request_id=f"r{i:02d}") for i in range(40)])
    expected = [f"r{i:02d}" for i in reversed(range(40)) if statuses[i % 5] >= 500]
    seen: list[str] = []
    before = None
    while True:
        page = store.usage_records(UsageFilter(status_min=500, status_max=599), limit=5, before=before)
        seen += [r.request_id for r in page]
        if len(page) < 5:
            break
        before = (page[-1].ts, page[-1].id)
    assert seen == expected
    assert [r.request_id for r in store.usage_records(UsageFilter(status_min=400), limit=4)] == [
        "r39",
        "r37",
        "r36",
        "r35",
    ]


# --- summaries ----------------------------------------------------------------------------------


def test_plan_covers_the_range_with_raw_edges_hours_and_days() -> None:
    start, end = DAY0 + 900, DAY0 + 2 * D + H + 1200
    assert plan(start, end, None) == [
        (RAW, start, DAY0 + H),
        (RAW, DAY0 + 2 * D + H, end),
        (3600, DAY0 + H, DAY0 + D),
        (3600, DAY0 + 2 * D, DAY0 + 2 * D + H),
        (86400, DAY0 + D, DAY0 + 2 * D),
    ]
    assert plan(start, end, "hour") == [
        (RAW, start, DAY0 + H),
        (RAW, DAY0 + 2 * D + H, end),
        (3600, DAY0 + H, DAY0 + 2 * D + H),
    ]
    assert plan(start, end, "minute") == [(RAW, start, end)]
    assert plan(DAY0 + 10, DAY0 + 20, "day") == [(RAW, DAY0 + 10, DAY0 + 20)]
    assert plan(None, None, None) == [(7 * 86400, None, None)]
    # a month: weeks (epoch-aligned, Thursday to Thursday) inside, days and hours towards the ends
    thursday = DAY0 + 3 * D  # 2026-11-05
    month_start, month_end = DAY0 - 20 * D + 1800, DAY0 + 10 * D + 5 * H + 60  # Tue 13 Oct 00:30 to Thu 12 Nov
    assert plan(month_start, month_end, None) == [
        (RAW, month_start, DAY0 - 20 * D + H),
        (RAW, DAY0 + 10 * D + 5 * H, month_end),
        (3600, DAY0 - 20 * D + H, DAY0 - 19 * D),
        (3600, DAY0 + 10 * D, DAY0 + 10 * D + 5 * H),
        (86400, DAY0 - 19 * D, thursday - 21 * D),  # (the range ends on a Thursday: no day part after the weeks)
        (7 * 86400, thursday - 21 * D, thursday + 7 * D),
    ]
    assert plan(DAY0 + 1, None, "day") == [
        (RAW, DAY0 + 1, DAY0 + H),
        (3600, DAY0 + H, DAY0 + D),
        (86400, DAY0 + D, None),
    ]


@pytest.fixture
def three_days(store: Store) -> Store:
    """Records spread over three days: one per hour from openai, and a few anthropic errors."""
    records = [record(DAY0 + i * H + 600, request_id=f"o{i}") for i in range(72)]
    records += [
        record(DAY0 + 1800, provider="anthropic", model="claude-sonnet-4-5", response_model=None, status=529),
        record(DAY0 + D + 7 * H + 59, provider="anthropic", model="claude-sonnet-4-5", response_model=None),
        record(DAY0 + 2 * D + H + 1500, provider="anthropic", model="claude-sonnet-4-5", response_model=None),
    ]
    store.insert_usage(records)
    return store


def test_summary_over_a_range_that_is_not_aligned(three_days: Store) -> None:
    # [00:15 day 0, 01:20 day 2): raw 00:15-01:00 and 01:00-01:20, hourly and daily roll-ups between
    flt = UsageFilter(start=DAY0 + 900, end=DAY0 + 2 * D + H + 1200)
    summary = three_days.usage_summary(SummaryQuery(flt, group_by=("provider",)))
    # openai: records at hh:10 from 00:10 day 0 to 01:10 day 2, minus 00:10 day 0 = 49 - 1 + 1 = 49
    assert totals(summary) == [
        (None, ("openai",), 49, 0, 49_000, round(49 * GPT4O_COST, 9)),
        (None, ("anthropic",), 2, 1, 2000, round(2 * SONNET_COST, 9)),
    ]


def test_summary_by_day_and_hour_buckets(three_days: Store) -> None:
    flt = UsageFilter(start=DAY0, end=DAY0 + 3 * D, provider="anthropic")
    by_day = three_days.usage_summary(SummaryQuery(flt, bucket="day"))
    assert totals(by_day) == [
        (int(DAY0), (), 1, 1, 1000, round(SONNET_COST, 9)),
        (int(DAY0 + D), (), 1, 0, 1000, round(SONNET_COST, 9)),
        (int(DAY0 + 2 * D), (), 1, 0, 1000, round(SONNET_COST, 9)),
    ]
    by_hour = three_days.usage_summary(
        SummaryQuery(UsageFilter(start=DAY0 + D, end=DAY0 + D + 10 * H), group_by=("provider", "status"), bucket="hour")
    )
    assert [(a.bucket, a.group, a.requests) for a in by_hour] == [
        (int(DAY0 + D + h * H), ("openai", 200), 1) for h in range(7)
    ] + [(int(DAY0 + D + 7 * H), ("anthropic", 200), 1), (int(DAY0 + D + 7 * H), ("openai", 200), 1)] + [
        (int(DAY0 + D + h * H), ("openai", 200), 1) for h in (8, 9)
    ]


def test_summary_by_minute_reads_raw_rows(three_days: Store) -> None:
    flt = UsageFilter(start=DAY0 + D + 7 * H, end=DAY0 + D + 8 * H)
    summary = three_days.usage_summary(SummaryQuery(flt, group_by=("model",), bucket="minute"))
    assert [(a.bucket, a.group, a.requests) for a in summary] == [
        (int(DAY0 + D + 7 * H), ("claude-sonnet-4-5",), 1),
        (int(DAY0 + D + 7 * H + 600), ("gpt-4o-2024-08-06",), 1),
    ]


def test_summary_sums_every_measure(store: Store) -> None:
    store.insert_usage(
        [
            record(DAY0 + 10, latency=100.0, ttfb=20.0, streaming=True),
            record(DAY0 + 20, latency=300.0, ttfb=40.0, streaming=True),
            record(DAY0 + 30, latency=50.0, status=500, tokens=(None, None, None)),
        ]
    )
    for flt in (UsageFilter(), UsageFilter(start=DAY0 + 5, end=DAY0 + 40)):  # roll-ups, then raw rows
        [only] = store.usage_summary(SummaryQuery(flt))
        assert (only.requests, only.errors, only.streams) == (3, 1, 2)
        assert (only.prompt_tokens, only.completion_tokens, only.total_tokens) == (2000, 1000, 3000)
        assert only.cost == pytest.approx(2 * GPT4O_COST)
        assert (only.avg_latency_ms, only.latency_ms_max, only.avg_ttfb_ms) == (150.0, 300.0, 30.0)


def test_summary_of_nothing_is_empty(store: Store) -> None:
    assert store.usage_summary() == []
    assert store.usage_summary(SummaryQuery(UsageFilter(start=DAY0 + 10, end=DAY0 + 20))) == []
    store.insert_usage([record(DAY0)])
    assert store.usage_summary(SummaryQuery(UsageFilter(provider="none"))) == []


# --- retention ----------------------------------------------------------------------------------


def test_pruning_keeps_the_rollups(three_days: Store) -> None:
    before = three_days.usage_summary(SummaryQuery(group_by=("provider",), bucket="day"))
    assert three_days.prune_usage(DAY0 + 2 * D, batch=10) == 48 + 2
    assert len(three_days.usage_records(limit=1000)) == 24 + 1
    assert totals(three_days.usage_summary(SummaryQuery(group_by=("provider",), bucket="day"))) == totals(before)
    # a repair rebuild leaves the partly pruned first day alone
    assert three_days.rebuild_usage_rollups() == 0
    assert totals(three_days.usage_summary(SummaryQuery(group_by=("provider",), bucket="day"))) == totals(before)


# --- migration ----------------------------------------------------------------------------------


def test_migration_3_builds_rollups_and_prices_old_rows(db_url: str, key_file: Path) -> None:
    """A database from before migration 3: its rows get roll-ups (costed at today's prices) and a page prices them."""
    with Store.open(db_url, secret_key_file=key_file) as store:
        store.insert_usage([record(DAY0 + 10), record(DAY0 + H + 10, model="claude-haiku-4-5", response_model=None)])
        with store._engine.begin() as conn:
            conn.execute(text("UPDATE usage SET cost = NULL"))
            conn.execute(text("DROP TABLE usage_rollup"))
            conn.execute(text("DROP TABLE usage_rollup_coarse"))
            conn.execute(text("DROP INDEX ix_usage_model_ts"))
            conn.execute(text("DELETE FROM schema_version WHERE version IN (3, 5, 6)"))
    with Store.open(db_url, secret_key_file=key_file) as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
        summary = store.usage_summary(SummaryQuery(group_by=("model",)))
        haiku = (1000 * 1.0 + 500 * 5.0) / 1e6
        assert totals(summary) == [
            (None, ("claude-haiku-4-5",), 1, 0, 1000, round(haiku, 9)),
            (None, ("gpt-4o-2024-08-06",), 1, 0, 1000, round(GPT4O_COST, 9)),
        ]
        assert [r.cost for r in store.usage_records()] == [pytest.approx(haiku), pytest.approx(GPT4O_COST)]


def test_migration_5_builds_the_coarse_rollup_from_the_full_one(db_url: str, key_file: Path) -> None:
    with Store.open(db_url, secret_key_file=key_file) as store:
        store.insert_usage([record(DAY0 + i * 600, key_id=f"{i % 3:012d}", gateway=f"g{i % 2}") for i in range(30)])
        before = rollup_rows(store, usage_rollup_coarse)
        with store._engine.begin() as conn:
            conn.execute(text("DROP TABLE usage_rollup_coarse"))
            conn.execute(text("DELETE FROM schema_version WHERE version = 5"))
    with Store.open(db_url, secret_key_file=key_file) as store:
        after = rollup_rows(store, usage_rollup_coarse)
    assert len(after) == 5 + 1 + 1  # 5 hours, 1 day, 1 week, whatever the keys and gateways
    assert [r[:6] for r in after] == [r[:6] for r in before]
    for mine, theirs in zip(after, before, strict=True):
        assert mine[6:] == pytest.approx(theirs[6:])
    assert after[-1][6] == 30


def test_migration_6_sums_weeks_from_days(db_url: str, key_file: Path) -> None:
    records = [record(DAY0 + i * 6 * H, key_id=f"{i % 2:012d}", status=200 + 229 * (i % 3 == 0)) for i in range(40)]
    with Store.open(db_url, secret_key_file=key_file) as store:
        store.insert_usage(records)
        before = (rollup_rows(store), rollup_rows(store, usage_rollup_coarse))
        with store._engine.begin() as conn:
            conn.execute(text("DELETE FROM usage_rollup WHERE period = 604800"))
            conn.execute(text("DELETE FROM usage_rollup_coarse WHERE period = 604800"))
            conn.execute(text("DELETE FROM schema_version WHERE version = 6"))
    with Store.open(db_url, secret_key_file=key_file) as store:
        after = (rollup_rows(store), rollup_rows(store, usage_rollup_coarse))
    for mine, theirs in zip(after, before, strict=True):
        assert [r[:8] for r in mine] == [r[:8] for r in theirs]
        for a, b in zip(mine, theirs, strict=True):
            assert a == pytest.approx(b)
    assert sum(r[8] for r in after[0] if r[0] == 604800) == 40  # 10 days: two weeks


def test_summaries_that_need_key_or_gateway_read_the_full_rollup(store: Store) -> None:
    store.insert_usage([record(DAY0 + i, key_id=f"{i % 3:012d}", gateway=f"g{i % 2}") for i in range(30)])
    month = UsageFilter(start=DAY0, end=DAY0 + D)
    by_key = store.usage_summary(SummaryQuery(month, group_by=("key",)))
    assert [(a.group, a.requests) for a in by_key] == [((f"{k:012d}",), 10) for k in range(3)]
    one_gateway = store.usage_summary(SummaryQuery(UsageFilter(start=DAY0, end=DAY0 + D, gateway="g1")))
    assert [a.requests for a in one_gateway] == [15]
    by_model = store.usage_summary(SummaryQuery(month, group_by=("model",)))
    assert [(a.group, a.requests) for a in by_model] == [(("gpt-4o-2024-08-06",), 30)]

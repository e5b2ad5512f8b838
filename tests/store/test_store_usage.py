"""Usage rows: batch insert and the grouped summary (requests, errors, tokens, p50 latency)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tollgate.store import Store
from tollgate.usage.record import UsageRecord


def record(
    *,
    provider: str = "openai",
    proxy: str | None = None,
    model: str | None = "gpt-4o",
    status: int = 200,
    latency: float = 10.0,
    tokens: tuple[int | None, int | None, int | None] = (10, 5, 15),
    age: float = 0.0,
    key_id: str | None = "abcdefabcdef",
) -> UsageRecord:
    return UsageRecord(
        ts=time.time() - age,
        request_id="r",
        gateway="default",
        provider=provider,
        proxy=proxy,
        key_id=key_id,
        method="POST",
        path="/v1/chat/completions",
        request_model=model,
        response_model=None if model is None else f"{model}-2024",
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        total_tokens=tokens[2],
        status=status,
        latency_ms=latency,
        ttfb_ms=None,
        is_streaming=False,
    )


def test_summary_by_provider(store: Store) -> None:
    store.insert_usage(
        [
            record(latency=10),
            record(latency=20, status=429, tokens=(None, None, None)),
            record(latency=30),
            record(provider="anthropic", model="claude", latency=5),
            record(age=3 * 3600),  # outside the last hour
        ]
    )
    rows = store.usage_summary(since=datetime.now(UTC) - timedelta(hours=1), group_by="provider")
    assert [(r.group, r.requests, r.errors, r.prompt_tokens, r.completion_tokens, r.total_tokens) for r in rows] == [
        ("openai", 3, 1, 20, 10, 30),
        ("anthropic", 1, 0, 10, 5, 15),
    ]
    assert rows[0].p50_latency_ms == pytest.approx(20.0)
    assert store.usage_summary(None, "provider")[0].requests == 4


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [("model", {"gpt-4o-2024", "claude-2024"}), ("proxy", {"team", None}), ("key", {"abcdefabcdef", None})],
)
def test_summary_groupings(store: Store, group_by: str, expected: set[str | None]) -> None:
    store.insert_usage([record(proxy="team"), record(provider="anthropic", model="claude", key_id=None)])
    assert {r.group for r in store.usage_summary(None, group_by)} == expected


def test_summary_rejects_unknown_grouping(store: Store) -> None:
    with pytest.raises(ValueError, match="cannot group usage by 'colour'"):
        store.usage_summary(None, "colour")


def test_usage_writes_do_not_bump_the_revision(store: Store) -> None:
    store.insert_usage([record()])
    store.insert_usage([])
    assert store.current_revision() == 0


def test_client_supplied_text_longer_than_its_column_is_cut_not_fatal(store: Store) -> None:
    """One odd request (a 5 kB path, a made-up 1 kB model) must not make its whole batch fail on PostgreSQL."""
    long_path = "/openai/v1/" + "x" * 5000
    odd = record(model="m" * 1000)._replace(path=long_path, request_model="r" * 1000)
    store.insert_usage([record(), odd])
    assert store.usage_summary(None, "provider")[0].requests == 2
    models = {row.group for row in store.usage_summary(None, "model")}
    assert "m" * 256 in models

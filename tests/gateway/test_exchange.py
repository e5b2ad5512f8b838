"""Tests for gateway/exchange.py: typed per-request state and the usage record built from an exchange."""

from __future__ import annotations

from tollgate.gateway.exchange import NO_FACTS, Exchange, ExchangeKey, record
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.tracing import TraceContext
from tollgate.gateway.upstream import PoolRegistry
from tollgate.providers.base import RequestFacts
from tollgate.usage.record import SpanFacts, TokenUsage, UsageResult

from .gw_helpers import provider, proxy, resource_set

COUNT: ExchangeKey[int] = ExchangeKey("count")
OTHER: ExchangeKey[int] = ExchangeKey("count")  # same name, still another key


def _exchange(path: str = "/app/v1/chat/completions") -> Exchange:
    return Exchange("rid-1", 1000.0, "POST", path, "", [(b"x-api-key", b"k")], "10.0.0.1")


def test_keys_are_typed_slots_that_never_collide() -> None:
    ex = _exchange()
    assert ex.get(COUNT) is None
    ex.set(COUNT, 3)
    assert ex.get(COUNT) == 3 and ex.get(OTHER) is None
    assert repr(COUNT) == "ExchangeKey('count')"


def test_the_usage_record_comes_from_the_exchange() -> None:
    snap = compile_snapshot(
        resource_set([provider("base", "openai", "/base", "http://127.0.0.1:9")], [proxy("app", "base", "/app")]),
        PoolRegistry(),
    )
    ex = _exchange()
    ex.route = snap.routes["/app"]
    ex.client_api = ex.route.client_api
    ex.sub_path = "/v1/chat/completions"
    ex.key_id = "abc"
    ex.facts = RequestFacts("gpt-4o", True)
    ex.is_stream = True
    ex.status = 200
    ex.ttfb_ms = 12.5
    ex.result = UsageResult(TokenUsage(3, 4, None, 2), "gpt-4o-2024", ("stop",))
    row = record(ex, "gw-1", 40.0)
    assert row == (
        1000.0, "rid-1", "gw-1", "base", "app", "abc", "POST", "/app/v1/chat/completions", "gpt-4o",
        "gpt-4o-2024", 3, 4, 7, 200, 40.0, 12.5, True, None, None, None, 2, "openai", None, None,
    )  # fmt: skip
    ex.cache_result, ex.saved_tokens = "hit", 7
    hit = record(ex, "gw-1", 40.0)
    assert (hit.cache_result, hit.saved_tokens) == ("hit", 7)
    assert ex.endpoint == "chat"
    # sent upstream 5 ms after arrival, traced: the upstream time and the span's facts
    ex.target = ex.route.targets[0]
    ex.upstream_started = 1000.005
    ex.trace = TraceContext("a" * 32, "b" * 16, "c" * 16)
    row = record(ex, "gw-1", 40.0)
    assert row.upstream_ms is not None and round(row.upstream_ms, 6) == 35.0
    assert row.trace == SpanFacts("a" * 32, "b" * 16, "c" * 16, "openai", "chat", "/app", ("stop",))


def test_a_refused_exchange_records_no_usage_and_a_cut_path() -> None:
    snap = compile_snapshot(resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9")]), PoolRegistry())
    ex = _exchange("/p/" + "x" * 5000)
    ex.route = snap.routes["/p"]
    ex.status, ex.error = 401, "invalid_api_key"
    row = record(ex, "gw", 1.0, path_limit=256)
    assert len(row.path) == 256 and row.path.startswith("/p/x")
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (None, None, None)
    assert (row.request_model, row.is_streaming, row.error_code) == (None, False, "invalid_api_key")
    assert ex.facts is NO_FACTS

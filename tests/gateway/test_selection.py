"""Tests for gateway/selection.py: each strategy's order, with exact distributions."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tollgate.errors import BadRequestError
from tollgate.gateway.exchange import Exchange
from tollgate.gateway.selection import Selector, smooth_weighted_schedule
from tollgate.gateway.snapshot import Route, compile_snapshot
from tollgate.gateway.targets import TargetHealth
from tollgate.gateway.upstream import PoolRegistry

from .gw_helpers import provider, proxy, resource_set

UP = "http://127.0.0.1:9"
NAMES = ("a", "b", "c")


def route_with(routing: dict[str, Any] | None, names: tuple[str, ...] = NAMES, **spec: Any) -> Route:
    """The route of a proxy on provider `names[0]` with the others as fallbacks."""
    if routing is not None:
        spec["routing"] = routing
    rs = resource_set(
        [provider(n, "openai", f"/{n}", UP) for n in names],
        [proxy("app", names[0], "/app", fallbacks=list(names[1:]), **spec)],
    )
    return compile_snapshot(rs, PoolRegistry(), {}).routes["/app"]


def selector(route: Route) -> Selector:
    assert route.routing is not None
    return route.routing.selector


def exchange(headers: dict[str, str] | None = None, key_id: str | None = "k1") -> Exchange:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    ex = Exchange("r1", 0.0, "POST", "/app/v1/chat/completions", "", raw, "127.0.0.1")
    ex.key_id = key_id
    return ex


def firsts(sel: Selector, n: int, **kw: Any) -> list[str]:
    return [sel.order(exchange(**kw), 0.0)[0].name for _ in range(n)]


def test_ordered_is_the_provider_then_the_fallbacks() -> None:
    sel = selector(route_with(None))
    assert [t.name for t in sel.order(exchange(), 0.0)] == ["a", "b", "c"]
    assert firsts(sel, 3) == ["a", "a", "a"]


def test_round_robin_takes_turns_and_each_order_holds_every_target() -> None:
    sel = selector(route_with({"strategy": "round-robin"}))
    assert firsts(sel, 7) == ["a", "b", "c", "a", "b", "c", "a"]
    assert [t.name for t in sel.order(exchange(), 0.0)] == ["b", "c", "a"]


def test_weighted_three_to_one_over_eight_requests_is_six_and_two_interleaved() -> None:
    sel = selector(route_with({"strategy": "weighted", "weights": {"a": 3, "b": 1}}, names=("a", "b")))
    picks = firsts(sel, 8)
    assert picks == ["a", "a", "b", "a", "a", "a", "b", "a"]
    assert Counter(picks) == {"a": 6, "b": 2}


def test_weighted_spreads_by_weight_leaves_weight_zero_for_failover_and_defaults_to_one() -> None:
    sel = selector(route_with({"strategy": "weighted", "weights": {"a": 5, "b": 0}}))  # c weighs 1
    orders = [[t.name for t in sel.order(exchange(), 0.0)] for _ in range(12)]
    assert Counter(o[0] for o in orders) == {"a": 10, "c": 2}
    assert all(o[-1] == "b" for o in orders), "a weight of 0 is tried only after the others"
    assert smooth_weighted_schedule([2, 4, 6]) == [2, 1, 0, 2, 1, 2]  # divided by the gcd: 1:2:3


def test_weighted_hands_a_suspended_targets_turn_to_the_next_in_the_schedule() -> None:
    sel = selector(route_with({"strategy": "weighted", "weights": {"a": 1, "b": 2, "c": 1}}))
    orders = [[t.name for t in sel.order(exchange(), 0.0)] for _ in range(4)]
    # the schedule of 1:2:1 is b a c b; from each slot, the targets in the order it reaches them
    assert orders == [["b", "a", "c"], ["a", "c", "b"], ["c", "b", "a"], ["b", "a", "c"]]


def test_lowest_latency_tries_each_once_then_prefers_the_fastest_and_retries_the_slow_one_later() -> None:
    route = route_with({"strategy": "lowest-latency", "decay": 10})
    sel = selector(route)
    assert sel.observes_latency
    a, b, c = route.targets
    assert [t.name for t in sel.order(exchange(), 100.0)] == ["a", "b", "c"]  # nothing measured yet
    a.health.observe(300.0, 100.0, 0.3, 10)
    b.health.observe(20.0, 100.0, 0.3, 10)
    assert [t.name for t in sel.order(exchange(), 100.0)] == ["c", "b", "a"]  # c was never measured
    c.health.observe(50.0, 100.0, 0.3, 10)
    assert [t.name for t in sel.order(exchange(), 100.0)] == ["b", "c", "a"]
    b.health.observe(120.0, 101.0, 0.3, 10)  # 0.3 * 120 + 0.7 * 20 * e^-0.1
    assert b.health.latency(101.0, 10) == pytest.approx(36.0 + 14.0 * 0.904837, rel=1e-6)
    # c's 50 ms measured a second ago counts 50 * e^-0.1 = 45.2 now: below b's fresh 48.7
    assert [t.name for t in sel.order(exchange(), 101.0)] == ["c", "b", "a"]
    # unused for 40 s, a's 300 ms decays below the fresh 20 and 50 of b and c: a is tried again
    b.health.observe(20.0, 140.0, 1.0, 10)
    c.health.observe(50.0, 140.0, 1.0, 10)
    assert a.health.latency(140.0, 10) == pytest.approx(300.0 * 0.0183156, rel=1e-5)
    assert [t.name for t in sel.order(exchange(), 140.0)] == ["a", "b", "c"]


def test_header_names_the_target_missing_means_the_declared_order_and_unknown_is_refused() -> None:
    sel = selector(route_with({"strategy": "header", "header": "X-Provider"}))
    assert [t.name for t in sel.order(exchange({"x-provider": "c"}), 0.0)] == ["c", "a", "b"]
    assert [t.name for t in sel.order(exchange({"x-provider": " B "}), 0.0)] == ["b", "a", "c"]
    assert [t.name for t in sel.order(exchange(), 0.0)] == ["a", "b", "c"]
    with pytest.raises(BadRequestError) as refused:
        sel.order(exchange({"x-provider": "zz"}), 0.0)
    assert refused.value.status == 400
    assert refused.value.message == "Header 'x-provider' must name one of this API's providers: a, b, c."


def test_header_accepts_an_alias() -> None:
    sel = selector(route_with({"strategy": "header", "header": "x-provider", "aliases": {"claude": "b"}}))
    assert [t.name for t in sel.order(exchange({"x-provider": "Claude"}), 0.0)] == ["b", "a", "c"]


def model_exchange(model: str | None) -> Exchange:
    from tollgate.providers.base import RequestFacts

    ex = exchange()
    ex.facts = RequestFacts(model=model, is_streaming=False)
    return ex


def sent_model(target: Any, model: str) -> str:
    """The body model `target`'s translator sends upstream for a request that asked for `model`."""
    import orjson

    from tollgate.providers.base import RequestFacts, UpstreamRequest

    body = {"model": model, "messages": []}
    req = UpstreamRequest("POST", "/v1/chat/completions", "", [], orjson.dumps(body))
    translation = target.translator.start(RequestFacts(model, False), req, body)
    if translation is not None:
        translation.request(req, body)
    return str(orjson.loads(req.body)["model"])


def test_model_names_aliases_and_provider_prefixes_choose_the_target_and_the_model_sent() -> None:
    routing = {
        "strategy": "model",
        "aliases": {"claude": "b"},
        "models": {
            "fast": {"provider": "c", "model": "gemini-2.5-flash"},
            "smart": [{"provider": "claude", "model": "claude-sonnet-4-6"}, {"provider": "a", "model": "gpt-4o"}],
            "gpt-4o-mini": {"provider": "a"},
        },
    }
    route = route_with(routing)
    sel = selector(route)

    def picked(model: str | None) -> list[tuple[str, str | None]]:
        order = sel.order(model_exchange(model), 0.0)
        return [(t.name, sent_model(t, model) if model else None) for t in order]

    assert picked("fast") == [("c", "gemini-2.5-flash")]
    assert picked("smart") == [("b", "claude-sonnet-4-6"), ("a", "gpt-4o")]
    assert picked("gpt-4o-mini") == [("a", "gpt-4o-mini")]
    assert picked("claude/claude-opus-4-1") == [("b", "claude-opus-4-1")]
    assert picked("b/claude-opus-4-1") == [("b", "claude-opus-4-1")]
    assert picked("c/gemini-2.5-pro") == [("c", "gemini-2.5-pro")]
    assert picked("o3") == [("a", "o3"), ("b", "o3"), ("c", "o3")]  # anything else: the declared order
    assert picked("zz/o3") == [("a", "zz/o3"), ("b", "zz/o3"), ("c", "zz/o3")]
    assert picked(None) == [("a", None), ("b", None), ("c", None)]
    # the variants share their provider's health (one breaker per provider)
    assert sel.order(model_exchange("fast"), 0.0)[0].health is route.targets[2].health


def test_a_providers_own_model_map_applies_after_the_model_route() -> None:
    rs = resource_set(
        [
            provider("a", "openai", "/a", UP),
            provider("b", "anthropic", "/b", UP, modelMap={"claude-sonnet-4-5": "claude-sonnet-4-6"}),
        ],
        [proxy("app", "a", "/app", fallbacks=["b"], routing={"strategy": "model"})],
    )
    route = compile_snapshot(rs, PoolRegistry(), {}).routes["/app"]
    (target,) = selector(route).order(model_exchange("b/claude-sonnet-4-5"), 0.0)
    import orjson

    from tollgate.providers.base import RequestFacts, UpstreamRequest

    body = {"model": "b/claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
    req = UpstreamRequest("POST", "/v1/chat/completions", "", [], orjson.dumps(body))
    translation = target.translator.start(RequestFacts("b/claude-sonnet-4-5", False), req, body)
    assert translation is not None
    translation.request(req, body)
    assert orjson.loads(req.body)["model"] == "claude-sonnet-4-6"  # openai -> anthropic, renamed twice
    assert req.path == "/v1/messages"


def test_a_proxy_on_providers_of_different_apis_speaks_openai_unless_it_says_otherwise() -> None:
    providers = [provider("claude", "anthropic", "/claude", UP), provider("gem", "gemini", "/gem", UP)]
    mixed = compile_snapshot(
        resource_set(providers, [proxy("mixed", "claude", "/mixed", fallbacks=["gem"])]), PoolRegistry(), {}
    ).routes["/mixed"]
    assert mixed.client_api.name == "openai"
    assert [t.translator.name for t in mixed.targets] == ["openai->anthropic", "openai->gemini"]
    said = compile_snapshot(
        resource_set(providers, [proxy("said", "claude", "/said", fallbacks=["gem"], clientApi="anthropic")]),
        PoolRegistry(),
        {},
    ).routes["/said"]
    assert said.client_api.name == "anthropic"
    alone = compile_snapshot(resource_set(providers, [proxy("alone", "claude", "/alone")]), PoolRegistry(), {})
    assert alone.routes["/alone"].client_api.name == "anthropic"


def test_sticky_hash_is_stable_per_user_across_snapshots_and_falls_to_the_next_in_its_own_order() -> None:
    spec = {"strategy": "hash", "header": "x-user-id"}
    one, two = selector(route_with(spec)), selector(route_with(spec))
    users = [f"user-{i}" for i in range(300)]
    orders = {u: [t.name for t in one.order(exchange({"x-user-id": u}), 0.0)] for u in users}
    assert all([t.name for t in two.order(exchange({"x-user-id": u}), 0.0)] == orders[u] for u in users)
    assert all(orders[u] == [t.name for t in one.order(exchange({"x-user-id": u}), 9.0)] for u in users[:20])
    # rendezvous hashing is a fixed function (every node and release agrees): this spread is exact
    assert Counter(o[0] for o in orders.values()) == {"a": 104, "b": 100, "c": 96}
    # without c, c's users go to their own second choice and nobody else moves
    two_targets = selector(route_with(spec, names=("a", "b")))
    for user in users:
        without_c = [t.name for t in two_targets.order(exchange({"x-user-id": user}), 0.0)]
        assert without_c == [n for n in orders[user] if n != "c"]
    # no header: the API key id is the key
    by_key = [t.name for t in one.order(exchange(key_id="k7"), 0.0)]
    assert by_key == [t.name for t in one.order(exchange({"x-user-id": "k7"}), 0.0)]


@pytest.mark.parametrize(
    ("routing", "field", "reason"),
    [
        ({"strategy": "weighted"}, "spec.routing", "strategy 'weighted' needs weights (provider name -> weight)"),
        (
            {"strategy": "weighted", "weights": {"a": 0}},
            "spec.routing",
            "weights: at least one provider needs a weight above 0",
        ),
        (
            {"strategy": "weighted", "weights": {"a": -1}},
            "spec.routing.weights.a",
            "input should be greater than or equal to 0",
        ),
        (
            {"strategy": "weighted", "weights": {"zz": 1}},
            "spec",
            "routing.weights.zz: 'zz' is not one of this proxy's providers (a, b)",
        ),
        (
            {"strategy": "round-robin", "weights": {"a": 1}},
            "spec.routing",
            "weights apply only to strategy 'weighted', not 'round-robin'",
        ),
        (
            {"strategy": "header"},
            "spec.routing",
            "strategy 'header' needs header (the request header naming the provider)",
        ),
        (
            {"strategy": "hash", "header": "Authorization"},
            "spec.routing.header",
            "'Authorization' carries credentials; route on another header",
        ),
        (
            {"strategy": "fastest"},
            "spec.routing.strategy",
            "input should be 'ordered', 'round-robin', 'weighted', 'lowest-latency', 'header', 'hash' or 'model'",
        ),
        ({"strategy": "lowest-latency", "smoothing": 0}, "spec.routing.smoothing", "input should be greater than 0"),
        (
            {"strategy": "model", "models": {"fast": {"provider": "zz"}}},
            "spec",
            "routing.models.fast.0.provider: 'zz' is not one of this proxy's providers (a, b)",
        ),
        ({"strategy": "model", "models": {"fast": []}}, "spec.routing.models", "'fast': name at least one provider"),
        (
            {"strategy": "model", "aliases": {"b": "a"}},
            "spec",
            "routing.aliases.b: 'b' is already a provider's name",
        ),
        (
            {"strategy": "model", "aliases": {"gpt": "zz"}},
            "spec",
            "routing.aliases.gpt: 'zz' is not one of this proxy's providers (a, b)",
        ),
        (
            {"strategy": "ordered", "models": {"fast": {"provider": "a"}}},
            "spec.routing",
            "models apply only to strategy 'model', not 'ordered'",
        ),
    ],
)
def test_a_bad_routing_value_is_refused_naming_the_document_and_field(
    routing: dict[str, Any], field: str, reason: str
) -> None:
    from tollgate.errors import ResourceValidationError
    from tollgate.resources.loader import parse_document

    doc = {
        "apiVersion": "tollgate.dev/v1",
        "kind": "LLMProxy",
        "metadata": {"name": "app"},
        "spec": {"provider": "a", "context": "/app", "fallbacks": ["b"], "routing": routing},
    }
    with pytest.raises(ResourceValidationError) as refused:
        parse_document(doc, "proxies.yaml document 1")
    assert refused.value.document.startswith("proxies.yaml document 1")
    assert refused.value.field == field
    assert refused.value.reason == reason


def test_failover_and_breaker_values_are_checked_too() -> None:
    from tollgate.errors import ResourceValidationGroupError
    from tollgate.resources.loader import parse_document

    spec = {
        "provider": "a",
        "context": "/app",
        "failover": {"backoff": {"initial": 2, "max": 1}},
        "circuitBreaker": {"failures": 0},
        "retryStatuses": [200],
    }
    doc = {"apiVersion": "tollgate.dev/v1", "kind": "LLMProxy", "metadata": {"name": "app"}, "spec": spec}
    with pytest.raises(ResourceValidationGroupError) as refused:
        parse_document(doc, "x")
    assert sorted((e.field, e.reason) for e in refused.value.errors) == [
        ("spec.circuitBreaker.failures", "input should be greater than or equal to 1"),
        ("spec.failover", "backoff.initial (2.0) must not exceed backoff.max (1.0)"),
        ("spec.retryStatuses.0", "input should be greater than or equal to 400"),
    ]


def test_rotation_and_budget_survive_a_new_snapshot_by_proxy_name() -> None:
    from tollgate.gateway.failover import RoutingCounters

    counters: dict[str, RoutingCounters] = {}
    rs = resource_set(
        [provider(n, "openai", f"/{n}", UP) for n in NAMES],
        [proxy("app", "a", "/app", fallbacks=["b", "c"], routing={"strategy": "round-robin"})],
    )
    one = selector(compile_snapshot(rs, PoolRegistry(), {}, None, counters).routes["/app"])
    assert firsts(one, 2) == ["a", "b"]
    two = compile_snapshot(rs, PoolRegistry(), {}, None, counters).routes["/app"]
    assert firsts(selector(two), 2) == ["c", "a"], "a configuration change does not restart the rotation"
    assert two.routing is not None and two.routing.budget is counters["app"].budget


def test_health_is_shared_by_provider_name_across_routes() -> None:
    health: dict[str, TargetHealth] = {}
    rs = resource_set(
        [provider(n, "openai", f"/{n}", UP) for n in NAMES],
        [proxy("app", "a", "/app", fallbacks=["b"]), proxy("two", "b", "/two", fallbacks=["a"])],
    )
    snap = compile_snapshot(rs, PoolRegistry(), health)
    assert snap.routes["/app"].targets[1].health is snap.routes["/two"].targets[0].health is health["b"]

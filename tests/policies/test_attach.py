"""Attaching policies: the snapshot's chain order (provider baseline, then proxy; responses reversed),
shared provider policies and counters, path scopes, and a bad stored policy leaving its route out."""

from __future__ import annotations

from tests.gateway.gw_helpers import provider, proxy, resource_set
from tests.policies.conftest import FakeExchange
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.policies.attach import build_policies
from tollgate.policies.rate_limit import RateLimitPolicy
from tollgate.policies.services import PolicyServices
from tollgate.policies.token_limit import TokenLimitPolicy
from tollgate.resources.models import PolicyRef

UP = "http://127.0.0.1:9"
RATE = {"name": "rate-limit", "params": {"limits": [{"requests": 5, "per": "minute"}]}}
TOKENS = {"name": "token-limit", "params": {"scope": "provider", "limits": [{"tokens": 100, "per": "hour"}]}}
REGEX = {"name": "regex-guardrail", "params": {"patterns": ["x"], "side": "both"}}


def test_chain_order_and_shared_baseline() -> None:
    rs = resource_set(
        [provider("openai", "openai", "/openai", UP, policies=[TOKENS])],
        [proxy("a", "openai", "/a", policies=[RATE, REGEX]), proxy("b", "openai", "/b")],
    )
    snap = compile_snapshot(rs, PoolRegistry(), services=PolicyServices())
    base = snap.routes["/openai"].chain
    a = snap.routes["/a"].chain
    b = snap.routes["/b"].chain
    assert [p.name for p in a.policies] == ["token-limit", "rate-limit", "regex-guardrail"]
    assert a.policies[0] is base.policies[0] is b.policies[0]  # one provider policy, one set of counters
    assert isinstance(a.policies[0], TokenLimitPolicy)
    # request hooks in list order, response hooks in reverse
    assert [h.__self__.name for h in a.request_body] == ["token-limit", "regex-guardrail"]  # type: ignore[attr-defined]
    assert [h.__self__.name for h in a.response_headers] == ["rate-limit", "token-limit"]  # type: ignore[attr-defined]
    assert [h.__self__.name for h in a.request_headers] == ["rate-limit"]  # type: ignore[attr-defined]
    assert [h.__self__.name for h in a.stream_filters] == ["regex-guardrail"]  # type: ignore[attr-defined]
    assert b.request_headers == () and b.stream_filters == ()


def test_owner_names_the_counters() -> None:
    ref = PolicyRef.model_validate(RATE)
    (policy,) = build_policies("LLMProxy", "team-a", [ref], PolicyServices())
    assert isinstance(policy, RateLimitPolicy)
    assert policy.limiter._owner == "LLMProxy/team-a#0"


async def test_path_scope() -> None:
    ref = PolicyRef.model_validate({**RATE, "paths": [{"path": "/v1/chat/**", "methods": ["POST"]}]})
    (policy,) = build_policies("LLMProxy", "p", [ref], PolicyServices())

    class Route:
        context = "/p"
        provider = "openai"
        proxy = "p"

    def ex(method: str, path: str) -> FakeExchange:
        e = FakeExchange(method=method, sub_path="")
        e.route = Route()  # type: ignore[assignment]
        e.path = "/p" + path  # type: ignore[attr-defined]
        return e

    assert policy.applies(ex("POST", "/v1/chat/completions"))  # type: ignore[arg-type]
    assert not policy.applies(ex("GET", "/v1/chat/completions"))  # type: ignore[arg-type]
    assert not policy.applies(ex("POST", "/v1/embeddings"))  # type: ignore[arg-type]


def test_a_policy_that_cannot_be_built_leaves_its_route_out() -> None:
    bad = proxy("a", "openai", "/a")
    bad.spec.policies.append(PolicyRef.model_construct(name="rate-limit", params={"limits": []}, paths=[]))
    rs = resource_set([provider("openai", "openai", "/openai", UP)], [bad])
    snap = compile_snapshot(rs, PoolRegistry(), services=PolicyServices())
    assert "/a" not in snap.routes and "/openai" in snap.routes

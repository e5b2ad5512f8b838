"""Tests for gateway/snapshot.py: longest-prefix routing, what routes share, degraded providers."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.gateway.gw_helpers import new_key, provider, proxy, resource_set, start_gateway, template
from tollgate.gateway.snapshot import Snapshot, compile_snapshot
from tollgate.gateway.upstream import PoolRegistry

UP = "http://127.0.0.1:9"


def _routes(*contexts: str) -> Snapshot:
    providers = [provider(f"p{i}", "openai", ctx, UP) for i, ctx in enumerate(contexts)]
    return compile_snapshot(resource_set(providers), PoolRegistry())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a", "/a"),
        ("/a/", "/a"),
        ("/a/v1/chat/completions", "/a"),
        ("/a/b", "/a/b"),
        ("/a/b/v1/chat/completions", "/a/b"),
        ("/a/bc/v1", "/a"),
        ("/a/b/c", "/a/b/c"),
        ("/a/b/c/d/e/f", "/a/b/c"),
        ("/ab", None),
        ("/ab/v1", None),
        ("/", None),
        ("", None),
        ("/x/a", None),
        ("/A", None),
    ],
)
def test_longest_segment_prefix_wins(path: str, expected: str | None) -> None:
    snap = _routes("/a", "/a/b", "/a/b/c", "/zz/yy/xx/ww")
    route = snap.match(path)
    assert (route.context if route else None) == expected


def test_deep_context_without_shallow_parent() -> None:
    snap = _routes("/team/one/openai")
    assert snap.match("/team/one/openai/v1/models").context == "/team/one/openai"  # type: ignore[union-attr]
    assert snap.match("/team/one") is None
    assert snap.match("/team/one/openaix/v1") is None


def test_empty_snapshot_matches_nothing() -> None:
    assert Snapshot({}).match("/openai/v1") is None


def test_proxy_shares_target_parts_but_not_keys() -> None:
    _pv, pk = new_key("LLMProvider", "base")
    _xv, xk = new_key("LLMProxy", "app")
    rs = resource_set(
        [provider("base", "openai", "/base", UP, secret="s")],
        [proxy("app", "base", "/app", security={"location": "query", "name": "k"})],
        keys=[pk, xk],
        secrets={"s": "sk-upstream"},
    )
    snap = compile_snapshot(rs, PoolRegistry())
    base, app = snap.routes["/base"], snap.routes["/app"]
    (base_target,), (app_target,) = base.targets, app.targets
    assert app_target.pool is base_target.pool and app_target.backend is base_target.backend
    assert app.client_api is base.client_api and app_target.translator is base_target.translator
    assert app_target.health is base_target.health
    assert app_target.fixed_headers == base_target.fixed_headers
    assert b"authorization: Bearer sk-upstream\r\n" in base_target.fixed_headers
    assert set(base.auth.keys) == {pk.id} and set(app.auth.keys) == {xk.id}
    assert (app.provider, app.proxy) == ("base", "app")
    # each route strips its own inbound key location
    assert "k" in app_target.strip_query and b"x-api-key" in base.strip_headers
    assert "k" not in base_target.strip_query


def test_unknown_template_and_orphan_proxy_are_left_out() -> None:
    rs = resource_set(
        [provider("good", "openai", "/good", UP), provider("bad", "no-such-template", "/bad", UP)],
        [proxy("orphan", "bad", "/orphan")],
    )
    snap = compile_snapshot(rs, PoolRegistry())
    assert set(snap.routes) == {"/good"}


def test_custom_template_used_when_declared() -> None:
    tpl = template("acme", {"baseUrl": "http://127.0.0.1:9/acme", "errorFormat": "anthropic"})
    snap = compile_snapshot(resource_set([provider("a", "acme", "/acme", None)], templates=[tpl]), PoolRegistry())
    route = snap.routes["/acme"]
    (target,) = route.targets
    assert route.client_api.name == "acme" and target.backend.name == "acme"
    assert target.base_path == "/acme" and target.pool is not None


def test_custom_client_key_headers_are_stripped() -> None:
    tpl = template("acme", {"baseUrl": "http://127.0.0.1:9", "clientKeyHeaders": ["X-Acme-Key", "authorization"]})
    rs = resource_set([provider("a", "acme", "/acme", None)], [proxy("b", "a", "/b")], templates=[tpl])
    snap = compile_snapshot(rs, PoolRegistry())
    for route in snap.routes.values():
        assert {b"x-acme-key", b"authorization", b"x-api-key"} <= route.strip_headers


def test_pools_are_shared_between_snapshots() -> None:
    pools = PoolRegistry()
    one = compile_snapshot(resource_set([provider("p", "openai", "/p", UP + "/v")]), pools)
    two = compile_snapshot(
        resource_set([provider("p", "openai", "/p", UP + "/v"), provider("q", "mistral", "/q", UP + "/w")]), pools
    )
    assert one.routes["/p"].targets[0].pool is two.routes["/p"].targets[0].pool is two.routes["/q"].targets[0].pool
    other = compile_snapshot(resource_set([provider("p", "openai", "/p", "http://127.0.0.1:10")]), pools)
    assert other.routes["/p"].targets[0].pool is not one.routes["/p"].targets[0].pool


def test_missing_env_credential_marks_the_route_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TG_TEST_MISSING_CRED", raising=False)
    rs = resource_set([provider("p", "openai", "/p", UP, credential={"env": "TG_TEST_MISSING_CRED"})])
    (target,) = compile_snapshot(rs, PoolRegistry()).routes["/p"].targets
    assert target.unavailable is not None and b"authorization" not in target.fixed_headers
    monkeypatch.setenv("TG_TEST_MISSING_CRED", "sk-from-env")
    (target,) = compile_snapshot(rs, PoolRegistry()).routes["/p"].targets
    assert target.unavailable is None and b"Bearer sk-from-env" in target.fixed_headers


@pytest.mark.parametrize(
    ("template_name", "path", "check"),
    [
        ("openai", "/p/v1/chat/completions", lambda b: b["error"]["type"] == "server_error"),
        ("anthropic", "/p/v1/messages", lambda b: b["type"] == "error" and b["error"]["type"] == "api_error"),
        ("gemini", "/p/v1beta/models/g:generateContent", lambda b: b["error"]["status"] == "UNAVAILABLE"),
    ],
)
async def test_missing_credential_answers_503_in_vendor_shape(
    monkeypatch: pytest.MonkeyPatch, template_name: str, path: str, check: object
) -> None:
    monkeypatch.delenv("TG_TEST_MISSING_CRED", raising=False)
    value, key = new_key("LLMProvider", "p")
    rs = resource_set([provider("p", template_name, "/p", UP, credential={"env": "TG_TEST_MISSING_CRED"})], keys=[key])
    gw = await start_gateway(rs)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.post(gw.url + path, headers={"x-api-key": value}, json={"model": "m", "messages": []})
        assert resp.status_code == 503
        body = orjson.loads(resp.content)
        assert check(body)  # type: ignore[operator]
        assert "TG_TEST_MISSING_CRED" not in resp.text and value not in resp.text
        assert resp.headers["x-request-id"]
        assert gw.sink.records[-1].status == 503
    finally:
        await gw.close()

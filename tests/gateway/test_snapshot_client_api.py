"""`clientApi` at snapshot compile: which client API a route serves and which translator its target gets."""

from __future__ import annotations

import pytest

from tests.gateway.gw_helpers import provider, proxy, resource_set, template
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.providers.pairs import PairTranslator

UP = "http://127.0.0.1:9"


def test_provider_and_proxy_client_api_pick_the_translator() -> None:
    rs = resource_set(
        [
            provider("claude", "anthropic", "/claude", UP),
            provider("gem", "gemini", "/gem", UP, clientApi="anthropic"),
        ],
        [proxy("claude-oai", "claude", "/claude-oai", clientApi="openai"), proxy("gem-app", "gem", "/gem-app")],
    )
    snap = compile_snapshot(rs, PoolRegistry())
    plain, oai, gem, gem_app = (snap.routes[c] for c in ("/claude", "/claude-oai", "/gem", "/gem-app"))
    assert plain.client_api.name == "anthropic" and plain.targets[0].translator.name == "anthropic->anthropic"
    assert oai.client_api.name == "openai" and oai.targets[0].translator.name == "openai->anthropic"
    assert isinstance(oai.targets[0].translator, PairTranslator)
    assert b"authorization" in oai.auth.vendor_headers  # the OpenAI SDK's own key header carries the gateway key
    assert gem.client_api.name == "anthropic" and gem.targets[0].translator.name == "anthropic->gemini"
    assert gem_app.client_api.name == "anthropic"  # a proxy inherits its provider's clientApi


def test_same_vendor_client_api_is_pass_through() -> None:
    snap = compile_snapshot(resource_set([provider("o", "openai", "/o", UP, clientApi="openai")]), PoolRegistry())
    assert snap.routes["/o"].targets[0].translator.name == "openai->openai"


@pytest.mark.parametrize(("tmpl", "api"), [("custom-llm", "anthropic"), ("anthropic", "anthropic")])
def test_a_pair_without_translator_is_not_routed(tmpl: str, api: str) -> None:
    custom = template("custom-llm", {"baseUrl": UP, "errorFormat": "openai"})
    rs = resource_set(
        [provider("c", tmpl, "/c", UP, clientApi="openai" if tmpl == "anthropic" else api)], templates=[custom]
    )
    snap = compile_snapshot(rs, PoolRegistry())
    assert ("/c" in snap.routes) is (tmpl == "anthropic")


def test_proxy_fallbacks_become_further_targets_with_their_own_translators() -> None:
    rs = resource_set(
        [
            provider("oai", "openai", "/oai", UP),
            provider("claude", "anthropic", "/claude", UP, modelMap={"gpt-4o": "claude-sonnet-4-6"}),
            provider("custom", "my-llm", "/custom", UP),
        ],
        [proxy("app", "oai", "/app", fallbacks=["claude", "custom", "missing"], retryStatuses=[429, 503])],
        templates=[template("my-llm", {"baseUrl": UP})],
    )
    route = compile_snapshot(rs, PoolRegistry()).routes["/app"]
    assert [(t.name, t.translator.name) for t in route.targets] == [
        ("oai", "openai->openai"),
        ("claude", "openai->anthropic"),
    ]
    assert route.routing is not None and route.routing.settings.retry_statuses == frozenset({429, 503})
    assert route.routing.targets == route.targets
    assert route.targets[1].health is not route.targets[0].health
    plain = compile_snapshot(
        resource_set([provider("oai", "openai", "/oai", UP)], [proxy("p", "oai", "/p")]), PoolRegistry()
    )
    assert len(plain.routes["/p"].targets) == 1 and plain.routes["/p"].routing is None

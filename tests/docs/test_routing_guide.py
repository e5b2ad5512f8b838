"""docs/routing-and-translation.md: its example YAML is valid, compiles to translated routes, and its
table names every pair the registry holds."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tollgate.gateway.exchange import Exchange
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.providers.pairs import PAIR_TRANSLATORS
from tollgate.resources.loader import parse_document
from tollgate.resources.models import LLMProvider, LLMProxy
from tollgate.resources.resource_set import ResourceSet

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "routing-and-translation.md"


def test_example_yaml_compiles_to_translated_routes() -> None:
    block = re.search(r"```yaml\n(.*?)```", GUIDE.read_text(), re.S)
    assert block is not None
    docs = [parse_document(d, "guide") for d in yaml.safe_load_all(block.group(1))]
    providers = {d.metadata.name: d for d in docs if isinstance(d, LLMProvider)}
    proxies = {d.metadata.name: d for d in docs if isinstance(d, LLMProxy)}
    rs = ResourceSet(
        templates={}, providers=providers, proxies=proxies, keys=[], secrets={"anthropic-key": "k", "gemini-key": "k"}
    )
    snap = compile_snapshot(rs, PoolRegistry())
    names = {ctx: route.targets[0].translator.name for ctx, route in snap.routes.items()}
    assert names == {
        "/claude": "anthropic->anthropic",
        "/oai/claude": "openai->anthropic",
        "/agents/gemini": "anthropic->gemini",
    }


def test_table_names_every_registered_pair() -> None:
    text = GUIDE.read_text()
    for client, backend in PAIR_TRANSLATORS:
        assert f"(`{backend}`)" in text, backend
        assert {"openai": "OpenAI →", "anthropic": "Anthropic →"}[client] in text


def _section(title: str) -> str:
    text = GUIDE.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_multi_provider_examples_apply_and_compile_to_their_strategies() -> None:
    from tollgate.gateway.selection import ByHeader, ByModel, LowestLatency, Rotation, StickyHash
    from tollgate.resources.routing import RoutingSpec

    section = _section("## Proxies on several providers")
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (proxy,) = [parse_document(d, "guide") for d in yaml.safe_load_all(blocks[0])]
    assert isinstance(proxy, LLMProxy) and proxy.spec.routing is not None
    templates = {"openai": "openai", "claude": "anthropic", "gemini": "gemini"}
    providers = {
        name: LLMProvider.model_validate(
            {
                "kind": "LLMProvider",
                "metadata": {"name": name},
                "spec": {"template": t, "context": f"/{name}", "upstreamUrl": "http://127.0.0.1:9"},
            }
        )
        for name, t in templates.items()
    }
    rs = ResourceSet(templates={}, providers=providers, proxies={"chat-app": proxy}, keys=[], secrets={})
    route = compile_snapshot(rs, PoolRegistry()).routes["/chat-app"]
    assert route.routing is not None
    assert [t.name for t in route.targets] == ["openai", "claude", "gemini"]
    assert [route.routing.selector.order(_exchange(), 0.0)[0].name for _ in range(5)] == [
        "openai",
        "claude",
        "openai",
        "gemini",
        "openai",
    ]
    assert (route.routing.settings.max_attempts, route.routing.settings.failures) == (3, 3)
    fragments = [d["routing"] for d in yaml.safe_load_all(blocks[1])]
    kinds = []
    for fragment in fragments:
        spec = RoutingSpec.model_validate(fragment)
        names = ["openai", "claude", "gemini"]
        doc = {"provider": "openai", "fallbacks": ["claude", "gemini"], "context": "/x", "routing": fragment}
        built = compile_snapshot(
            ResourceSet(
                templates={},
                providers={n: providers[n] for n in names},
                proxies={"x": LLMProxy.model_validate({"kind": "LLMProxy", "metadata": {"name": "x"}, "spec": doc})},
                keys=[],
                secrets={},
            ),
            PoolRegistry(),
        ).routes["/x"]
        assert built.routing is not None and spec.strategy == fragment["strategy"]
        kinds.append(type(built.routing.selector))
    assert kinds == [Rotation, Rotation, LowestLatency, ByHeader, StickyHash, ByModel]


def _exchange() -> Exchange:
    return Exchange("r", 0.0, "POST", "/chat-app/v1/chat/completions", "", [], "127.0.0.1")

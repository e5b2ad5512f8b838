"""apply_isolating: a provider or proxy whose compile raises is left out, the rest is applied."""

from __future__ import annotations

from typing import Any

import pytest

import tollgate.gateway.snapshot as snapshot_module
from tollgate.gateway.app import GatewayState
from tollgate.gateway.isolation import apply_isolating
from tollgate.resources.loader import parse_document
from tollgate.resources.models import LLMProvider, LLMProxy
from tollgate.resources.resource_set import ResourceSet
from tollgate.usage.record import UsageRecord


class Sink:
    def submit(self, record: UsageRecord) -> None:
        pass


def provider(name: str, context: str, **spec: object) -> LLMProvider:
    doc = {"apiVersion": "tollgate.dev/v1", "kind": "LLMProvider", "metadata": {"name": name}}
    parsed = parse_document({**doc, "spec": {"template": "openai", "context": context, **spec}}, "t")
    assert isinstance(parsed, LLMProvider)
    return parsed


def proxy(name: str, of: str, context: str) -> LLMProxy:
    doc = {"apiVersion": "tollgate.dev/v1", "kind": "LLMProxy", "metadata": {"name": name}}
    parsed = parse_document({**doc, "spec": {"provider": of, "context": context}}, "t")
    assert isinstance(parsed, LLMProxy)
    return parsed


def test_a_provider_that_raises_is_left_out_with_its_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    real = snapshot_module._compile_upstream

    def compile_upstream(p: LLMProvider, *args: Any, **kwargs: Any) -> Any:
        if p.metadata.name == "boom":
            raise RuntimeError("secret-ish detail that must not be shown")
        return real(p, *args, **kwargs)

    monkeypatch.setattr(snapshot_module, "_compile_upstream", compile_upstream)
    resources = ResourceSet(
        providers={"ok": provider("ok", "/ok"), "boom": provider("boom", "/boom")},
        proxies={"team": proxy("team", "boom", "/team"), "fine": proxy("fine", "ok", "/fine")},
        revision=7,
        unloadable={("LLMProxy", "old"): "the deployed document is not valid: spec.context: bad"},
    )
    state = GatewayState("default", Sink())
    problems = apply_isolating(state, resources)
    assert problems == {
        ("LLMProvider", "boom"): "cannot be built: RuntimeError",
        ("LLMProxy", "team"): "its provider 'boom' cannot be served",
        ("LLMProxy", "old"): "the deployed document is not valid: spec.context: bad",
    }
    assert set(state.snapshot.routes) == {"/ok", "/fine"}
    assert state.snapshot.revision == 7


def test_routes_that_answer_503_are_reported_too() -> None:
    resources = ResourceSet(
        providers={"nocred": provider("nocred", "/nocred", credential={"env": "TG_TEST_SURELY_UNSET_VAR"})},
        proxies={"p": proxy("p", "nocred", "/p")},
    )
    state = GatewayState("default", Sink())
    assert apply_isolating(state, resources) == {
        ("LLMProvider", "nocred"): "the provider's upstream credential is not available",
        ("LLMProxy", "p"): "the provider's upstream credential is not available",
    }
    assert set(state.snapshot.routes) == {"/nocred", "/p"}  # kept: they answer 503 in the vendor's shape

"""providers/model_map.py: a provider's modelMap rewrites the model in the body and in the path."""

from __future__ import annotations

import orjson
import pytest

from tollgate.providers.base import PassThrough, RequestFacts, UpstreamRequest
from tollgate.providers.model_map import ModelMapTranslator
from tollgate.providers.pairs import PAIR_TRANSLATORS
from tollgate.resources.models import ProviderSpec

MAP = {"claude-sonnet-4-5": "claude-sonnet-4-6", "gemini-old": "gemini-2.5-flash", "dep a": "dep-b"}


def _run(translator: ModelMapTranslator, path: str, body: dict[str, object], model: str) -> UpstreamRequest:
    req = UpstreamRequest("POST", path, "", [], orjson.dumps(body))
    translation = translator.start(RequestFacts(model, False), req, body)  # type: ignore[arg-type]
    if translation is not None:
        translation.request(req, body)  # type: ignore[arg-type]
    return req


def test_pass_through_body_model_is_mapped_and_unmapped_requests_are_untouched() -> None:
    mapped = ModelMapTranslator(PassThrough("anthropic"), MAP)
    assert mapped.name == "anthropic->anthropic"
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []}
    req = _run(mapped, "/v1/messages", body, "claude-sonnet-4-5")
    assert orjson.loads(req.body) == {**body, "model": "claude-sonnet-4-6"}
    other = {"model": "claude-opus-4-1", "messages": []}
    assert (
        mapped.start(RequestFacts("claude-opus-4-1", False), UpstreamRequest("POST", "/", "", [], b""), other) is None
    )  # type: ignore[arg-type]


def test_paths_carrying_the_model_are_mapped() -> None:
    mapped = ModelMapTranslator(PassThrough("gemini"), MAP)
    req = _run(mapped, "/v1beta/models/gemini-old:streamGenerateContent", {"contents": []}, "gemini-old")
    assert req.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    azure = ModelMapTranslator(PassThrough("azure-openai"), MAP)
    req = _run(azure, "/openai/deployments/dep%20a/chat/completions", {"model": None, "messages": []}, "dep a")
    assert req.path == "/openai/deployments/dep-b/chat/completions"


def test_a_translated_route_sends_the_mapped_model() -> None:
    mapped = ModelMapTranslator(PAIR_TRANSLATORS[("openai", "anthropic")], MAP)
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
    req = _run(mapped, "/v1/chat/completions", body, "claude-sonnet-4-5")
    assert req.path == "/v1/messages" and orjson.loads(req.body)["model"] == "claude-sonnet-4-6"


def test_spec_validation_names_the_bad_entry() -> None:
    with pytest.raises(ValueError, match="'x'"):
        ProviderSpec.model_validate({"template": "openai", "context": "/o", "modelMap": {"x": ""}})

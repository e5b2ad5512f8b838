"""Tests for providers/azure_openai.py: deployment model, api-version gated injection, filter chunk kept."""

from __future__ import annotations

import orjson

from tollgate.providers.azure_openai import azure_openai_template
from tollgate.providers.base import RequestFacts
from tollgate.providers.openai import IncludeUsageTranslation
from tollgate.types import JSONObject
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture, run_tap, run_translation, translate

TEMPLATE_ = azure_openai_template()
CLIENT = TEMPLATE_.client
BACKEND = TEMPLATE_.backend
PATH = "/openai/deployments/gpt-4o-prod/chat/completions"
QUERY = "api-version=2024-10-21"


def test_template_identity() -> None:
    assert CLIENT.name == "azure-openai"
    assert BACKEND.default_base_url is None
    assert CLIENT.client_key_headers == (b"api-key", b"authorization")
    assert BACKEND.upstream_credential("az-key") == ([(b"api-key", b"az-key")], [])


def test_model_is_the_deployment_even_when_the_body_says_null() -> None:
    assert CLIENT.reads_body("POST", PATH)
    facts = CLIENT.request_facts(PATH, QUERY, {"model": None, "stream": True, "messages": []})
    assert facts == RequestFacts(model="gpt-4o-prod", is_streaming=True)
    facts = CLIENT.request_facts(PATH, QUERY, {"model": "gpt-4o-prod", "messages": []})
    assert facts == RequestFacts(model="gpt-4o-prod", is_streaming=False)
    assert CLIENT.request_facts("/openai/v1/chat/completions", "", {"model": "gpt-4o"}).model == "gpt-4o"


def test_usage_is_injected_only_for_api_versions_that_accept_it() -> None:
    body = {"model": None, "stream": True, "messages": []}
    facts = CLIENT.request_facts(PATH, QUERY, body)
    translator = BACKEND.pass_through
    translation, req = translate(translator, PATH, QUERY, body, facts)
    assert isinstance(translation, IncludeUsageTranslation)
    assert orjson.loads(req.body)["stream_options"] == {"include_usage": True}
    assert translate(translator, PATH, "api-version=2024-10-01-preview", body, facts)[0] is not None
    assert translate(translator, PATH, "api-version=2024-06-01", body, facts)[0] is None
    assert translate(translator, "/openai/v1/chat/completions", "", body, facts)[0] is not None
    asked: JSONObject = {**body, "stream_options": {"include_usage": True}}  # AzureChatOpenAI asks itself
    assert translate(translator, PATH, QUERY, asked, facts)[0] is None


def test_prompt_filter_chunk_passes_and_only_the_usage_chunk_is_dropped() -> None:
    stream = fixture("azure_chat_stream.sse")
    frames = [f + b"\n\n" for f in stream.split(b"\n\n") if f]
    assert b"prompt_filter_results" in frames[0]
    usage_frame = next(f for f in frames if b'"usage":{' in f)
    expected = stream.replace(usage_frame, b"")
    facts = RequestFacts(model="gpt-4o-prod", is_streaming=True)
    for chunks in chunkings(stream):
        out = run_translation(IncludeUsageTranslation(), chunks)
        assert out == expected
        assert out.startswith(frames[0])
        assert run_tap(BACKEND.new_stream_tap(facts.model), chunks) == UsageResult(
            TokenUsage(18, 10, 28, cached_tokens=0), "gpt-4o-2024-05-13", ("stop",)
        )


def test_client_asked_usage_passes_through_whole() -> None:
    stream = fixture("azure_chat_stream.sse")
    body: JSONObject = {"model": None, "stream": True, "stream_options": {"include_usage": True}}
    translation, _ = translate(BACKEND.pass_through, PATH, QUERY, body, RequestFacts("gpt-4o-prod", True))
    assert translation is None  # nothing to hide: the relay forwards the stream's bytes as they come
    assert run_tap(BACKEND.new_stream_tap("gpt-4o-prod"), [stream]).usage == TokenUsage(18, 10, 28, 0)

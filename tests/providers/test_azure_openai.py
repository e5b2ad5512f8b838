"""Tests for providers/azure_openai.py: deployment model, api-version gated injection, filter chunk kept."""

from __future__ import annotations

import orjson

from tollgate.providers.azure_openai import AzureOpenAIProvider
from tollgate.providers.base import RequestFacts
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture

ADAPTER = AzureOpenAIProvider()
PATH = "/openai/deployments/gpt-4o-prod/chat/completions"
QUERY = "api-version=2024-10-21"


def test_template_identity() -> None:
    assert ADAPTER.name == "azure-openai"
    assert ADAPTER.default_base_url is None
    assert ADAPTER.client_key_headers == (b"api-key", b"authorization")
    assert ADAPTER.upstream_credential("az-key") == ([(b"api-key", b"az-key")], [])


def test_model_is_the_deployment_even_when_the_body_says_null() -> None:
    assert ADAPTER.reads_body("POST", PATH)
    facts = ADAPTER.request_facts(PATH, QUERY, {"model": None, "stream": True, "messages": []})
    assert facts == RequestFacts(model="gpt-4o-prod", is_streaming=True)
    facts = ADAPTER.request_facts(PATH, QUERY, {"model": "gpt-4o-prod", "messages": []})
    assert facts == RequestFacts(model="gpt-4o-prod", is_streaming=False)
    assert ADAPTER.request_facts("/openai/v1/chat/completions", "", {"model": "gpt-4o"}).model == "gpt-4o"


def test_usage_is_injected_only_for_api_versions_that_accept_it() -> None:
    body = {"model": None, "stream": True, "messages": []}
    facts = ADAPTER.request_facts(PATH, QUERY, body)
    rewrite = ADAPTER.rewrite_request(PATH, QUERY, body, facts)
    assert rewrite is not None and rewrite.body is not None and rewrite.drop_usage_chunk
    assert orjson.loads(rewrite.body)["stream_options"] == {"include_usage": True}
    assert ADAPTER.rewrite_request(PATH, "api-version=2024-10-01-preview", body, facts) is not None
    assert ADAPTER.rewrite_request(PATH, "api-version=2024-06-01", body, facts) is None
    assert ADAPTER.rewrite_request("/openai/v1/chat/completions", "", body, facts) is not None
    asked = {**body, "stream_options": {"include_usage": True}}  # AzureChatOpenAI asks itself
    assert ADAPTER.rewrite_request(PATH, QUERY, asked, facts) is None


def test_prompt_filter_chunk_passes_and_only_the_usage_chunk_is_dropped() -> None:
    stream = fixture("azure_chat_stream.sse")
    frames = [f + b"\n\n" for f in stream.split(b"\n\n") if f]
    assert b"prompt_filter_results" in frames[0]
    usage_frame = next(f for f in frames if b'"usage":{' in f)
    expected = stream.replace(usage_frame, b"")
    facts = RequestFacts(model="gpt-4o-prod", is_streaming=True)
    for chunks in chunkings(stream):
        tap = ADAPTER.new_stream_tap(facts, drop_usage_chunk=True)
        out = b"".join(tap.feed(chunk) for chunk in chunks) + tap.close()
        assert out == expected
        assert out.startswith(frames[0])
        assert tap.result() == UsageResult(TokenUsage(18, 10, 28), "gpt-4o-2024-05-13")


def test_client_asked_usage_passes_through_whole() -> None:
    stream = fixture("azure_chat_stream.sse")
    tap = ADAPTER.new_stream_tap(RequestFacts("gpt-4o-prod", True), drop_usage_chunk=False)
    assert tap.feed(stream) is stream
    assert tap.result().usage == TokenUsage(18, 10, 28)

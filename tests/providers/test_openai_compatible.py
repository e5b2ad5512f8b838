"""Tests for providers/openai_compatible.py: the OpenAI adapter reused without a default upstream."""

from __future__ import annotations

from tollgate.providers.openai import TEMPLATE as OPENAI_TEMPLATE
from tollgate.providers.openai_compatible import TEMPLATE, OpenAICompatibleProvider

ADAPTER = OpenAICompatibleProvider()


def test_no_default_base_url_but_openai_behaviour() -> None:
    assert ADAPTER.name == "openai-compatible"
    assert ADAPTER.default_base_url is None
    assert TEMPLATE.usage == OPENAI_TEMPLATE.usage
    assert OPENAI_TEMPLATE.base_url == "https://api.openai.com"  # the copy did not change the original
    body = {"model": "llama3", "stream": True}
    facts = ADAPTER.request_facts("/v1/chat/completions", "", body)
    rewrite = ADAPTER.rewrite_request("/v1/chat/completions", "", body, facts)
    assert rewrite is not None and rewrite.drop_usage_chunk

"""Tests for providers/azure_ai_foundry.py: deployment paths mapped onto /models with the model in the body."""

from __future__ import annotations

import orjson

from tollgate.providers.azure_ai_foundry import AzureAIFoundryProvider
from tollgate.providers.base import RequestFacts, RequestRewrite

ADAPTER = AzureAIFoundryProvider()
PATH = "/openai/deployments/Mistral-Large-2411/chat/completions"
QUERY = "api-version=2024-05-01-preview"


def test_template_identity() -> None:
    assert ADAPTER.name == "azure-ai-foundry"
    assert ADAPTER.default_base_url is None
    assert ADAPTER.client_key_headers == (b"api-key", b"authorization")
    assert ADAPTER.upstream_credential("f-key") == ([(b"api-key", b"f-key")], [])


def test_null_model_is_filled_from_the_deployment_and_the_path_mapped() -> None:
    body = {"model": None, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    facts = ADAPTER.request_facts(PATH, QUERY, body)
    assert facts == RequestFacts(model="Mistral-Large-2411", is_streaming=True)
    rewrite = ADAPTER.rewrite_request(PATH, QUERY, body, facts)
    assert rewrite is not None and rewrite.body is not None
    assert rewrite.path == "/models/chat/completions"
    assert rewrite.query is None  # api-version passes unchanged
    assert rewrite.drop_usage_chunk is False
    assert orjson.loads(rewrite.body) == {**body, "model": "Mistral-Large-2411"}
    absent = {"messages": []}
    rewrite = ADAPTER.rewrite_request(PATH, QUERY, absent, ADAPTER.request_facts(PATH, QUERY, absent))
    assert rewrite is not None and rewrite.body is not None
    assert orjson.loads(rewrite.body)["model"] == "Mistral-Large-2411"


def test_a_named_model_keeps_the_body_bytes() -> None:
    body = {"model": "Mistral-Large-2411", "messages": []}
    rewrite = ADAPTER.rewrite_request(PATH, QUERY, body, ADAPTER.request_facts(PATH, QUERY, body))
    assert rewrite == RequestRewrite(path="/models/chat/completions", body=None)


def test_model_inference_paths_pass_unchanged() -> None:
    body = {"model": "DeepSeek-R1", "messages": []}
    facts = ADAPTER.request_facts("/models/chat/completions", QUERY, body)
    assert facts.model == "DeepSeek-R1"
    assert ADAPTER.reads_body("POST", "/models/chat/completions")
    assert ADAPTER.reads_body("POST", PATH)
    assert ADAPTER.rewrite_request("/models/chat/completions", QUERY, body, facts) is None

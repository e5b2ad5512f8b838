"""OpenAI Chat Completions client → Azure OpenAI deployments and Azure AI Foundry."""

from __future__ import annotations

import orjson
import pytest

from tests.providers.translating import sse, translate_stream
from tollgate.providers.openai_azure import OpenAIAzureTranslator
from tollgate.providers.translation import UntranslatableError
from tollgate.types import JSONObject

PATH = "/v1/chat/completions"
BODY: JSONObject = {"model": "my-gpt", "messages": [{"role": "user", "content": "hi"}], "logprobs": True, "n": 2}


def test_request_goes_to_the_deployment_unchanged() -> None:
    up = OpenAIAzureTranslator().request(PATH, "", BODY)
    assert (up.path, up.query, up.model) == (
        "/openai/deployments/my-gpt/chat/completions",
        "api-version=2024-10-21",
        "my-gpt",
    )
    assert orjson.loads(up.body) == BODY
    foundry = OpenAIAzureTranslator(foundry=True).request(PATH, "", BODY)
    assert (foundry.path, foundry.query) == ("/models/chat/completions", "api-version=2024-05-01-preview")
    assert OpenAIAzureTranslator(api_version="2025-01-01").request(PATH, "", BODY).query == "api-version=2025-01-01"
    with pytest.raises(UntranslatableError):
        OpenAIAzureTranslator().request(PATH, "", {"messages": []})


FILTER: JSONObject = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [{"prompt_index": 0}],
}
TEXT: JSONObject = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
}
USAGE: JSONObject = {
    "id": "c1",
    "choices": [],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def test_stream_drops_only_the_prompt_filter_chunk() -> None:
    upstream = sse(FILTER, TEXT, TEXT, USAGE) + b"data: [DONE]\n\n"
    out = translate_stream(OpenAIAzureTranslator, PATH, {**BODY, "stream": True}, upstream)
    assert out == sse(TEXT, TEXT, USAGE) + b"data: [DONE]\n\n"


def test_stream_without_filter_chunk_passes_the_same_chunk_objects() -> None:
    t = OpenAIAzureTranslator()
    t.request(PATH, "", {**BODY, "stream": True})
    first = sse(TEXT)
    assert t.stream_chunk(first) == first
    later = sse(TEXT)
    assert t.stream_chunk(later) is later


def test_azure_errors_in_openai_shape() -> None:
    status, _, body = OpenAIAzureTranslator().error(404, [], b'{"error":{"code":"404","message":"Resource not found"}}')
    assert status == 404
    assert orjson.loads(body) == {
        "error": {"message": "Resource not found", "type": "not_found_error", "param": None, "code": "upstream_error"}
    }

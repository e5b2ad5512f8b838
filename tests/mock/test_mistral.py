"""The Mistral mock through the strict mistralai SDK, and through the OpenAI SDK (OpenAI-compatible)."""

from __future__ import annotations

import openai
import pytest
from mistralai.client import Mistral
from mistralai.client import errors as mistral_errors

from tollgate.mock import MockServer

MODEL = "mistral-small-latest"


def client(mock: MockServer, key: str | None = None) -> Mistral:
    return Mistral(api_key=key or mock.keys["mistral"], server_url=mock.url("mistral"))


def test_chat_complete(mock: MockServer) -> None:
    response = client(mock).chat.complete(model=MODEL, messages=[{"role": "user", "content": "Count from 1 to 5."}])
    assert response.choices[0].message.content == "1 2 3 4 5"
    assert response.model == MODEL
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (5, 5, 10)


def test_chat_stream_final_chunk_carries_usage(mock: MockServer) -> None:
    with client(mock).chat.stream(model=MODEL, messages=[{"role": "user", "content": "Count from 1 to 5."}]) as stream:
        events = list(stream)
    assert all(event.data.choices for event in events)
    assert "".join(str(e.data.choices[0].delta.content or "") for e in events) == "1 2 3 4 5"
    last = events[-1].data
    assert last.choices[0].finish_reason == "stop"
    assert last.usage is not None and last.usage.completion_tokens == 5


def test_embeddings_and_models(mock: MockServer) -> None:
    api = client(mock)
    embedded = api.embeddings.create(model="mistral-embed", inputs=["one two", "three"])
    assert len(embedded.data) == 2 and embedded.usage.prompt_tokens == 3
    models = api.models.list()
    assert models.data is not None and MODEL in [m.id for m in models.data]


def test_wrong_key_is_sdk_error_401(mock: MockServer) -> None:
    with pytest.raises(mistral_errors.SDKError) as info:
        client(mock, key="wrong").chat.complete(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401


def test_openai_sdk_against_mistral(mock: MockServer) -> None:
    api = openai.OpenAI(api_key=mock.keys["mistral"], base_url=mock.url("mistral") + "/v1", max_retries=0)
    response = api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Count from 1 to 3"}])
    assert response.choices[0].message.content == "1 2 3"
    stream = api.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Count from 1 to 3"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream) == "1 2 3"

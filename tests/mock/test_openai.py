"""The OpenAI mock through the real openai SDK and langchain-openai."""

from __future__ import annotations

import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from tollgate.mock import MockServer


def client(mock: MockServer, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(api_key=key or mock.keys["openai"], base_url=mock.url("openai") + "/v1", max_retries=0)


def test_chat_basic_reports_model_text_and_usage(mock: MockServer) -> None:
    response = client(mock).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Count from 1 to 5."}]
    )
    assert response.choices[0].message.content == "1 2 3 4 5"
    assert response.choices[0].message.role == "assistant"
    assert response.model == "gpt-4o"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (5, 5, 10)


def test_chat_stream_yields_pieces_and_no_usage_chunk_unasked(mock: MockServer) -> None:
    stream = client(mock).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Count from 1 to 5."}], stream=True
    )
    chunks = list(stream)
    assert all(chunk.choices for chunk in chunks)  # the doc's unguarded loop must not crash
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "1 2 3 4 5"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)


def test_chat_stream_include_usage_ends_with_empty_choices_usage_chunk(mock: MockServer) -> None:
    stream = client(mock).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Say hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 2
    assert chunks[-1].usage.completion_tokens == 6  # "Hello from the mock OpenAI API."
    assert {chunk.model for chunk in chunks} == {"gpt-4o-mini"}


def test_responses_basic_and_stream(mock: MockServer) -> None:
    api = client(mock)
    response = api.responses.create(model="gpt-4o", input="Count from 1 to 3", instructions="Be brief.")
    assert response.output_text == "1 2 3"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 3)
    events = list(
        api.responses.create(model="gpt-4o", input=[{"role": "user", "content": "Count from 1 to 3"}], stream=True)
    )
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "1 2 3"
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.usage is not None and final.response.usage.output_tokens == 3


def test_embeddings_float_and_base64_are_deterministic(mock: MockServer) -> None:
    api = client(mock)
    default = api.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])  # SDK asks for base64
    floats = api.embeddings.create(model="text-embedding-3-small", input="a b", encoding_format="float", dimensions=8)
    assert len(default.data) == 2 and len(default.data[0].embedding) == 1536
    assert len(floats.data[0].embedding) == 8
    assert default.usage.prompt_tokens == 3
    again = api.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    assert again.data[0].embedding == default.data[0].embedding


def test_models_list_and_retrieve(mock: MockServer) -> None:
    api = client(mock)
    assert "gpt-4o" in [m.id for m in api.models.list()]
    assert api.models.retrieve("gpt-4o").id == "gpt-4o"


def test_wrong_and_missing_key_are_authentication_errors(mock: MockServer) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        client(mock, key="wrong-key-1234").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.code == "invalid_api_key"
    assert info.value.request_id is not None


def test_missing_model_is_bad_request(mock: MockServer) -> None:
    with pytest.raises(openai.BadRequestError):
        client(mock).chat.completions.create(model="", messages=[{"role": "user", "content": "x"}])


def test_langchain_chat_openai_invoke_and_stream(mock: MockServer) -> None:
    llm = ChatOpenAI(model="gpt-4o", api_key=mock.keys["openai"], base_url=mock.url("openai") + "/v1", max_retries=0)
    assert llm.invoke([HumanMessage(content="Count from 1 to 4.")]).content == "1 2 3 4"
    assert "".join(str(c.content) for c in llm.stream([HumanMessage(content="Count from 1 to 4.")])) == "1 2 3 4"


def test_records_the_credential_the_vendor_received(mock: MockServer) -> None:
    client(mock).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    (recorded,) = mock.requests("openai")
    headers = recorded["headers"]
    assert isinstance(headers, dict)
    assert headers["authorization"] == "Bearer mock-openai-key"
    assert recorded["vendor_path"] == "/v1/chat/completions"
    assert recorded["method"] == "POST"
    assert '"model":"gpt-4o"' in str(recorded["body"]).replace(" ", "")


def test_cached_directive_reports_prompt_tokens_read_from_the_cache(mock: MockServer) -> None:
    ask = [{"role": "user", "content": "Count from 1 to 5. [mock:cached=4]"}]
    response = client(mock).chat.completions.create(model="gpt-4o", messages=ask)  # type: ignore[arg-type]
    assert response.usage is not None and response.usage.prompt_tokens_details is not None
    assert (response.usage.prompt_tokens, response.usage.prompt_tokens_details.cached_tokens) == (6, 4)
    many = [{"role": "user", "content": "Hi [mock:cached=99]"}]  # never more than the prompt
    usage = client(mock).chat.completions.create(model="gpt-4o", messages=many).usage  # type: ignore[arg-type]
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens) == (2, 2)

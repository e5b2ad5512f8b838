"""The Gemini mock through google-genai and langchain-google-genai, on /v1 and /v1beta."""

from __future__ import annotations

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors
from google.genai import types as genai_types
from langchain_core.messages import HumanMessage
from langchain_google_genai import ChatGoogleGenerativeAI

from tollgate.mock import MockServer

MODEL = "gemini-2.5-flash"


def client(mock: MockServer, key: str | None = None, version: str | None = None) -> genai.Client:
    options = genai_types.HttpOptions(base_url=mock.url("gemini"), api_version=version)
    return genai.Client(api_key=key or mock.keys["gemini"], http_options=options)


@pytest.mark.parametrize("version", [None, "v1beta"])
def test_generate_content(mock: MockServer, version: str | None) -> None:
    api = client(mock, version=version)  # keep a reference: a dropped genai.Client closes its transport
    response = api.models.generate_content(model=MODEL, contents="Count from 1 to 5.")
    assert response.text == "1 2 3 4 5"
    assert response.model_version == MODEL
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (5, 5, 10)
    assert mock.requests("gemini")[-1]["vendor_path"] == f"/{version or 'v1'}/models/{MODEL}:generateContent"


def test_generate_content_stream(mock: MockServer) -> None:
    api = client(mock)
    chunks = list(api.models.generate_content_stream(model=MODEL, contents="Count from 1 to 5."))
    assert "".join(c.text or "" for c in chunks) == "1 2 3 4 5"
    last = chunks[-1]
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count == 5
    assert last.candidates and last.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert mock.requests("gemini")[-1]["query"] == "alt=sse"


def test_sse_frames_use_crlf_and_data_space(mock: MockServer) -> None:
    response = httpx.post(
        mock.url("gemini") + f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse&key={mock.keys['gemini']}",
        json={"contents": [{"role": "user", "parts": [{"text": "Count from 1 to 2"}]}]},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.content.split(b"\r\n\r\n")
    assert frames[-1] == b"" and len(frames) == 3
    assert all(f.startswith(b"data: {") for f in frames[:-1])


def test_stream_without_alt_sse_is_one_json_array(mock: MockServer) -> None:
    response = httpx.post(
        mock.url("gemini") + f"/v1beta/models/{MODEL}:streamGenerateContent",
        headers={"x-goog-api-key": mock.keys["gemini"]},
        json={"contents": [{"parts": [{"text": "Count from 1 to 3"}]}]},
    )
    items = orjson.loads(response.content)
    assert response.headers["content-type"] == "application/json"
    assert [i["candidates"][0]["content"]["parts"][0]["text"] for i in items] == ["1", " 2", " 3"]


@pytest.mark.parametrize("directive", ["", " [mock:stream-error]"], ids=["whole", "stream-error"])
def test_unchunked_stream_is_one_array_with_a_content_length(mock: MockServer, directive: str) -> None:
    response = httpx.post(
        mock.url("gemini") + f"/v1beta/models/{MODEL}:streamGenerateContent",
        headers={"x-goog-api-key": mock.keys["gemini"]},
        json={"contents": [{"parts": [{"text": "Count from 1 to 4 [mock:unchunked]" + directive}]}]},
    )
    assert "transfer-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content)
    items = orjson.loads(response.content)
    texts = [i["candidates"][0]["content"]["parts"][0]["text"] for i in items if "candidates" in i]
    if directive:  # half the pieces, then Google's error object as the array's last element
        assert texts == ["1", " 2"] and items[-1]["error"]["code"] == 500
    else:
        assert texts == ["1", " 2", " 3", " 4"]
        assert items[-1]["usageMetadata"]["candidatesTokenCount"] == 4


def test_count_tokens_embed_and_models(mock: MockServer) -> None:
    api = client(mock)
    assert api.models.count_tokens(model=MODEL, contents="one two three").total_tokens == 3
    embedded = api.models.embed_content(model="gemini-embedding-001", contents=["hello world", "bye"])
    assert embedded.embeddings is not None and len(embedded.embeddings) == 2
    assert embedded.embeddings[0].values is not None and len(embedded.embeddings[0].values) == 768
    names = [m.name for m in api.models.list()]
    assert f"models/{MODEL}" in names
    assert api.models.get(model=MODEL).name == f"models/{MODEL}"


def test_wrong_key_is_client_error(mock: MockServer) -> None:
    api = client(mock, key="wrong")
    with pytest.raises(errors.ClientError) as info:
        api.models.generate_content(model=MODEL, contents="x")
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"


def test_langchain_gemini_invoke_and_stream(mock: MockServer) -> None:
    llm = ChatGoogleGenerativeAI(
        model=MODEL, google_api_key=mock.keys["gemini"], client_options={"api_endpoint": mock.url("gemini")}
    )
    assert llm.invoke([HumanMessage(content="Count from 1 to 3.")]).content == "1 2 3"
    assert "".join(str(c.content) for c in llm.stream([HumanMessage(content="Count from 1 to 3.")])) == "1 2 3"

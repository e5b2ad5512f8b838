"""The Anthropic mock through the real anthropic SDK and langchain-anthropic."""

from __future__ import annotations

import anthropic
import httpx
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage

from tollgate.mock import MockServer

MODEL = "claude-haiku-4-5"


def client(mock: MockServer, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key or mock.keys["anthropic"], base_url=mock.url("anthropic"), max_retries=0)


def test_messages_create(mock: MockServer) -> None:
    message = client(mock).messages.create(
        model=MODEL, max_tokens=64, system="Be terse.", messages=[{"role": "user", "content": "Count from 1 to 5."}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "1 2 3 4 5"
    assert message.model == MODEL and message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 5)


def test_messages_stream_text_and_final_usage(mock: MockServer) -> None:
    with client(mock).messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Count from 1 to 5."}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "1 2 3 4 5"
    assert final.usage.input_tokens == 5 and final.usage.output_tokens == 5
    assert final.stop_reason == "end_turn"


def test_stream_frames_have_event_lines_in_the_real_order(mock: MockServer) -> None:
    headers = {"x-api-key": mock.keys["anthropic"], "anthropic-version": "2023-06-01"}
    body = {
        "model": MODEL,
        "max_tokens": 8,
        "stream": True,
        "messages": [{"role": "user", "content": "hi [mock:chunks=2]"}],
    }
    response = httpx.post(mock.url("anthropic") + "/v1/messages", headers=headers, json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event: ")]
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_count_tokens_and_models(mock: MockServer) -> None:
    api = client(mock)
    count = api.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "one two three"}])
    assert count.input_tokens == 3
    assert MODEL in [m.id for m in api.models.list()]
    assert api.models.retrieve(MODEL).display_name == "Claude Haiku 4.5"


def test_wrong_key_is_authentication_error(mock: MockServer) -> None:
    with pytest.raises(anthropic.AuthenticationError) as info:
        client(mock, key="wrong").messages.create(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.request_id is not None


def test_anthropic_version_header_is_required(mock: MockServer) -> None:
    response = httpx.post(
        mock.url("anthropic") + "/v1/messages",
        headers={"x-api-key": mock.keys["anthropic"]},
        json={"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_langchain_chat_anthropic_invoke_and_stream(mock: MockServer) -> None:
    llm = ChatAnthropic(
        model=MODEL,
        api_key=mock.keys["anthropic"],
        anthropic_api_url=mock.url("anthropic"),
        max_tokens=64,
        max_retries=0,
    )
    assert llm.invoke([HumanMessage(content="Count from 1 to 3.")]).content == "1 2 3"
    pieces = [c.content for c in llm.stream([HumanMessage(content="Count from 1 to 3.")]) if c.content]
    assert "".join(str(p) for p in pieces) == "1 2 3"

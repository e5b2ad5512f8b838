"""Behaviour directives (`[mock:...]` in the last user message) and the /_mock/config switch."""

from __future__ import annotations

import itertools
import time

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from mistralai.client import Mistral
from mistralai.client import errors as mistral_errors

from tollgate.mock import MockServer


def oa(mock: MockServer, **kwargs: float) -> openai.OpenAI:
    return openai.OpenAI(api_key=mock.keys["openai"], base_url=mock.url("openai") + "/v1", max_retries=0, **kwargs)


def ask(content: str) -> list[openai.types.chat.ChatCompletionMessageParam]:
    return [{"role": "user", "content": content}]


def raw_chat(mock: MockServer, content: str, **extra: object) -> httpx.Request:
    body = {"model": "gpt-4o", "messages": ask(content), "stream": True, **extra}
    headers = {"authorization": f"Bearer {mock.keys['openai']}"}
    return httpx.Request("POST", mock.url("openai") + "/v1/chat/completions", headers=headers, json=body)


def test_error_429_in_each_vendor_shape_with_retry_after(mock: MockServer) -> None:
    with pytest.raises(openai.RateLimitError) as oa_error:
        oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi [mock:error=429]"))
    assert oa_error.value.response.headers["retry-after"] == "1"
    assert oa_error.value.code == "rate_limit_exceeded"
    ant = anthropic.Anthropic(api_key=mock.keys["anthropic"], base_url=mock.url("anthropic"), max_retries=0)
    with pytest.raises(anthropic.RateLimitError):
        ant.messages.create(
            model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "[mock:error=429]"}]
        )
    gem = genai.Client(api_key=mock.keys["gemini"], http_options=genai_types.HttpOptions(base_url=mock.url("gemini")))
    with pytest.raises(genai_errors.ClientError) as gem_error:
        gem.models.generate_content(model="gemini-2.5-flash", contents="[mock:error=429]")
    assert gem_error.value.status == "RESOURCE_EXHAUSTED"
    mis = Mistral(api_key=mock.keys["mistral"], server_url=mock.url("mistral"))
    with pytest.raises(mistral_errors.SDKError) as mis_error:
        mis.chat.complete(model="mistral-small-latest", messages=[{"role": "user", "content": "[mock:error=429]"}])
    assert mis_error.value.status_code == 429
    azure = openai.AzureOpenAI(
        api_key=mock.keys["azure"], azure_endpoint=mock.url("azure"), api_version="2024-10-21", max_retries=0
    )
    with pytest.raises(openai.RateLimitError):
        azure.chat.completions.create(model="my-gpt", messages=ask("[mock:error=429]"))


def test_retry_after_setting_replaces_or_adds_the_header(mock: MockServer) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi [mock:error=429] [mock:retry-after=7]"))
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.InternalServerError) as unavailable:
        oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi [mock:error=503] [mock:retry-after=0]"))
    assert unavailable.value.response.headers["retry-after"] == "0"
    azure = openai.AzureOpenAI(
        api_key=mock.keys["azure"], azure_endpoint=mock.url("azure"), api_version="2024-10-21", max_retries=0
    )
    with pytest.raises(openai.RateLimitError) as azure_limited:
        azure.chat.completions.create(model="my-gpt", messages=ask("[mock:error=429] [mock:retry-after=3]"))
    headers = azure_limited.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("3", "3000")
    with pytest.raises(openai.InternalServerError) as plain:
        oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi [mock:error=500]"))
    assert "retry-after" not in plain.value.response.headers


def test_times_limits_the_config_to_the_next_requests_of_its_vendors(mock: MockServer) -> None:
    mock.configure(error=500, times=2, vendors=["openai"])
    ant = anthropic.Anthropic(api_key=mock.keys["anthropic"], base_url=mock.url("anthropic"), max_retries=0)
    ant.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert mock.state.config() == {"error": 500, "times": 2, "vendors": ["openai"]}  # another vendor: not counted
    for left in (1, None):
        with pytest.raises(openai.InternalServerError):
            oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi"))
        assert mock.state.config().get("times") == left
    assert mock.state.config() == {}
    answer = oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi"))
    assert answer.choices[0].message.content == "Hello from the mock OpenAI API."


def test_error_500_and_529(mock: MockServer) -> None:
    with pytest.raises(openai.InternalServerError):
        oa(mock).chat.completions.create(model="gpt-4o", messages=ask("[mock:error=500]"))
    ant = anthropic.Anthropic(api_key=mock.keys["anthropic"], base_url=mock.url("anthropic"), max_retries=0)
    with pytest.raises(anthropic.OverloadedError):
        ant.messages.create(
            model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "[mock:error=529]"}]
        )


def test_delay_holds_the_headers(mock: MockServer) -> None:
    started = time.monotonic()
    oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi [mock:delay=300]"))
    assert time.monotonic() - started >= 0.3


def test_chunk_delay_spaces_the_frames(mock: MockServer) -> None:
    arrivals: list[float] = []
    with httpx.Client() as http:
        response = http.send(raw_chat(mock, "Count from 1 to 3 [mock:chunk-delay=200]"), stream=True)
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) == 6  # role, 3 pieces, then finish and [DONE] together
    assert sum(1 for gap in gaps if gap >= 0.15) >= 4


def test_chunks_sets_the_number_of_text_frames(mock: MockServer) -> None:
    stream = oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi [mock:chunks=12]"), stream=True)
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) == 12


def test_chunk_chars_cuts_inside_words(mock: MockServer) -> None:
    stream = oa(mock).chat.completions.create(
        model="gpt-4o", messages=ask("Hello wonderful [mock:echo] [mock:chunk-chars=4]"), stream=True
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert pieces == ["Hell", "o wo", "nder", "ful"]


def test_break_drops_the_connection_mid_stream(mock: MockServer) -> None:
    received: list[str] = []
    with httpx.Client() as http:
        response = http.send(raw_chat(mock, "Count from 1 to 6 [mock:break]"), stream=True)
        with pytest.raises(httpx.RemoteProtocolError):
            for line in response.iter_lines():
                received.append(line)
    assert any('"content":"1"' in line for line in received)
    assert "data: [DONE]" not in received


def test_hang_never_answers(mock: MockServer) -> None:
    with pytest.raises(openai.APITimeoutError):
        oa(mock, timeout=0.5).chat.completions.create(model="gpt-4o", messages=ask("[mock:hang]"))


def test_stream_error_in_each_vendor_format(mock: MockServer) -> None:
    with pytest.raises(openai.APIError):
        list(
            oa(mock).chat.completions.create(
                model="gpt-4o", messages=ask("Count from 1 to 6 [mock:stream-error]"), stream=True
            )
        )
    ant = anthropic.Anthropic(api_key=mock.keys["anthropic"], base_url=mock.url("anthropic"), max_retries=0)
    with (
        pytest.raises(anthropic.APIStatusError),
        ant.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=8,
            messages=[{"role": "user", "content": "one two three [mock:stream-error]"}],
        ) as stream,
    ):
        list(stream.text_stream)
    gem = genai.Client(api_key=mock.keys["gemini"], http_options=genai_types.HttpOptions(base_url=mock.url("gemini")))
    with pytest.raises(genai_errors.ServerError):
        list(gem.models.generate_content_stream(model="gemini-2.5-flash", contents="a b c [mock:stream-error]"))


def test_echo_replies_with_the_prompt(mock: MockServer) -> None:
    response = oa(mock).chat.completions.create(model="gpt-4o", messages=ask("say banana [mock:echo]"))
    assert response.choices[0].message.content == "say banana"


def test_malformed_directive_is_a_400(mock: MockServer) -> None:
    with pytest.raises(openai.BadRequestError, match="chunks"):
        oa(mock).chat.completions.create(model="gpt-4o", messages=ask("[mock:chunks=many]"))


def test_config_applies_to_every_request_of_the_chosen_vendors(mock: MockServer) -> None:
    http = httpx.Client(base_url=mock.base_url)
    assert http.post("/_mock/config", json={"error": 503, "vendors": ["anthropic"]}).status_code == 200
    assert http.get("/_mock/config").json() == {"error": 503, "vendors": ["anthropic"]}
    oa(mock).chat.completions.create(model="gpt-4o", messages=ask("hi"))  # not affected
    ant = anthropic.Anthropic(api_key=mock.keys["anthropic"], base_url=mock.url("anthropic"), max_retries=0)
    with pytest.raises(anthropic.InternalServerError):
        ant.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert http.delete("/_mock/config").json() == {}
    ant.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}])


def test_directive_overrides_config(mock: MockServer) -> None:
    mock.configure(error=500)
    with pytest.raises(openai.RateLimitError):
        oa(mock).chat.completions.create(model="gpt-4o", messages=ask("[mock:error=429]"))


def test_bad_config_is_rejected_and_names_the_setting(mock: MockServer) -> None:
    response = httpx.post(mock.base_url + "/_mock/config", json={"eror": 500})
    assert response.status_code == 400 and "eror" in response.json()["error"]
    assert httpx.get(mock.base_url + "/_mock/config").json() == {}

"""Tests for providers/openai.py: facts, usage injection and dropping, usage readers, error shapes."""

from __future__ import annotations

import httpx2
import openai
import orjson
import pytest

from tollgate.errors import AuthenticationError, BadRequestError, GatewayError, RateLimitedError, UpstreamTimeoutError
from tollgate.providers.base import RequestFacts, StreamTap
from tollgate.providers.openai import TEMPLATE, OpenAIProvider
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture

ADAPTER = OpenAIProvider()
CHAT = "/v1/chat/completions"
STREAM_FACTS = RequestFacts(model="gpt-4o-mini", is_streaming=True)


def run_tap(tap: StreamTap, chunks: list[bytes]) -> tuple[bytes, UsageResult]:
    out = [tap.feed(chunk) for chunk in chunks]
    out.append(tap.close())
    return b"".join(out), tap.result()


def test_template_identity() -> None:
    assert ADAPTER.name == "openai"
    assert ADAPTER.default_base_url == "https://api.openai.com"
    assert ADAPTER.client_key_headers == (b"authorization",)
    assert ADAPTER.default_headers == []
    assert ADAPTER.upstream_credential("sk-test") == ([(b"authorization", b"Bearer sk-test")], [])
    assert TEMPLATE.error_format == "openai"


def test_request_facts_and_reads_body() -> None:
    assert ADAPTER.reads_body("POST", CHAT)
    assert ADAPTER.reads_body("POST", "/v1/responses")
    assert not ADAPTER.reads_body("GET", "/v1/models")
    assert not ADAPTER.reads_body("POST", "/v1/audio/transcriptions")
    assert not ADAPTER.reads_body("POST", "/v1/files")
    facts = ADAPTER.request_facts(CHAT, "", {"model": "gpt-4o", "stream": True, "messages": []})
    assert facts == RequestFacts(model="gpt-4o", is_streaming=True)
    assert ADAPTER.request_facts(CHAT, "", {"model": "gpt-4o", "stream": "yes"}).is_streaming is False
    assert ADAPTER.request_facts("/v1/models", "", None) == RequestFacts(model=None, is_streaming=False)


def test_streaming_chat_gets_include_usage_injected() -> None:
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    rewrite = ADAPTER.rewrite_request(CHAT, "", body, ADAPTER.request_facts(CHAT, "", body))
    assert rewrite is not None and rewrite.body is not None
    assert rewrite.drop_usage_chunk is True
    assert rewrite.path is None and rewrite.query is None
    assert orjson.loads(rewrite.body) == {**body, "stream_options": {"include_usage": True}}
    assert "stream_options" not in body  # the parsed body is not mutated


def test_other_stream_options_are_kept_and_explicit_requests_untouched() -> None:
    body = {"model": "m", "stream": True, "stream_options": {"include_obfuscation": False}}
    rewrite = ADAPTER.rewrite_request(CHAT, "", body, STREAM_FACTS)
    assert rewrite is not None and rewrite.body is not None
    assert orjson.loads(rewrite.body)["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    asked = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    assert ADAPTER.rewrite_request(CHAT, "", asked, STREAM_FACTS) is None
    not_streaming = RequestFacts(model="m", is_streaming=False)
    assert ADAPTER.rewrite_request(CHAT, "", {"model": "m"}, not_streaming) is None
    assert ADAPTER.rewrite_request("/v1/responses", "", {"model": "m", "stream": True}, STREAM_FACTS) is None


@pytest.mark.parametrize(
    ("name", "usage", "model"),
    [
        ("openai_chat.json", TokenUsage(1117, 46, 1163), "gpt-4o-2024-08-06"),
        ("openai_responses.json", TokenUsage(36, 87, 123), "gpt-4.1-2025-04-14"),
        ("openai_embeddings.json", TokenUsage(8, None, 8), "text-embedding-3-small"),
    ],
)
def test_usage_from_json(name: str, usage: TokenUsage, model: str) -> None:
    result = ADAPTER.usage_from_json(fixture(name), RequestFacts(model="asked", is_streaming=False))
    assert result == UsageResult(usage, model)


def test_usage_from_bad_json_falls_back_to_request_model() -> None:
    facts = RequestFacts(model="gpt-4o", is_streaming=False)
    assert ADAPTER.usage_from_json(b"<html>502</html>", facts) == UsageResult(TokenUsage(), "gpt-4o")
    assert ADAPTER.usage_from_json(b"[1, 2]", facts) == UsageResult(TokenUsage(), "gpt-4o")


def test_reading_tap_passes_every_chunk_through_unchanged() -> None:
    stream = fixture("openai_chat_stream.sse")
    for chunks in chunkings(stream):
        tap = ADAPTER.new_stream_tap(STREAM_FACTS, drop_usage_chunk=False)
        for chunk in chunks:
            assert tap.feed(chunk) is chunk
        assert tap.close() == b""
        assert tap.result() == UsageResult(TokenUsage(9, 12, 21), "gpt-4o-mini-2024-07-18")


def test_dropping_tap_hides_only_the_usage_chunk_but_meters_it() -> None:
    stream = fixture("openai_chat_stream.sse")
    frames = stream.split(b"\n\n")
    usage_frame = next(f for f in frames if b'"choices":[]' in f) + b"\n\n"
    expected = stream.replace(usage_frame, b"")
    assert len(expected) < len(stream)
    for chunks in chunkings(stream):
        out, result = run_tap(ADAPTER.new_stream_tap(STREAM_FACTS, drop_usage_chunk=True), chunks)
        assert out == expected
        assert result == UsageResult(TokenUsage(9, 12, 21), "gpt-4o-mini-2024-07-18")


def test_dropping_tap_drops_a_usage_chunk_cut_off_at_eof() -> None:
    stream = fixture("openai_chat_stream.sse")
    cut = stream[: stream.index(b"data: [DONE]")].rstrip(b"\n")
    out, result = run_tap(ADAPTER.new_stream_tap(STREAM_FACTS, drop_usage_chunk=True), [cut])
    assert b'"choices":[]' not in out
    assert result.usage.total_tokens == 21


def test_responses_api_stream_usage_from_response_completed() -> None:
    stream = fixture("openai_responses_stream.sse")
    for chunks in chunkings(stream):
        out, result = run_tap(ADAPTER.new_stream_tap(STREAM_FACTS, drop_usage_chunk=False), chunks)
        assert out == stream
        assert result == UsageResult(TokenUsage(37, 11, 48), "gpt-4.1-2025-04-14")


def test_tap_tolerates_malformed_events_and_falls_back_to_request_model() -> None:
    garbage = b'data: {"usage": {"prompt_tokens": \n\ndata: not json\n\n: comment\n\ndata: {"usage": 5}\n\n'
    out, result = run_tap(ADAPTER.new_stream_tap(STREAM_FACTS, drop_usage_chunk=True), [garbage])
    assert out == garbage
    assert result == UsageResult(TokenUsage(), "gpt-4o-mini")


def status_error(body: bytes, status: int, headers: list[tuple[bytes, bytes]]) -> openai.APIStatusError:
    client = openai.OpenAI(api_key="placeholder", base_url="http://gateway.test/v1")
    request = httpx2.Request("POST", "http://gateway.test/v1/chat/completions")
    response = httpx2.Response(status, headers=headers, content=body, request=request)
    return client._make_status_error_from_response(response)


@pytest.mark.parametrize(
    ("err", "cls"),
    [
        (AuthenticationError("Invalid API key."), openai.AuthenticationError),
        (RateLimitedError("Token limit exceeded.", retry_after=3), openai.RateLimitError),
        (BadRequestError("Malformed JSON body."), openai.BadRequestError),
        (UpstreamTimeoutError("Upstream timed out."), openai.InternalServerError),
    ],
)
def test_error_response_is_classified_by_the_openai_sdk(err: GatewayError, cls: type[Exception]) -> None:
    status, headers, body = ADAPTER.error_response(err, "req-1")
    exc = status_error(body, status, headers)
    assert isinstance(exc, cls)
    assert exc.status_code == err.status
    assert exc.message == f"Error code: {err.status} - {err.message}"
    assert exc.code == err.code
    assert (b"content-type", b"application/json") in headers


def test_stream_error_frame_raises_api_error_in_the_sdk() -> None:
    frame = ADAPTER.stream_error_frame(UpstreamTimeoutError("Upstream went silent."))
    assert frame is not None and frame.startswith(b"data: {") and frame.endswith(b"\n\n")
    client = openai.OpenAI(api_key="placeholder", base_url="http://gateway.test/v1")
    first = b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[]}\n\n'
    response = httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=first + frame,
        request=httpx2.Request("POST", "http://gateway.test/v1/chat/completions"),
    )
    stream = openai.Stream(cast_to=object, response=response, client=client)
    with pytest.raises(openai.APIError, match="Upstream went silent"):
        list(stream)

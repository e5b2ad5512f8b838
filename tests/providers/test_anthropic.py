"""Tests for providers/anthropic.py: credential and version header, cache-aware usage, SDK error classes."""

from __future__ import annotations

import anthropic
import httpx2
import orjson
import pytest

from tollgate.errors import (
    AuthenticationError,
    GatewayError,
    PayloadTooLargeError,
    RateLimitedError,
    UpstreamError,
    UpstreamTimeoutError,
)
from tollgate.providers.anthropic import anthropic_input_tokens, anthropic_template
from tollgate.providers.base import RequestFacts
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture, translate

TEMPLATE_ = anthropic_template()
CLIENT = TEMPLATE_.client
BACKEND = TEMPLATE_.backend
FACTS = RequestFacts(model="claude-sonnet-4-5", is_streaming=True)


def test_template_identity() -> None:
    assert BACKEND.default_base_url == "https://api.anthropic.com"
    assert CLIENT.client_key_headers == (b"authorization", b"x-api-key")
    assert BACKEND.default_headers == [(b"anthropic-version", b"2023-06-01")]
    assert BACKEND.upstream_credential("sk-ant") == ([(b"x-api-key", b"sk-ant")], [])


def test_request_facts() -> None:
    assert CLIENT.reads_body("POST", "/v1/messages")
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True, "messages": []}
    assert CLIENT.request_facts("/v1/messages", "", body) == FACTS
    assert translate(BACKEND.pass_through, "/v1/messages", "", body, FACTS)[0] is None


def test_input_tokens_include_cache_reads_and_writes() -> None:
    assert anthropic_input_tokens({"input_tokens": 10, "cache_read_input_tokens": 5}) == 15
    assert anthropic_input_tokens({"input_tokens": 10, "cache_creation_input_tokens": None}) == 10
    assert anthropic_input_tokens({"cache_read_input_tokens": 5}) is None


def test_usage_from_json() -> None:
    result = BACKEND.usage_from_json(fixture("anthropic_message.json"), FACTS.model)
    expected = UsageResult(
        TokenUsage(2095 + 1800, 503, 2095 + 1800 + 503, cached_tokens=1800), "claude-sonnet-4-5-20250929", ("end_turn",)
    )
    assert result == expected


def test_stream_merges_message_start_and_message_delta() -> None:
    stream = fixture("anthropic_stream.sse")
    for chunks in chunkings(stream):
        tap = BACKEND.new_stream_tap(FACTS.model)
        for chunk in chunks:
            tap.feed(chunk)
        tap.close()
        # message_start: 25 uncached + 2000 read from the cache + 100 written to it
        expected = UsageResult(
            TokenUsage(2125, 15, 2140, cached_tokens=2000), "claude-sonnet-4-5-20250929", ("end_turn",)
        )
        assert tap.result() == expected


def test_stream_without_message_start_keeps_request_model() -> None:
    tap = BACKEND.new_stream_tap(FACTS.model)
    tap.feed(b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":7}}\n\n')
    assert tap.result() == UsageResult(TokenUsage(None, 7, 7), "claude-sonnet-4-5")


def status_error(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> anthropic.APIStatusError:
    client = anthropic.Anthropic(api_key="placeholder", base_url="http://gateway.test")
    request = httpx2.Request("POST", "http://gateway.test/v1/messages")
    return client._make_status_error_from_response(
        httpx2.Response(status, headers=headers, content=body, request=request)
    )


@pytest.mark.parametrize(
    ("err", "cls", "kind"),
    [
        (AuthenticationError("Invalid API key."), anthropic.AuthenticationError, "authentication_error"),
        (RateLimitedError("Slow down.", retry_after=2.5), anthropic.RateLimitError, "rate_limit_error"),
        (PayloadTooLargeError("Body too large."), anthropic.APIStatusError, "request_too_large"),
        (UpstreamTimeoutError("Upstream timed out."), anthropic.InternalServerError, "timeout_error"),
        (UpstreamError("Overloaded.", status=529), anthropic.InternalServerError, "overloaded_error"),
    ],
)
def test_error_response_is_classified_by_the_anthropic_sdk(err: GatewayError, cls: type[Exception], kind: str) -> None:
    status, headers, body = CLIENT.error_response(err, "req_011")
    decoded = orjson.loads(body)
    assert decoded == {"type": "error", "error": {"type": kind, "message": err.message}, "request_id": "req_011"}
    exc = status_error(status, headers, body)
    assert isinstance(exc, cls)
    assert exc.status_code == err.status
    assert err.message in exc.message


def test_overloaded_maps_to_the_sdk_overloaded_class() -> None:
    status, headers, body = CLIENT.error_response(UpstreamError("Overloaded.", status=529), "r")
    exc = status_error(status, headers, body)
    assert type(exc).__name__ == "OverloadedError"


def test_stream_error_frame_raises_in_the_sdk() -> None:
    frame = CLIENT.stream_error_frame(UpstreamTimeoutError("Upstream went silent."))
    assert frame is not None and frame.startswith(b"event: error\ndata: ")
    client = anthropic.Anthropic(api_key="placeholder", base_url="http://gateway.test")
    start = fixture("anthropic_stream.sse").split(b"\n\n")[0] + b"\n\n"
    response = httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=start + frame,
        request=httpx2.Request("POST", "http://gateway.test/v1/messages"),
    )
    stream = anthropic.Stream(cast_to=object, response=response, client=client)
    with pytest.raises(anthropic.APIStatusError, match="Upstream went silent"):
        list(stream)

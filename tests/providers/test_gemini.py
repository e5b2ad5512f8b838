"""Tests for providers/gemini.py: path facts, usageMetadata, SSE and JSON-array streams, Google errors."""

from __future__ import annotations

import httpx2
import orjson
import pytest
from google.genai import errors as genai_errors

from tollgate.errors import AuthenticationError, GatewayError, RateLimitedError, UpstreamError, UpstreamTimeoutError
from tollgate.providers.base import RequestFacts
from tollgate.providers.gemini import JSONArraySplitter, gemini_template, gemini_usage
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture

TEMPLATE_ = gemini_template()
CLIENT = TEMPLATE_.client
BACKEND = TEMPLATE_.backend
STREAM_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
FACTS = RequestFacts(model="gemini-2.5-flash", is_streaming=True)
# 45 thinking tokens count as output: 10 + 45 = 55; prompt 8; total 63 as reported.
STREAM_RESULT = UsageResult(TokenUsage(8, 55, 63), "gemini-2.5-flash", ("STOP",))


def test_template_identity() -> None:
    assert BACKEND.default_base_url == "https://generativelanguage.googleapis.com"
    assert CLIENT.client_key_headers == (b"x-goog-api-key",)
    assert BACKEND.upstream_credential("AIza") == ([(b"x-goog-api-key", b"AIza")], [])


@pytest.mark.parametrize("version", ["v1", "v1beta", "v1alpha"])
def test_model_and_stream_come_from_the_path(version: str) -> None:
    stream = f"/{version}/models/gemini-2.5-flash:streamGenerateContent"
    basic = f"/{version}/models/gemini-2.5-flash:generateContent"
    assert CLIENT.request_facts(stream, "alt=sse", None) == FACTS
    assert CLIENT.request_facts(stream, "", {"model": "ignored"}) == FACTS
    assert CLIENT.request_facts(basic, "", None) == RequestFacts("gemini-2.5-flash", False)
    assert not CLIENT.reads_body("POST", stream)
    assert not CLIENT.reads_body("POST", basic)
    assert CLIENT.request_facts("/v1beta/models", "", None) == RequestFacts(None, False)


def test_usage_from_json() -> None:
    result = BACKEND.usage_from_json(fixture("gemini_response.json"), RequestFacts("gemini-2.0-flash", False))
    assert result == UsageResult(TokenUsage(8, 9, 17), "gemini-2.0-flash", ("STOP",))


def test_gemini_usage_adds_thoughts_and_tool_prompts() -> None:
    meta = {"promptTokenCount": 5, "toolUsePromptTokenCount": 3, "candidatesTokenCount": 2, "thoughtsTokenCount": 4}
    assert gemini_usage({**meta, "totalTokenCount": 14}) == TokenUsage(8, 6, 14)
    assert gemini_usage({"promptTokenCount": 5}) == TokenUsage(5, None, None)
    assert gemini_usage({}) is None


def test_sse_stream_keeps_the_last_report() -> None:
    stream = fixture("gemini_stream.sse")
    assert b"\r\n\r\n" in stream
    for chunks in chunkings(stream):
        tap = BACKEND.new_stream_tap(FACTS.model)
        for chunk in chunks:
            tap.feed(chunk)
        tap.close()
        assert tap.result() == STREAM_RESULT


def test_json_array_stream_without_alt_sse() -> None:
    stream = fixture("gemini_stream_array.json")
    assert stream.startswith(b"[")
    for chunks in chunkings(stream):
        tap = BACKEND.new_stream_tap(FACTS.model)
        for chunk in chunks:
            tap.feed(chunk)
        tap.close()
        assert tap.result() == STREAM_RESULT


def test_json_array_splitter_handles_strings_and_escapes() -> None:
    elements = [b'{"t": "a } b { \\" ] ["}', b'{"x": [1, {"y": "\\\\"}]}', b"{}"]
    data = b" [\r\n" + b",\r\n".join(elements) + b"]\n"
    for chunks in chunkings(data):
        splitter = JSONArraySplitter()
        found = [element for chunk in chunks for element in splitter.feed(chunk)]
        assert found == elements
        assert all(orjson.loads(element) is not None for element in found)


def test_a_cut_off_last_event_falls_back_to_the_one_before() -> None:
    stream = fixture("gemini_stream.sse")
    tap = BACKEND.new_stream_tap(FACTS.model)
    tap.feed(stream[:-40])
    tap.close()
    assert tap.result() == UsageResult(TokenUsage(8, None, 8), "gemini-2.5-flash")


def test_stream_without_usage_falls_back_to_request_model() -> None:
    tap = BACKEND.new_stream_tap(FACTS.model)
    tap.feed(b'data: {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}\r\n\r\n')
    assert tap.result() == UsageResult(TokenUsage(), "gemini-2.5-flash")


@pytest.mark.parametrize(
    ("err", "cls", "status"),
    [
        (AuthenticationError("API key not valid."), genai_errors.ClientError, "UNAUTHENTICATED"),
        (RateLimitedError("Quota exceeded.", retry_after=30), genai_errors.ClientError, "RESOURCE_EXHAUSTED"),
        (UpstreamTimeoutError("Upstream timed out."), genai_errors.ServerError, "DEADLINE_EXCEEDED"),
        (UpstreamError("Bad gateway."), genai_errors.ServerError, "UNAVAILABLE"),
    ],
)
def test_error_response_is_classified_by_google_genai(err: GatewayError, cls: type[Exception], status: str) -> None:
    code, headers, body = CLIENT.error_response(err, "req-1")
    response = httpx2.Response(
        code, headers=headers, content=body, request=httpx2.Request("POST", "http://gateway.test" + STREAM_PATH)
    )
    with pytest.raises(cls) as caught:
        genai_errors.APIError.raise_for_response(response)
    exc = caught.value
    assert isinstance(exc, genai_errors.APIError)
    assert exc.code == err.status
    assert exc.status == status
    assert exc.message == err.message


def test_stream_error_frame_keeps_the_data_space_and_crlf() -> None:
    frame = CLIENT.stream_error_frame(UpstreamError("Upstream reset."))
    assert frame is not None
    assert frame.startswith(b"data: {") and frame.endswith(b"}\r\n\r\n")
    error = orjson.loads(frame[6:])["error"]
    assert (error["code"], error["status"], error["message"]) == (502, "UNAVAILABLE", "Upstream reset.")

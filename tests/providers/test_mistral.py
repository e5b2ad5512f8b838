"""Tests for providers/mistral.py: OpenAI paths without usage injection, Mistral's error object."""

from __future__ import annotations

import httpx2
import openai
import orjson

from tollgate.errors import AuthenticationError, RateLimitedError
from tollgate.providers.base import RequestFacts
from tollgate.providers.mistral import TEMPLATE, mistral_template
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture, run_tap, translate

TEMPLATE_ = mistral_template()
CLIENT = TEMPLATE_.client
BACKEND = TEMPLATE_.backend
CHAT = "/v1/chat/completions"
FACTS = RequestFacts(model="mistral-small-latest", is_streaming=True)


def test_template_identity() -> None:
    assert CLIENT.name == "mistral"
    assert BACKEND.default_base_url == "https://api.mistral.ai"
    assert CLIENT.client_key_headers == (b"authorization",)
    assert BACKEND.upstream_credential("m-key") == ([(b"authorization", b"Bearer m-key")], [])
    assert TEMPLATE.error_format == "mistral"


def test_streams_are_not_rewritten() -> None:
    body = {"model": "mistral-small-latest", "stream": True, "messages": []}
    facts = CLIENT.request_facts(CHAT, "", body)
    assert facts == FACTS
    translation, req = translate(BACKEND.pass_through, CHAT, "", body, facts)
    assert translation is None and req.body == orjson.dumps(body)


def test_usage_from_json() -> None:
    result = BACKEND.usage_from_json(fixture("mistral_chat.json"), FACTS.model)
    assert result == UsageResult(TokenUsage(16, 34, 50), "mistral-small-latest", ("stop",))


def test_stream_usage_from_the_final_chunk() -> None:
    stream = fixture("mistral_chat_stream.sse")
    for chunks in chunkings(stream):
        assert run_tap(BACKEND.new_stream_tap(FACTS.model), chunks) == UsageResult(
            TokenUsage(7, 4, 11), "mistral-small-latest", ("stop",)
        )


def test_error_body_is_mistral_shaped_and_readable_by_the_openai_sdk() -> None:
    err = RateLimitedError("Requests rate limit exceeded", retry_after=1)
    status, headers, body = CLIENT.error_response(err, "req-1")
    assert orjson.loads(body) == {
        "object": "error",
        "message": "Requests rate limit exceeded",
        "type": "rate_limited",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    client = openai.OpenAI(api_key="placeholder", base_url="http://gateway.test/v1")
    response = httpx2.Response(status, headers=headers, content=body, request=httpx2.Request("POST", "http://g/v1"))
    exc = client._make_status_error_from_response(response)
    assert isinstance(exc, openai.RateLimitError)
    assert exc.message == "Error code: 429 - Requests rate limit exceeded"


def test_stream_error_frame_is_an_openai_style_envelope() -> None:
    frame = CLIENT.stream_error_frame(AuthenticationError("Key revoked."))
    assert frame is not None and frame.endswith(b"\n\n")
    error = orjson.loads(frame.removeprefix(b"data: "))["error"]
    assert error["object"] == "error" and error["message"] == "Key revoked."

"""Tests for providers/template.py and taps.py: a custom, purely declarative template."""

from __future__ import annotations

import orjson
import pytest

from tollgate.errors import AuthenticationError, ResourceValidationError
from tollgate.providers.base import RequestFacts
from tollgate.providers.template import TemplateProvider
from tollgate.resources.models import TemplateSpec
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings

SPEC = TemplateSpec.model_validate(
    {
        "baseUrl": "https://llm.example.com/",
        "credential": {"location": "query", "name": "key", "prefix": ""},
        "clientKeyHeaders": ["X-Vendor-Key", "authorization"],
        "defaultHeaders": {"X-Vendor-Version": "7"},
        "requestModel": {"bodyField": "options.model", "pathPattern": r"^/engines/([^/]+)/"},
        "streaming": {"bodyFlag": "stream", "pathPattern": r"/stream$"},
        "responseModel": ["meta.model", "model"],
        "usage": {
            "promptTokens": ["meta.tokens.in"],
            "completionTokens": ["meta.tokens.out"],
            "totalTokens": [],
        },
        "errorFormat": "anthropic",
    }
)
ADAPTER = TemplateProvider("acme", SPEC)


def test_identity_from_the_spec() -> None:
    assert ADAPTER.name == "acme"
    assert ADAPTER.default_base_url == "https://llm.example.com"
    assert ADAPTER.client_key_headers == (b"x-vendor-key", b"authorization")
    assert ADAPTER.default_headers == [(b"x-vendor-version", b"7")]
    assert ADAPTER.upstream_credential("s3cret") == ([], [("key", "s3cret")])
    bearer = TemplateProvider("b", TemplateSpec.model_validate({"credential": {"prefix": "Bearer "}}))
    assert bearer.upstream_credential("t") == ([(b"authorization", b"Bearer t")], [])


def test_request_facts_from_path_then_body() -> None:
    assert ADAPTER.request_facts("/engines/big%2Dmodel/stream", "", None) == RequestFacts("big-model", True)
    assert ADAPTER.request_facts("/complete", "", {"options": {"model": "small"}, "stream": True}) == RequestFacts(
        "small", True
    )
    assert ADAPTER.request_facts("/complete", "", {"options": {"model": 3}}) == RequestFacts(None, False)
    assert not ADAPTER.reads_body("POST", "/engines/m/stream")  # both facts are in the path
    assert ADAPTER.reads_body("POST", "/engines/m/complete")  # stream flag is in the body
    assert ADAPTER.reads_body("POST", "/complete")
    assert not ADAPTER.reads_body("GET", "/complete")
    assert ADAPTER.rewrite_request("/complete", "", {}, RequestFacts(None, False)) is None


def test_usage_from_json_with_dotted_paths() -> None:
    body = orjson.dumps({"meta": {"model": "m-2", "tokens": {"in": 4, "out": 6}}, "model": "ignored"})
    assert ADAPTER.usage_from_json(body, RequestFacts("m", False)) == UsageResult(TokenUsage(4, 6, 10), "m-2")
    odd = orjson.dumps({"meta": {"tokens": {"in": True, "out": -1}}})
    assert ADAPTER.usage_from_json(odd, RequestFacts("m", False)) == UsageResult(TokenUsage(), "m")


def test_stream_tap_only_reads_and_merges_reports() -> None:
    stream = (
        b'event: start\ndata: {"model": "m-2", "meta": {"tokens": {"in": 12}}}\n\n'
        b'data: {"text": "hello"}\n\n'
        b"data: [DONE-ish]\n\n"
        b'data: {"meta": {"tokens": {"out": 30}}}\n\n'
    )
    for chunks in chunkings(stream):
        tap = ADAPTER.new_stream_tap(RequestFacts("m", True), drop_usage_chunk=True)
        for chunk in chunks:
            assert tap.feed(chunk) is chunk
        assert tap.close() == b""
        assert tap.result() == UsageResult(TokenUsage(12, 30, 42), "m-2")


def test_last_event_without_blank_line_still_counts() -> None:
    tap = ADAPTER.new_stream_tap(RequestFacts("m", True), drop_usage_chunk=False)
    tap.feed(b'data: {"meta": {"tokens": {"in": 1, "out": 2}}}')
    assert tap.close() == b""
    assert tap.result().usage == TokenUsage(1, 2, 3)


def test_errors_follow_the_declared_format() -> None:
    status, headers, body = ADAPTER.error_response(AuthenticationError("Invalid API key."), "req-9")
    assert status == 401
    assert orjson.loads(body)["error"] == {"type": "authentication_error", "message": "Invalid API key."}
    assert (b"x-should-retry", b"false") in headers
    frame = ADAPTER.stream_error_frame(AuthenticationError("Invalid API key."))
    assert frame is not None and frame.startswith(b"event: error\n")


def test_a_bad_stream_pattern_fails_at_build_time_naming_the_field() -> None:
    spec = TemplateSpec.model_validate({"streaming": {"pathPattern": "(unclosed"}})
    with pytest.raises(ResourceValidationError) as caught:
        TemplateProvider("broken", spec)
    assert caught.value.field == "spec.streaming.pathPattern"
    assert "broken" in str(caught.value)

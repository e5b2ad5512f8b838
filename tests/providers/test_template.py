"""Tests for providers/template.py and taps.py: a custom, purely declarative template."""

from __future__ import annotations

import orjson
import pytest

from tollgate.errors import AuthenticationError, ResourceValidationError
from tollgate.providers.base import PassThrough, RequestFacts
from tollgate.providers.template import TemplateBackend, TemplateClientAPI
from tollgate.resources.models import TemplateSpec
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, run_tap, translate

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
CLIENT = TemplateClientAPI("acme", SPEC)
BACKEND = TemplateBackend("acme", SPEC)


def test_identity_from_the_spec() -> None:
    assert CLIENT.name == BACKEND.name == "acme"
    assert BACKEND.default_base_url == "https://llm.example.com"
    assert CLIENT.client_key_headers == (b"x-vendor-key", b"authorization")
    assert BACKEND.default_headers == [(b"x-vendor-version", b"7")]
    assert BACKEND.upstream_credential("s3cret") == ([], [("key", "s3cret")])
    assert isinstance(BACKEND.pass_through, PassThrough) and BACKEND.pass_through.name == "acme->acme"
    bearer = TemplateBackend("b", TemplateSpec.model_validate({"credential": {"prefix": "Bearer "}}))
    assert bearer.upstream_credential("t") == ([(b"authorization", b"Bearer t")], [])


def test_request_facts_from_path_then_body() -> None:
    assert CLIENT.request_facts("/engines/big%2Dmodel/stream", "", None) == RequestFacts("big-model", True)
    assert CLIENT.request_facts("/complete", "", {"options": {"model": "small"}, "stream": True}) == RequestFacts(
        "small", True
    )
    assert CLIENT.request_facts("/complete", "", {"options": {"model": 3}}) == RequestFacts(None, False)
    assert not CLIENT.reads_body("POST", "/engines/m/stream")  # both facts are in the path
    assert CLIENT.reads_body("POST", "/engines/m/complete")  # stream flag is in the body
    assert CLIENT.reads_body("POST", "/complete")
    assert not CLIENT.reads_body("GET", "/complete")
    assert translate(BACKEND.pass_through, "/complete", "", {}, RequestFacts(None, False))[0] is None


def test_usage_from_json_with_dotted_paths() -> None:
    body = orjson.dumps({"meta": {"model": "m-2", "tokens": {"in": 4, "out": 6}}, "model": "ignored"})
    assert BACKEND.usage_from_json(body, "m") == UsageResult(TokenUsage(4, 6, 10), "m-2")
    odd = orjson.dumps({"meta": {"tokens": {"in": True, "out": -1}}})
    assert BACKEND.usage_from_json(odd, "m") == UsageResult(TokenUsage(), "m")


def test_stream_tap_merges_reports_in_every_chunking() -> None:
    stream = (
        b'event: start\ndata: {"model": "m-2", "meta": {"tokens": {"in": 12}}}\n\n'
        b'data: {"text": "hello"}\n\n'
        b"data: [DONE-ish]\n\n"
        b'data: {"meta": {"tokens": {"out": 30}}}\n\n'
    )
    for chunks in chunkings(stream):
        assert run_tap(BACKEND.new_stream_tap("m"), chunks) == UsageResult(TokenUsage(12, 30, 42), "m-2")


def test_last_event_without_blank_line_still_counts() -> None:
    tap = BACKEND.new_stream_tap("m")
    tap.feed(b'data: {"meta": {"tokens": {"in": 1, "out": 2}}}')
    tap.close()
    assert tap.result().usage == TokenUsage(1, 2, 3)


def test_errors_follow_the_declared_format() -> None:
    status, headers, body = CLIENT.error_response(AuthenticationError("Invalid API key."), "req-9")
    assert status == 401
    assert orjson.loads(body)["error"] == {"type": "authentication_error", "message": "Invalid API key."}
    assert (b"x-should-retry", b"false") in headers
    frame = CLIENT.stream_error_frame(AuthenticationError("Invalid API key."))
    assert frame is not None and frame.startswith(b"event: error\n")


def test_a_bad_stream_pattern_fails_at_build_time_naming_the_field() -> None:
    spec = TemplateSpec.model_validate({"streaming": {"pathPattern": "(unclosed"}})
    with pytest.raises(ResourceValidationError) as caught:
        TemplateClientAPI("broken", spec)
    assert caught.value.field == "spec.streaming.pathPattern"
    assert "broken" in str(caught.value)


def test_endpoints_every_template_recognises() -> None:
    assert CLIENT.endpoint("/v1/messages") == "messages"
    assert CLIENT.endpoint("/v1/messages/count_tokens") == "count_tokens"
    assert CLIENT.endpoint("/v1beta/models/g:streamGenerateContent") == "generate_content"
    assert CLIENT.endpoint("/complete") == "other"

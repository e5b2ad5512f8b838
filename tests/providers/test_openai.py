"""Tests for providers/openai.py: facts, the include_usage pass-through translation, usage readers, error shapes."""

from __future__ import annotations

import httpx2
import openai
import orjson
import pytest

from tollgate.errors import AuthenticationError, BadRequestError, GatewayError, RateLimitedError, UpstreamTimeoutError
from tollgate.providers.base import RequestFacts, Translation, UpstreamRequest
from tollgate.providers.openai import TEMPLATE, IncludeUsageTranslation, openai_template
from tollgate.types import JSONObject
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture, run_tap, run_translation

OPENAI = openai_template()
CLIENT = OPENAI.client
BACKEND = OPENAI.backend
CHAT = "/v1/chat/completions"
STREAM_FACTS = RequestFacts(model="gpt-4o-mini", is_streaming=True)


def translate(path: str, body: JSONObject | None, facts: RequestFacts) -> tuple[Translation | None, UpstreamRequest]:
    """Start the pass-through translator for one request and apply its request rewrite."""
    req = UpstreamRequest("POST", path, "", [], orjson.dumps(body) if body is not None else b"")
    translation = BACKEND.pass_through.start(facts, req, body)
    if translation is not None:
        translation.request(req, body)
    return translation, req


def test_template_identity() -> None:
    assert CLIENT.name == BACKEND.name == OPENAI.name == "openai"
    assert BACKEND.default_base_url == "https://api.openai.com"
    assert CLIENT.client_key_headers == (b"authorization",)
    assert CLIENT.client_key_query_params == ()
    assert BACKEND.default_headers == []
    assert BACKEND.upstream_credential("sk-test") == ([(b"authorization", b"Bearer sk-test")], [])
    assert BACKEND.pass_through.name == "openai->openai"
    assert TEMPLATE.error_format == "openai"


def test_request_facts_and_reads_body() -> None:
    assert CLIENT.reads_body("POST", CHAT)
    assert CLIENT.reads_body("POST", "/v1/responses")
    assert not CLIENT.reads_body("GET", "/v1/models")
    assert not CLIENT.reads_body("POST", "/v1/audio/transcriptions")
    assert not CLIENT.reads_body("POST", "/v1/files")
    facts = CLIENT.request_facts(CHAT, "", {"model": "gpt-4o", "stream": True, "messages": []})
    assert facts == RequestFacts(model="gpt-4o", is_streaming=True)
    assert CLIENT.request_facts("/v1/models", "", None) == RequestFacts(model=None, is_streaming=False)


@pytest.mark.parametrize("flag", [True, 1, "yes", "false", [1], {"a": 1}])
def test_any_truthy_stream_flag_asks_for_a_stream(flag: object) -> None:
    assert CLIENT.request_facts(CHAT, "", {"model": "m", "stream": flag}).is_streaming is True  # type: ignore[dict-item]


@pytest.mark.parametrize("flag", [False, 0, "", None, [], {}])
def test_falsy_stream_flags_do_not(flag: object) -> None:
    assert CLIENT.request_facts(CHAT, "", {"model": "m", "stream": flag}).is_streaming is False  # type: ignore[dict-item]


@pytest.mark.parametrize("model", [None, "", ["gpt-4o"], 4, {"name": "gpt-4o"}])
def test_a_model_that_is_not_a_non_empty_string_is_no_model(model: object) -> None:
    assert CLIENT.request_facts(CHAT, "", {"model": model}).model is None  # type: ignore[dict-item]
    assert CLIENT.request_facts(CHAT, "", {"messages": []}).model is None


def test_endpoints_are_detected_from_the_path() -> None:
    assert CLIENT.endpoint(CHAT) == "chat"
    assert CLIENT.endpoint("/v1/responses") == "responses"
    assert CLIENT.endpoint("/v1/embeddings") == "embeddings"
    assert CLIENT.endpoint("/openai/deployments/d/chat/completions") == "chat"
    assert CLIENT.endpoint("/v1/models") == "other"


def test_streaming_chat_gets_include_usage_injected() -> None:
    body: JSONObject = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    translation, req = translate(CHAT, body, CLIENT.request_facts(CHAT, "", body))
    assert isinstance(translation, IncludeUsageTranslation)
    assert req.path == CHAT and req.query == ""
    assert orjson.loads(req.body) == {**body, "stream_options": {"include_usage": True}}
    assert "stream_options" not in body  # the parsed body is not mutated


def test_a_truthy_non_boolean_stream_flag_gets_usage_injected_too() -> None:
    body: JSONObject = {"model": "gpt-4o", "stream": "yes", "messages": []}
    translation, req = translate(CHAT, body, CLIENT.request_facts(CHAT, "", body))
    assert translation is not None
    assert orjson.loads(req.body) == {**body, "stream_options": {"include_usage": True}}


def test_other_stream_options_are_kept_and_explicit_requests_untouched() -> None:
    body: JSONObject = {"model": "m", "stream": True, "stream_options": {"include_obfuscation": False}}
    translation, req = translate(CHAT, body, STREAM_FACTS)
    assert translation is not None
    assert orjson.loads(req.body)["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    asked: JSONObject = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    translation, untouched = translate(CHAT, asked, STREAM_FACTS)
    assert translation is None and untouched.body == orjson.dumps(asked)
    not_streaming = RequestFacts(model="m", is_streaming=False)
    assert translate(CHAT, {"model": "m"}, not_streaming)[0] is None
    assert translate("/v1/responses", {"model": "m", "stream": True}, STREAM_FACTS)[0] is None


@pytest.mark.parametrize(
    ("name", "usage", "model", "finish"),
    [
        ("openai_chat.json", TokenUsage(1117, 46, 1163, 0), "gpt-4o-2024-08-06", ("stop",)),
        ("openai_responses.json", TokenUsage(36, 87, 123, 0), "gpt-4.1-2025-04-14", ()),
        ("openai_embeddings.json", TokenUsage(8, None, 8), "text-embedding-3-small", ()),
    ],
)
def test_usage_from_json(name: str, usage: TokenUsage, model: str, finish: tuple[str, ...]) -> None:
    assert BACKEND.usage_from_json(fixture(name), "asked") == UsageResult(usage, model, finish)


def test_usage_from_bad_json_falls_back_to_request_model() -> None:
    assert BACKEND.usage_from_json(b"<html>502</html>", "gpt-4o") == UsageResult(TokenUsage(), "gpt-4o")
    assert BACKEND.usage_from_json(b"[1, 2]", "gpt-4o") == UsageResult(TokenUsage(), "gpt-4o")


def test_tap_reads_usage_in_every_chunking() -> None:
    stream = fixture("openai_chat_stream.sse")
    for chunks in chunkings(stream):
        tap = BACKEND.new_stream_tap("gpt-4o-mini")
        assert run_tap(tap, chunks) == UsageResult(TokenUsage(9, 12, 21, 0), "gpt-4o-mini-2024-07-18", ("stop",))
        assert tap.error is None


def test_translation_hides_only_the_usage_chunk_while_the_tap_meters_it() -> None:
    stream = fixture("openai_chat_stream.sse")
    frames = stream.split(b"\n\n")
    usage_frame = next(f for f in frames if b'"choices":[]' in f) + b"\n\n"
    expected = stream.replace(usage_frame, b"")
    assert len(expected) < len(stream)
    for chunks in chunkings(stream):
        assert run_translation(IncludeUsageTranslation(), chunks) == expected
        assert run_tap(BACKEND.new_stream_tap("gpt-4o-mini"), chunks).usage == TokenUsage(9, 12, 21, 0)


def test_translation_drops_a_usage_chunk_cut_off_at_eof() -> None:
    stream = fixture("openai_chat_stream.sse")
    cut = stream[: stream.index(b"data: [DONE]")].rstrip(b"\n")
    out = run_translation(IncludeUsageTranslation(), [cut])
    assert b'"choices":[]' not in out and out.endswith(b"\n\n")
    assert run_tap(BACKEND.new_stream_tap("m"), [cut]).usage.total_tokens == 21


def test_translation_keeps_a_client_visible_usage_mention_and_malformed_events() -> None:
    garbage = b'data: {"usage": {"prompt_tokens": \n\ndata: not json\n\n: comment\n\ndata: {"usage": 5}\n\n'
    assert run_translation(IncludeUsageTranslation(), [garbage]) == garbage
    assert run_tap(BACKEND.new_stream_tap("gpt-4o-mini"), [garbage]) == UsageResult(TokenUsage(), "gpt-4o-mini")


def test_responses_api_stream_usage_from_response_completed() -> None:
    stream = fixture("openai_responses_stream.sse")
    for chunks in chunkings(stream):
        assert run_tap(BACKEND.new_stream_tap("m"), chunks) == UsageResult(
            TokenUsage(37, 11, 48, 0), "gpt-4.1-2025-04-14"
        )


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b'data: {"error": {"message": "overloaded", "type": "server_error", "code": null}}\n\n', "server_error"),
        (b'data: {"error": {"message": "x", "type": "invalid_request_error", "code": "bad"}}\n\n', "bad"),
        (b'data: {"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}\n\n', "rate_limit_exceeded"),
        (
            b'event: response.failed\ndata: {"type": "response.failed", "response": {"status": "failed", '
            b'"error": {"code": "server_error", "message": "x"}}}\n\n',
            "stream_error",
        ),
    ],
)
def test_tap_notices_an_in_band_error_event(frame: bytes, code: str) -> None:
    stream = fixture("openai_chat_stream.sse")
    head = stream[: stream.index(b"data: [DONE]")]
    for chunks in chunkings(head + frame, random_runs=5):
        tap = BACKEND.new_stream_tap("m")
        run_tap(tap, chunks)
        assert tap.error == code


def test_content_that_mentions_errors_is_not_an_error() -> None:
    text = b'data: {"choices":[{"delta":{"content":"no error \\"error\\": here"}}]}\n\n'
    tap = BACKEND.new_stream_tap("m")
    run_tap(tap, [text])
    assert tap.error is None


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
    status, headers, body = CLIENT.error_response(err, "req-1")
    exc = status_error(body, status, headers)
    assert isinstance(exc, cls)
    assert exc.status_code == err.status
    assert exc.message == f"Error code: {err.status} - {err.message}"
    assert exc.code == err.code
    assert (b"content-type", b"application/json") in headers


def test_stream_error_frame_raises_api_error_in_the_sdk() -> None:
    frame = CLIENT.stream_error_frame(UpstreamTimeoutError("Upstream went silent."))
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

"""providers/pairs.py: the pair registry and the adapter to the relay's Translator interface."""

from __future__ import annotations

import orjson
import pytest

from tollgate.errors import BadRequestError, RouteNotFoundError
from tollgate.providers.base import RequestFacts, UpstreamRequest
from tollgate.providers.pairs import PAIR_TRANSLATORS, client_api_named

FACTS = RequestFacts(model="claude-sonnet-4-5", is_streaming=True)


def test_every_documented_pair_is_registered() -> None:
    assert sorted(PAIR_TRANSLATORS) == [
        ("anthropic", "azure-ai-foundry"),
        ("anthropic", "azure-openai"),
        ("anthropic", "gemini"),
        ("anthropic", "mistral"),
        ("anthropic", "openai"),
        ("anthropic", "openai-compatible"),
        ("openai", "anthropic"),
        ("openai", "azure-ai-foundry"),
        ("openai", "azure-openai"),
        ("openai", "gemini"),
        ("openai", "mistral"),
    ]
    assert client_api_named("openai").name == "openai" and client_api_named("openai") is client_api_named("openai")


def _start(body: dict[str, object]) -> tuple[object, UpstreamRequest]:
    req = UpstreamRequest("POST", "/v1/chat/completions", "", [(b"accept", b"application/json")], orjson.dumps(body))
    translation = PAIR_TRANSLATORS[("openai", "anthropic")].start(FACTS, req, body)  # type: ignore[arg-type]
    assert translation is not None
    translation.request(req, body)  # type: ignore[arg-type]
    return translation, req


def test_request_is_rewritten_in_place_and_each_attempt_starts_fresh() -> None:
    body = {"model": "claude-sonnet-4-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    _, req = _start(body)
    assert (req.path, req.query) == ("/v1/messages", "")
    assert orjson.loads(req.body)["max_tokens"] == 4096
    # each attempt gets a fresh request from the relay: a chat POST without a JSON body is a 400
    fresh = UpstreamRequest("POST", "/v1/chat/completions", "", [], b"")
    with pytest.raises(BadRequestError):
        PAIR_TRANSLATORS[("openai", "anthropic")].start(FACTS, fresh, None).request(fresh, None)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("POST", "/v1/embeddings", "The embeddings endpoint (POST /v1/embeddings)"),
        ("GET", "/v1/chat/completions", "The chat completions endpoint (GET /v1/chat/completions)"),
        ("DELETE", "/v1/models/x", "DELETE /v1/models/x"),
    ],
)
def test_other_endpoints_are_a_404_naming_them(method: str, path: str, message: str) -> None:
    req = UpstreamRequest(method, path, "", [], b"")
    translation = PAIR_TRANSLATORS[("openai", "gemini")].start(FACTS, req, None)
    assert translation is not None
    with pytest.raises(RouteNotFoundError) as caught:
        translation.request(req, None)
    assert caught.value.message == (
        f"{message} is not available on this route: it translates only OpenAI chat completions and the models "
        "list to its Gemini backend."
    )


def test_models_calls_are_asked_of_the_backend_and_answered_in_the_client_shape() -> None:
    req = UpstreamRequest("GET", "/v1/models/claude-a", "beta=true", [], b"")
    translation = PAIR_TRANSLATORS[("openai", "anthropic")].start(FACTS, req, None)
    assert translation is not None
    translation.request(req, None)
    assert (req.method, req.path, req.query, req.body) == ("GET", "/v1/models/claude-a", "", b"")
    headers = translation.response_headers(200, [(b"content-type", b"application/json"), (b"content-length", b"9")])
    assert headers == [(b"content-type", b"application/json")]
    answer = {"type": "model", "id": "claude-a", "display_name": "A", "created_at": "2025-09-29T00:00:00Z"}
    assert orjson.loads(translation.response_body(orjson.dumps(answer))) == {
        "id": "claude-a",
        "object": "model",
        "created": 1759104000,
        "owned_by": "anthropic",
    }
    status, _, body = translation.error(404, [], b'{"type":"error","error":{"type":"not_found_error","message":"no"}}')
    assert status == 404 and orjson.loads(body)["error"]["message"] == "no"


def test_headers_and_an_error_answered_as_a_stream_are_reshaped() -> None:
    body = {"model": "claude-sonnet-4-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    translation, _ = _start(body)
    headers = translation.response_headers(  # type: ignore[attr-defined]
        429, [(b"content-type", b"application/json"), (b"content-length", b"99"), (b"retry-after", b"2")]
    )
    assert headers == [(b"retry-after", b"2"), (b"content-type", b"application/json")]
    error = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}'
    assert translation.stream_chunk(error[:20]) == b""  # type: ignore[attr-defined]
    assert translation.stream_chunk(error[20:]) == b""  # type: ignore[attr-defined]
    assert orjson.loads(translation.stream_end())["error"]["message"] == "slow"  # type: ignore[attr-defined]
    ok, _ = _start(body)
    assert ok.response_headers(200, [(b"content-type", b"text/event-stream")]) == [  # type: ignore[attr-defined]
        (b"content-type", b"text/event-stream")
    ]

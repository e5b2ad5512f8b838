"""Mock of the Anthropic API under /anthropic: messages (+ SSE events), count_tokens, models.

Checks `x-api-key` (or `Authorization: Bearer`, which anthropic>=2 sends) and requires
`anthropic-version`, as the real API does.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tollgate.mock.behaviour import begin
from tollgate.mock.state import MockState
from tollgate.mock.stream import StreamPlan, stream_response
from tollgate.mock.text import count_words, last_user_text, prompt_tokens, reply_text, split_chunks
from tollgate.mock.wire import bearer_token, json_response, read_json_object, same_key, sse_frame
from tollgate.types import JSONObject, JSONValue

VENDOR = "anthropic"
LABEL = "Anthropic"
MODELS = (
    ("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-opus-4-1", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_DEFAULT_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    529: "Overloaded",
    500: "Internal server error",
}


def error_body(status: int, message: str | None = None) -> JSONObject:
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": message or _DEFAULT_MESSAGES.get(status, f"Mock error {status}.")},
    }


def error_response(status: int, message: str | None = None) -> Response:
    """Anthropic's `{"type": "error", "error": {type, message}, "request_id"}` with a `request-id` header."""
    request_id = "req_" + secrets.token_hex(12)
    body = error_body(status, message)
    body["request_id"] = request_id
    headers = {"request-id": request_id}
    if status == 429:
        headers["retry-after"] = "1"
    return json_response(body, status, headers)


def usage(input_tokens: int, output_tokens: int) -> JSONObject:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_object(message_id: str, model: str, text: str | None, usage_value: JSONObject) -> JSONObject:
    """A `message`; `text=None` gives the empty, unfinished one that `message_start` carries."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [] if text is None else [{"type": "text", "text": text}],
        "stop_reason": None if text is None else "end_turn",
        "stop_sequence": None,
        "usage": usage_value,
    }


def stream_plan(message_id: str, model: str, pieces: list[str], input_tokens: int, output_tokens: int) -> StreamPlan:
    """message_start, content_block_start, ping, N x content_block_delta, content_block_stop,
    message_delta (stop_reason, usage.output_tokens), message_stop; every frame with its `event:` line."""

    def event(kind: str, data: JSONObject) -> bytes:
        return sse_frame({"type": kind, **data}, event=kind)

    head = [
        event("message_start", {"message": message_object(message_id, model, None, usage(input_tokens, 1))}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        event("ping", {}),
    ]
    body = [event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}}) for p in pieces]
    tail = [
        event("content_block_stop", {"index": 0}),
        event(
            "message_delta",
            {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": output_tokens}},
        ),
        event("message_stop", {}),
    ]
    return StreamPlan(head=head, body=body, tail=tail, error=sse_frame(error_body(529), event="error"))


class AnthropicMock:
    """The Anthropic API, served below the app's /anthropic prefix."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/messages", self.messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.model, methods=["GET"]),
        ]

    def _denied(self, request: Request) -> Response | None:
        presented = request.headers.get("x-api-key") or bearer_token(request)
        if presented is None:
            return error_response(401, "x-api-key header is required")
        if not same_key(presented, self.state.keys[VENDOR]):
            return error_response(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return error_response(400, "anthropic-version: header is required")
        return None

    async def _body(self, request: Request) -> JSONObject | Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await read_json_object(request)
        if body is None:
            return error_response(400, "The request body is not valid JSON.")
        if not isinstance(body.get("model"), str):
            return error_response(400, "model: Field required")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return error_response(400, "messages: Field required")
        return body

    async def messages(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body.get("max_tokens"), int):
            return error_response(400, "max_tokens: Field required")
        model = str(body["model"])
        prompt = last_user_text(body["messages"])
        outcome = await begin(request, lambda: self.state.behaviour(VENDOR, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        text = reply_text(LABEL, prompt, echo=outcome.echo, min_words=outcome.chunks or 0)
        message_id = "msg_mock" + secrets.token_hex(10)
        input_tokens, output_tokens = prompt_tokens(body), count_words(text)
        if body.get("stream") is True:
            plan = stream_plan(message_id, model, split_chunks(text, outcome.chunks, outcome.chunk_chars), input_tokens, output_tokens)
            return stream_response(plan, outcome)
        return json_response(message_object(message_id, model, text, usage(input_tokens, output_tokens)))

    async def count_tokens(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        return json_response({"input_tokens": prompt_tokens(body)})

    async def models(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        data: list[JSONValue] = [{"type": "model", "id": i, "display_name": n, "created_at": c} for i, n, c in MODELS]
        return json_response({"data": data, "has_more": False, "first_id": MODELS[0][0], "last_id": MODELS[-1][0]})

    async def model(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        model_id = request.path_params["model"]
        names = {i: (n, c) for i, n, c in MODELS}
        name, created = names.get(model_id, (model_id, "2025-01-01T00:00:00Z"))
        return json_response({"type": "model", "id": model_id, "display_name": name, "created_at": created})

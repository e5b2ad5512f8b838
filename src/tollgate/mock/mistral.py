"""Mock of the Mistral API under /mistral: chat completions, embeddings, models.

Every field the mistralai SDK validates strictly is present (contract §3.4); the stream's final
chunk carries `usage` next to a non-empty `choices`, as Mistral sends it.
"""

from __future__ import annotations

import secrets
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tollgate.mock.behaviour import begin
from tollgate.mock.openai import chat_turn
from tollgate.mock.state import MockState
from tollgate.mock.stream import StreamPlan, stream_response
from tollgate.mock.text import (
    collect_text,
    count_words,
    embedding_vector,
    last_user_text,
    prompt_tokens,
    reply_text,
    split_chunks,
)
from tollgate.mock.tools import MockToolCall, describe_images, plan_calls, tool_results_text
from tollgate.mock.wire import DONE_FRAME, bearer_token, json_response, read_json_object, same_key, sse_frame
from tollgate.types import JSONObject, JSONValue

VENDOR = "mistral"
LABEL = "Mistral"
MODELS = ("mistral-small-latest", "mistral-medium-latest", "mistral-large-latest", "mistral-embed")
EMBEDDING_DIMENSIONS = 1024
_ERROR_TYPES = {
    400: "invalid_request_error",
    404: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limited",
}


def error_response(status: int, message: str | None = None) -> Response:
    """Mistral's 401 is `{"message": "Unauthorized", "request_id"}`; other errors are
    `{"object": "error", message, type, param, code}`. `retry-after` on 429."""
    if status == 401:
        return json_response({"message": message or "Unauthorized", "request_id": secrets.token_hex(16)}, 401)
    kind = _ERROR_TYPES.get(status, "internal_server_error" if status >= 500 else "invalid_request_error")
    text = message or ("Requests rate limit exceeded" if status == 429 else f"Mock error {status}.")
    body: JSONObject = {"object": "error", "message": text, "type": kind, "param": None, "code": str(status)}
    return json_response(body, status, {"retry-after": "1"} if status == 429 else None)


def usage(prompt: int, completion: int) -> JSONObject:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _calls(calls: tuple[MockToolCall, ...]) -> list[JSONValue]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}, "index": i}
        for i, c in enumerate(calls)
    ]


def stream_plan(
    reply_id: str,
    created: int,
    model: str,
    pieces: list[str],
    usage_value: JSONObject,
    calls: tuple[MockToolCall, ...] = (),
) -> StreamPlan:
    """Role chunk, one chunk per piece, final chunk with `finish_reason: stop` and `usage`, `[DONE]`.

    Tool calls come whole, all in one delta (the mistralai SDK requires name and arguments in each)."""

    def chunk(delta: JSONObject, finish: str | None, extra: JSONObject | None = None) -> bytes:
        choice: JSONValue = {"index": 0, "delta": delta, "finish_reason": finish}
        data: JSONObject = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
        }
        return sse_frame({**data, **(extra or {})})

    head = [chunk({"role": "assistant", "content": ""}, None)]
    body = [chunk({"content": piece}, None) for piece in pieces]
    if calls:
        body = [chunk({"tool_calls": _calls(calls)}, None)]
    finish = "tool_calls" if calls else "stop"
    tail = [chunk({"content": ""}, finish, {"usage": usage_value}), DONE_FRAME]
    error: JSONValue = {
        "object": "error",
        "message": "Internal server error",
        "type": "internal_server_error",
        "param": None,
        "code": "500",
    }
    return StreamPlan(head=head, body=body, tail=tail, error=sse_frame(error))


class MistralMock:
    """The Mistral API (`Authorization: Bearer <key>`), served below the app's /mistral prefix."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.model, methods=["GET"]),
        ]

    def _denied(self, request: Request) -> Response | None:
        return None if same_key(bearer_token(request), self.state.keys[VENDOR]) else error_response(401)

    async def _body(self, request: Request) -> JSONObject | Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await read_json_object(request)
        if body is None:
            return error_response(400, "Invalid JSON body")
        if not isinstance(body.get("model"), str):
            return error_response(422, "model: Field required")
        return body

    async def chat(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return error_response(422, "messages: Field required")
        prompt = last_user_text(messages)
        turn = chat_turn(body, url_strings=True)
        if isinstance(turn, str):
            return error_response(400, turn)
        outcome = await begin(request, lambda: self.state.behaviour(VENDOR, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        model = str(body["model"])
        calls: tuple[MockToolCall, ...] = ()
        if turn.results is not None:
            text = tool_results_text(turn.results)
        elif turn.tools:
            calls = tuple(plan_calls(turn.tools, turn.forced, prompt, "", id_size=9))
            text = ""
        else:
            text = reply_text(LABEL, prompt, echo=outcome.echo, min_words=outcome.chunks or 0)
        text += describe_images(turn.images) if not calls else ""
        reply_id, created = secrets.token_hex(16), int(time.time())
        usage_value = usage(prompt_tokens(body), count_words(text) + sum(count_words(c.arguments) for c in calls))
        if body.get("stream") is True:
            pieces = split_chunks(text, outcome.chunks, outcome.chunk_chars) if text else []
            return stream_response(stream_plan(reply_id, created, model, pieces, usage_value, calls), outcome)
        tool_calls: JSONValue = _calls(calls) if calls else None
        message: JSONValue = {"role": "assistant", "content": text, "tool_calls": tool_calls, "prefix": False}
        choice: JSONValue = {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        return json_response(
            {
                "id": reply_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage_value,
            }
        )

    async def embeddings(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        raw = body.get("input", body.get("inputs"))
        inputs: list[JSONValue] | None = (
            [raw] if isinstance(raw, str) else raw if isinstance(raw, list) and raw else None
        )
        if inputs is None:
            return error_response(422, "input: Field required")
        prompt = " ".join(collect_text(inputs))
        outcome = await begin(request, lambda: self.state.behaviour(VENDOR, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        dims = body.get("output_dimension")
        size = dims if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0 else EMBEDDING_DIMENSIONS
        data: list[JSONValue] = [
            {"object": "embedding", "embedding": [*embedding_vector(str(item), size)], "index": i}
            for i, item in enumerate(inputs)
        ]
        tokens = count_words(prompt)
        return json_response(
            {
                "id": secrets.token_hex(16),
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": usage(tokens, 0),
            }
        )

    @staticmethod
    def _model(model_id: str) -> JSONObject:
        capabilities: JSONValue = {
            "completion_chat": "embed" not in model_id,
            "completion_fim": False,
            "function_calling": "embed" not in model_id,
            "fine_tuning": False,
            "vision": False,
        }
        return {
            "id": model_id,
            "object": "model",
            "created": 1735689600,
            "owned_by": "mistralai",
            "capabilities": capabilities,
            "name": model_id,
            "description": f"Mock {model_id}",
            "max_context_length": 32768,
            "aliases": [],
            "deprecation": None,
            "default_model_temperature": 0.3,
            "type": "base",
        }

    async def models(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        return json_response({"object": "list", "data": [self._model(m) for m in MODELS]})

    async def model(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        return json_response(self._model(request.path_params["model"]))

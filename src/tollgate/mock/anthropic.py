"""Mock of the Anthropic API under /anthropic: messages (+ SSE events), count_tokens, models.

Checks `x-api-key` (or `Authorization: Bearer`, which anthropic>=2 sends) and requires
`anthropic-version`, as the real API does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tollgate.mock.behaviour import begin
from tollgate.mock.state import MockState
from tollgate.mock.stream import StreamPlan, stream_response
from tollgate.mock.text import collect_text, count_words, last_user_text, prompt_tokens, reply_text, split_chunks
from tollgate.mock.tools import (
    MockToolCall,
    ToolDecl,
    decode_image,
    describe_images,
    plan_calls,
    split_arguments,
    tool_results_text,
)
from tollgate.mock.wire import bearer_token, json_response, read_json_object, same_key, sse_frame
from tollgate.types import JSONObject, JSONValue

_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

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


def message_object(
    message_id: str, model: str, text: str | None, usage_value: JSONObject, calls: tuple[MockToolCall, ...] = ()
) -> JSONObject:
    """A `message`; `text=None` gives the empty, unfinished one that `message_start` carries."""
    content: list[JSONValue] = [] if text is None or calls else [{"type": "text", "text": text}]
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args} for c in calls]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None if text is None else "tool_use" if calls else "end_turn",
        "stop_sequence": None,
        "usage": usage_value,
    }


def _blocks(message: JSONValue) -> list[JSONObject]:
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _images(blocks: list[JSONObject], where: str) -> list[str] | str:
    images: list[str] = []
    for index, block in enumerate(blocks):
        if block.get("type") != "image":
            continue
        source = block.get("source")
        source = source if isinstance(source, dict) else {}
        at = f"{where}.content.{index}.image.source"
        if source.get("type") == "base64":
            if source.get("media_type") not in _IMAGE_TYPES:
                return f"{at}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
            size = decode_image(source.get("data"))
            if size is None:
                return f"{at}.base64.data: The image data is not valid base64."
            images.append(f"{source['media_type']} {size} bytes")
        elif source.get("type") == "url" and str(source.get("url", "")).startswith(("http://", "https://")):
            images.append(str(source["url"]))
        else:
            return f"{at}: Input tag {source.get('type')!r} found using 'type' does not match any of the expected tags"
    return images


@dataclass(frozen=True, slots=True)
class Turn:
    tools: list[ToolDecl]
    forced: str | None
    results: list[str] | None
    images: list[str]


def check_turn(body: JSONObject) -> Turn | str:
    """Tools, tool_use/tool_result pairing and images checked as Anthropic does; the error message if not."""
    tools: list[ToolDecl] = []
    raw_tools = body.get("tools")
    for index, tool in enumerate(raw_tools if isinstance(raw_tools, list) else []):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            return f"tools.{index}.name: Field required"
        if tool.get("type") not in (None, "custom"):
            continue  # a server tool: run by Anthropic, never by the mock
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            return f"tools.{index}.custom.input_schema: Field required"
        tools.append(ToolDecl(str(tool["name"]), schema))
    choice = body.get("tool_choice")
    forced: str | None = None
    if isinstance(choice, dict):
        if choice.get("type") == "none":
            tools = []
        elif choice.get("type") == "tool":
            forced = str(choice.get("name"))
            if forced not in {t.name for t in tools}:
                return f"tool_choice.name: tool {forced!r} is not among the tools"
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    for index, message in enumerate(messages):
        blocks = _blocks(message)
        previous = _blocks(messages[index - 1]) if index > 0 else []
        uses = {str(b.get("id")) for b in previous if b.get("type") == "tool_use"}
        results = [str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"]
        for result in results:
            if result not in uses:
                return (
                    f"messages.{index}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: {result}. "
                    "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                )
        missing = sorted(uses - set(results))
        if missing:
            return (
                f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the "
                "next message."
            )
    last = messages[-1] if messages else None
    blocks = _blocks(last)
    found_results = [b for b in blocks if b.get("type") == "tool_result"]
    if found_results:
        return Turn(tools, forced, [" ".join(collect_text(b.get("content"))) for b in found_results], [])
    images = _images(blocks, f"messages.{len(messages) - 1}")
    if isinstance(images, str):
        return images
    return Turn(tools, forced, None, images)


def stream_plan(
    message_id: str,
    model: str,
    pieces: list[str],
    input_tokens: int,
    output_tokens: int,
    calls: tuple[MockToolCall, ...] = (),
) -> StreamPlan:
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
    closing = [event("content_block_stop", {"index": 0})]
    if calls:
        head, body, closing = [*head[:1], event("ping", {})], [], []
        for index, call in enumerate(calls):
            block: JSONValue = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            body.append(event("content_block_start", {"index": index, "content_block": block}))
            for piece in ["", *split_arguments(call.arguments)]:
                delta: JSONValue = {"type": "input_json_delta", "partial_json": piece}
                body.append(event("content_block_delta", {"index": index, "delta": delta}))
            body.append(event("content_block_stop", {"index": index}))
    stop: JSONValue = {"stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None}
    tail = [
        *closing,
        event(
            "message_delta",
            {"delta": stop, "usage": {"output_tokens": output_tokens}},
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
        turn = check_turn(body)
        if isinstance(turn, str):
            return error_response(400, turn)
        outcome = await begin(request, lambda: self.state.behaviour(VENDOR, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        calls: tuple[MockToolCall, ...] = ()
        if turn.results is not None:
            text = tool_results_text(turn.results)
        elif turn.tools:
            calls = tuple(plan_calls(turn.tools, turn.forced, prompt, "toolu_01", id_size=22))
            text = ""
        else:
            text = reply_text(LABEL, prompt, echo=outcome.echo, min_words=outcome.chunks or 0)
        text += describe_images(turn.images) if not calls else ""
        message_id = "msg_mock" + secrets.token_hex(10)
        input_tokens = prompt_tokens(body)
        output_tokens = count_words(text) + sum(count_words(c.arguments) for c in calls)
        if body.get("stream") is True:
            pieces = split_chunks(text, outcome.chunks, outcome.chunk_chars) if text else []
            plan = stream_plan(message_id, model, pieces, input_tokens, output_tokens, calls)
            return stream_response(plan, outcome)
        return json_response(message_object(message_id, model, text, usage(input_tokens, output_tokens), calls))

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

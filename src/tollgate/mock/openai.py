"""Mock of the OpenAI API under /openai: chat completions, responses, embeddings, models.

The chat builders here also serve Azure OpenAI and Foundry (with content-filter fields) and the
embeddings builder serves Azure; Mistral has its own, stricter shapes in `mistral.py`.
"""

from __future__ import annotations

import base64
import re
import secrets
import struct
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tollgate.mock import openai_responses
from tollgate.mock.behaviour import Behaviour, ErrorFactory, begin
from tollgate.mock.state import MockState
from tollgate.mock.stream import StreamPlan, stream_response
from tollgate.mock.text import collect_text, count_words, embedding_vector, last_user_text, reply_text, split_chunks
from tollgate.mock.text import prompt_tokens as count_prompt_tokens
from tollgate.mock.tools import (
    MockToolCall,
    ToolDecl,
    decode_image,
    describe_images,
    plan_calls,
    split_arguments,
    tool_results_text,
)
from tollgate.mock.wire import DONE_FRAME, bearer_token, json_response, read_json_object, same_key, sse_frame
from tollgate.types import JSONObject, JSONValue

VENDOR = "openai"
LABEL = "OpenAI"
MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o4-mini", "text-embedding-3-small", "text-embedding-3-large")
DEFAULT_EMBEDDING_DIMENSIONS = 1536
_ERROR_KINDS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_response(status: int, message: str | None = None) -> Response:
    """OpenAI's error shape `{"error": {message, type, param, code}}`, with `retry-after` on 429."""
    kind, code, default = _ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Mock error {status}.")
    )
    headers = {"x-request-id": "req_" + secrets.token_hex(16)}
    if status == 429:
        headers["retry-after"] = "1"
    body: JSONObject = {"error": {"message": message or default, "type": kind, "param": None, "code": code}}
    return json_response(body, status, headers)


def stream_error_frame() -> bytes:
    """The in-stream error OpenAI sends after a 200: a `data:` frame holding an `error` object."""
    return sse_frame(
        {
            "error": {
                "message": "The server had an error while processing your request.",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    )


@dataclass(frozen=True, slots=True)
class ChatReply:
    """One deterministic chat answer: its text, the text pieces a stream sends, and its usage."""

    id: str
    created: int
    model: str
    text: str
    pieces: list[str]
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[MockToolCall, ...] = ()
    #: prompt tokens reported as read from the prompt cache (`prompt_tokens_details.cached_tokens`)
    cached_tokens: int = 0


def make_reply(
    body: JSONObject,
    model: str,
    label: str,
    behaviour: Behaviour,
    prompt: str,
    *,
    id_prefix: str = "chatcmpl-",
    turn: ChatTurn | None = None,
) -> ChatReply:
    """The answer: tool calls, a tool-results summary, or the text reply (with any images described)."""
    calls: tuple[MockToolCall, ...] = ()
    if turn is not None and turn.results is not None:
        text = tool_results_text(turn.results)
    elif turn is not None and turn.tools:
        calls = tuple(plan_calls(turn.tools, turn.forced, prompt, "call_"))
        text = ""
    else:
        text = reply_text(label, prompt, echo=behaviour.echo, min_words=behaviour.chunks or 0)
    if turn is not None and not calls:
        text += describe_images(turn.images)
    prompt_tokens = count_prompt_tokens(body)
    return ChatReply(
        id=id_prefix + secrets.token_hex(12),
        created=int(time.time()),
        model=model,
        text=text,
        pieces=split_chunks(text, behaviour.chunks, behaviour.chunk_chars) if text else [],
        prompt_tokens=prompt_tokens,
        completion_tokens=count_words(text) + sum(count_words(c.arguments) for c in calls),
        tool_calls=calls,
        cached_tokens=min(behaviour.cached_tokens, prompt_tokens),
    )


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """What a chat request asks of the mock: tools it may call, results it was given, images it was shown."""

    tools: list[ToolDecl]
    forced: str | None
    results: list[str] | None
    images: list[str]


_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _content_text(content: JSONValue) -> str:
    return " ".join(collect_text(content))


def _images(content: JSONValue, where: str, *, url_strings: bool = False) -> list[str] | str:
    """Descriptions of the image parts of one user content, or the error message for a bad one."""
    images: list[str] = []
    if not isinstance(content, list):
        return images
    for index, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image if url_strings else None
        if not isinstance(url, str):
            return f"Missing required parameter: '{where}.content[{index}].image_url.url'."
        if url.startswith("data:"):
            head, _, data = url[5:].partition(",")
            media_type, _, encoding = head.partition(";")
            size = decode_image(data) if encoding == "base64" else None
            if media_type not in _IMAGE_TYPES or size is None:
                return "Invalid image data. Only base64 data URLs of png, jpeg, gif or webp images are supported."
            images.append(f"{media_type} {size} bytes")
        elif url.startswith(("http://", "https://")):
            images.append(url)
        else:
            return f"Invalid image URL: '{where}.content[{index}].image_url.url'. Expected a base64 data URL or a URL."
    return images


def chat_turn(body: JSONObject, *, url_strings: bool = False) -> ChatTurn | str:
    """Checks tools, tool messages and images as OpenAI does; the error message when they are invalid.

    `url_strings`: an `image_url` may be the URL string itself (Mistral accepts both forms)."""
    tools: list[ToolDecl] = []
    raw_tools = body.get("tools")
    for index, tool in enumerate(raw_tools if isinstance(raw_tools, list) else []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            return f"Invalid value for 'tools[{index}].type': expected 'function'."
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            return f"Invalid 'tools[{index}].function.name': string does not match pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
        schema = function.get("parameters")
        tools.append(ToolDecl(name, schema if isinstance(schema, dict) else {}))
    choice = body.get("tool_choice")
    forced: str | None = None
    if choice == "none":
        tools = []
    elif isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        forced = name if isinstance(name, str) else None
        if forced is None or forced not in {t.name for t in tools}:
            return "Invalid value for 'tool_choice': the named function is not among the tools."
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    pending: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return (
                    f"Invalid parameter: messages[{index}]: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'."
                )
            pending.discard(str(call_id))
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                "'tool_call_id'. The following tool_call_ids did not have response messages: "
                + ", ".join(sorted(pending))
            )
        calls = message.get("tool_calls") if role == "assistant" else None
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                pending.add(str(call["id"]))
    results: list[str] | None = None
    images: list[str] = []
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        results = []
        for message in reversed(messages):
            if not isinstance(message, dict) or message.get("role") != "tool":
                break
            results.insert(0, _content_text(message.get("content")))
    else:
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if isinstance(message, dict) and message.get("role") == "user":
                found = _images(message.get("content"), f"messages[{index}]", url_strings=url_strings)
                if isinstance(found, str):
                    return found
                images = found
                break
    return ChatTurn(tools, forced, results, images)


def usage_object(reply: ChatReply) -> JSONObject:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_body(
    reply: ChatReply, *, filters: JSONObject | None = None, prompt_filters: JSONValue = None
) -> JSONObject:
    """A `chat.completion`; `filters`/`prompt_filters` add Azure's content-filter results."""
    message: JSONObject = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
    if reply.tool_calls:
        message["content"] = None
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    choice: JSONObject = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": "tool_calls" if reply.tool_calls else "stop",
    }
    if filters is not None:
        choice["content_filter_results"] = filters
    body: JSONObject = {
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": [choice],
        "usage": usage_object(reply),
        "system_fingerprint": "fp_mock",
    }
    if prompt_filters is not None:
        body["prompt_filter_results"] = prompt_filters
    else:
        body["service_tier"] = "default"
    return body


def _chunk(reply: ChatReply, choices: list[JSONValue], *, include_usage: bool) -> JSONObject:
    chunk: JSONObject = {
        "id": reply.id,
        "object": "chat.completion.chunk",
        "created": reply.created,
        "model": reply.model,
        "system_fingerprint": "fp_mock",
        "choices": choices,
    }
    if include_usage:
        chunk["usage"] = None
    return chunk


def _choice(delta: JSONObject, finish_reason: str | None, filters: JSONObject | None) -> JSONObject:
    choice: JSONObject = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    if filters is not None:
        choice["content_filter_results"] = filters
    return choice


def chat_stream_plan(
    reply: ChatReply,
    *,
    include_usage: bool,
    filters: JSONObject | None = None,
    head: list[bytes] | None = None,
    usage_on_finish: bool = False,
) -> StreamPlan:
    """The `chat.completion.chunk` stream: role chunk, one chunk per piece, finish chunk, usage chunk
    (`choices: []`, only when asked with `stream_options.include_usage`), then `[DONE]`.

    With `filters` (Azure) each text chunk carries them and the role/finish chunks carry `{}`.
    `usage_on_finish` (Azure AI model inference) puts the usage on the finish chunk unasked.
    """
    empty: JSONObject | None = {} if filters is not None else None
    role = _choice({"role": "assistant", "content": "", "refusal": None}, None, empty)
    frames = [
        sse_frame(_chunk(reply, [_choice({"content": piece}, None, filters)], include_usage=include_usage))
        for piece in reply.pieces
    ]
    if reply.tool_calls:
        role, frames = _tool_call_frames(reply, include_usage, empty)
    finish_reason = "tool_calls" if reply.tool_calls else "stop"
    finish = _chunk(reply, [_choice({}, finish_reason, empty)], include_usage=include_usage)
    if usage_on_finish and not include_usage:
        finish["usage"] = usage_object(reply)
    tail = [sse_frame(finish)]
    if include_usage:
        usage_chunk = _chunk(reply, [], include_usage=False)
        usage_chunk["usage"] = usage_object(reply)
        tail.append(sse_frame(usage_chunk))
    tail.append(DONE_FRAME)
    first = [*(head or []), sse_frame(_chunk(reply, [role], include_usage=include_usage))]
    return StreamPlan(head=first, body=frames, tail=tail, error=stream_error_frame())


def _tool_call_frames(
    reply: ChatReply, include_usage: bool, empty: JSONObject | None
) -> tuple[JSONObject, list[bytes]]:
    """OpenAI's streamed tool calls: the first call's id and name ride on the role chunk, then the
    arguments follow a few characters per chunk; each later call opens with its own id and name."""
    frames: list[bytes] = []
    role: JSONObject = {}
    for index, call in enumerate(reply.tool_calls):
        opening: JSONValue = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        if index == 0:
            delta: JSONObject = {"role": "assistant", "content": None, "tool_calls": [opening], "refusal": None}
            role = _choice(delta, None, empty)
        else:
            frames.append(
                sse_frame(_chunk(reply, [_choice({"tool_calls": [opening]}, None, empty)], include_usage=include_usage))
            )
        for piece in split_arguments(call.arguments):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            frames.append(sse_frame(_chunk(reply, [_choice(delta, None, empty)], include_usage=include_usage)))
    return role, frames


def wants_usage(body: JSONObject) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


async def serve_chat(
    request: Request,
    body: JSONObject,
    *,
    state: MockState,
    vendor: str,
    label: str,
    model: str,
    error: ErrorFactory,
    filters: JSONObject | None = None,
    stream_filters: JSONObject | None = None,
    prompt_filters: JSONValue = None,
    usage_on_finish: bool = False,
) -> Response:
    """Answer an OpenAI-style chat completion request (OpenAI, Azure OpenAI, Foundry).

    Azure adds `filters` (per choice), `stream_filters` (per text chunk) and `prompt_filters`
    (top level, and as the stream's first `choices: []` chunk).
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error(400, "'messages' must be a non-empty array.")
    prompt = last_user_text(messages)
    turn = chat_turn(body)
    if isinstance(turn, str):
        return error(400, turn)
    outcome = await begin(request, lambda: state.behaviour(vendor, prompt), error)
    if isinstance(outcome, Response):
        return outcome
    reply = make_reply(body, model, label, outcome, prompt, turn=turn)
    if body.get("stream") is True:
        head = (
            [
                sse_frame(
                    {
                        "choices": [],
                        "created": 0,
                        "id": "",
                        "model": "",
                        "object": "",
                        "prompt_filter_results": prompt_filters,
                    }
                )
            ]
            if prompt_filters is not None
            else None
        )
        plan = chat_stream_plan(
            reply, include_usage=wants_usage(body), filters=stream_filters, head=head, usage_on_finish=usage_on_finish
        )
        return stream_response(plan, outcome)
    return json_response(completion_body(reply, filters=filters, prompt_filters=prompt_filters))


def embeddings_body(body: JSONObject, model: str) -> JSONObject | None:
    """An embeddings `list` for `input` (a string or list of strings); None if `input` is malformed.

    Honours `dimensions` and `encoding_format: base64` (little-endian float32, what the SDK asks for).
    """
    raw = body.get("input")
    inputs: list[JSONValue] | None = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) and raw else None
    if inputs is None:
        return None
    dims = body.get("dimensions")
    size = dims if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0 else DEFAULT_EMBEDDING_DIMENSIONS
    data: list[JSONValue] = []
    for index, item in enumerate(inputs):
        values = embedding_vector(str(item), size)
        encoded: JSONValue = [*values]
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count_words(s) for s in collect_text(inputs))
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def model_object(model_id: str) -> JSONObject:
    return {"id": model_id, "object": "model", "created": 1715367049, "owned_by": "system"}


class OpenAIMock:
    """The OpenAI API (`Authorization: Bearer <key>`), served below the app's /openai prefix."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/responses", self.responses, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.model, methods=["GET"]),
        ]

    def _denied(self, request: Request) -> Response | None:
        token = bearer_token(request)
        if same_key(token, self.state.keys[VENDOR]):
            return None
        if token is None:
            return error_response(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        return error_response(
            401,
            f"Incorrect API key provided: {token[:3]}***{token[-4:]}. You can find your API key at https://platform.openai.com/account/api-keys.",
        )

    async def _body_with_model(self, request: Request) -> tuple[JSONObject, str] | Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await read_json_object(request)
        if body is None:
            return error_response(400, "We could not parse the JSON body of your request.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error_response(400, "you must provide a model parameter")
        return body, model

    async def chat(self, request: Request) -> Response:
        parsed = await self._body_with_model(request)
        if isinstance(parsed, Response):
            return parsed
        body, model = parsed
        return await serve_chat(
            request, body, state=self.state, vendor=VENDOR, label=LABEL, model=model, error=error_response
        )

    async def responses(self, request: Request) -> Response:
        parsed = await self._body_with_model(request)
        if isinstance(parsed, Response):
            return parsed
        body, model = parsed
        prompt = last_user_text(body.get("input"))
        outcome = await begin(request, lambda: self.state.behaviour(VENDOR, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        reply = make_reply(body, model, LABEL, outcome, prompt, id_prefix="resp_")
        if body.get("stream") is True:
            return stream_response(openai_responses.stream_plan(reply, body), outcome)
        return json_response(openai_responses.response_object(reply, body, completed=True))

    async def embeddings(self, request: Request) -> Response:
        parsed = await self._body_with_model(request)
        if isinstance(parsed, Response):
            return parsed
        body, model = parsed
        prompt = " ".join(collect_text(body.get("input")))
        outcome = await begin(request, lambda: self.state.behaviour(VENDOR, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        result = embeddings_body(body, model)
        return (
            json_response(result)
            if result is not None
            else error_response(400, "'input' must be a string or a non-empty array.")
        )

    async def models(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        return json_response({"object": "list", "data": [model_object(m) for m in MODELS]})

    async def model(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        return json_response(model_object(request.path_params["model"]))

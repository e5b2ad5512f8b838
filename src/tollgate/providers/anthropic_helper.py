"""Anthropic Messages shapes shared by the translators: blocks, stop reasons, usage, SSE events.

Stop reasons are translated through OpenAI's finish reasons (the pivot every pair uses), and cache
tokens follow the one documented quirk: `input_tokens` excludes cache reads and writes.
"""

from __future__ import annotations

import orjson

from tollgate.errors import GatewayError
from tollgate.providers.conversation import (
    ChatAnswer,
    ChatMessage,
    ChatRequest,
    ChatUsage,
    ImagePart,
    Part,
    StreamWriter,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from tollgate.providers.error_shapes import ERROR_SHAPERS
from tollgate.providers.taps import as_count
from tollgate.providers.translation import (
    BackendError,
    EventTranslator,
    ImageRef,
    ToolChoice,
    ToolSpec,
    UntranslatableError,
    as_text,
)
from tollgate.types import JSONObject, JSONValue

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FINISH_TO_STOP",
    "STOP_TO_FINISH",
    "AnthropicStreamReader",
    "AnthropicStreamWriter",
    "anthropic_error_kind",
    "event_frame",
    "image_block",
    "image_from_block",
    "parse_answer",
    "parse_request",
    "render_answer",
    "render_request",
    "tool_choice_from",
    "tool_choice_to",
    "tools_from",
    "tools_to",
    "usage_object",
]

#: `max_tokens` is required by Anthropic; what a translator sends when the client gave none.
DEFAULT_MAX_TOKENS = 4096

#: Anthropic stop_reason → OpenAI finish_reason
STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
}
#: OpenAI finish_reason → Anthropic stop_reason
FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def event_frame(kind: str, data: JSONObject) -> bytes:
    """One Anthropic SSE event, with the `event:` line the SDK needs (sdk-contract.md §3.2)."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


def image_block(image: ImageRef, field: str) -> JSONObject:
    """An Anthropic `image` block; only the four media types Anthropic accepts are sent inline."""
    if image.url is not None:
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    if image.media_type not in _IMAGE_TYPES:
        raise UntranslatableError(field, f"Anthropic accepts image/jpeg, png, gif or webp, not {image.media_type!r}")
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}}


def image_from_block(block: JSONObject, field: str) -> ImageRef:
    source = block.get("source")
    if not isinstance(source, dict):
        raise UntranslatableError(f"{field}.source", "is required")
    kind = source.get("type")
    if kind == "base64" and isinstance(source.get("data"), str) and isinstance(source.get("media_type"), str):
        return ImageRef(media_type=str(source["media_type"]), data=str(source["data"]))
    if kind == "url" and isinstance(source.get("url"), str):
        return ImageRef(media_type=None, url=str(source["url"]))
    raise UntranslatableError(f"{field}.source.type", f"image source {kind!r} cannot be translated")


def tools_from(tools: JSONValue, field: str = "tools") -> list[ToolSpec]:
    """Client tools (custom tools only; server tools such as web search stay with Anthropic)."""
    if not isinstance(tools, list):
        raise UntranslatableError(field, "must be a list")
    specs: list[ToolSpec] = []
    for index, tool in enumerate(tools):
        where = f"{field}[{index}]"
        if not isinstance(tool, dict):
            raise UntranslatableError(where, "must be an object")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raise UntranslatableError(
                f"{where}.type", f"Anthropic server tool {kind!r} has no equivalent on this backend"
            )
        name, schema = tool.get("name"), tool.get("input_schema")
        if not isinstance(name, str) or not isinstance(schema, dict):
            raise UntranslatableError(where, "a tool needs 'name' and 'input_schema'")
        description = tool.get("description")
        specs.append(ToolSpec(name, description if isinstance(description, str) else None, schema))
    return specs


def tools_to(specs: list[ToolSpec]) -> list[JSONValue]:
    tools: list[JSONValue] = []
    for spec in specs:
        tool: JSONObject = {"name": spec.name}
        if spec.description:
            tool["description"] = spec.description
        tool["input_schema"] = spec.schema or {"type": "object", "properties": {}}
        tools.append(tool)
    return tools


def tool_choice_from(choice: JSONValue, field: str = "tool_choice") -> ToolChoice:
    if not isinstance(choice, dict):
        raise UntranslatableError(field, "must be an object")
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") is True else None
    if kind == "auto":
        return ToolChoice("auto", parallel=parallel)
    if kind == "any":
        return ToolChoice("required", parallel=parallel)
    if kind == "none":
        return ToolChoice("none")
    if kind == "tool" and isinstance(choice.get("name"), str):
        return ToolChoice("required", name=str(choice["name"]), parallel=parallel)
    raise UntranslatableError(f"{field}.type", f"unknown tool choice {kind!r}")


def tool_choice_to(choice: ToolChoice) -> JSONObject:
    out: JSONObject
    if choice.name is not None:
        out = {"type": "tool", "name": choice.name}
    elif choice.mode == "required":
        out = {"type": "any"}
    elif choice.mode == "none":
        return {"type": "none"}
    else:
        out = {"type": "auto"}
    if choice.parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def usage_object(prompt: int, completion: int, cached: int) -> JSONObject:
    """Anthropic usage from total prompt tokens, of which `cached` were read from a cache."""
    return {
        "input_tokens": max(0, prompt - cached),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": completion,
    }


def split_usage(usage: JSONObject) -> tuple[int, int, int]:
    """(prompt including cache, completion, cache reads) of one Anthropic usage object."""
    base = as_count(usage.get("input_tokens")) or 0
    read = as_count(usage.get("cache_read_input_tokens")) or 0
    write = as_count(usage.get("cache_creation_input_tokens")) or 0
    return base + read + write, as_count(usage.get("output_tokens")) or 0, read


_KINDS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
    }
)


def anthropic_error_kind(obj: JSONObject) -> str | None:
    """The neutral error kind of an Anthropic error body (its `error.type` is already one)."""
    error = obj.get("error")
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) and kind in _KINDS else None


_SHAPER = ERROR_SHAPERS["anthropic"]
_STATUS_OF_KIND = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


# --- requests ------------------------------------------------------------------------------------

#: request fields with no effect on the answer's content: not forwarded
IGNORED_FIELDS = frozenset({"service_tier", "inference_geo"})
_CARRIED = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
        "output_config",
        "thinking",
    }
)


def _tool_result(block: JSONObject, field: str) -> ToolResultPart:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str):
        raise UntranslatableError(f"{field}.tool_use_id", "is required")
    return ToolResultPart(call_id, as_text(block.get("content"), f"{field}.content"), block.get("is_error") is True)


def _blocks(role: str, content: JSONValue, field: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise UntranslatableError(field, "must be a string or a list of content blocks")
    parts: list[Part] = []
    for index, block in enumerate(content):
        where = f"{field}[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict):
            raise UntranslatableError(where, "must be a content block")
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append(TextPart(str(block["text"])))
        elif kind == "image" and role == "user":
            parts.append(ImagePart(image_from_block(block, where), where))
        elif kind == "tool_result" and role == "user":
            parts.append(_tool_result(block, where))
        elif kind == "tool_use" and role == "assistant":
            name, call_id, arguments = block.get("name"), block.get("id"), block.get("input")
            if not isinstance(name, str) or not isinstance(call_id, str):
                raise UntranslatableError(where, "a tool_use block needs 'id' and 'name'")
            parts.append(ToolCallPart(call_id, name, arguments if isinstance(arguments, dict) else {}))
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            continue  # the model's earlier reasoning: only Anthropic can read it back
        else:
            raise UntranslatableError(f"{where}.type", f"{kind!r} blocks cannot be translated to this backend")
    return parts


def _number(body: JSONObject, name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UntranslatableError(name, "must be a number")
    return float(value)


def _count(body: JSONObject, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UntranslatableError(name, "must be a non-negative integer")
    return value


def parse_request(body: JSONObject) -> ChatRequest:
    """An Anthropic Messages request as neutral values; a 400 names any field it cannot carry."""
    for name, value in body.items():
        if name in _CARRIED or name in IGNORED_FIELDS or value is None:
            continue
        raise UntranslatableError(name, "has no equivalent on this backend")
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled"):
        raise UntranslatableError("thinking", "extended thinking cannot be translated to this backend")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise UntranslatableError("messages", "must be a non-empty list")
    messages: list[ChatMessage] = []
    for index, message in enumerate(raw):
        where = f"messages[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(message, dict) or role not in ("user", "assistant"):
            raise UntranslatableError(f"{where}.role", "must be user or assistant")
        parts = _blocks(str(role), message.get("content"), f"{where}.content")
        if messages and messages[-1].role == role:
            messages[-1].parts.extend(parts)
        else:
            messages.append(ChatMessage(str(role), parts))
    system = body.get("system")
    stop = body.get("stop_sequences")
    model = body.get("model")
    req = ChatRequest(
        model=model if isinstance(model, str) else None,
        messages=messages,
        system=(system if isinstance(system, str) else as_text(system, "system")) if system else None,
        stream=body.get("stream") is True,
        include_usage=True,
        max_tokens=_count(body, "max_tokens"),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        top_k=_count(body, "top_k"),
        stop=[s for s in stop if isinstance(s, str)] if isinstance(stop, list) else [],
    )
    if body.get("tools") is not None:
        req.tools = tools_from(body["tools"])
    if body.get("tool_choice") is not None:
        req.tool_choice = tool_choice_from(body["tool_choice"])
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        req.user = str(metadata["user_id"])
    config = body.get("output_config")
    if isinstance(config, dict):
        if config.get("effort") is not None:
            raise UntranslatableError("output_config.effort", "cannot be translated to this backend")
        fmt = config.get("format")
        if isinstance(fmt, dict):
            schema = fmt.get("schema")
            if fmt.get("type") != "json_schema" or not isinstance(schema, dict):
                raise UntranslatableError("output_config.format", "must be a json_schema format with a schema")
            req.response_format, req.json_schema = "json_schema", schema
    return req


def _render_part(part: Part) -> JSONObject:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        return image_block(part.image, part.field)
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    result: JSONObject = {"type": "tool_result", "tool_use_id": part.call_id, "content": part.content}
    if part.is_error:
        result["is_error"] = True
    return result


def render_request(req: ChatRequest, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> JSONObject:
    """The neutral request as an Anthropic Messages body; `max_tokens` defaults when not asked."""
    if req.response_format == "json_object":
        raise UntranslatableError("response_format.type", "Anthropic needs a schema: use json_schema, not json_object")
    if req.temperature is not None and req.temperature > 1:
        raise UntranslatableError("temperature", "Anthropic accepts 0 to 1")
    for name, value in (
        ("seed", req.seed),
        ("presence_penalty", req.presence_penalty),
        ("frequency_penalty", req.frequency_penalty),
    ):
        if value is not None:
            raise UntranslatableError(name, "Anthropic has no equivalent")
    messages: list[JSONValue] = []
    for message in req.messages:
        # Tool results must open the user turn that answers the tool calls.
        parts = sorted(message.parts, key=lambda p: not isinstance(p, ToolResultPart))
        if parts:
            messages.append({"role": message.role, "content": [_render_part(p) for p in parts]})
    body: JSONObject = {
        "model": req.model,
        "max_tokens": req.max_tokens if req.max_tokens is not None else default_max_tokens,
        "messages": messages,
    }
    if req.system:
        body["system"] = req.system
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = [*req.stop]
    if req.tools:
        body["tools"] = tools_to(req.tools)
    if req.tool_choice is not None and (req.tools or req.tool_choice.mode == "none"):
        body["tool_choice"] = tool_choice_to(req.tool_choice)
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.json_schema is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": req.json_schema}}
    if req.stream:
        body["stream"] = True
    return body


# --- answers -------------------------------------------------------------------------------------


def parse_answer(obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
    """A whole Anthropic `message` as a neutral answer; thinking blocks are not the answer."""
    texts: list[str] = []
    calls: list[ToolCallPart] = []
    content = obj.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(str(block["text"]))
        elif block.get("type") == "tool_use":
            arguments = block.get("input")
            calls.append(
                ToolCallPart(
                    str(block.get("id") or ""),
                    str(block.get("name") or ""),
                    arguments if isinstance(arguments, dict) else {},
                )
            )
    usage = obj.get("usage")
    prompt, completion, cached = split_usage(usage) if isinstance(usage, dict) else (0, 0, 0)
    model = obj.get("model")
    text = "".join(texts)
    return ChatAnswer(
        id=str(obj.get("id") or ""),
        model=model if isinstance(model, str) and model else fallback_model or "",
        text=text or None,
        tool_calls=calls,
        finish=STOP_TO_FINISH.get(str(obj.get("stop_reason")), "stop"),
        usage=ChatUsage(prompt=prompt, completion=completion, cached=cached),
    )


def render_answer(answer: ChatAnswer) -> JSONObject:
    """A neutral answer as an Anthropic `message`."""
    content: list[JSONValue] = []
    if answer.text:
        content.append({"type": "text", "text": answer.text})
    for call in answer.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    usage = answer.usage
    return {
        "id": answer.id,
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        "stop_reason": FINISH_TO_STOP.get(answer.finish, "end_turn"),
        "stop_sequence": None,
        "usage": usage_object(usage.prompt, usage.completion, usage.cached),
    }


def stream_error(obj: JSONObject) -> BackendError:
    """An in-stream `error` event as an error for the client's shape (status from its type)."""
    error = obj.get("error")
    error = error if isinstance(error, dict) else {}
    kind = anthropic_error_kind(obj) or "api_error"
    message = error.get("message")
    return BackendError(
        _STATUS_OF_KIND.get(kind, 500), message if isinstance(message, str) else "The backend stream failed.", kind=kind
    )


# --- streams -------------------------------------------------------------------------------------


class AnthropicStreamWriter:
    """Writes Anthropic Messages events for an Anthropic client.

    Blocks open and close in order (text, tool_use …); the full usage goes on `message_delta`,
    which the SDK and LangChain read as totals (sdk-contract.md §8).
    """

    def __init__(self, fallback_model: str | None) -> None:
        self._model = fallback_model or ""
        self._blocks = 0
        self._open: int | None = None  # index of the open block
        self._open_is_text = False
        self._tool_blocks: dict[int, int] = {}
        self._stop = "end_turn"
        self._usage = ChatUsage()

    def start(self, message_id: str, model: str) -> list[bytes]:
        self._model = model or self._model
        message: JSONObject = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_object(0, 0, 0),
        }
        return [event_frame("message_start", {"message": message})]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index, self._open = self._open, None
        return [event_frame("content_block_stop", {"index": index})]

    def _open_block(self, block: JSONObject, is_text: bool) -> list[bytes]:
        out = self._close()
        self._open, self._open_is_text = self._blocks, is_text
        self._blocks += 1
        out.append(event_frame("content_block_start", {"index": self._open, "content_block": block}))
        return out

    def text(self, text: str) -> list[bytes]:
        if not text:
            return []
        out = (
            []
            if self._open is not None and self._open_is_text
            else self._open_block({"type": "text", "text": ""}, True)
        )
        out.append(
            event_frame("content_block_delta", {"index": self._open, "delta": {"type": "text_delta", "text": text}})
        )
        return out

    def tool_start(self, index: int, call_id: str, name: str) -> list[bytes]:
        out = self._open_block({"type": "tool_use", "id": call_id, "name": name, "input": {}}, False)
        self._tool_blocks[index] = self._blocks - 1
        return out

    def tool_arguments(self, index: int, partial_json: str) -> list[bytes]:
        block = self._tool_blocks.get(index)
        if block is None or not partial_json:
            return []
        delta: JSONObject = {"type": "input_json_delta", "partial_json": partial_json}
        return [event_frame("content_block_delta", {"index": block, "delta": delta})]

    def finish(self, reason: str) -> list[bytes]:
        self._stop = FINISH_TO_STOP.get(reason, "end_turn")
        return []

    def usage(self, usage: ChatUsage) -> list[bytes]:
        self._usage = usage
        return []

    def end(self) -> list[bytes]:
        out = self._close()
        usage = self._usage
        out.append(
            event_frame(
                "message_delta",
                {
                    "delta": {"stop_reason": self._stop, "stop_sequence": None},
                    "usage": usage_object(usage.prompt, usage.completion, usage.cached),
                },
            )
        )
        out.append(event_frame("message_stop", {}))
        return out

    def error(self, err: GatewayError) -> list[bytes]:
        return [_SHAPER.frame(err)]


class AnthropicStreamReader(EventTranslator):
    """Reads an Anthropic Messages stream into a client `StreamWriter`.

    Input tokens come in `message_start`, output tokens (cumulative) in `message_delta`; thinking
    blocks and their deltas are not part of the answer and are skipped.
    """

    def __init__(self, writer: StreamWriter, fallback_model: str | None) -> None:
        super().__init__()
        self._writer = writer
        self._fallback_model = fallback_model or ""
        self._started = False
        self._ended = False
        self._tools: dict[int, int] = {}  # block index → tool call number
        self._usage = ChatUsage()

    def _start(self, message_id: str, model: str) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return self._writer.start(message_id, model or self._fallback_model)

    def _merge_usage(self, usage: JSONValue) -> None:
        if not isinstance(usage, dict):
            return
        if usage.get("input_tokens") is not None:
            prompt, _, cached = split_usage(usage)
            self._usage.prompt, self._usage.cached = prompt, cached
        output = as_count(usage.get("output_tokens"))
        if output is not None:
            self._usage.completion = output

    def on_event(self, event: bytes | None, obj: JSONObject) -> list[bytes]:
        if self._ended:
            return []
        writer = self._writer
        kind = obj.get("type")
        if kind == "message_start":
            message = obj.get("message")
            message = message if isinstance(message, dict) else {}
            self._merge_usage(message.get("usage"))
            model = message.get("model")
            return self._start(str(message.get("id") or ""), model if isinstance(model, str) else "")
        out = self._start("", "")
        if kind == "content_block_start":
            block = obj.get("content_block")
            index = obj.get("index")
            if isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(index, int):
                number = len(self._tools)
                self._tools[index] = number
                out.extend(writer.tool_start(number, str(block.get("id") or ""), str(block.get("name") or "")))
                arguments = block.get("input")
                if isinstance(arguments, dict) and arguments:
                    out.extend(writer.tool_arguments(number, orjson.dumps(arguments).decode()))
            elif isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
                out.extend(writer.text(str(block["text"])))
        elif kind == "content_block_delta":
            delta = obj.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                out.extend(writer.text(str(delta["text"])))
            elif delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
                at = obj.get("index")
                call = self._tools.get(at) if isinstance(at, int) else None
                if call is not None:
                    out.extend(writer.tool_arguments(call, str(delta["partial_json"])))
        elif kind == "message_delta":
            self._merge_usage(obj.get("usage"))
            out.extend(writer.usage(ChatUsage(self._usage.prompt, self._usage.completion, self._usage.cached)))
            delta = obj.get("delta")
            reason = delta.get("stop_reason") if isinstance(delta, dict) else None
            if isinstance(reason, str):
                out.extend(writer.finish(STOP_TO_FINISH.get(reason, "stop")))
        elif kind == "message_stop":
            self._ended = True
            out.extend(writer.end())
        elif kind == "error":
            self._ended = True
            out.extend(writer.error(stream_error(obj)))
        return out

    def on_end(self) -> list[bytes]:
        if self._ended:
            return []
        self._ended = True
        return self._start("", "") + self._writer.end()

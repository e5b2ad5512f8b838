"""OpenAI Chat Completions, read and written: the client side of `openai_*` pairs and the backend side
of `*_openai` pairs (OpenAI, OpenAI-compatible servers, Mistral, Azure OpenAI, Azure AI Foundry).

The backends differ only by parameters (`OpenAIDialect`): path, query, which max-tokens field
they take, whether streams report usage unasked, and a few fields Mistral names or lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

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
    ToolChoice,
    ToolSpec,
    UntranslatableError,
    as_text,
    error_kind_for_status,
    json_arguments,
    parse_data_url,
    parse_json_object,
)
from tollgate.types import JSONObject, JSONValue

__all__ = [
    "AZURE_FOUNDRY",
    "AZURE_OPENAI",
    "MISTRAL",
    "OPENAI",
    "OPENAI_COMPATIBLE",
    "OpenAIDialect",
    "OpenAIStreamReader",
    "OpenAIStreamWriter",
    "openai_error_kind",
    "parse_answer",
    "parse_request",
    "render_answer",
    "render_request",
]

_SHAPER = ERROR_SHAPERS["openai"]
DONE = b"data: [DONE]\n\n"

#: backend finish reasons (OpenAI and Mistral's extras) → OpenAI's four
_FINISH = {
    "stop": "stop",
    "length": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "stop",
}


@dataclass(frozen=True, slots=True)
class OpenAIDialect:
    """How one OpenAI-shaped backend differs. `path` may hold `{model}` (Azure deployments)."""

    name: str
    path: str = "/v1/chat/completions"
    query: str = ""
    #: `max_completion_tokens` (OpenAI, all current models) or `max_tokens` (older servers, Mistral)
    max_tokens_field: str = "max_completion_tokens"
    #: ask for `stream_options.include_usage`; Mistral and Foundry report usage unasked
    stream_usage: bool = True
    #: the name of the seed field (`random_seed` on Mistral)
    seed_field: str = "seed"
    #: whether the backend has the end-user `user` field
    has_user: bool = True

    def path_for(self, model: str | None) -> str:
        return self.path.replace("{model}", quote(model or "", safe="")) if "{model}" in self.path else self.path


OPENAI = OpenAIDialect("openai")
OPENAI_COMPATIBLE = OpenAIDialect("openai-compatible", max_tokens_field="max_tokens")
MISTRAL = OpenAIDialect(
    "mistral", max_tokens_field="max_tokens", stream_usage=False, seed_field="random_seed", has_user=False
)
AZURE_OPENAI = OpenAIDialect(
    "azure-openai", path="/openai/deployments/{model}/chat/completions", query="api-version=2024-10-21"
)
AZURE_FOUNDRY = OpenAIDialect(
    "azure-ai-foundry", path="/models/chat/completions", query="api-version=2024-05-01-preview", stream_usage=False
)


# --- requests ------------------------------------------------------------------------------------

#: request fields that change nothing in the answer (bookkeeping on OpenAI's side): not forwarded
IGNORED_FIELDS = frozenset(
    {"store", "metadata", "service_tier", "prompt_cache_key", "safety_identifier", "stream_options"}
)
_CARRIED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "user",
        "n",
        "logprobs",
    }
)


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


def _user_parts(content: JSONValue, field: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise UntranslatableError(field, "must be a string or a list of content parts")
    parts: list[Part] = []
    for index, item in enumerate(content):
        where = f"{field}[{index}]"
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(item, dict) and kind == "text" and isinstance(item.get("text"), str):
            parts.append(TextPart(str(item["text"])))
        elif isinstance(item, dict) and kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise UntranslatableError(f"{where}.image_url.url", "is required")
            parts.append(ImagePart(parse_data_url(url, f"{where}.image_url.url"), f"{where}.image_url"))
        else:
            raise UntranslatableError(f"{where}.type", f"content part {kind!r} cannot be translated to this backend")
    return parts


def _assistant_parts(message: JSONObject, field: str) -> list[Part]:
    parts: list[Part] = []
    content = message.get("content")
    if isinstance(content, list):
        texts: list[str] = []
        for index, item in enumerate(content):
            if isinstance(item, dict) and item.get("type") in ("text", "refusal"):
                value = item.get("text", item.get("refusal"))
                texts.append(value if isinstance(value, str) else "")
            else:
                raise UntranslatableError(f"{field}.content[{index}]", "assistant content must be text")
        content = "".join(texts)
    if isinstance(content, str) and content:
        parts.append(TextPart(content))
    if message.get("function_call") is not None:
        raise UntranslatableError(f"{field}.function_call", "legacy function calls are not translated; use tool_calls")
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for index, call in enumerate(calls):
            where = f"{field}.tool_calls[{index}]"
            function = call.get("function") if isinstance(call, dict) else None
            if (
                not isinstance(call, dict)
                or not isinstance(function, dict)
                or not isinstance(function.get("name"), str)
            ):
                raise UntranslatableError(where, "a tool call needs 'id' and 'function.name'")
            arguments = function.get("arguments")
            parts.append(
                ToolCallPart(
                    str(call.get("id") or f"call_{index}"),
                    str(function["name"]),
                    parse_json_object(arguments if isinstance(arguments, str) else "", f"{where}.function.arguments"),
                )
            )
    return parts


def _append(messages: list[ChatMessage], role: str, parts: list[Part]) -> None:
    """Consecutive turns of one role become one message (what Anthropic and Gemini expect)."""
    if messages and messages[-1].role == role:
        messages[-1].parts.extend(parts)
    else:
        messages.append(ChatMessage(role, parts))


def _tools(value: JSONValue) -> list[ToolSpec]:
    if not isinstance(value, list):
        raise UntranslatableError("tools", "must be a list")
    specs: list[ToolSpec] = []
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise UntranslatableError(f"{where}.type", f"only function tools can be translated, not {kind!r}")
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise UntranslatableError(f"{where}.function.name", "is required")
        schema = function.get("parameters")
        description = function.get("description")
        specs.append(
            ToolSpec(
                str(function["name"]),
                description if isinstance(description, str) else None,
                schema if isinstance(schema, dict) else {"type": "object", "properties": {}},
            )
        )
    return specs


def _tool_choice(value: JSONValue, parallel: JSONValue) -> ToolChoice | None:
    allow_parallel = False if parallel is False else None
    if value is None:
        return ToolChoice("auto", parallel=allow_parallel) if allow_parallel is False else None
    if value in ("auto", "none", "required"):
        return ToolChoice(str(value), parallel=allow_parallel)
    if isinstance(value, dict) and value.get("type") == "function":
        function = value.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return ToolChoice("required", name=str(function["name"]), parallel=allow_parallel)
    raise UntranslatableError("tool_choice", "must be auto, none, required or a function")


def _response_format(req: ChatRequest, value: JSONValue) -> None:
    if value is None:
        return
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return
    if kind == "json_object":
        req.response_format = "json_object"
        return
    if kind == "json_schema" and isinstance(value, dict):
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise UntranslatableError("response_format.json_schema.schema", "is required")
        req.response_format = "json_schema"
        req.json_schema = schema
        name = spec.get("name") if isinstance(spec, dict) else None
        req.json_schema_name = name if isinstance(name, str) else None
        return
    raise UntranslatableError("response_format.type", f"{kind!r} cannot be translated")


def parse_request(body: JSONObject) -> ChatRequest:
    """An OpenAI chat completions request as neutral values; a 400 names any field it cannot carry."""
    for name, value in body.items():
        if name in _CARRIED or name in IGNORED_FIELDS or value is None:
            continue
        raise UntranslatableError(name, "has no equivalent on this backend")
    if body.get("n") not in (None, 1):
        raise UntranslatableError("n", "only one choice (n=1) can be translated")
    if body.get("logprobs") not in (None, False):
        raise UntranslatableError("logprobs", "has no equivalent on this backend")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise UntranslatableError("messages", "must be a non-empty list")
    system: list[str] = []
    messages: list[ChatMessage] = []
    for index, message in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise UntranslatableError(where, "must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            if messages:
                raise UntranslatableError(f"{where}.role", "a system message after the first turn cannot be translated")
            system.append(as_text(message.get("content"), f"{where}.content"))
        elif role == "user":
            _append(messages, "user", _user_parts(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            _append(messages, "assistant", _assistant_parts(message, where))
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise UntranslatableError(f"{where}.tool_call_id", "is required")
            _append(messages, "user", [ToolResultPart(call_id, as_text(message.get("content"), f"{where}.content"))])
        else:
            raise UntranslatableError(f"{where}.role", f"role {role!r} cannot be translated")
    options = body.get("stream_options")
    model = body.get("model")
    stop = body.get("stop")
    max_tokens = _count(body, "max_completion_tokens")
    req = ChatRequest(
        model=model if isinstance(model, str) else None,
        messages=messages,
        system="\n\n".join(system) if system else None,
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        max_tokens=max_tokens if max_tokens is not None else _count(body, "max_tokens"),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        stop=[stop]
        if isinstance(stop, str)
        else [s for s in stop if isinstance(s, str)]
        if isinstance(stop, list)
        else [],
        seed=_count(body, "seed"),
        presence_penalty=_number(body, "presence_penalty"),
        frequency_penalty=_number(body, "frequency_penalty"),
    )
    user = body.get("user")
    req.user = user if isinstance(user, str) else None
    if body.get("tools") is not None:
        req.tools = _tools(body["tools"])
    req.tool_choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    _response_format(req, body.get("response_format"))
    return req


def _image_url(part: ImagePart) -> JSONObject:
    image = part.image
    url = image.url if image.url is not None else f"data:{image.media_type};base64,{image.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _render_messages(req: ChatRequest) -> list[JSONValue]:
    out: list[JSONValue] = []
    if req.system:
        out.append({"role": "system", "content": req.system})
    for message in req.messages:
        if message.role == "assistant":
            text = "".join(p.text for p in message.parts if isinstance(p, TextPart))
            calls: list[JSONValue] = [
                {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": json_arguments(p.arguments)}}
                for p in message.parts
                if isinstance(p, ToolCallPart)
            ]
            turn: JSONObject = {"role": "assistant", "content": text or None}
            if calls:
                turn["tool_calls"] = calls
            out.append(turn)
            continue
        content: list[JSONValue] = []
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                out.append({"role": "tool", "tool_call_id": part.call_id, "content": part.content})
            elif isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                content.append(_image_url(part))
        if content:
            first = content[0]
            if len(content) == 1 and isinstance(first, dict) and first.get("type") == "text":
                out.append({"role": "user", "content": first["text"]})
            else:
                out.append({"role": "user", "content": content})
    return out


def render_request(req: ChatRequest, dialect: OpenAIDialect) -> JSONObject:
    """The neutral request as an OpenAI-shaped chat completions body for `dialect`."""
    if req.top_k is not None:
        raise UntranslatableError("top_k", f"{dialect.name} has no top_k")
    body: JSONObject = {"model": req.model, "messages": _render_messages(req)}
    if req.max_tokens is not None:
        body[dialect.max_tokens_field] = req.max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = [*req.stop]
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "parameters": t.schema,
                },
            }
            for t in req.tools
        ]
    choice = req.tool_choice
    if choice is not None:
        if choice.name is not None:
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        else:
            body["tool_choice"] = choice.mode
        if choice.parallel is False and req.tools:
            body["parallel_tool_calls"] = False
    if req.response_format == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif req.response_format == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": req.json_schema_name or "response", "schema": req.json_schema},
        }
    if req.seed is not None:
        body[dialect.seed_field] = req.seed
    if req.presence_penalty is not None:
        body["presence_penalty"] = req.presence_penalty
    if req.frequency_penalty is not None:
        body["frequency_penalty"] = req.frequency_penalty
    if req.user is not None and dialect.has_user:
        body["user"] = req.user
    if req.stream:
        body["stream"] = True
        if dialect.stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body


# --- answers -------------------------------------------------------------------------------------


def _text_of(content: JSONValue) -> str:
    """Message or delta content: a string, or Mistral's list of chunks (text kept, thinking dropped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(c["text"])
            for c in content
            if isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str)
        )
    return ""


def usage_of(usage: JSONValue) -> ChatUsage | None:
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    return ChatUsage(
        prompt=as_count(usage.get("prompt_tokens")) or 0,
        completion=as_count(usage.get("completion_tokens")) or 0,
        cached=(as_count(prompt_details.get("cached_tokens")) or 0) if isinstance(prompt_details, dict) else 0,
        reasoning=(as_count(completion_details.get("reasoning_tokens")) or 0)
        if isinstance(completion_details, dict)
        else 0,
    )


def _lenient_arguments(text: JSONValue) -> JSONObject:
    """A backend's tool-call arguments as an object; text that is not an object is kept under `_raw`."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_raw": text}


def parse_answer(obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
    """A whole OpenAI-shaped chat completion as a neutral answer (first choice)."""
    choices = obj.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    calls: list[ToolCallPart] = []
    raw_calls = message.get("tool_calls")
    for call in raw_calls if isinstance(raw_calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(call, dict) and isinstance(function, dict):
            calls.append(
                ToolCallPart(
                    str(call.get("id") or ""),
                    str(function.get("name") or ""),
                    _lenient_arguments(function.get("arguments")),
                )
            )
    finish = _FINISH.get(str(choice.get("finish_reason")), "stop")
    model = obj.get("model")
    text = _text_of(message.get("content"))
    return ChatAnswer(
        id=str(obj.get("id") or ""),
        model=model if isinstance(model, str) and model else fallback_model or "",
        text=text or None,
        tool_calls=calls,
        finish=finish,
        usage=usage_of(obj.get("usage")) or ChatUsage(),
    )


def usage_body(usage: ChatUsage) -> JSONObject:
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


def render_answer(answer: ChatAnswer, created: int) -> JSONObject:
    """A neutral answer as an OpenAI `chat.completion` (every field the Mistral SDK and LangChain need)."""
    message: JSONObject = {"role": "assistant", "content": answer.text, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json_arguments(c.arguments)}}
            for c in answer.tool_calls
        ]
    return {
        "id": answer.id,
        "object": "chat.completion",
        "created": created,
        "model": answer.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish}],
        "usage": usage_body(answer.usage),
    }


def openai_error_kind(obj: JSONObject) -> str | None:
    """OpenAI's `error.type` strings are not the neutral kinds (401 is `invalid_request_error`): the
    status decides, except for the in-stream error, whose type is all there is."""
    return None


def stream_error(obj: JSONObject) -> BackendError:
    """An in-stream `{"error": {...}}` event (OpenAI, Azure) as an error for the client's shape."""
    error = obj.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    code = error.get("code") if isinstance(error, dict) else None
    status = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else 500
    if not 400 <= status < 600:
        status = 500
    kind = error_kind_for_status(status)
    return BackendError(status, message if isinstance(message, str) else "The backend stream failed.", kind=kind)


# --- streams -------------------------------------------------------------------------------------


class OpenAIStreamWriter:
    """Writes `chat.completion.chunk` frames for an OpenAI client.

    The id and name of a tool call go only in its first delta (the SDK concatenates them), and a
    `choices: []` usage chunk is sent only when the client asked for it (sdk-contract.md §3.1, §8).
    """

    def __init__(self, created: int, include_usage: bool, fallback_model: str | None) -> None:
        self._created = created
        self._include_usage = include_usage
        self._id = ""
        self._model = fallback_model or ""
        self._usage: ChatUsage | None = None

    def _chunk(self, delta: JSONObject, finish: str | None = None) -> bytes:
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def start(self, message_id: str, model: str) -> list[bytes]:
        self._id = message_id
        self._model = model or self._model
        return [self._chunk({"role": "assistant", "content": ""})]

    def text(self, text: str) -> list[bytes]:
        return [self._chunk({"content": text})] if text else []

    def tool_start(self, index: int, call_id: str, name: str) -> list[bytes]:
        call: JSONObject = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def tool_arguments(self, index: int, partial_json: str) -> list[bytes]:
        if not partial_json:
            return []
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": partial_json}}]})]

    def finish(self, reason: str) -> list[bytes]:
        return [self._chunk({}, reason)]

    def usage(self, usage: ChatUsage) -> list[bytes]:
        self._usage = usage
        return []

    def end(self) -> list[bytes]:
        frames: list[bytes] = []
        if self._include_usage and self._usage is not None:
            chunk = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": usage_body(self._usage),
            }
            frames.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
        frames.append(DONE)
        return frames

    def error(self, err: GatewayError) -> list[bytes]:
        return [_SHAPER.frame(err)]


class OpenAIStreamReader(EventTranslator):
    """Reads an OpenAI-shaped backend stream (OpenAI, Mistral, Azure) into a client `StreamWriter`.

    Tolerates `choices: []` chunks (Azure's prompt filter, usage chunks), usage on the finish chunk
    (Mistral, Foundry), whole tool calls in one delta (Mistral) and split argument deltas (OpenAI).
    """

    def __init__(self, writer: StreamWriter, fallback_model: str | None) -> None:
        super().__init__()
        self._writer = writer
        self._fallback_model = fallback_model or ""
        self._started = False
        self._ended = False
        self._finished = False
        #: backend tool-call index → (its id, the client-side index)
        self._calls: dict[int, tuple[str, int]] = {}
        self._next_call = 0

    def _start(self, obj: JSONObject) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        model = obj.get("model")
        return self._writer.start(
            str(obj.get("id") or ""), model if isinstance(model, str) and model else self._fallback_model
        )

    def on_event(self, event: bytes | None, obj: JSONObject) -> list[bytes]:
        if self._ended:
            return []
        writer = self._writer
        if "error" in obj and not obj.get("choices"):
            self._ended = True
            return self._start(obj) + writer.error(stream_error(obj))
        choices = obj.get("choices")
        usage = usage_of(obj.get("usage"))
        if not choices and usage is None:
            return []  # Azure's prompt-filter chunk: nothing for the client
        out = self._start(obj)
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    out.extend(self._choice(choice))
        if usage is not None:
            out.extend(writer.usage(usage))
        return out

    def _choice(self, choice: JSONObject) -> list[bytes]:
        writer = self._writer
        out: list[bytes] = []
        delta = choice.get("delta")
        if isinstance(delta, dict):
            text = _text_of(delta.get("content"))
            if text:
                out.extend(writer.text(text))
            calls = delta.get("tool_calls")
            for position, call in enumerate(calls if isinstance(calls, list) else []):
                if isinstance(call, dict):
                    out.extend(self._tool_call(call, position))
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and not self._finished:
            self._finished = True
            out.extend(writer.finish(_FINISH.get(reason, "stop")))
        return out

    def _tool_call(self, call: JSONObject, position: int) -> list[bytes]:
        writer = self._writer
        raw_index = call.get("index")
        index = raw_index if isinstance(raw_index, int) else position
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        arguments = function.get("arguments")
        args = (
            arguments
            if isinstance(arguments, str)
            else orjson.dumps(arguments).decode()
            if isinstance(arguments, dict)
            else ""
        )
        call_id = call.get("id")
        known = self._calls.get(index)
        out: list[bytes] = []
        if isinstance(call_id, str) and call_id and (known is None or known[0] != call_id):
            client_index = self._next_call
            self._next_call += 1
            self._calls[index] = (call_id, client_index)
            out.extend(writer.tool_start(client_index, call_id, str(function.get("name") or "")))
        elif known is None:
            return []  # an argument delta for a call never announced: nothing to attach it to
        else:
            client_index = known[1]
        out.extend(writer.tool_arguments(client_index, args))
        return out

    def on_data(self, event: bytes | None, data: bytes) -> list[bytes]:
        if data == b"[DONE]" and not self._ended:
            return self._end()
        return []

    def _end(self) -> list[bytes]:
        self._ended = True
        out = [] if self._started else self._start({})
        return out + self._writer.end()

    def on_end(self) -> list[bytes]:
        return [] if self._ended else self._end()


def error_frame(err: GatewayError) -> bytes:
    return _SHAPER.frame(err)


def query_with(query: str, extra: str) -> str:
    """The client's query with the dialect's parameters (api-version) added when absent."""
    if not extra:
        return query
    names = {p.split("=", 1)[0] for p in query.split("&") if p}
    missing = "&".join(p for p in extra.split("&") if p.split("=", 1)[0] not in names)
    return f"{query}&{missing}" if query and missing else query or missing

"""Gemini generateContent, written and read: the backend side of `*_gemini` pairs.

Gemini answers tool calls by function *name* (its calls carry no id in the Developer API), sends
each function call whole in one chunk, repeats cumulative usage in every chunk, streams with CRLF
frames and no terminator, and says STOP after a function call: the reader turns that into
`tool_calls`. Tool schemas go as `parametersJsonSchema` and response schemas as `responseJsonSchema`
(full JSON Schema), so no schema is rewritten.
"""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Callable

import orjson

from tollgate.providers.conversation import (
    ChatAnswer,
    ChatRequest,
    ChatUsage,
    ImagePart,
    StreamWriter,
    TextPart,
    ToolCallPart,
)
from tollgate.providers.taps import as_count
from tollgate.providers.translation import BackendError, EventTranslator, UntranslatableError
from tollgate.types import JSONObject, JSONValue

__all__ = [
    "GeminiStreamReader",
    "gemini_error_kind",
    "gemini_path",
    "new_call_id",
    "parse_answer",
    "render_request",
]

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}

_STATUS_KINDS = {
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "NOT_FOUND": "not_found_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "UNAVAILABLE": "overloaded_error",
    "INTERNAL": "api_error",
}


def new_call_id() -> str:
    """An id for a function call Gemini returned without one."""
    return "call_" + secrets.token_hex(12)


def gemini_path(model: str | None, stream: bool) -> tuple[str, str]:
    """(path, query) of generateContent or streamGenerateContent with SSE for `model`."""
    if not model:
        raise UntranslatableError("model", "is required")
    model = model.removeprefix("models/")
    if stream:
        return f"/v1beta/models/{model}:streamGenerateContent", "alt=sse"
    return f"/v1beta/models/{model}:generateContent", ""


def _image(part: ImagePart) -> JSONObject:
    image = part.image
    if image.url is None:
        return {"inlineData": {"mimeType": image.media_type, "data": image.data}}
    mime, _ = mimetypes.guess_type(image.url.split("?", 1)[0])
    if mime is None:
        raise UntranslatableError(
            part.field, "Gemini needs the image's media type; use a URL ending in .png, .jpg, ..."
        )
    return {"fileData": {"mimeType": mime, "fileUri": image.url}}


def _function_response(content: str) -> JSONObject:
    """A tool result as Gemini's `response` object: a JSON object as is, other text under `result`."""
    if content.lstrip().startswith("{"):
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
    return {"result": content}


def _contents(req: ChatRequest) -> list[JSONValue]:
    names = req.tool_names()
    contents: list[JSONValue] = []
    for m_index, message in enumerate(req.messages):
        parts: list[JSONValue] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append({"text": part.text})
            elif isinstance(part, ImagePart):
                parts.append(_image(part))
            elif isinstance(part, ToolCallPart):
                parts.append({"functionCall": {"name": part.name, "args": part.arguments}})
            else:
                name = names.get(part.call_id)
                if name is None:
                    raise UntranslatableError(
                        f"messages[{m_index}]",
                        f"tool result {part.call_id!r} answers no tool call of this conversation",
                    )
                parts.append({"functionResponse": {"name": name, "response": _function_response(part.content)}})
        if parts:
            contents.append({"role": "model" if message.role == "assistant" else "user", "parts": parts})
    return contents


def render_request(req: ChatRequest) -> JSONObject:
    """The neutral request as a Gemini GenerateContentRequest (the model goes in the path)."""
    body: JSONObject = {"contents": _contents(req)}
    if req.system:
        body["systemInstruction"] = {"parts": [{"text": req.system}]}
    if req.tools:
        declarations: list[JSONValue] = []
        for tool in req.tools:
            declaration: JSONObject = {"name": tool.name}
            if tool.description:
                declaration["description"] = tool.description
            declaration["parametersJsonSchema"] = tool.schema
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
    choice = req.tool_choice
    if choice is not None and (req.tools or choice.mode == "none"):
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice.mode]
        config: JSONObject = {"mode": mode}
        if choice.name is not None:
            config["allowedFunctionNames"] = [choice.name]
        body["toolConfig"] = {"functionCallingConfig": config}
    generation: JSONObject = {}
    if req.max_tokens is not None:
        generation["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        generation["temperature"] = req.temperature
    if req.top_p is not None:
        generation["topP"] = req.top_p
    if req.top_k is not None:
        generation["topK"] = req.top_k
    if req.stop:
        generation["stopSequences"] = [*req.stop]
    if req.seed is not None:
        generation["seed"] = req.seed
    if req.presence_penalty is not None:
        generation["presencePenalty"] = req.presence_penalty
    if req.frequency_penalty is not None:
        generation["frequencyPenalty"] = req.frequency_penalty
    if req.response_format is not None:
        generation["responseMimeType"] = "application/json"
        if req.json_schema is not None:
            generation["responseJsonSchema"] = req.json_schema
    if generation:
        body["generationConfig"] = generation
    return body


def usage_of(meta: JSONValue) -> ChatUsage | None:
    """Gemini usage: tool-use prompt tokens count as prompt, thinking tokens as completion."""
    if not isinstance(meta, dict):
        return None
    prompt = (as_count(meta.get("promptTokenCount")) or 0) + (as_count(meta.get("toolUsePromptTokenCount")) or 0)
    thoughts = as_count(meta.get("thoughtsTokenCount")) or 0
    completion = (as_count(meta.get("candidatesTokenCount")) or 0) + thoughts
    cached = as_count(meta.get("cachedContentTokenCount")) or 0
    return ChatUsage(prompt=prompt, completion=completion, cached=cached, reasoning=thoughts)


def _candidate(obj: JSONObject) -> JSONObject:
    candidates = obj.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return {}


def _parts(candidate: JSONObject) -> list[JSONObject]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _finish(obj: JSONObject, candidate: JSONObject, has_calls: bool) -> str | None:
    reason = candidate.get("finishReason")
    if not isinstance(reason, str):
        feedback = obj.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            return "content_filter"
        return None
    finish = _FINISH.get(reason, "stop")
    return "tool_calls" if has_calls and finish == "stop" else finish


def parse_answer(obj: JSONObject, fallback_model: str | None, call_id: Callable[[], str] = new_call_id) -> ChatAnswer:
    """A whole GenerateContentResponse as a neutral answer; thought parts are not the answer."""
    candidate = _candidate(obj)
    texts: list[str] = []
    calls: list[ToolCallPart] = []
    for part in _parts(candidate):
        call = part.get("functionCall")
        if isinstance(call, dict):
            args = call.get("args")
            given = call.get("id")
            calls.append(
                ToolCallPart(
                    given if isinstance(given, str) and given else call_id(),
                    str(call.get("name") or ""),
                    args if isinstance(args, dict) else {},
                )
            )
        elif isinstance(part.get("text"), str) and not part.get("thought"):
            texts.append(str(part["text"]))
    model = obj.get("modelVersion")
    text = "".join(texts)
    return ChatAnswer(
        id=str(obj.get("responseId") or ""),
        model=model if isinstance(model, str) and model else fallback_model or "",
        text=text or None,
        tool_calls=calls,
        finish=_finish(obj, candidate, bool(calls)) or "stop",
        usage=usage_of(obj.get("usageMetadata")) or ChatUsage(),
    )


def gemini_error_kind(obj: JSONObject) -> str | None:
    error = obj.get("error")
    if isinstance(error, list) and error and isinstance(error[0], dict):
        error = error[0]
    status = error.get("status") if isinstance(error, dict) else None
    return _STATUS_KINDS.get(status) if isinstance(status, str) else None


def stream_error(obj: JSONObject) -> BackendError:
    error = obj.get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    message = error.get("message")
    return BackendError(
        status, message if isinstance(message, str) else "The backend stream failed.", kind=gemini_error_kind(obj)
    )


class GeminiStreamReader(EventTranslator):
    """Reads a Gemini SSE stream (`alt=sse`) into a client `StreamWriter`.

    Each chunk is a GenerateContentResponse: text parts become text, each `functionCall` part one
    tool call (start plus its whole arguments), `finishReason` the finish, the latest usage wins.
    Gemini ends a stream by closing it, so the client's stream is ended in `on_end`.
    """

    def __init__(
        self, writer: StreamWriter, fallback_model: str | None, call_id: Callable[[], str] = new_call_id
    ) -> None:
        super().__init__()
        self._writer = writer
        self._fallback_model = fallback_model or ""
        self._call_id = call_id
        self._started = False
        self._ended = False
        self._finished = False
        self._calls = 0
        self._usage: ChatUsage | None = None

    def _start(self, obj: JSONObject) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        model = obj.get("modelVersion")
        return self._writer.start(
            str(obj.get("responseId") or ""), model if isinstance(model, str) and model else self._fallback_model
        )

    def on_event(self, event: bytes | None, obj: JSONObject) -> list[bytes]:
        if self._ended:
            return []
        writer = self._writer
        if "error" in obj and "candidates" not in obj:
            self._ended = True
            return self._start(obj) + writer.error(stream_error(obj))
        out = self._start(obj)
        candidate = _candidate(obj)
        for part in _parts(candidate):
            call = part.get("functionCall")
            if isinstance(call, dict):
                index = self._calls
                self._calls += 1
                given = call.get("id")
                call_id = given if isinstance(given, str) and given else self._call_id()
                args = call.get("args")
                out.extend(writer.tool_start(index, call_id, str(call.get("name") or "")))
                out.extend(writer.tool_arguments(index, orjson.dumps(args if isinstance(args, dict) else {}).decode()))
            elif isinstance(part.get("text"), str) and not part.get("thought"):
                out.extend(writer.text(str(part["text"])))
        usage = usage_of(obj.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        finish = _finish(obj, candidate, self._calls > 0)
        if finish is not None and not self._finished:
            self._finished = True
            if self._usage is not None:
                out.extend(writer.usage(self._usage))
            out.extend(writer.finish(finish))
        return out

    def on_end(self) -> list[bytes]:
        if self._ended:
            return []
        self._ended = True
        out = [] if self._started else self._start({})
        if not self._finished:
            if self._usage is not None:
                out.extend(self._writer.usage(self._usage))
            out.extend(self._writer.finish("stop"))
        elif self._usage is not None:
            out.extend(self._writer.usage(self._usage))  # a usage-only chunk after the finish
        return out + self._writer.end()

"""Mock of the Gemini API under /gemini, for both /v1 and /v1beta: generateContent,
streamGenerateContent (SSE with CRLF frames on `alt=sse`, else one streamed JSON array),
countTokens, embedContent, batchEmbedContents and models.

Checks `x-goog-api-key` or `?key=`; a wrong key is a 400 `API_KEY_INVALID` and a missing one a 403,
as Google answers (not a 401).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tollgate.mock.behaviour import Behaviour, begin
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
from tollgate.mock.tools import MockToolCall, ToolDecl, decode_image, describe_images, plan_calls, tool_results_text
from tollgate.mock.wire import json_response, read_json_object, same_key, sse_frame
from tollgate.types import JSONObject, JSONValue

VENDOR = "gemini"
LABEL = "Gemini"
VERSIONS = ("v1", "v1beta")
MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-embedding-001", "text-embedding-004")
EMBEDDING_DIMENSIONS = 768
_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}


def error_body(status: int, message: str | None = None) -> JSONObject:
    text = message or _MESSAGES.get(status, f"Mock error {status}.")
    return {"error": {"code": status, "message": text, "status": _STATUSES.get(status, "UNKNOWN")}}


def error_response(status: int, message: str | None = None) -> Response:
    """Google's `{"error": {code, message, status}}`; `retry-after` on 429."""
    return json_response(error_body(status, message), status, {"retry-after": "1"} if status == 429 else None)


def _bad_key_response() -> Response:
    body = error_body(400, "API key not valid. Please pass a valid API key.")
    detail: JSONValue = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
    error = body["error"]
    if isinstance(error, dict):
        error["details"] = [detail]
    return json_response(body, 400)


def usage_metadata(prompt: int, candidates: int) -> JSONObject:
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }


def generate_response(
    text: str, model: str, response_id: str, usage: JSONObject, *, finished: bool, calls: tuple[MockToolCall, ...] = ()
) -> JSONObject:
    """A GenerateContentResponse; stream chunks before the last one carry no `finishReason`.

    Function calls come whole, in one part each, and end with `STOP` as Gemini's do."""
    parts: list[JSONValue] = [{"functionCall": {"name": c.name, "args": c.args}} for c in calls] or [{"text": text}]
    candidate: JSONObject = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finished:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": response_id}


def _parts(content: JSONValue) -> list[JSONObject]:
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _field(obj: JSONObject, camel: str, snake: str) -> JSONValue:
    """Google's JSON mapping accepts both spellings (google-genai 3.x sends some in snake case)."""
    return obj[camel] if camel in obj else obj.get(snake)


@dataclass(frozen=True, slots=True)
class Turn:
    tools: list[ToolDecl]
    forced: str | None
    results: list[str] | None
    images: list[str]


def check_turn(body: JSONObject) -> Turn | str:
    """Function declarations, call/response pairing and images checked as Gemini does; the error if not."""
    tools: list[ToolDecl] = []
    raw_tools = body.get("tools")
    for t_index, tool in enumerate(raw_tools if isinstance(raw_tools, list) else []):
        declarations = _field(tool, "functionDeclarations", "function_declarations") if isinstance(tool, dict) else None
        for d_index, declaration in enumerate(declarations if isinstance(declarations, list) else []):
            where = f"tools[{t_index}].function_declarations[{d_index}]"
            if not isinstance(declaration, dict) or not isinstance(declaration.get("name"), str):
                return f"* GenerateContentRequest.{where}.name: [FIELD_INVALID] Invalid function name."
            schema = _field(declaration, "parametersJsonSchema", "parameters_json_schema")
            if schema is not None and declaration.get("parameters") is not None:
                return f"* GenerateContentRequest.{where}: parameters and parameters_json_schema are exclusive."
            schema = schema if schema is not None else declaration.get("parameters")
            tools.append(ToolDecl(str(declaration["name"]), schema if isinstance(schema, dict) else {}))
    config = _field(body, "toolConfig", "tool_config")
    calling = _field(config, "functionCallingConfig", "function_calling_config") if isinstance(config, dict) else None
    forced: str | None = None
    if isinstance(calling, dict):
        if calling.get("mode") == "NONE":
            tools = []
        allowed = _field(calling, "allowedFunctionNames", "allowed_function_names")
        if isinstance(allowed, list) and allowed:
            forced = str(allowed[0])
    contents = body.get("contents")
    contents = [c for c in contents if isinstance(c, dict)] if isinstance(contents, list) else []
    for index, content in enumerate(contents):
        responses = [p for p in _parts(content) if _field(p, "functionResponse", "function_response") is not None]
        if not responses:
            continue
        previous = _parts(contents[index - 1]) if index > 0 else []
        calls = [p for p in previous if _field(p, "functionCall", "function_call") is not None]
        if len(calls) != len(responses):
            return (
                "Please ensure that the number of function response parts is equal to the number of function "
                "call parts of the function call turn."
            )
    last = _parts(contents[-1]) if contents else []
    results = [_field(p, "functionResponse", "function_response") for p in last]
    found = [r for r in results if isinstance(r, dict)]
    if found:
        return Turn(tools, forced, [orjson.dumps(r.get("response")).decode() for r in found], [])
    images: list[str] = []
    for part in last:
        inline = _field(part, "inlineData", "inline_data")
        data = _field(part, "fileData", "file_data")
        if isinstance(inline, dict):
            mime = _field(inline, "mimeType", "mime_type")
            size = decode_image(inline.get("data"))
            if not isinstance(mime, str) or size is None:
                return "Invalid value at 'contents.parts.inline_data' (data): base64 decoding failed."
            images.append(f"{mime} {size} bytes")
        elif isinstance(data, dict):
            uri = _field(data, "fileUri", "file_uri")
            if not isinstance(uri, str) or not isinstance(_field(data, "mimeType", "mime_type"), str):
                return "* GenerateContentRequest.contents.parts.file_data: file_uri and mime_type are required."
            images.append(uri)
    return Turn(tools, forced, None, images)


def stream_plan(
    model: str, pieces: list[str], prompt: int, *, sse: bool, calls: tuple[MockToolCall, ...] = ()
) -> StreamPlan:
    """One GenerateContentResponse per piece with cumulative usage, the last one finished.

    `sse`: `data: ` frames with CRLF, no `[DONE]`. Otherwise one JSON array, streamed element by element.
    """
    response_id = secrets.token_urlsafe(16)
    chunks: list[JSONObject] = []
    done = 0
    for index, piece in enumerate(pieces):
        done += count_words(piece)
        last = index == len(pieces) - 1 and not calls
        chunks.append(generate_response(piece, model, response_id, usage_metadata(prompt, done), finished=last))
    if calls:
        done += sum(count_words(c.arguments) for c in calls)
        usage = usage_metadata(prompt, done)
        chunks.append(generate_response("", model, response_id, usage, finished=True, calls=calls))
    if sse:
        return StreamPlan(
            head=[],
            body=[sse_frame(c, crlf=True) for c in chunks],
            tail=[],
            error=sse_frame(error_body(500), crlf=True),
        )
    body = [(b"[" if i == 0 else b",\r\n") + orjson.dumps(c) for i, c in enumerate(chunks)]
    return StreamPlan(head=[], body=body, tail=[b"]"], error=b",\r\n" + orjson.dumps(error_body(500)) + b"]")


class GeminiMock:
    """The Gemini Developer API, served below the app's /gemini prefix."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/{version}/models", self.models, methods=["GET"]),
            Route("/{version}/models/{target:path}", self.dispatch, methods=["GET", "POST"]),
        ]

    def _denied(self, request: Request) -> Response | None:
        presented = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if presented is None:
            return error_response(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        return None if same_key(presented, self.state.keys[VENDOR]) else _bad_key_response()

    async def models(self, request: Request) -> Response:
        if request.path_params["version"] not in VERSIONS:
            return error_response(404, "Not found.")
        if (denied := self._denied(request)) is not None:
            return denied
        return json_response({"models": [self._model(m) for m in MODELS]})

    @staticmethod
    def _model(name: str) -> JSONObject:
        embedding = "embedding" in name
        methods = (
            ["embedContent", "batchEmbedContents"]
            if embedding
            else ["generateContent", "countTokens", "streamGenerateContent"]
        )
        return {
            "name": f"models/{name}",
            "version": "001",
            "displayName": name.replace("-", " ").title(),
            "description": f"Mock {name}",
            "inputTokenLimit": 2048 if embedding else 1048576,
            "outputTokenLimit": 1 if embedding else 65536,
            "supportedGenerationMethods": [*methods],
        }

    async def dispatch(self, request: Request) -> Response:
        """`models/{model}` (GET) or `models/{model}:{method}` (POST)."""
        if request.path_params["version"] not in VERSIONS:
            return error_response(404, "Not found.")
        if (denied := self._denied(request)) is not None:
            return denied
        model, _, method = str(request.path_params["target"]).partition(":")
        if request.method == "GET" and not method:
            return json_response(self._model(model))
        body = await read_json_object(request)
        if body is None:
            return error_response(400, "Invalid JSON payload received.")
        if method in ("generateContent", "streamGenerateContent"):
            return await self._generate(request, body, model, stream=method == "streamGenerateContent")
        if method == "countTokens":
            contents = body.get("contents", body.get("generateContentRequest"))
            tokens = prompt_tokens(contents)
            return json_response(
                {"totalTokens": tokens, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}]}
            )
        if method == "embedContent":
            return json_response({"embedding": self._embedding(body.get("content"), body)})
        if method == "batchEmbedContents":
            requests = body.get("requests")
            if not isinstance(requests, list):
                return error_response(400, "requests: field required")
            items = [r for r in requests if isinstance(r, dict)]
            return json_response({"embeddings": [self._embedding(r.get("content"), r) for r in items]})
        return error_response(404, f"Method {method!r} not found for model {model!r}.")

    @staticmethod
    def _embedding(content: JSONValue, request: JSONObject) -> JSONValue:
        size = request.get("outputDimensionality")
        dims = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else EMBEDDING_DIMENSIONS
        values: list[JSONValue] = [*embedding_vector(" ".join(collect_text(content)), dims)]
        return {"values": values}

    async def _generate(self, request: Request, body: JSONObject, model: str, *, stream: bool) -> Response:
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return error_response(400, "* GenerateContentRequest.contents: contents is not specified")
        prompt = last_user_text(contents, user_roles=("user", None))
        turn = check_turn(body)
        if isinstance(turn, str):
            return error_response(400, turn)
        outcome = await begin(request, lambda: self.state.behaviour(VENDOR, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        sse = request.query_params.get("alt") == "sse"
        return self._reply(body, model, prompt, outcome, turn, stream=stream, sse=sse)

    def _reply(
        self, body: JSONObject, model: str, prompt: str, behaviour: Behaviour, turn: Turn, *, stream: bool, sse: bool
    ) -> Response:
        calls: tuple[MockToolCall, ...] = ()
        if turn.results is not None:
            text = tool_results_text(turn.results)
        elif turn.tools:
            calls = tuple(plan_calls(turn.tools, turn.forced, prompt, "call_"))
            text = ""
        else:
            text = reply_text(LABEL, prompt, echo=behaviour.echo, min_words=behaviour.chunks or 0)
        text += describe_images(turn.images) if not calls else ""
        input_tokens = prompt_tokens(
            {"contents": body.get("contents"), "systemInstruction": body.get("systemInstruction")}
        )
        if stream:
            pieces = split_chunks(text, behaviour.chunks, behaviour.chunk_chars) if text else []
            plan = stream_plan(model, pieces, input_tokens, sse=sse, calls=calls)
            return stream_response(plan, behaviour, media_type="text/event-stream" if sse else "application/json")
        usage = usage_metadata(input_tokens, count_words(text) + sum(count_words(c.arguments) for c in calls))
        response_id = secrets.token_urlsafe(16)
        return json_response(generate_response(text, model, response_id, usage, finished=True, calls=calls))

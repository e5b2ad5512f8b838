"""The Gemini (Generative Language API) template: model and streaming from the path, never the body.

`:streamGenerateContent` streams SSE with `?alt=sse`, and without it one JSON array of
GenerateContentResponse objects sent incrementally; the tap recognises either from the first byte.
Usage is `usageMetadata`, reported cumulatively in each chunk: the last report wins.
"""

from __future__ import annotations

import re

from tollgate.providers.base import StreamTap
from tollgate.providers.taps import SSEUsageTap, UsageReader, as_count, parse_object
from tollgate.providers.template import Template, TemplateBackend, TemplateClientAPI
from tollgate.resources.models import TemplateSpec
from tollgate.types import JSONObject
from tollgate.usage.record import TokenUsage, UsageResult

__all__ = [
    "TEMPLATE",
    "GeminiBackend",
    "GeminiClientAPI",
    "GeminiStreamTap",
    "GeminiUsageReader",
    "JSONArraySplitter",
    "gemini_template",
    "gemini_usage",
]

TEMPLATE = TemplateSpec.model_validate(
    {
        "baseUrl": "https://generativelanguage.googleapis.com",
        "credential": {"location": "header", "name": "x-goog-api-key", "prefix": ""},
        "clientKeyHeaders": ["x-goog-api-key"],
        "requestModel": {"bodyField": None, "pathPattern": r"/models/([^/:]+):[A-Za-z]+$"},
        "streaming": {"bodyFlag": None, "pathPattern": r":streamGenerateContent$"},
        "responseModel": ["modelVersion"],
        "usage": {
            "promptTokens": ["usageMetadata.promptTokenCount"],
            "completionTokens": ["usageMetadata.candidatesTokenCount"],
            "totalTokens": ["usageMetadata.totalTokenCount"],
            "cachedTokens": ["usageMetadata.cachedContentTokenCount"],
        },
        "finishReasons": ["candidates.*.finishReason"],
        "errorFormat": "gemini",
    }
)


def gemini_usage(meta: JSONObject) -> TokenUsage | None:
    """Token counts of one `usageMetadata`: the one place that knows Gemini's split counts.

    `candidatesTokenCount` excludes thinking (`thoughtsTokenCount`) and `promptTokenCount`
    excludes tool-use prompts (`toolUsePromptTokenCount`), yet Google bills both and counts them
    in `totalTokenCount`; so they are added, and prompt + completion = total as for other vendors.
    """
    prompt = as_count(meta.get("promptTokenCount"))
    tool_prompt = as_count(meta.get("toolUsePromptTokenCount"))
    if prompt is not None and tool_prompt is not None:
        prompt += tool_prompt
    completion = as_count(meta.get("candidatesTokenCount"))
    thoughts = as_count(meta.get("thoughtsTokenCount"))
    if thoughts is not None:
        completion = (completion or 0) + thoughts
    total = as_count(meta.get("totalTokenCount"))
    if prompt is None and completion is None and total is None:
        return None
    return TokenUsage(prompt, completion, total, as_count(meta.get("cachedContentTokenCount")))


class GeminiUsageReader(UsageReader):
    """Reads `usageMetadata` with `gemini_usage`; the model from `modelVersion`."""

    def usage(self, obj: JSONObject) -> TokenUsage | None:
        meta = obj.get("usageMetadata")
        return gemini_usage(meta) if isinstance(meta, dict) else None


_STRUCTURE = re.compile(rb'["\\{}\[\]]')
_QUOTE, _BACKSLASH, _LBRACE, _RBRACE, _LBRACKET = 0x22, 0x5C, 0x7B, 0x7D, 0x5B


class JSONArraySplitter:
    """Cuts a streamed JSON array of objects into its complete top-level elements.

    Keeps only the element being received (never the whole array); tracks strings and escapes
    so braces inside text do not count. One per stream, not thread-safe.
    """

    __slots__ = ("_buf", "_depth", "_escape", "_in_string")

    def __init__(self) -> None:
        self._buf = b""  # bytes of the incomplete current element, from its "{"
        self._depth = 0  # 1 = inside the outer array
        self._in_string = False
        self._escape = False  # the previous chunk ended on a backslash inside a string

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buf + chunk if self._buf else chunk
        pos = len(self._buf)
        start = 0 if self._buf else -1
        skip = pos + 1 if self._escape else pos
        self._escape = False
        depth, in_string = self._depth, self._in_string
        elements: list[bytes] = []
        for match in _STRUCTURE.finditer(data, pos):
            i = match.start()
            if i < skip:
                continue
            byte = data[i]
            if in_string:
                if byte == _BACKSLASH:
                    skip = i + 2
                    self._escape = i + 1 >= len(data)
                elif byte == _QUOTE:
                    in_string = False
            elif byte == _QUOTE:
                in_string = True
            elif byte in (_LBRACE, _LBRACKET):
                depth += 1
                if depth == 2 and byte == _LBRACE:
                    start = i
            else:
                depth -= 1
                if depth == 1 and byte == _RBRACE and start >= 0:
                    elements.append(data[start : i + 1])
                    start = -1
        self._depth, self._in_string = depth, in_string
        self._buf = data[start:] if start >= 0 else b""
        return elements


class GeminiStreamTap:
    """Reads a Gemini stream, SSE or JSON array, on the side (usage, model, in-band errors).

    One per response, not thread-safe. The mode is chosen by the first non-blank byte: `[` is
    the JSON array form, anything else SSE.
    """

    __slots__ = ("_array", "_events", "_mode")

    def __init__(self, reader: UsageReader, fallback_model: str | None) -> None:
        self._events = SSEUsageTap(reader, fallback_model, cumulative=True)
        self._array: JSONArraySplitter | None = None
        self._mode = 0  # 0 undecided, 1 SSE, 2 JSON array

    @property
    def error(self) -> str | None:
        return self._events.error

    def feed(self, chunk: bytes) -> None:
        if self._mode == 0:
            head = chunk.lstrip()
            if not head:
                return
            if head[:1] == b"[":
                self._mode, self._array = 2, JSONArraySplitter()
            else:
                self._mode = 1
        if self._array is None:
            self._events.feed(chunk)
        else:
            for element in self._array.feed(chunk):
                obj = parse_object(element)
                if obj is not None:
                    self._events.read_event(obj)

    def close(self) -> None:
        if self._mode == 1:
            self._events.close()

    def result(self) -> UsageResult:
        return self._events.result()


def _reader(spec: TemplateSpec) -> GeminiUsageReader:
    return GeminiUsageReader.from_spec(spec)


class GeminiClientAPI(TemplateClientAPI):
    """Gemini's client API: model and stream from the path."""

    #: Google also takes its API key as `?key=`: a client's one must never reach the upstream.
    client_key_query_params: tuple[str, ...] = ("key",)


class GeminiBackend(TemplateBackend):
    """The Gemini backend: Gemini's usage reader and dual-format stream tap."""

    #: `:streamGenerateContent` without `alt=sse` answers one JSON array, chunked or with a length
    array_streams = True

    def __init__(self, name: str = "gemini", spec: TemplateSpec = TEMPLATE) -> None:
        super().__init__(name, spec, reader=_reader(spec))

    def new_stream_tap(self, fallback_model: str | None) -> StreamTap:
        return GeminiStreamTap(self.reader, fallback_model)


def gemini_template(name: str = "gemini", spec: TemplateSpec = TEMPLATE) -> Template:
    """The Gemini template: its client API and its backend."""
    return Template(name, GeminiClientAPI(name, spec), GeminiBackend(name, spec))

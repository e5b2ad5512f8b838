"""The OpenAI template: its client API (chat completions, Responses API, embeddings), its backend,
and the OpenAI pass-through translator.

Quirk: OpenAI streams carry usage only when asked (`stream_options.include_usage`), and the usage
chunk has `"choices": []`, which crashes the doc-style client loops (sdk-contract.md §3.1). So the
pass-through translator asks upstream for usage and drops that chunk from the client's stream; the
backend's tap still meters it, because it reads what the upstream sent. Variants (openai-compatible,
Mistral, Azure) reuse these classes by parameters.
"""

from __future__ import annotations

import re

import orjson

from tollgate.providers.base import IdentityTranslation, RequestFacts, Translation, Translator, UpstreamRequest
from tollgate.providers.taps import UsageReader, parse_object
from tollgate.providers.template import Template, TemplateBackend, TemplateClientAPI
from tollgate.resources.models import TemplateSpec
from tollgate.sse import SSEFrameSplitter, event_spans, parse_frame, without_spans
from tollgate.types import JSONObject, JSONValue

__all__ = [
    "NO_JSON_BODY_PATHS",
    "OPENAI_USAGE",
    "TEMPLATE",
    "IncludeUsageTranslation",
    "OpenAIBackend",
    "OpenAIClientAPI",
    "OpenAIPassThrough",
    "inject_include_usage",
    "is_usage_only_chunk",
    "openai_template",
]

#: Where usage and model sit in chat completions, the Responses API (bodies and the
#: `response.completed` event) and embeddings. Shared by every OpenAI-style template.
OPENAI_USAGE: dict[str, list[str]] = {
    "promptTokens": ["usage.prompt_tokens", "usage.input_tokens", "response.usage.input_tokens"],
    "completionTokens": ["usage.completion_tokens", "usage.output_tokens", "response.usage.output_tokens"],
    "totalTokens": ["usage.total_tokens", "response.usage.total_tokens"],
    "cachedTokens": [
        "usage.prompt_tokens_details.cached_tokens",
        "usage.input_tokens_details.cached_tokens",
        "response.usage.input_tokens_details.cached_tokens",
    ],
}
#: Why a chat completion ended, per choice (bodies and the stream's last content chunk).
OPENAI_FINISH = ["choices.*.finish_reason"]

TEMPLATE = TemplateSpec.model_validate(
    {
        "baseUrl": "https://api.openai.com",
        "credential": {"location": "header", "name": "Authorization", "prefix": "Bearer "},
        "clientKeyHeaders": ["authorization"],
        "requestModel": {"bodyField": "model"},
        "streaming": {"bodyFlag": "stream"},
        "responseModel": ["model", "response.model"],
        "usage": OPENAI_USAGE,
        "finishReasons": OPENAI_FINISH,
        "errorFormat": "openai",
    }
)

#: POST endpoints whose bodies are multipart uploads, not JSON: the relay must not parse them.
NO_JSON_BODY_PATHS = re.compile(
    r"/(?:audio/(?:transcriptions|translations)|files|uploads/[^/]+/parts|images/(?:edits|variations))$"
)


def is_usage_only_chunk(event: JSONObject) -> bool:
    """The chunk `include_usage` adds: `"choices": []` plus a usage object.

    Azure's first `prompt_filter_results` chunk also has `"choices": []` but no usage, so it is
    never matched (clients that stream from Azure already guard for it).
    """
    choices: JSONValue = event.get("choices")
    return choices == [] and isinstance(event.get("usage"), dict)


def inject_include_usage(body: JSONObject) -> bytes | None:
    """The body with `stream_options.include_usage: true`, or None when the client already asked for it.

    The parsed body is not mutated; it is re-serialised only when it changes.
    """
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return None
    new_options: JSONObject = dict(options) if isinstance(options, dict) else {}
    new_options["include_usage"] = True
    new_body = dict(body)
    new_body["stream_options"] = new_options
    return orjson.dumps(new_body)


#: in the usage-only chunk, and in no other chunk of a chat stream (the others carry `"usage": null`)
_USAGE_CHUNK_NEEDLE = b'"prompt_tokens"'


class IncludeUsageTranslation(IdentityTranslation):
    """One streamed chat request whose usage the gateway asked for: adds `include_usage` to the body
    and drops the usage-only chunk from what the client receives (the backend's tap still reads it).

    Only the incomplete trailing frame is held back; complete frames leave at once, byte-exact.
    """

    __slots__ = ("_held", "_splitter")

    def __init__(self) -> None:
        self._splitter = SSEFrameSplitter()
        self._held = False  # whether the splitter holds an incomplete frame

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None:
        if body is not None:
            new_body = inject_include_usage(body)
            if new_body is not None:
                req.body = new_body

    def stream_chunk(self, chunk: bytes) -> bytes:
        if not self._held and chunk.endswith(b"\n\n") and _USAGE_CHUNK_NEEDLE not in chunk:
            return chunk  # whole frames, none of them the usage chunk: the usual case, no framing work
        complete = self._splitter.feed_through(chunk)
        self._held = self._splitter.pending > 0
        if _USAGE_CHUNK_NEEDLE not in complete:
            return complete
        spans = [(s, e) for s, e in event_spans(complete, _USAGE_CHUNK_NEEDLE) if _is_usage_frame(complete[s:e])]
        return without_spans(complete, spans)

    def stream_end(self) -> bytes:
        self._held = False
        tail = self._splitter.close()  # a last event without its blank line
        return b"" if not tail or _is_usage_frame(tail) else tail


def _is_usage_frame(frame: bytes) -> bool:
    data = parse_frame(frame)[1]
    obj = parse_object(data) if data else None
    return obj is not None and is_usage_only_chunk(obj)


class OpenAIPassThrough:
    """The translator for OpenAI-API clients of an OpenAI-API backend.

    Everything passes untouched except a streamed chat request without `include_usage`, which gets
    an `IncludeUsageTranslation` (when `inject_usage`; off for vendors that always report usage).
    """

    __slots__ = ("inject_usage", "name")

    def __init__(self, name: str, *, inject_usage: bool = True) -> None:
        self.name = f"{name}->{name}"
        self.inject_usage = inject_usage

    def should_inject_usage(self, req: UpstreamRequest, facts: RequestFacts) -> bool:
        """Whether this request's stream needs `include_usage` added (chat completions only)."""
        return self.inject_usage and facts.is_streaming and req.path.endswith("/chat/completions")

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None:
        if body is None or not self.should_inject_usage(req, facts):
            return None
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            return None  # the client asked for usage itself: its request and its usage chunk are its own
        return IncludeUsageTranslation()


class OpenAIClientAPI(TemplateClientAPI):
    """OpenAI's client API: JSON bodies except on upload endpoints."""

    def __init__(self, name: str = "openai", spec: TemplateSpec = TEMPLATE) -> None:
        super().__init__(name, spec, no_body_paths=NO_JSON_BODY_PATHS)


class OpenAIBackend(TemplateBackend):
    """An OpenAI-API backend; its pass-through translator injects stream usage when `inject_usage`."""

    def __init__(
        self,
        name: str = "openai",
        spec: TemplateSpec = TEMPLATE,
        *,
        inject_usage: bool = True,
        reader: UsageReader | None = None,
        pass_through: Translator | None = None,
    ) -> None:
        translator = pass_through if pass_through is not None else OpenAIPassThrough(name, inject_usage=inject_usage)
        super().__init__(name, spec, reader=reader, pass_through=translator)


def openai_template(name: str = "openai", spec: TemplateSpec = TEMPLATE) -> Template:
    """The OpenAI template: its client API and its backend."""
    return Template(name, OpenAIClientAPI(name, spec), OpenAIBackend(name, spec))

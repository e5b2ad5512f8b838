"""The OpenAI template and its adapter: chat completions, Responses API, embeddings.

Quirk: OpenAI streams carry usage only when asked (`stream_options.include_usage`), and the usage
chunk has `"choices": []`, which crashes the doc-style client loops (sdk-contract.md §3.1). So the
adapter asks upstream for usage and drops that chunk from the client's stream, still metering it.
Variants (openai-compatible, Mistral, Azure) reuse this class by parameters.
"""

from __future__ import annotations

import re

import orjson

from tollgate.providers.base import RequestFacts, RequestRewrite, StreamTap
from tollgate.providers.taps import SSEUsageTap, UsageReader
from tollgate.providers.template import TemplateProvider
from tollgate.resources.models import TemplateSpec
from tollgate.types import JSONObject, JSONValue

__all__ = [
    "NO_JSON_BODY_PATHS",
    "OPENAI_USAGE",
    "TEMPLATE",
    "OpenAIProvider",
    "inject_include_usage",
    "is_usage_only_chunk",
]

#: Where usage and model sit in chat completions, the Responses API (bodies and the
#: `response.completed` event) and embeddings. Shared by every OpenAI-style template.
OPENAI_USAGE: dict[str, list[str]] = {
    "promptTokens": ["usage.prompt_tokens", "usage.input_tokens", "response.usage.input_tokens"],
    "completionTokens": ["usage.completion_tokens", "usage.output_tokens", "response.usage.output_tokens"],
    "totalTokens": ["usage.total_tokens", "response.usage.total_tokens"],
}

TEMPLATE = TemplateSpec.model_validate(
    {
        "baseUrl": "https://api.openai.com",
        "credential": {"location": "header", "name": "Authorization", "prefix": "Bearer "},
        "clientKeyHeaders": ["authorization"],
        "requestModel": {"bodyField": "model"},
        "streaming": {"bodyFlag": "stream"},
        "responseModel": ["model", "response.model"],
        "usage": OPENAI_USAGE,
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


class OpenAIProvider(TemplateProvider):
    """Adapter for OpenAI-style APIs; immutable, shared by every request.

    Parameters:
        inject_usage: ask upstream for stream usage when the client did not, and hide the usage
            chunk from the client. Off for vendors that always report usage (Mistral).
    """

    def __init__(
        self,
        name: str = "openai",
        spec: TemplateSpec = TEMPLATE,
        *,
        inject_usage: bool = True,
        reader: UsageReader | None = None,
    ) -> None:
        super().__init__(name, spec, reader=reader, no_body_paths=NO_JSON_BODY_PATHS)
        self.inject_usage = inject_usage

    def should_inject_usage(self, path: str, query: str, facts: RequestFacts) -> bool:
        """Whether this request's stream needs `include_usage` added (chat completions only)."""
        return self.inject_usage and facts.is_streaming and path.endswith("/chat/completions")

    def rewrite_request(
        self, path: str, query: str, body: JSONObject | None, facts: RequestFacts
    ) -> RequestRewrite | None:
        """Adds `stream_options.include_usage: true` to a streaming chat request lacking it.

        The body is re-serialised only then; a client that asked for usage itself gets its
        request and its usage chunk untouched.
        """
        if body is None or not self.should_inject_usage(path, query, facts):
            return None
        return inject_include_usage(body)

    def new_stream_tap(self, facts: RequestFacts, drop_usage_chunk: bool) -> StreamTap:
        return SSEUsageTap(self.reader, facts.model, is_usage_only_chunk if drop_usage_chunk else None)


def inject_include_usage(body: JSONObject) -> RequestRewrite | None:
    """The rewrite that asks for stream usage, or None when the client already asked for it."""
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return None
    new_options: JSONObject = dict(options) if isinstance(options, dict) else {}
    new_options["include_usage"] = True
    new_body = dict(body)
    new_body["stream_options"] = new_options
    return RequestRewrite(body=orjson.dumps(new_body), drop_usage_chunk=True)

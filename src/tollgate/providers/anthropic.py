"""The Anthropic Messages template: `x-api-key` credential, split stream usage, Anthropic errors.

Streams report input tokens in `message_start` and output tokens in `message_delta`; the tap
merges them with set-flags. Input tokens include cache reads and writes (`anthropic_input_tokens`).
"""

from __future__ import annotations

from tollgate.providers.taps import UsageReader, as_count
from tollgate.providers.template import Template, TemplateBackend, TemplateClientAPI
from tollgate.resources.models import TemplateSpec
from tollgate.types import JSONObject, JSONValue
from tollgate.usage.record import TokenUsage

__all__ = ["TEMPLATE", "AnthropicBackend", "AnthropicUsageReader", "anthropic_input_tokens", "anthropic_template"]

TEMPLATE = TemplateSpec.model_validate(
    {
        "baseUrl": "https://api.anthropic.com",
        "credential": {"location": "header", "name": "x-api-key", "prefix": ""},
        # anthropic 2.x sends `Authorization: Bearer`, 1.x and ChatAnthropic `x-api-key`.
        "clientKeyHeaders": ["authorization", "x-api-key"],
        "defaultHeaders": {"anthropic-version": "2023-06-01"},
        "requestModel": {"bodyField": "model"},
        "streaming": {"bodyFlag": "stream"},
        "responseModel": ["model", "message.model"],
        "usage": {
            "promptTokens": ["usage.input_tokens", "message.usage.input_tokens"],
            "completionTokens": ["usage.output_tokens", "message.usage.output_tokens"],
            "totalTokens": [],
            "cachedTokens": ["usage.cache_read_input_tokens", "message.usage.cache_read_input_tokens"],
        },
        "finishReasons": ["stop_reason", "delta.stop_reason"],
        "errorFormat": "anthropic",
    }
)


def anthropic_input_tokens(usage: JSONObject) -> int | None:
    """Prompt tokens of one Anthropic usage object: the one place that knows this quirk.

    Anthropic's `input_tokens` counts only the uncached part of the prompt; tokens read from the
    prompt cache (`cache_read_input_tokens`) and written to it (`cache_creation_input_tokens`)
    are reported apart, yet were all sent as prompt. The total is their sum. None when the object
    has no `input_tokens` (so a later event cannot reset the prompt to the cache counts alone).
    """
    base = as_count(usage.get("input_tokens"))
    if base is None:
        return None
    cache_read = as_count(usage.get("cache_read_input_tokens")) or 0
    cache_write = as_count(usage.get("cache_creation_input_tokens")) or 0
    return base + cache_read + cache_write


class AnthropicUsageReader(UsageReader):
    """Reads `usage` (bodies, `message_delta`) or `message.usage` (`message_start`)."""

    def usage(self, obj: JSONObject) -> TokenUsage | None:
        found: JSONValue = obj.get("usage")
        if not isinstance(found, dict):
            message = obj.get("message")
            found = message.get("usage") if isinstance(message, dict) else None
            if not isinstance(found, dict):
                return None
        prompt = anthropic_input_tokens(found)
        completion = as_count(found.get("output_tokens"))
        if prompt is None and completion is None:
            return None
        # cache reads are part of the prompt (see anthropic_input_tokens); only with the input count
        cached = as_count(found.get("cache_read_input_tokens")) if prompt is not None else None
        return TokenUsage(prompt, completion, None, cached)


def _reader(spec: TemplateSpec) -> AnthropicUsageReader:
    return AnthropicUsageReader.from_spec(spec)


class AnthropicBackend(TemplateBackend):
    """The Anthropic backend, with the cache-aware usage reader."""

    def __init__(self, name: str = "anthropic", spec: TemplateSpec = TEMPLATE) -> None:
        super().__init__(name, spec, reader=_reader(spec))


def anthropic_template(name: str = "anthropic", spec: TemplateSpec = TEMPLATE) -> Template:
    """The Anthropic template: the declarative client API (Messages) and the Anthropic backend."""
    return Template(name, TemplateClientAPI(name, spec), AnthropicBackend(name, spec))

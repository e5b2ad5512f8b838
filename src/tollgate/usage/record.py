"""Leaf value types of metering: TokenUsage (with set-flags) and the per-request UsageRecord."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(slots=True)
class TokenUsage:
    """Token counts that know "unset" from "zero".

    Streams report usage in pieces (Anthropic: input tokens in `message_start`, output tokens in
    `message_delta`), so each field is None until some event sets it; `merge` keeps set fields.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    #: prompt tokens read from the vendor's prompt cache (part of `prompt_tokens`, not in addition)
    cached_tokens: int | None = None

    def merge(self, other: TokenUsage) -> None:
        """Override this usage's fields with the fields `other` has set."""
        if other.prompt_tokens is not None:
            self.prompt_tokens = other.prompt_tokens
        if other.completion_tokens is not None:
            self.completion_tokens = other.completion_tokens
        if other.total_tokens is not None:
            self.total_tokens = other.total_tokens
        if other.cached_tokens is not None:
            self.cached_tokens = other.cached_tokens

    def finalized(self) -> TokenUsage:
        """A copy whose total is derived from prompt + completion when the vendor gave none."""
        total = self.total_tokens
        if total is None and (self.prompt_tokens is not None or self.completion_tokens is not None):
            total = (self.prompt_tokens or 0) + (self.completion_tokens or 0)
        return TokenUsage(self.prompt_tokens, self.completion_tokens, total, self.cached_tokens)


@dataclass(slots=True)
class UsageResult:
    """What a provider's usage tap extracted from one response: tokens, the response model and why
    the answer ended (the vendor's finish reasons, one per choice or candidate, as it spells them)."""

    usage: TokenUsage = field(default_factory=TokenUsage)
    response_model: str | None = None
    finish_reasons: tuple[str, ...] = ()


class SpanFacts(NamedTuple):
    """What the writer child needs to export one request's span besides the record's own fields.

    Ids are lower-case hex as in W3C `traceparent`; `parent_span_id` is None for a trace that started
    at the gateway. `backend` is the template name of the vendor that served; `operation` the client
    API endpoint ("chat", "messages", "generate_content", "embeddings", ...); `route` the context.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    backend: str | None
    operation: str
    route: str  # the context the request matched
    finish_reasons: tuple[str, ...]


class UsageRecord(NamedTuple):
    """One row per request, queued by the relay and written in batches by the recorder.

    A NamedTuple, not a dataclass: it is built once per request on the hot path (a tuple is the
    cheapest object to build) and its field order is the column order, so rows go to the database
    driver as they are.
    """

    ts: float  # unix time the request arrived
    request_id: str
    gateway: str
    provider: str
    proxy: str | None
    key_id: str | None
    method: str
    path: str
    request_model: str | None
    response_model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    status: int
    latency_ms: float
    ttfb_ms: float | None
    is_streaming: bool
    error_code: str | None = None
    #: on a route with a response cache: hit, semantic_hit, miss, bypass or unavailable (else None)
    cache_result: str | None = None
    #: on a cache hit: the tokens the cached answer was metered at (the record's own tokens are 0)
    saved_tokens: int | None = None
    cached_tokens: int | None = None
    # Not stored (no column): read by the writer child for metrics and traces.
    client_api: str | None = None  # the API the client spoke (template name: "openai", "anthropic", ...)
    upstream_ms: float | None = None  # from sending the request upstream (last attempt) to the end
    #: the request's span when traced: `SpanFacts` (as a plain tuple or list after the pipe), else None
    trace: SpanFacts | None = None

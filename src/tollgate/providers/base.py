"""The provider adapter interface the relay calls; one implementation per template.

An adapter is built once per template at snapshot compile and shared by every request: it is
immutable and does no I/O. Per-request state lives only in the `StreamTap` it creates.
Adapters never log bodies or secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tollgate.errors import GatewayError
from tollgate.types import HeaderList, JSONObject
from tollgate.usage.record import UsageResult


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the adapter read from the request once; shared with policies and metering."""

    model: str | None
    is_streaming: bool


@dataclass(frozen=True, slots=True)
class RequestRewrite:
    """A change to the upstream request. `None` fields mean unchanged.

    `drop_usage_chunk` tells the stream tap that the adapter asked upstream for usage the client
    did not ask for (OpenAI `stream_options.include_usage`), so the usage-only chunk must not reach
    the client.
    """

    path: str | None = None
    query: str | None = None
    body: bytes | None = None
    drop_usage_chunk: bool = False


class StreamTap(Protocol):
    """Reads a response stream on the side; one per request, not thread-safe.

    `feed` returns the bytes to send to the client now: the chunk itself (same object) when the
    tap only reads, so nothing is copied or delayed. A tap that drops frames keeps back only an
    incomplete trailing frame, never the whole stream. Malformed events are skipped, not raised.
    """

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes:
        """End of stream: return anything still held back (an incomplete last frame)."""
        ...

    def result(self) -> UsageResult: ...


class ProviderAdapter(Protocol):
    """How the relay talks to one vendor API (see STYLE.md 2.2)."""

    #: template name, e.g. "openai"
    name: str
    #: default upstream base URL of the template (providers may override)
    default_base_url: str | None
    #: lower-case vendor credential headers the client may carry the gateway key in
    client_key_headers: tuple[bytes, ...]
    #: lower-case header names sent upstream only when the client sent none (e.g. anthropic-version)
    default_headers: HeaderList

    def reads_body(self, method: str, path: str) -> bool:
        """Whether the relay must parse the JSON request body for this path (model, stream flag)."""
        ...

    def request_facts(self, path: str, query: str, body: JSONObject | None) -> RequestFacts:
        """Request model (body or path) and whether the response will be a stream."""
        ...

    def rewrite_request(
        self, path: str, query: str, body: JSONObject | None, facts: RequestFacts
    ) -> RequestRewrite | None:
        """Upstream changes the vendor needs (usage injection, path mapping); None when unchanged."""
        ...

    def upstream_credential(self, secret: str) -> tuple[HeaderList, list[tuple[str, str]]]:
        """Headers and query parameters that carry the provider's credential upstream.

        Called once per provider at snapshot compile, never per request.
        """
        ...

    def usage_from_json(self, body: bytes, facts: RequestFacts) -> UsageResult:
        """Tokens and response model of a non-streamed JSON response; falls back to the request model."""
        ...

    def new_stream_tap(self, facts: RequestFacts, drop_usage_chunk: bool) -> StreamTap:
        """A fresh tap for one streamed response."""
        ...

    def error_response(self, err: GatewayError, request_id: str) -> tuple[int, HeaderList, bytes]:
        """The gateway's own error in the vendor's shape: status, extra headers, JSON body."""
        ...

    def stream_error_frame(self, err: GatewayError) -> bytes | None:
        """An in-stream error event in the vendor's SSE format, or None where the vendor has none."""
        ...

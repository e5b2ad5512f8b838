"""The three roles the relay talks to, as Protocols: client API, backend, and the translator between them.

- A **client API** is what the caller's SDK speaks (OpenAI chat/responses/embeddings, Anthropic
  messages, Gemini generateContent, Mistral, Azure deployments). It reads the request facts and
  renders every gateway-made error in the client's shape (a JSON body, or an in-stream error event).
- A **backend** is the vendor behind a target: default base URL, credential placement, the headers
  it expects, and the usage reader for its responses.
- A **translator** sits between one client API and one backend (`(client_api.name, backend.name)`).
  When both are the same vendor it is the backend's pass-through translator. It may rewrite the
  upstream request, the response headers, a non-streamed body and each stream chunk, keeping
  per-request state in the `Translation` it starts.

All three are built once at snapshot compile and shared by every request: immutable, no I/O, never
logging bodies or secrets. Per-request state lives only in a `StreamTap` or a `Translation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tollgate.errors import GatewayError
from tollgate.types import HeaderList, JSONObject
from tollgate.usage.record import UsageResult

__all__ = [
    "Backend",
    "ClientAPI",
    "IdentityTranslation",
    "PassThrough",
    "RequestFacts",
    "StreamTap",
    "Translation",
    "Translator",
    "UpstreamRequest",
]


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the client API read from the request once; shared with policies, translators and metering.

    `model` is the model the client asked for, None when it named none that the client API could
    read (missing, null, empty, not a string, or a path of an unknown shape). `is_streaming` is
    whether the client asked for a stream, whatever truthy value it used.
    """

    model: str | None
    is_streaming: bool


class UpstreamRequest:
    """The request as it will be sent to the chosen target; one per attempt, rewritten by translators.

    `path` is below the target's base path (the part after the route's context), `query` is raw
    (no leading `?`), `headers` are the client's headers minus credentials and hop-by-hop headers
    (the target adds its own), `body` is the exact bytes to send.
    """

    __slots__ = ("body", "headers", "method", "path", "query")

    def __init__(self, method: str, path: str, query: str, headers: HeaderList, body: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:  # never the body or headers: they may carry content or credentials
        return f"UpstreamRequest({self.method} {self.path!r})"


class StreamTap(Protocol):
    """Reads a response stream on the side; one per response, not thread-safe.

    A tap never changes or delays what the client receives: `feed` gets each chunk after it was
    queued to the client. It keeps only an incomplete trailing frame, never the whole stream, and
    skips malformed events instead of raising.
    """

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None:
        """End of stream: read an incomplete last frame (an event without its blank line still counts)."""
        ...

    def result(self) -> UsageResult:
        """Tokens and response model seen so far (call after `close`)."""
        ...

    @property
    def error(self) -> str | None:
        """The vendor's in-band error event, if the stream carried one: its type or code, else "stream_error"."""
        ...


class ClientAPI(Protocol):
    """What the caller's SDK speaks: request facts, and errors rendered in its shape (STYLE.md 2.2)."""

    #: the client API family, e.g. "openai", "anthropic", "gemini": the first half of a translator key
    name: str
    #: lower-case vendor credential headers the client may carry the gateway key in (never forwarded)
    client_key_headers: tuple[bytes, ...]
    #: query parameters that carry a vendor key (Gemini's `key`): never forwarded upstream
    client_key_query_params: tuple[str, ...]

    def endpoint(self, path: str) -> str:
        """Which of the API's endpoints `path` (below the context) addresses, e.g. "chat", "responses",
        "embeddings", "messages", "generate_content"; "other" for anything else. For translators and
        policies that treat endpoints differently; the relay itself never asks."""
        ...

    def reads_body(self, method: str, path: str) -> bool:
        """Whether the request facts need the JSON body parsed (model or stream flag in the body)."""
        ...

    def request_facts(self, path: str, query: str, body: JSONObject | None) -> RequestFacts:
        """The request model (body or path) and whether the client asked for a stream."""
        ...

    def error_response(self, err: GatewayError, request_id: str) -> tuple[int, HeaderList, bytes]:
        """A gateway-made error in the client's shape: status, extra headers, JSON body."""
        ...

    def stream_error_frame(self, err: GatewayError) -> bytes | None:
        """The same error as an in-stream event, for a stream already started; None where the API has none."""
        ...


class Backend(Protocol):
    """The vendor behind a target: where and how to call it, and how to read its usage."""

    #: the backend family, e.g. "openai", "azure-openai": the second half of a translator key
    name: str
    #: default upstream base URL (a provider's `upstreamUrl` overrides it)
    default_base_url: str | None
    #: lower-case header names sent upstream only when the client sent none (e.g. anthropic-version)
    default_headers: HeaderList
    #: the translator used when the client API is this backend's own (`client_api.name == name`)
    pass_through: Translator
    #: a stream may come as one JSON array with a Content-Length (Gemini without `alt=sse`): a 2xx to a
    #: streaming request is then relayed and metered as a stream, never read as one JSON object
    array_streams: bool

    def upstream_credential(self, secret: str) -> tuple[HeaderList, list[tuple[str, str]]]:
        """Headers and query parameters that carry the provider's credential upstream.

        Called once per provider at snapshot compile, never per request.
        """
        ...

    def usage_from_json(self, body: bytes, fallback_model: str | None) -> UsageResult:
        """Tokens and response model of a whole JSON response; `fallback_model` when it names none."""
        ...

    def new_stream_tap(self, fallback_model: str | None) -> StreamTap:
        """A fresh read-only tap for one streamed response of this backend."""
        ...

    def new_body_tap(self, fallback_model: str | None) -> StreamTap:
        """A fresh read-only tap for one non-streamed JSON body relayed in pieces (too large to hold,
        or of unknown length); it keeps a bounded part of the body, never all of it."""
        ...


class Translation(Protocol):
    """One request's translation state, created by `Translator.start`; not thread-safe.

    The relay calls, in order: `request` once per upstream attempt (it may change the path, query,
    headers or body of `req`), then either `response_body` (non-streamed) or `stream_chunk` for each
    chunk plus `stream_end` once. `response_headers` is called before the head goes to the client.
    A non-streamed backend error (status >= 400) goes through `error` instead of `response_body`.
    Any method may raise `GatewayError` to end the exchange in the client API's shape.
    """

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None: ...

    def response_headers(self, status: int, headers: HeaderList) -> HeaderList: ...

    def response_body(self, body: bytes) -> bytes: ...

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        """A backend error rendered in the client API's shape: status, response headers (as the client
        would get them) and body may all change, e.g. Anthropic's 529 becomes a 503 for an OpenAI
        client. Pass-through: unchanged."""
        ...

    def stream_chunk(self, chunk: bytes) -> bytes:
        """The bytes to send the client for this upstream chunk; b"" to hold everything back for now."""
        ...

    def stream_end(self) -> bytes:
        """End of the upstream stream: anything still held back, plus any closing event the client needs."""
        ...


class Translator(Protocol):
    """Turns one client API's requests into one backend's, and the backend's answers back.

    Immutable and shared; built at snapshot compile. `start` returns the per-request state, or None
    when this request needs no translation at all: the relay then forwards bytes untouched, which
    is what keeps pass-through free.
    """

    #: "<client>-><backend>", for logs and tests
    name: str

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None: ...


class IdentityTranslation:
    """A `Translation` that changes nothing: translators subclass it and override only what they rewrite."""

    __slots__ = ()

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None:
        return None

    def response_headers(self, status: int, headers: HeaderList) -> HeaderList:
        return headers

    def response_body(self, body: bytes) -> bytes:
        return body

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        return status, headers, body

    def stream_chunk(self, chunk: bytes) -> bytes:
        return chunk

    def stream_end(self) -> bytes:
        return b""


class PassThrough:
    """The translator of a backend spoken to in its own API: no request needs translating."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = f"{name}->{name}"

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None:
        return None

"""The cross-vendor translators as the relay sees them: `(client API, backend)` → `Translator`.

Each pair module (`openai_anthropic.py`, `anthropic_gemini.py`, …) holds the per-request logic as a
pure object (`translation.Translator`: request in, answers and stream chunks out). `PairTranslator`
adapts it to the pipeline's interface (`providers/base.py`): built once at import, shared by every
route, and `start` makes the per-request state for each upstream attempt.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from urllib.parse import unquote

from tollgate.errors import BadRequestError, RouteNotFoundError
from tollgate.providers import openai_helper
from tollgate.providers import translation as pure
from tollgate.providers.anthropic_gemini import AnthropicGeminiTranslator
from tollgate.providers.anthropic_openai import AnthropicOpenAITranslator
from tollgate.providers.base import (
    ClientAPI,
    IdentityTranslation,
    RequestFacts,
    Translation,
    Translator,
    UpstreamRequest,
)
from tollgate.providers.model_lists import MODELS_PATH, backend_models_request, lists_models, translate_models
from tollgate.providers.openai_anthropic import OpenAIAnthropicTranslator
from tollgate.providers.openai_azure import OpenAIAzureTranslator
from tollgate.providers.openai_gemini import OpenAIGeminiTranslator
from tollgate.providers.openai_mistral import OpenAIMistralTranslator
from tollgate.providers.registry import BUILTIN_TEMPLATES, build_template
from tollgate.types import HeaderList, JSONObject

__all__ = ["PAIR_TRANSLATORS", "ModelsTranslation", "PairTranslation", "PairTranslator", "client_api_named"]

_JSON = b"application/json"
_EVENT_STREAM = b"text/event-stream"
#: response headers a translated answer must not carry: they describe the backend's bytes
_RETRY_HINTS = frozenset({b"retry-after", b"retry-after-ms", b"x-should-retry"})
_BACKEND_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"content-encoding", b"etag"})


#: the client API's endpoints (`ClientAPI.endpoint`) as an error message names them
_ENDPOINT_NAMES = {
    "chat": "chat completions",
    "responses": "responses",
    "embeddings": "embeddings",
    "messages": "messages",
    "count_tokens": "token counting",
    "generate_content": "generateContent",
}
_VENDOR_NAMES = {
    "openai": "OpenAI",
    "openai-compatible": "OpenAI-compatible",
    "anthropic": "Anthropic",
    "gemini": "Gemini",
    "mistral": "Mistral",
    "azure-openai": "Azure OpenAI",
    "azure-ai-foundry": "Azure AI Foundry",
}


def _reshape_error(
    inner: pure.Translator, status: int, headers: HeaderList, body: bytes
) -> tuple[int, HeaderList, bytes]:
    """A backend error in the client's shape; its retry hints are rebuilt, other headers kept."""
    new_status, hints, new_body = inner.error(status, headers, body)
    names = {name for name, _ in hints} | _RETRY_HINTS
    return new_status, [*((n, v) for n, v in headers if n not in names), *hints], new_body


class PairTranslation:
    """One request's translation: the pure pair object driven through the relay's calls."""

    __slots__ = ("_held", "_inner", "_status", "_streaming", "_unserved")

    def __init__(self, inner: pure.Translator, unserved: Callable[[str, str], str]) -> None:
        self._inner = inner
        self._unserved = unserved
        self._streaming = False
        self._status = 200
        self._held: list[bytes] = []

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None:
        """Rewrite the upstream request (path, query, body) for the backend; a 404 naming any other
        endpoint, a 400 for what cannot go."""
        if req.method != "POST" or not req.path.endswith(self._inner.client_path):
            raise RouteNotFoundError(self._unserved(req.method, req.path))
        if body is None:
            raise BadRequestError("A translated route needs a JSON request body.")
        up = self._inner.request(req.path, req.query, body)
        req.path, req.query, req.body = up.path, up.query, up.body
        self._streaming = up.is_streaming

    def response_headers(self, status: int, headers: HeaderList) -> HeaderList:
        self._status = status
        kind = _EVENT_STREAM if self._streaming and status < 400 else _JSON
        kept = [(n, v) for n, v in headers if n not in _BACKEND_BODY_HEADERS]
        kept.append((b"content-type", kind))
        return kept

    def response_body(self, body: bytes) -> bytes:
        return self._inner.response_body(body)

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        return _reshape_error(self._inner, status, headers, body)

    def stream_chunk(self, chunk: bytes) -> bytes:
        if self._status >= 400:  # an error answered without a length: collect it (small), reshape at the end
            self._held.append(chunk)
            return b""
        return self._inner.stream_chunk(chunk)

    def stream_end(self) -> bytes:
        if self._status >= 400:
            return self._inner.error(self._status, [], b"".join(self._held))[2]
        return self._inner.stream_end()


class ModelsTranslation(IdentityTranslation):
    """A models list or one-model call (`GET /v1/models[/{id}]`) asked of the backend's own models
    endpoint and answered in the client API's shape (`model_lists.py`)."""

    __slots__ = ("_backend", "_client", "_errors", "_model_id")

    def __init__(self, client: str, backend: str, model_id: str | None, errors: pure.Translator) -> None:
        self._client = client
        self._backend = backend
        self._model_id = model_id
        self._errors = errors

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None:
        req.path, req.query = backend_models_request(self._backend, self._model_id)
        req.body = b""

    def response_headers(self, status: int, headers: HeaderList) -> HeaderList:
        kept = [(n, v) for n, v in headers if n not in _BACKEND_BODY_HEADERS]
        kept.append((b"content-type", _JSON))
        return kept

    def response_body(self, body: bytes) -> bytes:
        return translate_models(self._client, self._backend, body, single=self._model_id is not None)

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        return _reshape_error(self._errors, status, headers, body)


class PairTranslator:
    """A cross-vendor translator: immutable, shared; `start` makes one request's state."""

    __slots__ = ("_backend", "_client", "_lists_models", "_make", "name")

    def __init__(self, client: str, backend: str, make: Callable[[], pure.Translator]) -> None:
        self.name = f"{client}->{backend}"
        self._client = client
        self._backend = backend
        self._make = make
        self._lists_models = lists_models(backend)

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None:
        if self._lists_models and req.method == "GET" and (match := MODELS_PATH.match(req.path)) is not None:
            model_id = unquote(match.group(1)) if match.group(1) else None
            return ModelsTranslation(self._client, self._backend, model_id, self._make())
        return PairTranslation(self._make(), self.unserved)

    def unserved(self, method: str, path: str) -> str:
        """The 404 message for an endpoint this pair does not translate: it names the endpoint."""
        endpoint = _ENDPOINT_NAMES.get(client_api_named(self._client).endpoint(path))
        what = f"The {endpoint} endpoint ({method} {path})" if endpoint else f"{method} {path}"
        chat = "chat completions" if self._client == "openai" else "messages"
        extra = " and the models list" if self._lists_models else ""
        client, backend = _VENDOR_NAMES.get(self._client, self._client), _VENDOR_NAMES.get(self._backend, self._backend)
        return (
            f"{what} is not available on this route: it translates only {client} {chat}{extra} "
            f"to its {backend} backend."
        )


def _pairs() -> dict[tuple[str, str], Translator]:
    def pair(client: str, backend: str, make: Callable[[], pure.Translator]) -> tuple[tuple[str, str], Translator]:
        return (client, backend), PairTranslator(client, backend, make)

    return dict(
        [
            pair("openai", "anthropic", OpenAIAnthropicTranslator),
            pair("openai", "gemini", OpenAIGeminiTranslator),
            pair("openai", "mistral", OpenAIMistralTranslator),
            pair("openai", "azure-openai", OpenAIAzureTranslator),
            pair("openai", "azure-ai-foundry", lambda: OpenAIAzureTranslator(foundry=True)),
            pair("anthropic", "openai", lambda: AnthropicOpenAITranslator(openai_helper.OPENAI)),
            pair("anthropic", "openai-compatible", lambda: AnthropicOpenAITranslator(openai_helper.OPENAI_COMPATIBLE)),
            pair("anthropic", "mistral", lambda: AnthropicOpenAITranslator(openai_helper.MISTRAL)),
            pair("anthropic", "azure-openai", lambda: AnthropicOpenAITranslator(openai_helper.AZURE_OPENAI)),
            pair("anthropic", "azure-ai-foundry", lambda: AnthropicOpenAITranslator(openai_helper.AZURE_FOUNDRY)),
            pair("anthropic", "gemini", AnthropicGeminiTranslator),
        ]
    )


#: (client API name, backend name) → translator, for every cross-vendor pair Tollgate translates
PAIR_TRANSLATORS: Mapping[tuple[str, str], Translator] = MappingProxyType(_pairs())


@functools.cache
def client_api_named(name: str) -> ClientAPI:
    """The client API a route declares with `clientApi` (the built-in template's client half), built once."""
    return build_template(name, BUILTIN_TEMPLATES[name]).client

"""OpenAI Chat Completions client in front of Azure OpenAI or Azure AI Foundry.

Azure serves OpenAI's own API, so the body passes as the client sent it; what changes is where it
goes (`/openai/deployments/{model}/chat/completions?api-version=…`, or Foundry's
`/models/chat/completions` with the model in the body) and two answers no OpenAI client expects:
Azure's `choices: []` prompt-filter chunk, which crashes the documented stream loops, is dropped,
and Azure's error object (`{"error": {"code": "429", "message"}}`) is reshaped to OpenAI's.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson

from tollgate.errors import RouteNotFoundError
from tollgate.providers.error_shapes import ERROR_SHAPERS
from tollgate.providers.translation import (
    UntranslatableError,
    UpstreamRequest,
    backend_error_from,
    render_backend_error,
)
from tollgate.sse import SSEFrameSplitter, parse_frame
from tollgate.types import HeaderList, JSONObject

__all__ = ["DEFAULT_API_VERSION", "OpenAIAzureTranslator", "is_prompt_filter_chunk"]

DEFAULT_API_VERSION = "2024-10-21"
FOUNDRY_API_VERSION = "2024-05-01-preview"
_SHAPER = ERROR_SHAPERS["openai"]
_FILTER_NEEDLE = b"prompt_filter_results"


def is_prompt_filter_chunk(frame: bytes) -> bool:
    """Azure's first stream chunk: `choices: []`, prompt filter results and no usage."""
    if _FILTER_NEEDLE not in frame:
        return False
    data = parse_frame(frame)[1]
    try:
        obj = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and obj.get("choices") == [] and not obj.get("usage")


class OpenAIAzureTranslator:
    """One request, OpenAI client → Azure deployment (or Foundry model inference); not thread-safe.

    Parameters:
        api_version: the `api-version` Azure is called with (the client's own wins when it sent one).
        foundry: call Foundry's `/models/chat/completions` instead of the deployment path.
    """

    stream_content_type = b"text/event-stream"
    client_path = "/chat/completions"

    def __init__(self, *, api_version: str | None = None, foundry: bool = False) -> None:
        self.api_version = api_version or (FOUNDRY_API_VERSION if foundry else DEFAULT_API_VERSION)
        self.foundry = foundry
        self._splitter = SSEFrameSplitter()
        #: Azure sends its filter chunk first: once a frame has passed, chunks pass untouched
        self._past_head = False

    def request(self, path: str, query: str, body: JSONObject) -> UpstreamRequest:
        if not path.endswith("/chat/completions"):
            raise RouteNotFoundError(f"Only /chat/completions is served through translation, not {path!r}.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise UntranslatableError("model", "is required: it names the Azure deployment")
        up_path = (
            "/models/chat/completions"
            if self.foundry
            else f"/openai/deployments/{quote(model, safe='')}/chat/completions"
        )
        return UpstreamRequest(
            up_path, f"api-version={self.api_version}", orjson.dumps(body), body.get("stream") is True, model
        )

    def response_body(self, body: bytes) -> bytes:
        return body

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        return render_backend_error(_SHAPER, backend_error_from(status, headers, body, lambda obj: None))

    def stream_chunk(self, chunk: bytes) -> bytes:
        if self._past_head:
            return chunk
        kept = [f for f in self._splitter.feed(chunk) if not is_prompt_filter_chunk(f)]
        if kept:
            self._past_head = True
            kept.append(self._splitter.close())  # the rest of this chunk goes out as it came
        return b"".join(kept)

    def stream_end(self) -> bytes:
        tail = self._splitter.close()
        return b"" if is_prompt_filter_chunk(tail) else tail

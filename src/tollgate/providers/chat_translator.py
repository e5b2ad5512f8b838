"""`ChatTranslator`: one request's translation built from a client side and a backend side.

Each `<client>_<backend>.py` module subclasses it and names its halves: how the client's request is
read and its answers written (`openai_helper`, `anthropic_helper`), how the backend is asked and
read (`anthropic_helper`, `gemini_helper`, `openai_helper` with a dialect). Everything else (the
chat path check, errors, stream plumbing) is here, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from tollgate.errors import GatewayError, RouteNotFoundError
from tollgate.providers.conversation import ChatAnswer, ChatRequest, StreamWriter
from tollgate.providers.error_shapes import ErrorShaper
from tollgate.providers.translation import (
    EventTranslator,
    UpstreamRequest,
    backend_error_from,
    render_backend_error,
)
from tollgate.types import HeaderList, JSONObject

__all__ = ["ChatTranslator"]


class ChatTranslator:
    """Base of the pair translators; one instance per request, not thread-safe.

    Parameters:
        clock: the time source for OpenAI's `created` (tests pin it).
    """

    #: what the client gets for a stream
    stream_content_type = b"text/event-stream"
    #: the client's chat path suffix (`/chat/completions`, `/v1/messages`)
    client_path = ""
    #: the client API's error shape
    client_shaper: ErrorShaper

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._request: ChatRequest | None = None
        self._reader: EventTranslator | None = None

    # --- the halves a pair names -------------------------------------------------------------------

    def parse_client(self, body: JSONObject) -> ChatRequest:
        raise NotImplementedError

    def backend_request(self, req: ChatRequest, query: str) -> tuple[str, str, JSONObject]:
        """(path, query, body) of the backend request."""
        raise NotImplementedError

    def backend_answer(self, obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
        raise NotImplementedError

    def client_answer(self, answer: ChatAnswer, created: int) -> JSONObject:
        raise NotImplementedError

    def new_writer(self, req: ChatRequest, created: int) -> StreamWriter:
        raise NotImplementedError

    def new_reader(self, writer: StreamWriter, req: ChatRequest) -> EventTranslator:
        raise NotImplementedError

    def backend_error_kind(self, obj: JSONObject) -> str | None:
        return None

    # --- the Translator interface ------------------------------------------------------------------

    def request(self, path: str, query: str, body: JSONObject) -> UpstreamRequest:
        """Parse the client's chat request and render it for the backend (400 for what cannot be carried)."""
        if not path.endswith(self.client_path):
            raise RouteNotFoundError(f"Only {self.client_path} is served through translation, not {path!r}.")
        req = self.parse_client(body)
        self._request = req
        up_path, up_query, up_body = self.backend_request(req, query)
        if req.stream:
            self._reader = self.new_reader(self.new_writer(req, int(self._clock())), req)
        return UpstreamRequest(up_path, up_query, orjson.dumps(up_body), req.stream, req.model)

    def _model(self) -> str | None:
        return self._request.model if self._request is not None else None

    def response_body(self, body: bytes) -> bytes:
        """A whole backend answer (2xx JSON) in the client's shape."""
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            err = GatewayError("The backend answered with a body that is not a JSON object.", status=502)
            return self.client_shaper.body(err, "")
        answer = self.backend_answer(obj, self._model())
        return orjson.dumps(self.client_answer(answer, int(self._clock())))

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        """A backend error answer in the client's error shape, status and retry hints kept."""
        err = backend_error_from(status, headers, body, self.backend_error_kind)
        return render_backend_error(self.client_shaper, err)

    def stream_chunk(self, chunk: bytes) -> bytes:
        if self._reader is None:
            return chunk
        return self._reader.stream_chunk(chunk)

    def stream_end(self) -> bytes:
        if self._reader is None:
            return b""
        return self._reader.stream_end()

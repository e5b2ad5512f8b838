"""What every translator shares: the per-request interface, the 400 for what cannot be translated,
the neutral values requests are translated through, and backend errors re-shaped for the client.

A translator sits between one client API (what the caller's SDK speaks) and one backend (the
vendor behind the provider). It is created per request, keeps that request's stream state, and
is pure: bytes and decoded JSON in, bytes out, no I/O, no logging of bodies. Pairs are modules named
`<client>_<backend>.py` (envoy ai-gateway's layout, STYLE.md 1.3); vendor parsing they share sits in
`<vendor>_helper.py`.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from tollgate.errors import BadRequestError, GatewayError
from tollgate.providers.error_shapes import ERROR_SHAPERS, ErrorShaper, error_headers
from tollgate.sse import SSEFrameSplitter, parse_frame
from tollgate.types import HeaderList, JSONObject, JSONValue

__all__ = [
    "BackendError",
    "EventTranslator",
    "ImageRef",
    "ToolChoice",
    "ToolSpec",
    "Translator",
    "UntranslatableError",
    "UpstreamRequest",
    "as_text",
    "error_kind_for_status",
    "json_arguments",
    "parse_data_url",
    "parse_json_object",
    "render_backend_error",
    "retry_after_of",
]


class UntranslatableError(BadRequestError):
    """A request field the backend has no equivalent for: a 400 that names the field.

    Raised instead of dropping the field, so a client never gets an answer to a question it did
    not ask (a silently ignored `logprobs`, `n` or image type).
    """

    code = "unsupported_parameter"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """The translated request: backend path, query (without the leading `?`) and JSON body."""

    path: str
    query: str
    body: bytes
    is_streaming: bool
    #: the model the backend is asked for (for metering and model allow-lists)
    model: str | None


class Translator(Protocol):
    """One request's translation, client API → backend and back; not thread-safe.

    The relay calls `request` once, then either `response_body` (a whole 2xx JSON answer),
    `error` (a non-2xx answer), or `stream_chunk` for every chunk as it arrives and `stream_end`
    once. `stream_chunk` returns what the client gets now; it holds back only an incomplete frame.
    """

    #: content type of what the client gets for a 2xx stream
    stream_content_type: bytes
    #: the client's chat path suffix: the only POST the pair translates (`/chat/completions`, `/v1/messages`)
    client_path: str

    def request(self, path: str, query: str, body: JSONObject) -> UpstreamRequest: ...

    def response_body(self, body: bytes) -> bytes: ...

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]: ...

    def stream_chunk(self, chunk: bytes) -> bytes: ...

    def stream_end(self) -> bytes: ...


# --- neutral values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image in a message: inline base64 data with its media type, or a URL."""

    media_type: str | None
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function tool: name, description and JSON Schema of its arguments."""

    name: str
    description: str | None
    schema: JSONObject


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`mode` is auto, none or required; `name` forces one tool; `parallel` False forbids several calls."""

    mode: str = "auto"
    name: str | None = None
    parallel: bool | None = None


def parse_data_url(url: str, field: str) -> ImageRef:
    """`data:<media type>;base64,<data>` → an inline image; anything else is kept as a URL.

    Only base64 data URLs carry an image every vendor accepts; a malformed one is a 400 naming the field.
    """
    if not url.startswith("data:"):
        if not url.startswith(("http://", "https://")):
            raise UntranslatableError(field, "an image URL must be http(s) or a base64 data URL")
        return ImageRef(media_type=None, url=url)
    head, sep, data = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if not sep or encoding != "base64" or not media_type:
        raise UntranslatableError(field, "a data URL image must be 'data:<media type>;base64,<data>'")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UntranslatableError(field, "the image data is not valid base64") from None
    return ImageRef(media_type=media_type, data=data)


def as_text(value: JSONValue, field: str) -> str:
    """A message content that must be text: a string, or a list of text parts joined."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        texts: list[str] = []
        for index, part in enumerate(value):
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(str(part["text"]))
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise UntranslatableError(f"{field}[{index}]", f"only text can be translated here, not {kind!r}")
        return "".join(texts)
    raise UntranslatableError(field, "must be a string or a list of text parts")


def parse_json_object(text: str, field: str) -> JSONObject:
    """Tool-call arguments as an object; a 400 naming the field when they are not a JSON object."""
    if not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise UntranslatableError(field, "tool call arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise UntranslatableError(field, "tool call arguments must be a JSON object")
    return value


def json_arguments(value: JSONValue) -> str:
    """Tool-call arguments as the JSON text OpenAI-style APIs carry."""
    return orjson.dumps(value if isinstance(value, dict) else {}).decode()


# --- backend errors in the client's shape --------------------------------------------------------

_KIND_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_kind_for_status(status: int) -> str:
    """The vendor-neutral error kind (GatewayError.kind vocabulary) of an HTTP status."""
    kind = _KIND_BY_STATUS.get(status)
    if kind is not None:
        return kind
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


class BackendError(GatewayError):
    """An error the backend answered, carried over to the client API's shape (status kept)."""

    code = "upstream_error"

    def __init__(self, status: int, message: str, *, kind: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after, status=status)
        self.kind = kind or error_kind_for_status(status)


def retry_after_of(headers: HeaderList) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds form), or None."""
    seconds: float | None = None
    for name, value in headers:
        try:
            if name == b"retry-after-ms":
                return max(0.0, float(value) / 1000.0)
            if name == b"retry-after":
                seconds = max(0.0, float(value))
        except ValueError:
            continue
    return seconds if seconds is None or math.isfinite(seconds) else None


#: the longest backend error text passed on when the body is not JSON
_MAX_TEXT = 500


def _message_of(obj: JSONObject) -> str | None:
    error = obj.get("error")
    if isinstance(error, list) and error and isinstance(error[0], dict):
        error = error[0]  # Google sometimes wraps the error in a one-element list
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    message = obj.get("message")
    return message if isinstance(message, str) else None


def backend_error_from(
    status: int, headers: HeaderList, body: bytes, kind_of: Callable[[JSONObject], str | None]
) -> BackendError:
    """A `BackendError` from one backend answer; `kind_of` reads the vendor's own error type."""
    obj: JSONValue = None
    try:
        obj = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        obj = None
    message: str | None = None
    kind: str | None = None
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        obj = obj[0]
    if isinstance(obj, dict):
        message = _message_of(obj)
        kind = kind_of(obj)
    if message is None:
        text = body.decode("utf-8", "replace").strip()[:_MAX_TEXT]
        message = text or f"The backend answered HTTP {status}."
    return BackendError(status, message, kind=kind, retry_after=retry_after_of(headers))


def render_backend_error(shaper: ErrorShaper, err: GatewayError, request_id: str = "") -> tuple[int, HeaderList, bytes]:
    """Status, headers and body of `err` in the client API's shape."""
    return err.status, error_headers(err), shaper.body(err, request_id)


def client_shaper(error_format: str) -> ErrorShaper:
    return ERROR_SHAPERS[error_format]


# --- streams ------------------------------------------------------------------------------------


class EventTranslator:
    """Base for stream translation: cuts the backend stream into SSE events with the one splitter and
    hands each decoded JSON event to `on_event`, which returns the client frames it produces.

    Holds back only an incomplete frame; a frame whose data is not JSON (`[DONE]`) is passed to
    `on_data` raw. Output order is event order, so the client sees each event as soon as its last
    byte has arrived.
    """

    def __init__(self) -> None:
        self._splitter = SSEFrameSplitter()

    def on_event(self, event: bytes | None, obj: JSONObject) -> list[bytes]:
        raise NotImplementedError

    def on_data(self, event: bytes | None, data: bytes) -> list[bytes]:
        """A frame whose data is not a JSON object (`[DONE]`); ignored unless overridden."""
        return []

    def on_end(self) -> list[bytes]:
        """End of the backend stream: frames that close the client's stream."""
        return []

    def _frames(self, frames: list[bytes]) -> bytes:
        out: list[bytes] = []
        for frame in frames:
            event, data = parse_frame(frame)
            if data is None:
                continue
            obj: JSONValue = None
            if data[:1] in (b"{", b" ", b"\t"):
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    obj = None
            if isinstance(obj, dict):
                out.extend(self.on_event(event, obj))
            else:
                out.extend(self.on_data(event, data.strip()))
        return b"".join(out)

    def stream_chunk(self, chunk: bytes) -> bytes:
        return self._frames(self._splitter.feed(chunk))

    def stream_end(self) -> bytes:
        tail = self._splitter.close()
        head = self._frames([tail]) if tail.strip() else b""
        return head + b"".join(self.on_end())

"""The gateway's own errors in each vendor's wire shape: one shaper per vendor error format.

Each SDK picks its exception class from the HTTP status and reads the message from the vendor's
own JSON (sdk-contract.md §5), so a shaper only maps `GatewayError.kind` to the vendor's type
string and fills the fields the SDKs read. Shapers never see bodies or secrets, only the error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from tollgate.errors import GatewayError
from tollgate.types import HeaderList, JSONObject

__all__ = [
    "ERROR_SHAPERS",
    "ErrorShaper",
    "error_headers",
]

_JSON_HEADER = (b"content-type", b"application/json")
#: 4xx statuses a client may retry: timeout, conflict, rate limit.
_RETRYABLE_4XX = frozenset({408, 409, 429})


def error_headers(err: GatewayError) -> HeaderList:
    """Content type plus the retry hints openai and anthropic honour.

    `retry-after` is whole seconds rounded up, `retry-after-ms` is exact; `x-should-retry: false`
    stops the SDKs' default retries on a 4xx that retrying cannot fix.
    """
    headers: HeaderList = [_JSON_HEADER]
    if err.retry_after is not None:
        delay = max(0.0, err.retry_after)
        headers.append((b"retry-after", str(math.ceil(delay)).encode()))
        headers.append((b"retry-after-ms", str(math.ceil(delay * 1000)).encode()))
    if 400 <= err.status < 500 and err.status not in _RETRYABLE_4XX:
        headers.append((b"x-should-retry", b"false"))
    if err.headers:
        headers.extend(err.headers)
    return headers


# --- OpenAI (also Azure OpenAI, Azure AI Foundry, OpenAI-compatible servers) --------------------

_OPENAI_TYPES = {
    "api_error": "server_error",
    "timeout_error": "timeout",
    "request_too_large": "invalid_request_error",
}


def _openai_error(err: GatewayError) -> JSONObject:
    kind = _OPENAI_TYPES.get(err.kind, err.kind)
    return {"error": {"message": err.message, "type": kind, "param": None, "code": err.code}}


def openai_error_body(err: GatewayError, request_id: str) -> bytes:
    """`{"error": {"message", "type", "param", "code"}}`; the SDK's `.message` reads error.message."""
    return orjson.dumps(_openai_error(err))


def openai_error_frame(err: GatewayError) -> bytes:
    """`data: {"error": {...}}`: the OpenAI SDK raises `APIError` with error.message."""
    return b"data: " + orjson.dumps(_openai_error(err)) + b"\n\n"


# --- Anthropic ---------------------------------------------------------------------------------

_ANTHROPIC_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
    }
)
_ANTHROPIC_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _anthropic_type(err: GatewayError) -> str:
    if err.status == 529:
        return "overloaded_error"
    if err.kind in _ANTHROPIC_TYPES:
        return err.kind
    return _ANTHROPIC_BY_STATUS.get(err.status, "api_error")


def anthropic_error_body(err: GatewayError, request_id: str) -> bytes:
    """`{"type": "error", "error": {"type", "message"}, "request_id"}` with Anthropic's type strings."""
    return orjson.dumps(
        {"type": "error", "error": {"type": _anthropic_type(err), "message": err.message}, "request_id": request_id}
    )


def anthropic_error_frame(err: GatewayError) -> bytes:
    """`event: error` frame: the anthropic SDK raises `APIStatusError` from it."""
    body = orjson.dumps({"type": "error", "error": {"type": _anthropic_type(err), "message": err.message}})
    return b"event: error\ndata: " + body + b"\n\n"


# --- Gemini (Google APIs) ----------------------------------------------------------------------

_GOOGLE_STATUS = {
    "authentication_error": "UNAUTHENTICATED",
    "permission_error": "PERMISSION_DENIED",
    "not_found_error": "NOT_FOUND",
    "invalid_request_error": "INVALID_ARGUMENT",
    "request_too_large": "INVALID_ARGUMENT",
    "rate_limit_error": "RESOURCE_EXHAUSTED",
    "timeout_error": "DEADLINE_EXCEEDED",
}


def _google_status(err: GatewayError) -> str:
    status = _GOOGLE_STATUS.get(err.kind)
    if status is not None:
        return status
    if err.status in (502, 503):
        return "UNAVAILABLE"
    return "INVALID_ARGUMENT" if 400 <= err.status < 500 else "INTERNAL"


def _gemini_error(err: GatewayError) -> JSONObject:
    # Google's `code` is the HTTP status; the gateway's own code goes in an ErrorInfo detail.
    details: list[JSONObject] = [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": err.code.upper(), "domain": "tollgate"}
    ]
    if err.retry_after is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{math.ceil(err.retry_after)}s"}
        )
    return {
        "error": {"code": err.status, "message": err.message, "status": _google_status(err), "details": list(details)}
    }


def gemini_error_body(err: GatewayError, request_id: str) -> bytes:
    """`{"error": {"code", "message", "status", "details"}}` with Google's canonical status strings."""
    return orjson.dumps(_gemini_error(err))


def gemini_error_frame(err: GatewayError) -> bytes:
    """`data: {"error": {...}}` with CRLF framing, as Google streams; google-genai raises from it."""
    return b"data: " + orjson.dumps(_gemini_error(err)) + b"\r\n\r\n"


# --- Mistral -----------------------------------------------------------------------------------

_MISTRAL_TYPES = {"rate_limit_error": "rate_limited", "timeout_error": "timeout", "api_error": "internal_error"}


def _mistral_error(err: GatewayError) -> JSONObject:
    kind = _MISTRAL_TYPES.get(err.kind, err.kind)
    return {"object": "error", "message": err.message, "type": kind, "param": None, "code": err.code}


def mistral_error_body(err: GatewayError, request_id: str) -> bytes:
    """`{"object": "error", "message", "type", "param", "code"}`; the OpenAI SDK reads the top-level message."""
    return orjson.dumps(_mistral_error(err))


def mistral_error_frame(err: GatewayError) -> bytes:
    """OpenAI-style `data: {"error": ...}` envelope around Mistral's error object.

    Mistral defines no in-stream error; OpenAI SDK clients (which Mistral serves on the same path)
    raise `APIError` with its message, and the Mistral SDK raises a validation error: either way
    the client sees a failure instead of a silently truncated answer.
    """
    return b"data: " + orjson.dumps({"error": _mistral_error(err)}) + b"\n\n"


@dataclass(frozen=True, slots=True)
class ErrorShaper:
    """The two renderings of one vendor error format: a JSON response body and an SSE frame."""

    body: Callable[[GatewayError, str], bytes]
    frame: Callable[[GatewayError], bytes]


#: error format name (TemplateSpec.error_format) → its shaper
ERROR_SHAPERS: dict[str, ErrorShaper] = {
    "openai": ErrorShaper(openai_error_body, openai_error_frame),
    "anthropic": ErrorShaper(anthropic_error_body, anthropic_error_frame),
    "gemini": ErrorShaper(gemini_error_body, gemini_error_frame),
    "mistral": ErrorShaper(mistral_error_body, mistral_error_frame),
}

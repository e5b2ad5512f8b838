"""Wire helpers shared by the vendor mocks: JSON bodies and responses, SSE frames, credential checks.

Only byte-level framing lives here; what goes inside a frame is each vendor module's business.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tollgate.types import JSONObject, JSONValue

#: The terminator OpenAI-style streams (OpenAI, Mistral, Azure) end with.
DONE_FRAME = b"data: [DONE]\n\n"


def json_response(body: JSONValue, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response labelled exactly `application/json` (the Mistral SDK rejects anything else)."""
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def sse_frame(data: JSONValue, *, event: str | None = None, crlf: bool = False) -> bytes:
    """One SSE event: optional `event:` line, one `data: ` line (with the space), blank line."""
    eol = b"\r\n" if crlf else b"\n"
    head = b"event: " + event.encode() + eol if event else b""
    return head + b"data: " + orjson.dumps(data) + eol + eol


async def read_json_object(request: Request) -> JSONObject | None:
    """The request body as a JSON object, or None when it is empty, malformed or not an object."""
    raw = await request.body()
    try:
        value = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def same_key(presented: str | None, expected: str) -> bool:
    """Constant-time key comparison; a missing key never matches."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())

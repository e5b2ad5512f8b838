"""The JSON body of a management API request, decoded once per request and shared.

An apply body is read by the permission check (which kinds does it write?), by the audit hook (what
will it touch?) and by the route. Decoding 10,000 documents three times on the event loop stalled
every other request for seconds, so the first caller decodes it (orjson) and the rest reuse it.
"""

from __future__ import annotations

from typing import Final

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError

#: What `json_body` returns for a body that is not JSON (callers that only peek treat it as "no body").
INVALID: Final = object()


async def json_body(request: Request) -> object:
    """The decoded body (None when empty, `INVALID` when not JSON), decoded at most once per request."""
    state = request.state
    if not hasattr(state, "json_body"):
        raw = await request.body()
        try:
            state.json_body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as exc:
            state.json_body = INVALID
            state.json_error = str(exc)
    return state.json_body


def require_json(request: Request, body: object) -> object:
    """`body` (from `json_body`), or the same 400 / 422 FastAPI gives a body parameter: not JSON, or missing."""
    if body is INVALID:
        error = getattr(request.state, "json_error", "invalid JSON")
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error", "ctx": {"error": error}}]
        )
    if body is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    return body

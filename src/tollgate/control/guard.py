"""`AdminGuard`: pure ASGI middleware in front of the management API: back-off, token, body cap, in that order.

Why middleware and not the route dependency alone: FastAPI reads and parses a request body before a
dependency runs, so a keyless client could make the API buffer and decode any size of body. Here the
token is checked from the headers before one body byte is read, a client that keeps presenting bad
tokens is answered 429 without a check at all, and a body is read (bounded) only for an accepted
request. Pure ASGI (not `BaseHTTPMiddleware`): no context-variable loss and no extra task per request.
The route dependency (`control.auth.require_permission`) still checks too, and decides the role's
permissions; this guard only refuses earlier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate.gcpause import full_collections_paused
from tollgate.security.backoff import FailureBackoff, retry_after_header
from tollgate.security.fingerprint import fingerprint

log = logging.getLogger("tollgate.security")

#: Largest management API request body accepted (bytes); larger ones get 413 before being read.
DEFAULT_ADMIN_MAX_BODY = 16 * 1024 * 1024
#: Bodies from this size on (a bulk apply of a few thousand documents) pause full garbage collections
#: while the request runs.
LARGE_BODY = 1024 * 1024
_BEARER = b"bearer "
#: What a 401 says is accepted: users log in with their own tokens; the env token is the bootstrap admin.
_ACCEPTED = "a user's token (from `tollgate login` or `tollgate tokens create`) or the value of TOLLGATE_ADMIN_TOKEN"


class AdminGuard:
    """Wraps the management API app (`app`). Requests under `guarded_prefix`, except `public_paths`,
    need a bearer token that `verify(token)` accepts (run in a worker thread: it may query the store);
    a truthy answer is kept in the request's state as `principal`, so the route need not verify again.
    Every request body is capped at `max_body` bytes (Content-Length checked first, then while reading).
    `backoff` counts bad tokens per client address; a blocked client gets 429 with Retry-After.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verify: Callable[[str], object],
        backoff: FailureBackoff,
        max_body: int = DEFAULT_ADMIN_MAX_BODY,
        guarded_prefix: str = "/api/v1",
        public_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self._verify = verify
        self._backoff = backoff
        self._max_body = max_body
        self._prefix = guarded_prefix
        self._public = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if self._is_guarded(path):
            refusal = await self._check_token(scope, headers)
            if refusal is not None:
                await refusal(send)
                return
        length = _content_length(headers)
        if length is not None and length > self._max_body:
            await _Reply(413, "payload_too_large", f"request body over {self._max_body} bytes")(send)
            return
        body = await self._read_body(receive)
        if body is None:  # over the cap while arriving (chunked), or the client left
            await _Reply(413, "payload_too_large", f"request body over {self._max_body} bytes")(send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        if len(body) < LARGE_BODY:
            await self.app(scope, replay, send)
            return
        with full_collections_paused():  # a large apply: see `tollgate.gcpause`
            await self.app(scope, replay, send)

    def _is_guarded(self, path: str) -> bool:
        prefix = self._prefix
        return (path == prefix or path.startswith(prefix + "/")) and path not in self._public

    async def _check_token(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> _Reply | None:
        client = _client_of(scope)
        wait = self._backoff.retry_after(client)
        if wait is not None:
            return _Reply(429, "too_many_requests", "too many failed tokens; retry later", wait)
        token = _bearer_token(headers)
        if token is None:
            return _Reply(401, "unauthorized", f"missing token: send 'Authorization: Bearer <token>' with {_ACCEPTED}")
        principal = await asyncio.to_thread(self._verify, token)
        if principal:
            scope.setdefault("state", {})["principal"] = principal
            return None
        blocked = self._backoff.record_failure(client)
        log.warning(
            "management API token rejected: client=%s fp=%s %s %.100r",
            client,
            fingerprint(token),
            scope["method"],
            scope["path"],
        )
        if blocked is not None:
            log.warning(
                "client %s blocked for %.0f s after %d failed tokens", client, blocked, self._backoff.max_failures
            )
            return _Reply(429, "too_many_requests", "too many failed tokens; retry later", blocked)
        return _Reply(401, "unauthorized", f"invalid, expired or revoked token: send {_ACCEPTED}")

    async def _read_body(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


class _Reply:
    """A complete JSON error response in the management API's shape (`control.errors`)."""

    def __init__(self, status: int, kind: str, message: str, retry_after: float | None = None) -> None:
        self.body = orjson.dumps({"error": {"status": status, "type": kind, "message": message, "errors": []}})
        self.headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(self.body))]
        if status == 401:
            self.headers.append((b"www-authenticate", b"Bearer"))
        if retry_after is not None:
            self.headers.append((b"retry-after", retry_after_header(retry_after).encode()))
        if status == 413:
            self.headers.append((b"connection", b"close"))
        self.status = status

    async def __call__(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def _client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


def _bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            if value[:7].lower() != _BEARER:
                return None
            token = value[7:].strip()
            return token.decode("latin-1") if token else None
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

"""One HTTP request as the data-plane handler sees it: the head at once, the body on demand.

The connection (`server.py`) feeds the body in; `Request.read_body` is the handler's only way to
get it, bounded by a limit. No parsing and no socket here.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from tollgate.errors import GatewayError, PayloadTooLargeError
from tollgate.gateway.server_limits import DEFAULT_MAX_BODY, ServerLimits
from tollgate.types import HeaderList

# Body states of a request.
BUFFERING = 0  # arriving; the handler has not asked yet (held up to PREREAD)
READING = 1  # the handler waits in read_body
TAKEN = 2  # handed to the handler
DISCARD = 3  # dropped as it arrives: refused, over the limit, or the handler ended without it


class ClientGoneError(ConnectionError):
    """The client closed its connection while we were still answering."""


class BodySource(Protocol):
    """What a request needs from its connection to read its body (`server.Connection`)."""

    limits: ServerLimits

    def refuse_body(self, req: Request) -> None: ...

    async def wait_body(self, req: Request) -> None: ...


class Request:
    """One request, handed to the handler once its head is parsed: raw path and query, lower-cased
    header names; the body stays on the wire until the handler awaits `read_body`.

    One per request, event-loop only. Detached from its connection when the handler returns.
    """

    __slots__ = (
        "_buf",
        "_complete",
        "_conn",
        "_error",
        "_expect",
        "_first",
        "_limit",
        "_received",
        "_state",
        "_waiter",
        "content_length",
        "headers",
        "http10",
        "keep_alive",
        "method",
        "path",
        "query",
        "started",
    )

    def __init__(self, conn: BodySource | None = None, limit: int = DEFAULT_MAX_BODY) -> None:
        self.method = ""
        self.path = ""
        self.query = ""
        self.headers: HeaderList = []
        self.keep_alive = True
        self.http10 = False
        self.started = 0.0
        #: the declared body length, None when chunked or absent
        self.content_length: int | None = None
        self._conn = conn
        self._first = b""
        self._buf: bytearray | None = None
        self._received = 0
        self._limit = limit
        self._complete = False
        self._expect = False
        self._state = BUFFERING
        self._error: GatewayError | None = None
        self._waiter: asyncio.Future[None] | None = None

    def header(self, name: bytes) -> bytes | None:
        """First value of a (lower-case) header, or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def read_body(self, limit: int | None = None) -> bytes:
        """The whole body, at most `limit` bytes (never more than the server's `max_body`).

        Raises `PayloadTooLargeError` at once when the declared length is over the limit (nothing is
        read) or as soon as a chunked body passes it; `BadRequestError` (408) when the body stops
        arriving for `body_timeout`; `ClientGoneError` when the connection is gone. `Expect:
        100-continue` is answered here, not before. Read once: a second call raises RuntimeError.
        """
        conn = self._conn
        if conn is None:
            raise ClientGoneError("the request is no longer being answered")
        if self._state == TAKEN:
            raise RuntimeError("the request body was already read")
        if self._error is not None:
            raise self._error
        cap = conn.limits.max_body if limit is None else min(limit, conn.limits.max_body)
        if self._received > cap or (self.content_length or 0) > cap:
            conn.refuse_body(self)
            self._error = PayloadTooLargeError(f"Request body is larger than {cap} bytes.")
            raise self._error
        if not self._complete:
            self._limit = cap
            self._state = READING
            await conn.wait_body(self)
        self._state = TAKEN
        buf = self._buf
        data = self._first if buf is None else bytes(buf)
        self._first = b""
        self._buf = None
        return data

    def drop_body(self) -> None:
        """Forget the body bytes held (the handler ended without them, or they were refused)."""
        self._first = b""
        self._buf = None

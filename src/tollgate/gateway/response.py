"""Writing HTTP/1.1 responses on a client connection: whole, or streamed as chunks arrive.

The base of `server.Connection`, which owns the socket and the request state; this part only
frames what the handler sends (Content-Length or chunked, nothing for HEAD, 204 and 304) and
waits when the client reads slower than we write.
"""

from __future__ import annotations

import asyncio

from tollgate.gateway.headers import header_lines
from tollgate.gateway.request import ClientGoneError, Request
from tollgate.types import HeaderList

_REASONS = {
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    204: b"No Content",
    301: b"Moved Permanently",
    302: b"Found",
    304: b"Not Modified",
    400: b"Bad Request",
    401: b"Unauthorized",
    402: b"Payment Required",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    409: b"Conflict",
    413: b"Payload Too Large",
    415: b"Unsupported Media Type",
    422: b"Unprocessable Entity",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    529: b"Site Overloaded",
}
_STATUS_LINES: dict[int, bytes] = {}
_NO_BODY_STATUS = frozenset({204, 304})


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Status"))
        _STATUS_LINES[status] = line
    return line


class ResponseWriter(asyncio.Protocol):
    """The response half of a client connection (see `server.Connection`)."""

    __slots__ = (
        "_chunked",
        "_current",
        "_drain_waiter",
        "_loop",
        "_no_body",
        "_stream_head",
        "_write_paused",
        "closed",
        "response_started",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._current: Request | None = None
        self._chunked = True
        self._no_body = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        #: whether the current request's response head has been written
        self.response_started = False
        self._stream_head = b""
        self.transport: asyncio.Transport | None = None
        self.closed = False

    @staticmethod
    def _drainable(req: Request) -> bool:
        """Whether an unread rest of `req`'s body can be dropped while keeping the connection."""
        raise NotImplementedError

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- writing, called by the handler -----------------------------------------------------------
    def send_response(self, status: int, headers: HeaderList, body: bytes, keep_alive: bool = True) -> None:
        """A complete response with a Content-Length (none, and no body, for 204/304; no body to HEAD)."""
        if self.closed or self.transport is None:
            return
        self.response_started = True
        current = self._current
        if current is not None:
            if not keep_alive or (not current._complete and not self._drainable(current)):
                current.keep_alive = False
            parts = [status_line(status), header_lines(headers)]
            if current.method == "HEAD":  # the length a GET would get, no body (RFC 9110 9.3.2)
                if body:
                    parts.append(b"content-length: %d\r\n" % len(body))
                body = b""
            else:
                if status not in _NO_BODY_STATUS:
                    parts.append(b"content-length: %d\r\n" % len(body))
                else:
                    body = b""
            if not current.keep_alive:
                parts.append(b"connection: close\r\n")
        else:
            parts = [status_line(status), header_lines(headers), b"content-length: %d\r\n" % len(body)]
        parts.append(b"\r\n")
        parts.append(body)
        self.transport.write(b"".join(parts))

    def start_stream(self, status: int, headers: HeaderList, content_length: int | None = None) -> None:
        """Response head of a body sent in pieces: chunked, or raw when `content_length` is given.

        HTTP/1.0 clients cannot read chunked framing: they get the bare body, ended by closing."""
        if self.closed or self.transport is None:
            raise ClientGoneError("client disconnected")
        self.response_started = True
        current = self._current
        self._no_body = current is not None and current.method == "HEAD"
        parts = [status_line(status), header_lines(headers)]
        if content_length is not None:
            self._chunked = False
            parts.append(b"content-length: %d\r\n" % content_length)
        else:
            self._chunked = current is None or not current.http10
            if self._chunked:
                parts.append(b"transfer-encoding: chunked\r\n")
            elif current is not None:
                current.keep_alive = False
        if current is not None:
            if not current._complete and not self._drainable(current):
                current.keep_alive = False
            if not current.keep_alive:
                parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        # Held until the first chunk, so head and first bytes leave in one write (one syscall).
        self._stream_head = b"".join(parts)

    def _framed(self, data: bytes) -> bytes:
        if self._no_body:
            data = b""
        framed = (b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data) if data else b""
        head = self._stream_head
        if head:
            self._stream_head = b""
            return head + framed
        return framed

    async def write_chunk(self, data: bytes) -> None:
        """Send one chunk now; waits only when the client reads slower than we write."""
        if self.closed or self.transport is None:
            raise ClientGoneError("client disconnected")
        out = self._framed(data)
        if out:
            self.transport.write(out)
        if self._write_paused:
            self._drain_waiter = self._loop.create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    def end_stream(self, last: bytes = b"") -> None:
        """End the stream, with `last` as its final chunk: whatever is pending leaves in one write."""
        if self.closed or self.transport is None:
            return
        out = self._framed(last)
        if self._chunked and not self._no_body:
            out += b"0\r\n\r\n"
        if out:
            self.transport.write(out)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close without a clean end, so the client sees a broken response rather than a short one."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

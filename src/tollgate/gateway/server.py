"""The data plane's HTTP/1.1 server: an asyncio Protocol over the httptools C parser.

Chosen by measurement over uvicorn and aiohttp (docs/benchmarks.md): a generic ASGI or aiohttp
server costs several times more CPU per request than everything else the gateway does. This module
only frames HTTP; what a request means is the handler's business (`relay.py`). It does not do
HTTP/2, upgrades or request streaming (bodies are read whole, bounded by `max_body`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

import httptools

from tollgate.gateway.headers import header_lines
from tollgate.types import HeaderList

#: Pipelined requests queued on one connection before the server stops reading from it.
MAX_PIPELINED = 16
#: Hard cap on a request body read into memory, whatever a route allows.
DEFAULT_MAX_BODY = 64 * 1024 * 1024

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
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    529: b"Site Overloaded",
}
_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Status"))
        _STATUS_LINES[status] = line
    return line


class Request:
    """One parsed request: raw path and query, lower-cased header names, whole body."""

    __slots__ = ("body", "body_too_large", "headers", "http10", "keep_alive", "method", "path", "query", "started")

    def __init__(self) -> None:
        self.method = ""
        self.path = ""
        self.query = ""
        self.headers: HeaderList = []
        self.body = b""
        self.body_too_large = False
        self.keep_alive = True
        self.http10 = False
        self.started = 0.0

    def header(self, name: bytes) -> bytes | None:
        """First value of a (lower-case) header, or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


#: The request handler: called once per request, answers through the connection.
Handler = Callable[[Request, "Connection"], Awaitable[None]]


class ClientGoneError(ConnectionError):
    """The client closed its connection while we were still answering."""


class Connection(asyncio.Protocol):
    """One client connection. Requests on it are answered in order (pipelining is queued)."""

    __slots__ = (
        "_body_parts",
        "_body_size",
        "_chunked",
        "_current",
        "_drain_waiter",
        "_handler",
        "_headers",
        "_loop",
        "_max_body",
        "_parser",
        "_pending",
        "_rejected",
        "_stream_head",
        "_task",
        "_url",
        "_write_paused",
        "closed",
        "peer",
        "response_started",
        "transport",
    )

    def __init__(self, handler: Handler, loop: asyncio.AbstractEventLoop, max_body: int) -> None:
        self._handler = handler
        self._loop = loop
        self._max_body = max_body
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: HeaderList = []
        self._body_parts: list[bytes] = []
        self._body_size = 0
        self._current: Request | None = None
        self._pending: deque[Request] = deque()
        self._rejected: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._chunked = True
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        #: whether the current request's response head has been written
        self.response_started = False
        self._stream_head = b""
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.peer: str = ""

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else ""

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ClientGoneError("client disconnected"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The request itself was parsed and gets a normal answer (a server may ignore Upgrade,
            # RFC 9110 7.8); the bytes after it are another protocol, so close after answering.
            last = self._pending[-1] if self._pending else self._current
            if last is None or self.transport is None:
                self._reject(b"upgrade not supported")
            else:
                last.keep_alive = False
                self.transport.pause_reading()
        except httptools.HttpParserError:
            self._reject(b"malformed HTTP request")

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- httptools callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body_parts = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            if name == b"expect" and value.lower() == b"100-continue" and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size <= self._max_body:
            self._body_parts.append(body)

    def on_message_complete(self) -> None:
        req = Request()
        url = self._url
        qpos = url.find(b"?")
        if qpos >= 0:
            req.path = url[:qpos].decode("latin-1")
            req.query = url[qpos + 1 :].decode("latin-1")
        else:
            req.path = url.decode("latin-1")
        req.method = self._parser.get_method().decode("ascii")
        req.headers = self._headers
        parts = self._body_parts
        req.body = parts[0] if len(parts) == 1 else b"".join(parts)
        req.body_too_large = self._body_size > self._max_body
        req.keep_alive = self._parser.should_keep_alive()
        req.http10 = self._parser.get_http_version() == "1.0"
        req.started = self._loop.time()
        if self._current is None:
            self._start(req)
        else:
            self._pending.append(req)
            if len(self._pending) >= MAX_PIPELINED and self.transport is not None:
                self.transport.pause_reading()  # a client may queue requests, not without bound

    # -- request lifecycle ------------------------------------------------------------------------
    def _start(self, req: Request) -> None:
        self._current = req
        self.response_started = False
        self._task = self._loop.create_task(self._run(req))

    async def _run(self, req: Request) -> None:
        try:
            await self._handler(req, self)
        except (asyncio.CancelledError, ClientGoneError):
            self.abort()
            return
        except Exception:  # a handler bug must not leave the client hanging
            self.abort()
            raise
        if not req.keep_alive:
            self.close()
            return
        self._current = None
        if self._pending and not self.closed:
            if len(self._pending) == MAX_PIPELINED and self.transport is not None:
                self.transport.resume_reading()
            self._start(self._pending.popleft())
        elif self._rejected is not None:
            self._reject(self._rejected)

    def _reject(self, reason: bytes) -> None:
        if self._current is not None and not self.closed:
            # Requests parsed before the bad bytes are answered first, in order; then the 400.
            # Bytes after a `Connection: close` request are never answered (RFC 9112 9.6).
            self._rejected = reason
            if self.transport is not None:
                self.transport.pause_reading()
            return
        if self.transport is not None and not self.closed:
            body = b'{"error":{"message":"%s","type":"invalid_request_error"}}' % reason
            self.transport.write(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()
        self.closed = True

    # -- writing, called by the handler -----------------------------------------------------------
    def send_response(self, status: int, headers: HeaderList, body: bytes, keep_alive: bool = True) -> None:
        """A complete response with a Content-Length."""
        if self.closed or self.transport is None:
            return
        self.response_started = True
        parts = [status_line(status), header_lines(headers), b"content-length: %d\r\n" % len(body)]
        if not keep_alive and self._current is not None:
            self._current.keep_alive = False
        if self._current is not None and not self._current.keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        parts.append(body)
        self.transport.write(b"".join(parts))

    def start_stream(self, status: int, headers: HeaderList) -> None:
        """Response head of a chunked (streamed) response.

        HTTP/1.0 clients cannot read chunked framing: they get the bare body, ended by closing."""
        if self.closed or self.transport is None:
            raise ClientGoneError("client disconnected")
        self.response_started = True
        current = self._current
        self._chunked = current is None or not current.http10
        parts = [status_line(status), header_lines(headers)]
        if self._chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
        elif current is not None:
            current.keep_alive = False
        if current is not None and not current.keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        # Held until the first chunk, so head and first bytes leave in one write (one syscall).
        self._stream_head = b"".join(parts)

    def _framed(self, data: bytes) -> bytes:
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
        if self._chunked:
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


def protocol_factory(handler: Handler, max_body: int = DEFAULT_MAX_BODY) -> Callable[[], Connection]:
    loop = asyncio.get_running_loop()
    return lambda: Connection(handler, loop, max_body)

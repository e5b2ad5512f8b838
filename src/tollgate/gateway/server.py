"""The data plane's HTTP/1.1 server: an asyncio Protocol over the httptools C parser.

Chosen by measurement over uvicorn and aiohttp (docs/benchmarks.md): a generic ASGI or aiohttp
server costs several times more CPU per request than everything else the gateway does. This module
only frames HTTP; what a request means is the handler's business (`relay.py`). The handler runs as
soon as a request's head is parsed and reads the body itself (`Request.read_body`), so a request
can be refused before its body is read. No HTTP/2, no upgrades. Limits: `server_limits.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

import httptools

from tollgate.errors import BadRequestError, GatewayError, PayloadTooLargeError
from tollgate.gateway.request import BUFFERING, DISCARD, ClientGoneError, Request
from tollgate.gateway.response import ResponseWriter, status_line
from tollgate.gateway.server_limits import DEFAULT_MAX_BODY, ConnectionSlots, ServerLimits
from tollgate.types import HeaderList

__all__ = ["DEFAULT_MAX_BODY", "ClientGoneError", "Connection", "Handler", "Request", "ServerLimits"]

#: Pipelined requests queued on one connection before the server stops reading from it.
MAX_PIPELINED = 16
#: Body bytes held for a request whose handler has not asked for them yet; then reading pauses.
PREREAD = 64 * 1024
#: An unread rest of a body up to this size is read and dropped after the response, keeping the
#: connection; a larger (or unknown) rest closes it.
DRAIN_MAX = 64 * 1024
#: Seconds a connection closed with request bytes still arriving keeps reading (and dropping) them,
#: so the client reads our answer instead of a reset (RFC 9112 9.6, "lingering close").
LINGER = 2.0

#: The request handler: called once per request when its head is complete; answers through the connection.
Handler = Callable[[Request, "Connection"], Awaitable[None]]


class Connection(ResponseWriter):
    """One client connection. Requests on it are answered in order (pipelining is queued).

    Timeouts share one timer: `_deadline` moves with the connection's state (head expected, idle,
    busy) and the timer only re-arms itself when it fires early, so a request costs no timer call.
    """

    __slots__ = (
        "_body_timer",
        "_deadline",
        "_handler",
        "_head_budget",
        "_headers",
        "_heads",
        "_idle",
        "_parser",
        "_parsing",
        "_paused_body",
        "_paused_reading",
        "_pending",
        "_rejected",
        "_slots",
        "_task",
        "_timer",
        "_url",
        "limits",
        "peer",
    )

    def __init__(
        self,
        handler: Handler,
        loop: asyncio.AbstractEventLoop,
        limits: ServerLimits,
        slots: ConnectionSlots | None = None,
    ) -> None:
        super().__init__(loop)
        self._handler = handler
        self.limits = limits
        self._slots = slots
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: HeaderList = []
        self._head_budget = limits.max_head
        self._heads = 0
        self._body_timer: asyncio.TimerHandle | None = None
        self._parsing: Request | None = None
        self._pending: deque[Request] = deque()
        self._rejected: tuple[int, bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._paused_body = False
        self._paused_reading = False
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._idle = False
        self.peer: str = ""

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else ""
        slots = self._slots
        if slots is not None:
            if not slots.admit():
                self._slots = None
                # No lingering: a refused connection must not hold its descriptor any longer.
                self._write_error(503, b"the gateway is at its connection limit", b"retry-after: 1\r\n", linger=False)
                return
            slots.idle[self] = None
        self._set_deadline(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._slots is not None:
            self._slots.leave(self)
            self._slots = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # Break every cycle now (parser <-> protocol, request <-> connection) and drop body bytes,
        # so an aborted upload's memory returns at once, not when the cyclic collector next runs.
        self._parser = None
        for req in (self._current, self._parsing, *self._pending):
            if req is not None:
                req.drop_body()
                req._conn = None
        self._pending.clear()
        self._parsing = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ClientGoneError("client disconnected"))

    def data_received(self, data: bytes) -> None:
        if self.closed:  # lingering after an answer: drop
            return
        if self._idle:  # the first byte of a new request: its head must now arrive in time
            self._idle = False
            self._set_deadline(self.limits.header_timeout)
        budget = self._head_budget
        if budget >= 0:  # inside a request head: count it, so a huge head is refused, not parsed
            if len(data) > budget:
                heads = self._heads
                self._feed(data[:budget])
                if self._heads == heads and not self.closed:  # still no end of head
                    self._reject(431, b"request line and headers are too large")
                    return
                data = data[budget:]
            else:
                self._head_budget = budget - len(data)
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or not data:
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The request itself was parsed and gets a normal answer (a server may ignore Upgrade,
            # RFC 9110 7.8); the bytes after it are another protocol, so close after answering.
            last = self._pending[-1] if self._pending else self._current
            if last is None or self.transport is None:
                self._reject(400, b"upgrade not supported")
            else:
                last.keep_alive = False
                self._parser = None
                self.transport.pause_reading()
        except httptools.HttpParserError:
            self._reject(400, b"malformed HTTP request")

    # -- httptools callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url  # bounded by max_head

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._head_budget = -1
        self._heads += 1
        parser = self._parser
        assert parser is not None
        req = Request(self, self.limits.max_body)
        url = self._url
        qpos = url.find(b"?")
        if qpos >= 0:
            req.path = url[:qpos].decode("latin-1")
            req.query = url[qpos + 1 :].decode("latin-1")
        else:
            req.path = url.decode("latin-1")
        req.method = parser.get_method().decode("ascii")
        req.headers = headers = self._headers
        for name, value in headers:
            if name == b"content-length":
                req.content_length = int(value)  # the parser has checked it is a number
            elif name == b"expect" and value.lower() == b"100-continue":
                req._expect = True
        req.keep_alive = parser.should_keep_alive()
        req.http10 = parser.get_http_version() == "1.0"
        req.started = self._loop.time()
        self._parsing = req
        if self._current is None:
            self._start(req)
        else:
            self._pending.append(req)
            if len(self._pending) >= MAX_PIPELINED:
                self._update_reading()  # a client may queue requests, not without bound

    def on_body(self, body: bytes) -> None:
        req = self._parsing
        if req is None or req._state == DISCARD:
            return
        received = req._received + len(body)
        req._received = received
        if received > req._limit:
            self._over_limit(req)
            return
        # One growing buffer: a body in many small pieces costs its size, not a list of objects.
        buf = req._buf
        if buf is not None:
            buf += body
        elif req._first:
            req._buf = bytearray(req._first)
            req._buf += body
            req._first = b""
        else:
            req._first = body
        if received > PREREAD and req._state == BUFFERING and not self._paused_body:
            self._paused_body = True  # the handler has not asked for it yet: hold no more
            self._update_reading()

    def on_message_complete(self) -> None:
        self._head_budget = self.limits.max_head
        req = self._parsing
        self._parsing = None
        if req is None:
            return
        req._complete = True
        waiter = req._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- request lifecycle ------------------------------------------------------------------------
    def _start(self, req: Request) -> None:
        self._current = req
        self.response_started = False
        self._deadline = None  # busy: the handler owns the pace now
        if self._slots is not None:
            self._slots.idle.pop(self, None)
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
        finally:
            req._conn = None
            self._task = None
            if req._error is not None:  # raised to the handler, it holds its frames: no cycle via req
                req._error.__traceback__ = None
        if not req._complete:
            req._state = DISCARD
            req.drop_body()
            if req.keep_alive and not self._drainable(req):
                req.keep_alive = False  # a response already sent without `connection: close`
            if self._paused_body:
                self._paused_body = False
                self._update_reading()
        if not req.keep_alive:
            self._close_after_response(req)
            return
        self._current = None
        if self._pending and not self.closed:
            nxt = self._pending.popleft()
            self._update_reading()
            self._start(nxt)
        elif self._rejected is not None:
            status, reason = self._rejected
            self._reject(status, reason)
        elif not self.closed:
            if self._slots is not None:
                self._slots.idle[self] = None
            if req._complete:
                self._idle = True
                self._set_deadline(self.limits.keepalive_timeout)
            else:
                self._set_deadline(self.limits.header_timeout)  # the rest of the body must come now

    @staticmethod
    def _drainable(req: Request) -> bool:
        """Whether the unread rest of `req`'s body may be read and dropped to keep the connection:
        not when the client still waits for `100 Continue` (it may never send it) nor when the
        rest is unknown (chunked) or large. Over-limit and timed-out bodies close anyway."""
        return not req._expect and req.content_length is not None and req.content_length - req._received <= DRAIN_MAX

    def _over_limit(self, req: Request) -> None:
        self._fail_body(req, PayloadTooLargeError(f"Request body is larger than {req._limit} bytes."))
        self._paused_body = True  # nothing more of it will be used: stop reading until we answer
        self._update_reading()

    @staticmethod
    def _fail_body(req: Request, err: GatewayError) -> None:
        """The body will never be whole: `read_body` raises `err`; the connection closes after the answer."""
        req._state = DISCARD
        req._error = err
        req.drop_body()
        req.keep_alive = False
        waiter = req._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(err)

    def refuse_body(self, req: Request) -> None:
        """The handler refuses the body unread: drop it, and close after the answer unless its rest is small."""
        req._state = DISCARD
        req.drop_body()
        if not req._complete and not self._drainable(req):
            req.keep_alive = False
        req._expect = False  # an unanswered 100-continue: the client may or may not send the body

    async def wait_body(self, req: Request) -> None:
        """Wait until `req`'s body is complete (see `Request.read_body` for what it raises)."""
        if req._expect:
            req._expect = False
            if not self.response_started and self.transport is not None and not self.closed:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._paused_body:
            self._paused_body = False
            self._update_reading()
        waiter = req._waiter = self._loop.create_future()
        self._body_timer = self._loop.call_later(self.limits.body_timeout, self._check_body, req, req._received)
        try:
            await waiter
        finally:
            req._waiter = None
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

    def _check_body(self, req: Request, seen: int) -> None:
        waiter = req._waiter
        if waiter is None or waiter.done():
            return
        if req._received > seen:  # progress since the timer was set: wait another period
            self._body_timer = self._loop.call_later(self.limits.body_timeout, self._check_body, req, req._received)
            return
        self._fail_body(req, BadRequestError("The request body did not arrive in time.", status=408))

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        pause = self._paused_body or len(self._pending) >= MAX_PIPELINED
        if pause != self._paused_reading:
            self._paused_reading = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # -- timeouts, closing ------------------------------------------------------------------------
    def _set_deadline(self, seconds: float) -> None:
        deadline = self._deadline = self._loop.time() + seconds
        timer = self._timer
        if timer is None or deadline < timer.when():
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.closed:
            return
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._on_timer)
            return
        if not self._idle and 0 <= self._head_budget < self.limits.max_head:
            self._write_error(408, b"request head not received in time")  # slowloris, or a slow client
        else:
            self.close()  # idle keep-alive, nothing sent yet, or a body rest that stopped: a quiet close

    def evict(self) -> None:
        """Closed to make room for a new connection (the cap is reached): must not be busy."""
        self._slots = None
        self.close()

    def _close_after_response(self, req: Request) -> None:
        """Close once the response is out; if the client may still be sending, keep reading and
        dropping for up to LINGER seconds first (half-close), so it reads our answer, not a reset."""
        transport = self.transport
        if transport is None or self.closed:
            return
        if req._complete:
            self.close()
        else:
            self._linger()

    def _linger(self) -> None:
        """Half-close after what was written, drop what still comes for LINGER s, then close."""
        transport = self.transport
        self.closed = True
        if transport is None:
            return
        if not transport.can_write_eof():  # TLS: no half-close
            transport.close()
            return
        self._parser = None  # whatever comes now is dropped unparsed
        self._paused_body = False
        self._pending.clear()
        transport.write_eof()
        transport.resume_reading()
        self._loop.call_later(LINGER, transport.close)

    def _reject(self, status: int, reason: bytes) -> None:
        if self._parsing is not None:  # broken inside a body: its handler must not wait for the rest
            self._fail_body(self._parsing, BadRequestError(f"Malformed request body ({reason.decode()})."))
            self._parsing = None
        if self._current is not None and not self.closed:
            # Requests parsed before the bad bytes are answered first, in order; then the error.
            # Bytes after a `Connection: close` request are never answered (RFC 9112 9.6).
            self._rejected = (status, reason)
            self._parser = None
            if self.transport is not None:
                self.transport.pause_reading()
            return
        self._write_error(status, reason)

    def _write_error(self, status: int, reason: bytes, extra: bytes = b"", linger: bool = True) -> None:
        """A gateway-level error (no route known yet, so no vendor shape), then close: lingering,
        since the client may still be sending (a huge head, garbage), unless `linger` is False."""
        if self.transport is not None and not self.closed:
            kind = b"api_error" if status >= 500 else b"invalid_request_error"
            body = b'{"error":{"message":"%s","type":"%s"}}' % (reason, kind)
            self.transport.write(
                b"%scontent-type: application/json\r\ncontent-length: %d\r\n%sconnection: close\r\n\r\n%s"
                % (status_line(status), len(body), extra, body)
            )
            if linger:
                self._linger()
            else:
                self.transport.close()
        self.closed = True


def protocol_factory(
    handler: Handler,
    max_body: int | None = None,
    limits: ServerLimits | None = None,
    slots: ConnectionSlots | None = None,
) -> Callable[[], Connection]:
    """Connections for one listener; `max_body` overrides `limits.max_body` (kept for callers and tests).
    `slots` counts and caps the listener's connections (made from `limits` when not given)."""
    limits = limits or ServerLimits()
    if max_body is not None:
        limits = dataclasses.replace(limits, max_body=max_body)
    if slots is None:
        slots = ConnectionSlots(limits.connection_cap())
    loop = asyncio.get_running_loop()
    return lambda: Connection(handler, loop, limits, slots)

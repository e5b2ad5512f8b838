"""One keep-alive connection to an upstream vendor: an asyncio Protocol over the httptools parser.

It writes one request at a time and parses the response: head (capped in size and count), then the
body handed over in pieces with flow control. Knows nothing of pools or routes (`upstream.py`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import httptools

from tollgate.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeoutError
from tollgate.types import HeaderList

if TYPE_CHECKING:
    from tollgate.gateway.upstream import Timeout

#: Pause reading from the vendor when this much response body waits for a slow client.
READ_HIGH_WATER = 1024 * 1024
#: Status line plus headers of one upstream response, in bytes (502 beyond it).
MAX_RESPONSE_HEAD = 64 * 1024
#: Header fields in one upstream response (502 beyond it).
MAX_RESPONSE_HEADERS = 128

_NO_BODY_STATUS = frozenset({204, 304})


class UpstreamConnection(asyncio.Protocol):
    """One connection to the vendor; carries one request at a time.

    `on_lost` is called once when the connection closes (the pool forgets it).
    """

    __slots__ = (
        "_buffered",
        "_chunks",
        "_close_delimited",
        "_done",
        "_error",
        "_head_budget",
        "_head_only",
        "_headers_waiter",
        "_interim",
        "_loop",
        "_on_lost",
        "_parser",
        "_reading_paused",
        "_spent",
        "_waiter",
        "closed",
        "got_bytes",
        "headers",
        "idle_since",
        "keep_alive",
        "on_body",
        "status",
        "transport",
        "unsent",
    )

    def __init__(self, on_lost: Callable[[UpstreamConnection], None], loop: asyncio.AbstractEventLoop) -> None:
        self._on_lost = on_lost
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        # The parser's body callback is the deque's own append: a C call, no Python frame, for each of
        # the dozens of chunked pieces a stream arrives in. So `_chunks` is one deque for life.
        self.on_body: Callable[[bytes], None] = self._chunks.append
        self._parser = httptools.HttpResponseParser(self)
        self._spent = False
        self.closed = False
        #: loop time when the connection was last put back in the pool
        self.idle_since = 0.0
        #: the last request provably never reached the upstream (closed before, or the write failed)
        self.unsent = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: HeaderList = []
        self.keep_alive = True
        self.got_bytes = False
        self._chunks.clear()
        self._buffered = 0
        self._done = False
        self._interim = False
        self._close_delimited = False
        self._head_only = False
        self._head_budget = MAX_RESPONSE_HEAD
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._headers_waiter: asyncio.Future[None] | None = None
        self._reading_paused = False

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        if not self._done:
            if self.status and self._close_delimited and exc is None:
                # A body without length or chunking ends when the upstream closes (RFC 9112 6.3 item 8).
                self._done = True
                self.keep_alive = False
                self._wake()
            else:
                self._fail(UpstreamProtocolError("upstream closed the connection before the response was complete"))

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        budget = self._head_budget
        if budget >= 0:  # inside the response head: count it, a huge one is refused, not parsed
            if len(data) > budget:
                if not self._feed(data[:budget]):
                    return
                if self._head_budget >= 0:
                    self._fail(UpstreamProtocolError("upstream response headers are too large"))
                    self.close()
                    return
                data = data[budget:]
            else:
                self._head_budget = budget - len(data)
        if not self._feed(data):
            return
        # Flow control and wake-up once per read, not once per body piece (a burst of stream events
        # arrives as dozens of chunked pieces in one read).
        if self._chunks:
            self._buffered += len(data)
            if self._buffered > READ_HIGH_WATER and not self._reading_paused and self.transport is not None:
                self._reading_paused = True
                self.transport.pause_reading()
            self._wake()

    def _feed(self, data: bytes) -> bool:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            self._fail(
                cause
                if isinstance(cause, UpstreamError)
                else UpstreamProtocolError("upstream sent a malformed HTTP response")
            )
            self.close()
            return False
        return True

    # -- httptools callbacks ----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers
        headers.append((name.lower(), value))
        if len(headers) > MAX_RESPONSE_HEADERS:
            raise UpstreamProtocolError("upstream sent too many response headers")

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:  # 100 Continue, 103 Early Hints: interim, the real head follows
            self._interim = True
            self.headers = []
            self._head_budget = MAX_RESPONSE_HEAD
            return
        self._head_budget = -1
        self.status = status
        self.keep_alive = parser.should_keep_alive()
        if self._head_only:
            # A response to HEAD has no body whatever its headers say, and httptools cannot be told:
            # the message ends here, and this parser (still waiting for a body) is replaced.
            self._done = True
            self._spent = True
        elif status not in _NO_BODY_STATUS:
            framed = False
            for name, value in self.headers:
                if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value.lower()):
                    framed = True
                    break
            self._close_delimited = not framed
        waiter = self._headers_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._done = True
        self._wake()

    # -- internals --------------------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, err: UpstreamError) -> None:
        if self._error is None:
            self._error = err
        for waiter in (self._headers_waiter, self._waiter):
            if waiter is not None and not waiter.done():
                waiter.set_exception(err)

    def _on_first_byte_timeout(self) -> None:
        self._fail(UpstreamTimeoutError("upstream did not answer in time"))
        self.close()

    def _on_idle_timeout(self) -> None:
        self._fail(UpstreamTimeoutError("upstream stream went idle for too long"))
        self.close()

    # -- used by UpstreamPool / UpstreamResponse ----------------------------------------------------
    async def send(self, head: bytes, body: bytes, timeout: Timeout, head_only: bool = False) -> None:
        """Write the request and wait for the response head (`head_only`: the request is a HEAD).

        On failure `unsent` tells whether the request provably never reached the upstream: the
        connection was already closing, or the write itself failed at once (nothing accepted)."""
        transport = self.transport
        assert transport is not None
        if self.closed or transport.is_closing():
            self.unsent = True
            raise UpstreamProtocolError("upstream closed the connection before the request")
        self.unsent = False
        self._reset()
        self._head_only = head_only
        if self._spent:
            self._parser = httptools.HttpResponseParser(self)
            self._spent = False
        self._headers_waiter = self._loop.create_future()
        transport.write(head + body if len(body) < 65536 else head)
        if transport.is_closing():  # the write failed synchronously: the kernel took none of it
            self.unsent = True
        elif len(body) >= 65536:
            transport.write(body)
        timer = self._loop.call_later(timeout.first_byte, self._on_first_byte_timeout)
        try:
            await self._headers_waiter
        except BaseException:  # timeout, broken connection or the client left: never reuse it
            self.close()
            raise
        finally:
            timer.cancel()
            self._headers_waiter = None

    async def next_chunk(self, idle: float) -> bytes | None:
        """All body bytes received so far and not yet taken, or None at the end of the body.

        Whatever arrived together is handed over together: a burst of stream events costs one
        write to the client, while events that arrive one by one are still relayed one by one.
        At most about READ_HIGH_WATER plus one read is held: then reading from the vendor pauses.
        """
        while True:
            chunks = self._chunks
            if chunks:
                chunk = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._buffered = 0
                if self._reading_paused and self.transport is not None:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self._done:
                return None
            if self._error is not None:
                raise self._error
            self._waiter = self._loop.create_future()
            timer = self._loop.call_later(idle, self._on_idle_timeout)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None

    async def read_all(self, idle: float) -> bytes:
        if self._done:
            chunks = self._chunks
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._buffered = 0
            return data
        parts = []
        while (chunk := await self.next_chunk(idle)) is not None:
            parts.append(chunk)
        return b"".join(parts)

    @property
    def is_complete(self) -> bool:
        return self._done

    @property
    def is_drained(self) -> bool:
        return self._done and not self._chunks

    def close(self) -> None:
        """Close; body bytes nobody will read are dropped now (the parser keeps this object in a
        reference cycle, so they would otherwise wait for the cyclic collector). Call it once the
        response is done with (`UpstreamResponse.release` does)."""
        self.closed = True
        self._chunks.clear()
        if self._error is not None:
            # Raised to the relay, the stored error took a traceback through the relay's frames,
            # which hold this connection: another cycle, keeping those frames (and their chunks).
            self._error.__traceback__ = None
        if self.transport is not None:
            self.transport.close()

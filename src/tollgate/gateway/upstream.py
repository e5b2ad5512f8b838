"""Pooled, keep-alive HTTP/1.1 client for upstream vendors (asyncio Protocol over httptools).

One `UpstreamPool` per origin (scheme, host, port, TLS settings), shared across routing snapshots
so a hot swap keeps warm connections. Every lower-level failure is mapped to the gateway's own
`UpstreamError` family here and nowhere else. Not a general-purpose client: no redirects, no
cookies, no HTTP/2, no request-body streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

from tollgate.errors import UpstreamConnectError, UpstreamError, UpstreamProtocolError, UpstreamTimeoutError
from tollgate.gateway.headers import header_lines
from tollgate.types import HeaderList

DEFAULT_MAX_IDLE = 256
#: Pause reading from the vendor when this much response body waits for a slow client.
READ_HIGH_WATER = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds to connect, to the response head, and between two body chunks."""

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 120.0


DEFAULT_TIMEOUT = Timeout()


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    ca_bundle: str | None = None

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> bytes:
        default = 443 if self.is_tls else 80
        return (self.host if self.port == default else f"{self.host}:{self.port}").encode("idna")


def split_base_url(url: str, ca_bundle: str | None = None) -> tuple[Origin, str]:
    """(origin, base path without trailing slash) of an upstream base URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("upstream URL must be absolute http(s)")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(parts.scheme, parts.hostname, port, ca_bundle), parts.path.rstrip("/")


@contextlib.contextmanager
def map_upstream_errors(what: str) -> Iterator[None]:
    """The one place where socket, TLS and timeout failures become `UpstreamError`s."""
    try:
        yield
    except UpstreamError:
        raise
    except TimeoutError as exc:
        raise UpstreamTimeoutError(f"upstream {what} timed out") from exc
    except ssl.SSLError as exc:  # CertificateErrors raised in Python (match_hostname) have no `reason`
        reason = getattr(exc, "reason", None) or "handshake failed"
        raise UpstreamConnectError(f"upstream TLS failure during {what}: {reason}") from exc
    except OSError as exc:
        # Only the errno's name: asyncio's own text names the upstream address, which clients must not see.
        reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        raise UpstreamConnectError(f"upstream unreachable during {what} ({reason})") from exc


class UpstreamConnection(asyncio.Protocol):
    """One connection to the vendor; carries one request at a time."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_done",
        "_error",
        "_headers",
        "_headers_waiter",
        "_loop",
        "_parser",
        "_reading_paused",
        "_waiter",
        "closed",
        "got_bytes",
        "headers",
        "keep_alive",
        "on_body",
        "pool",
        "status",
        "transport",
    )

    def __init__(self, pool: UpstreamPool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        # The parser's body callback is the deque's own append: a C call, no Python frame, for each of
        # the dozens of chunked pieces a stream arrives in. So `_chunks` is one deque for life.
        self.on_body: Callable[[bytes], None] = self._chunks.append
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: HeaderList = []
        self.keep_alive = True
        self.got_bytes = False
        self._chunks.clear()
        self._buffered = 0
        self._done = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._headers_waiter: asyncio.Future[None] | None = None
        self._reading_paused = False

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if not self._done:
            self._fail(UpstreamProtocolError("upstream closed the connection before the response was complete"))

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(UpstreamProtocolError("upstream sent a malformed HTTP response"))
            self.close()
            return
        # Flow control and wake-up once per read, not once per body piece (a burst of stream events
        # arrives as dozens of chunked pieces in one read).
        if self._chunks:
            self._buffered += len(data)
            if self._buffered > READ_HIGH_WATER and not self._reading_paused and self.transport is not None:
                self._reading_paused = True
                self.transport.pause_reading()
            self._wake()

    # -- httptools callbacks ----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        waiter = self._headers_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_message_complete(self) -> None:
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
    async def send(self, head: bytes, body: bytes, timeout: Timeout) -> None:
        """Write the request and wait for the response head."""
        assert self.transport is not None
        self._reset()
        self._headers_waiter = self._loop.create_future()
        self.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.transport.write(body)
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
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    """Status, headers and body of one upstream response; must be `release`d exactly once."""

    __slots__ = ("_conn", "_idle", "headers", "status")

    def __init__(self, conn: UpstreamConnection, idle: float) -> None:
        self._conn = conn
        self._idle = idle
        self.status = conn.status
        self.headers = conn.headers

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def read(self) -> bytes:
        return await self._conn.read_all(self._idle)

    async def next_chunk(self) -> bytes | None:
        return await self._conn.next_chunk(self._idle)

    @property
    def is_drained(self) -> bool:
        """The body has been received to its end and all of it handed over."""
        return self._conn.is_drained

    def release(self) -> None:
        """Return the connection to the pool when the body was read to its end, else close it."""
        conn = self._conn
        if conn.is_complete and conn.keep_alive and not conn.closed:
            conn.pool.put_back(conn)
        else:
            conn.close()


class UpstreamPool:
    """Keep-alive connections to one origin. LIFO reuse keeps the hottest connection busy."""

    def __init__(self, origin: Origin, max_idle: int = DEFAULT_MAX_IDLE) -> None:
        self.origin = origin
        self.max_idle = max_idle
        self._idle: list[UpstreamConnection] = []
        self._host_line = b"host: %s\r\n" % origin.host_header
        self._ssl: ssl.SSLContext | None = None
        if origin.is_tls:
            self._ssl = ssl.create_default_context(cafile=origin.ca_bundle)

    async def _connect(self, timeout: float) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        with map_upstream_errors("connect"):
            async with asyncio.timeout(timeout):
                _, proto = await loop.create_connection(
                    lambda: UpstreamConnection(self, loop),
                    origin.host,
                    origin.port,
                    ssl=self._ssl,
                    server_hostname=origin.host if self._ssl else None,
                )
        return proto

    async def request(
        self, method: str, target: str, headers: HeaderList, fixed_headers: bytes, body: bytes, timeout: Timeout
    ) -> UpstreamResponse:
        """Send one request; a reused connection that the vendor had closed is retried once, fresh.

        `fixed_headers` are preformatted header lines (credential etc.) compiled once per route.
        """
        head_parts = [
            b"%s %s HTTP/1.1\r\n" % (method.encode(), target.encode("latin-1")),
            self._host_line,
            fixed_headers,
            header_lines(headers),
        ]
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            head_parts.append(b"content-length: %d\r\n" % len(body))
        head_parts.append(b"\r\n")
        head = b"".join(head_parts)
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue
            try:
                await conn.send(head, body, timeout)
            except UpstreamProtocolError:
                if conn.got_bytes:
                    raise
                conn.close()
                continue  # stale keep-alive connection: the vendor closed it while idle
            return UpstreamResponse(conn, timeout.idle)
        conn = await self._connect(timeout.connect)
        await conn.send(head, body, timeout)
        return UpstreamResponse(conn, timeout.idle)

    def put_back(self, conn: UpstreamConnection) -> None:
        if len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    def forget(self, conn: UpstreamConnection) -> None:
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class PoolRegistry:
    """Pools by origin, shared by successive snapshots so connections outlive config changes."""

    def __init__(self) -> None:
        self._pools: dict[Origin, UpstreamPool] = {}

    def get(self, origin: Origin) -> UpstreamPool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = UpstreamPool(origin)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

"""Pooled, keep-alive HTTP/1.1 client for upstream vendors (asyncio Protocol over httptools).

One `UpstreamPool` per target (origin, TLS settings, proxy, connection limit), shared across routing
snapshots so a hot swap keeps warm connections. Every lower-level failure is mapped to the gateway's
own `UpstreamError` family here and nowhere else. Not a general-purpose client: no redirects, no
cookies, no HTTP/2, no request-body streaming. The connection itself: `upstream_connection.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tollgate.errors import UpstreamConnectError, UpstreamError, UpstreamProtocolError, UpstreamTimeoutError
from tollgate.gateway.headers import header_lines
from tollgate.gateway.upstream_connection import (
    MAX_RESPONSE_HEAD,
    MAX_RESPONSE_HEADERS,
    READ_HIGH_WATER,
    UpstreamConnection,
)
from tollgate.gateway.upstream_proxy import open_tunnel, parse_proxy_url
from tollgate.types import HeaderList

__all__ = [
    "MAX_RESPONSE_HEAD",
    "MAX_RESPONSE_HEADERS",
    "READ_HIGH_WATER",
    "Origin",
    "PoolRegistry",
    "Timeout",
    "UpstreamConnection",
    "UpstreamPool",
    "UpstreamResponse",
    "map_upstream_errors",
    "split_base_url",
]

#: Idle keep-alive connections kept per target.
DEFAULT_MAX_IDLE = 256
#: Connections (busy and idle) per target; more requests wait up to `Timeout.pool` for one.
DEFAULT_MAX_CONNECTIONS = 1000
#: Seconds an idle pooled connection may be reused. Kept under the 5 s keep-alive timeout of common
#: servers (uvicorn, Node) so we rarely write to a connection the upstream is closing.
KEEPALIVE_EXPIRY = 4.0
#: A response body up to this size may be read whole (`UpstreamResponse.read`); relay larger or
#: unknown-length ones with `next_chunk`.
BUFFER_LIMIT = 1024 * 1024
#: Methods safe to send again when a reused connection broke before any response byte (RFC 9110 9.2.2).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds to connect, to the response head, between two body chunks, and to get a pooled
    connection when the target's connection limit is reached."""

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 120.0
    pool: float = 30.0


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a pool's connections go: scheme, host, port, the CA bundle, and the outbound proxy
    (`http://host:port`) if any, with its `Proxy-Authorization` value (never in a repr)."""

    scheme: str
    host: str
    port: int
    ca_bundle: str | None = None
    proxy: str | None = None
    proxy_authorization: bytes | None = field(default=None, repr=False)

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> bytes:
        default = 443 if self.is_tls else 80
        return (self.host if self.port == default else f"{self.host}:{self.port}").encode("idna")


def split_base_url(
    url: str, ca_bundle: str | None = None, proxy: str | None = None, proxy_authorization: bytes | None = None
) -> tuple[Origin, str]:
    """(origin, base path without trailing slash) of an upstream base URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("upstream URL must be absolute http(s)")
    if proxy is not None:
        parse_proxy_url(proxy)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    origin = Origin(parts.scheme, parts.hostname, port, ca_bundle, proxy, proxy_authorization if proxy else None)
    return origin, parts.path.rstrip("/")


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


class UpstreamResponse:
    """Status, headers and body of one upstream response; must be `release`d exactly once.

    The body is relayed in one of two ways. `next_chunk()` hands over whatever has arrived, in
    order, until None: memory stays bounded (reading from the vendor pauses past READ_HIGH_WATER),
    so use it for streams, for any body without a Content-Length (`content_length is None`, which
    includes close-delimited HTTP/1.0 bodies) and for bodies over BUFFER_LIMIT. `read()` returns the
    whole body at once: only for a known length the caller accepts to hold.
    """

    __slots__ = ("_conn", "_idle", "_pool", "headers", "status")

    def __init__(self, conn: UpstreamConnection, idle: float, pool: UpstreamPool) -> None:
        self._conn = conn
        self._idle = idle
        self._pool = pool
        self.status = conn.status
        self.headers = conn.headers

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def content_length(self) -> int | None:
        """The declared body length, or None (chunked, close-delimited); 0 for HEAD, 204 and 304."""
        if self._conn.is_complete and self._conn.is_drained:
            return 0
        value = self.header(b"content-length")
        if value is None or self.header(b"transfer-encoding") is not None:
            return None
        try:
            return int(value)
        except ValueError:
            return None

    async def read(self) -> bytes:
        """The whole body (see the class docstring for when not to)."""
        return await self._conn.read_all(self._idle)

    async def next_chunk(self) -> bytes | None:
        """The body bytes received since the last call (waiting for some), or None at the end."""
        return await self._conn.next_chunk(self._idle)

    @property
    def is_drained(self) -> bool:
        """The body has been received to its end and all of it handed over."""
        return self._conn.is_drained

    def release(self) -> None:
        """Return the connection to the pool when the body was read to its end, else close it."""
        conn = self._conn
        self._pool.release(conn, conn.is_complete and conn.keep_alive and not conn.closed)


class UpstreamPool:
    """Connections to one target, at most `max_connections` at a time (busy and idle); further
    requests queue, first come first served, for up to `Timeout.pool`. LIFO reuse keeps the hottest
    connection busy. Event-loop only.
    """

    def __init__(
        self, origin: Origin, max_idle: int = DEFAULT_MAX_IDLE, max_connections: int = DEFAULT_MAX_CONNECTIONS
    ) -> None:
        self.origin = origin
        self.max_idle = max_idle
        self.max_connections = max_connections
        self._idle: list[UpstreamConnection] = []
        #: connections handed out or being opened
        self.in_use = 0
        self._waiters: deque[asyncio.Future[UpstreamConnection | None]] = deque()
        self._host_line = b"host: %s\r\n" % origin.host_header
        # Through a proxy, plain-http requests name the origin in the request line (RFC 9112 3.2.2).
        self._target_prefix = b""
        self._proxy: tuple[str, int] | None = None
        if origin.proxy is not None:
            self._proxy = parse_proxy_url(origin.proxy)
            if not origin.is_tls:
                self._target_prefix = b"http://" + origin.host_header
                if origin.proxy_authorization:  # the proxy reads it from every request (absolute form)
                    self._host_line += b"proxy-authorization: %s\r\n" % origin.proxy_authorization
        self._ssl: ssl.SSLContext | None = None
        if origin.is_tls:
            self._ssl = ssl.create_default_context(cafile=origin.ca_bundle)

    async def _connect(self, timeout: float) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        with map_upstream_errors("connect"):
            async with asyncio.timeout(timeout):
                if self._proxy is None:
                    _, proto = await loop.create_connection(
                        lambda: UpstreamConnection(self.forget, loop),
                        origin.host,
                        origin.port,
                        ssl=self._ssl,
                        server_hostname=origin.host if self._ssl else None,
                    )
                    return proto
                if self._ssl is None:
                    _, proto = await loop.create_connection(
                        lambda: UpstreamConnection(self.forget, loop), self._proxy[0], self._proxy[1]
                    )
                    return proto
                tunnel = await open_tunnel(loop, self._proxy, origin.host, origin.port, origin.proxy_authorization)
                proto = UpstreamConnection(self.forget, loop)
                try:
                    tls = await loop.start_tls(tunnel, proto, self._ssl, server_hostname=origin.host)
                except BaseException:
                    tunnel.close()
                    raise
                assert tls is not None
                proto.connection_made(tls)
                return proto

    async def _acquire(self, timeout: Timeout) -> tuple[UpstreamConnection, bool]:
        """A connection for one request, and whether it was reused from the pool."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            idle = self._idle
            while idle:
                conn = idle.pop()
                if conn.closed:
                    continue
                if loop.time() - conn.idle_since > KEEPALIVE_EXPIRY:
                    conn.close()  # may be about to be closed by the upstream: do not race it
                    continue
                self.in_use += 1
                return conn, True
            if self.in_use + len(idle) < self.max_connections:
                self.in_use += 1
                try:
                    return await self._connect(timeout.connect), False
                except BaseException:
                    self.in_use -= 1
                    self._wake_one(None)
                    raise
            if deadline is None:
                deadline = loop.time() + timeout.pool
            waiter: asyncio.Future[UpstreamConnection | None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    handed = await waiter
            except BaseException as exc:
                if waiter.done() and not waiter.cancelled():  # handed something as we gave up: pass it on
                    got = waiter.result()
                    if got is not None:
                        self.release(got, True)
                    else:
                        self._wake_one(None)
                else:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                if isinstance(exc, TimeoutError):
                    raise UpstreamTimeoutError(
                        "no upstream connection became free in time (the target's connection limit is reached)",
                        status=503,
                    ) from None
                raise
            if handed is not None:
                return handed, True  # still counted in `in_use`: whoever handed it over kept the count

    def _wake_one(self, conn: UpstreamConnection | None) -> bool:
        """Hand `conn` (or a free slot, None) to the longest waiter; False if nobody waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    async def request(
        self, method: str, target: str, headers: HeaderList, fixed_headers: bytes, body: bytes, timeout: Timeout
    ) -> UpstreamResponse:
        """Send one request and return once the response head is in.

        A reused connection that fails before any response byte is retried on another one only
        when the request provably did not reach the upstream (the connection was closing, or the
        write failed at once), or when the method is idempotent: a POST the upstream may have read
        is never sent twice. `fixed_headers` are preformatted header lines (credential etc.)
        compiled once per route.
        """
        head_parts = [
            b"%s %s%s HTTP/1.1\r\n" % (method.encode(), self._target_prefix, target.encode("latin-1")),
            self._host_line,
            fixed_headers,
            header_lines(headers),
        ]
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            head_parts.append(b"content-length: %d\r\n" % len(body))
        head_parts.append(b"\r\n")
        head = b"".join(head_parts)
        head_only = method == "HEAD"
        while True:
            conn, reused = await self._acquire(timeout)
            try:
                await conn.send(head, body, timeout, head_only)
            except UpstreamProtocolError:
                self.release(conn, False)
                if reused and not conn.got_bytes and (conn.unsent or method in _IDEMPOTENT):
                    continue  # a stale keep-alive connection; the next one is tried
                raise
            except BaseException:
                self.release(conn, False)
                raise
            return UpstreamResponse(conn, timeout.idle, self)

    def release(self, conn: UpstreamConnection, reusable: bool) -> None:
        """A connection handed out by `_acquire` comes back: kept (or handed on) if `reusable`, else closed."""
        if reusable and not conn.closed:
            if self._wake_one(conn):
                return  # stays counted in `in_use`, now for the waiter
            self.in_use -= 1
            if len(self._idle) < self.max_idle:
                conn.idle_since = asyncio.get_running_loop().time()
                self._idle.append(conn)
                return
            conn.close()
            return
        self.in_use -= 1
        conn.close()
        self._wake_one(None)

    def put_back(self, conn: UpstreamConnection) -> None:
        """Kept for callers of the former API: `release(conn, True)`."""
        self.release(conn, True)

    def forget(self, conn: UpstreamConnection) -> None:
        """Called by a connection when it closes: an idle one leaves the pool (and frees a slot)."""
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)
            self._wake_one(None)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class PoolRegistry:
    """Pools by target, shared by successive snapshots so connections outlive config changes."""

    def __init__(self) -> None:
        self._pools: dict[tuple[Origin, int], UpstreamPool] = {}

    def get(self, origin: Origin, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> UpstreamPool:
        key = (origin, max_connections)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = UpstreamPool(origin, max_connections=max_connections)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

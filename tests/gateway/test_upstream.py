"""Tests for gateway/upstream.py against a raw asyncio HTTP/1.1 server on loopback (plain and TLS)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from pathlib import Path

import pytest

from tests.gateway.gw_helpers import RawRequest, RawUpstream, read_request, response, wait_until
from tollgate.errors import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeoutError
from tollgate.gateway.upstream import (
    KEEPALIVE_EXPIRY,
    READ_HIGH_WATER,
    Origin,
    PoolRegistry,
    Timeout,
    UpstreamPool,
    map_upstream_errors,
    split_base_url,
)
from tollgate.mock.certs import self_signed_cert

FAST = Timeout(connect=2.0, first_byte=2.0, idle=2.0)


def pool_for(up: RawUpstream, ca_bundle: str | None = None) -> UpstreamPool:
    origin, _ = split_base_url(up.url, ca_bundle)
    return UpstreamPool(origin)


async def get(pool: UpstreamPool, path: str = "/x", timeout: Timeout = FAST, body: bytes = b"") -> tuple[int, bytes]:
    resp = await pool.request("POST" if body else "GET", path, [(b"x-test", b"1")], b"x-fixed: y\r\n", body, timeout)
    try:
        return resp.status, await resp.read()
    finally:
        resp.release()


@pytest.fixture
async def upstream() -> RawUpstream:
    up = await RawUpstream().start()
    yield up  # type: ignore[misc]
    await up.close()


def test_split_base_url_and_host_header() -> None:
    origin, base = split_base_url("https://api.example.com/v1/")
    assert (origin.scheme, origin.host, origin.port, base) == ("https", "api.example.com", 443, "/v1")
    assert origin.host_header == b"api.example.com"
    origin, base = split_base_url("http://127.0.0.1:8081")
    assert origin.host_header == b"127.0.0.1:8081" and base == ""
    with pytest.raises(ValueError):
        split_base_url("ftp://x")


async def test_request_head_and_pooled_reuse(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    for _ in range(5):
        assert await get(pool) == (200, b'{"ok":true}')
    assert upstream.connections == 1
    req = upstream.requests[0]
    assert (req.method, req.target) == ("GET", "/x")
    assert req.headers["host"] == f"127.0.0.1:{upstream.port}"
    assert req.headers["x-fixed"] == "y" and req.headers["x-test"] == "1"
    assert "content-length" not in req.headers
    await get(pool, body=b"abc")
    assert upstream.requests[-1].body == b"abc" and upstream.requests[-1].headers["content-length"] == "3"
    pool.close()


async def test_concurrent_requests_open_parallel_connections_then_reuse(upstream: RawUpstream) -> None:
    async def slow(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        writer.write(response(200, b"s"))
        return True

    upstream.handler = slow
    pool = pool_for(upstream)
    results = await asyncio.gather(*(get(pool) for _ in range(4)))
    assert results == [(200, b"s")] * 4 and upstream.connections == 4
    await asyncio.gather(*(get(pool) for _ in range(4)))
    assert upstream.connections == 4
    pool.close()


async def test_large_post_body_is_sent_whole(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    body = bytes(range(256)) * 1024
    await get(pool, body=body)
    assert upstream.requests[-1].body == body
    pool.close()


async def test_connection_closed_by_upstream_while_idle_is_not_reused(upstream: RawUpstream) -> None:
    async def one_shot(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"once"))
        await writer.drain()
        return False  # close right after answering, without saying so

    upstream.handler = one_shot
    pool = pool_for(upstream)
    assert await get(pool) == (200, b"once")
    await wait_until(lambda: upstream.open_connections == 0)
    await asyncio.sleep(0.05)
    assert await get(pool) == (200, b"once")
    assert upstream.connections == 2
    pool.close()


async def test_stale_connection_is_retried_once_on_a_fresh_one(upstream: RawUpstream) -> None:
    served: dict[int, int] = {}

    async def stale_second(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        n = served[id(writer)] = served.get(id(writer), 0) + 1
        if n == 2:  # the keep-alive race: the vendor closes as our request arrives, no bytes back
            writer.transport.abort()
            return False
        writer.write(response(200, b"ok"))
        return True

    upstream.handler = stale_second
    pool = pool_for(upstream)
    assert await get(pool) == (200, b"ok")
    assert await get(pool) == (200, b"ok")  # reused -> dropped -> retried fresh
    assert upstream.connections == 2
    pool.close()


async def test_fresh_connection_failing_is_not_retried(upstream: RawUpstream) -> None:
    async def drop(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        return False

    upstream.handler = drop
    pool = pool_for(upstream)
    with pytest.raises(UpstreamProtocolError):
        await get(pool)
    assert upstream.connections == 1


async def test_reused_connection_that_sent_bytes_is_not_retried(upstream: RawUpstream) -> None:
    served: dict[int, int] = {}

    async def half(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        n = served[id(writer)] = served.get(id(writer), 0) + 1
        if n == 2:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-le")
            await writer.drain()
            return False
        writer.write(response(200, b"ok"))
        return True

    upstream.handler = half
    pool = pool_for(upstream)
    await get(pool)
    with pytest.raises(UpstreamProtocolError):
        await get(pool)
    assert upstream.connections == 1


async def test_connect_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pool = UpstreamPool(Origin("http", "127.0.0.1", port))
    with pytest.raises(UpstreamConnectError, match="unreachable during connect"):
        await get(pool)


async def test_connect_timeout() -> None:
    # a listening socket with a full backlog never completes the handshake
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        pool = UpstreamPool(Origin("http", "127.0.0.1", port))
        try:
            with pytest.raises(UpstreamTimeoutError, match="connect timed out"):
                await get(pool, timeout=Timeout(connect=0.3, first_byte=1, idle=1))
        finally:
            for s in fillers:
                s.close()


async def test_first_byte_timeout_closes_the_connection(upstream: RawUpstream) -> None:
    async def silent(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        await req.wait_closed()
        return False

    upstream.handler = silent
    pool = pool_for(upstream)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(UpstreamTimeoutError, match="did not answer in time"):
        await get(pool, timeout=Timeout(connect=1, first_byte=0.2, idle=5))
    assert loop.time() - started < 1.5
    await wait_until(lambda: upstream.open_connections == 0)  # the upstream saw us leave


async def test_idle_timeout_between_chunks(upstream: RawUpstream) -> None:
    async def stalls(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await req.wait_closed()
        return False

    upstream.handler = stalls
    pool = pool_for(upstream)
    resp = await pool.request("GET", "/s", [], b"", b"", Timeout(connect=1, first_byte=1, idle=0.2))
    assert resp.status == 200
    assert await resp.next_chunk() == b"first"
    with pytest.raises(UpstreamTimeoutError, match="idle"):
        await resp.next_chunk()
    resp.release()
    await wait_until(lambda: upstream.open_connections == 0)


async def test_upstream_reset_mid_body(upstream: RawUpstream) -> None:
    async def cut(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
        return False

    upstream.handler = cut
    pool = pool_for(upstream)
    resp = await pool.request("GET", "/c", [], b"", b"", FAST)
    assert await resp.next_chunk() == b"0123456789"
    with pytest.raises(UpstreamProtocolError, match="before the response was complete"):
        await resp.next_chunk()
    resp.release()
    with pytest.raises(UpstreamProtocolError):
        await get(pool)  # the same cut, read whole


async def test_malformed_response(upstream: RawUpstream) -> None:
    async def junk(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SPDY/9 what\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)
        return False

    upstream.handler = junk
    with pytest.raises(UpstreamProtocolError, match="malformed"):
        await get(pool_for(upstream))


async def test_chunked_and_content_length_bodies_keep_the_connection(upstream: RawUpstream) -> None:
    async def both(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if req.target == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for part in (b"hel", b"lo ", b"world"):
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(response(201, b"hello world", {"x-a": "1"}))
        return True

    upstream.handler = both
    pool = pool_for(upstream)
    resp = await pool.request("GET", "/chunked", [], b"", b"", FAST)
    parts = []
    while (chunk := await resp.next_chunk()) is not None:
        parts.append(chunk)
    resp.release()
    assert b"".join(parts) == b"hello world" and len(parts) >= 2
    resp = await pool.request("GET", "/cl", [], b"", b"", FAST)
    assert (resp.status, resp.header(b"x-a"), await resp.read()) == (201, b"1", b"hello world")
    resp.release()
    assert await get(pool, "/chunked") == (200, b"hello world")
    assert upstream.connections == 1
    pool.close()


async def test_released_before_the_end_is_closed_not_reused(upstream: RawUpstream) -> None:
    async def long(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        if req.target == "/long":
            await req.wait_closed()
            return False
        writer.write(b"0\r\n\r\n")
        return True

    upstream.handler = long
    pool = pool_for(upstream)
    resp = await pool.request("GET", "/long", [], b"", b"", FAST)
    assert await resp.next_chunk() == b"abc"
    resp.release()
    await wait_until(lambda: upstream.open_connections == 0)
    assert await get(pool, "/short") == (200, b"abc")
    assert upstream.connections == 2


async def test_upstream_connection_close_is_not_reused(upstream: RawUpstream) -> None:
    async def closes(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"x", {"connection": "close"}))
        await writer.drain()
        await asyncio.sleep(0.3)  # keep the socket open: the pool must not rely on seeing EOF
        return False

    upstream.handler = closes
    pool = pool_for(upstream)
    await get(pool)
    await get(pool)
    assert upstream.connections == 2


async def test_large_body_with_slow_consumer_arrives_whole(upstream: RawUpstream) -> None:
    size = 4 * READ_HIGH_WATER

    async def big(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"z" * size))
        await writer.drain()
        return True

    upstream.handler = big
    pool = pool_for(upstream)
    resp = await pool.request("GET", "/big", [], b"", b"", FAST)
    await asyncio.sleep(0.2)  # let the vendor push while nobody reads: reading must pause
    conn = resp._conn
    assert conn._buffered <= READ_HIGH_WATER + 512 * 1024
    total = 0
    while (chunk := await resp.next_chunk()) is not None:
        total += len(chunk)
    resp.release()
    assert total == size


def test_error_mapping() -> None:
    for exc, expected in [
        (TimeoutError(), UpstreamTimeoutError),
        (ConnectionRefusedError(111, "Connection refused"), UpstreamConnectError),
        (ssl.SSLCertVerificationError("bad"), UpstreamConnectError),
        (ssl.CertificateError("hostname 'x' doesn't match 'y'"), UpstreamConnectError),
        (OSError("no route"), UpstreamConnectError),
    ]:
        with pytest.raises(expected), map_upstream_errors("connect"):
            raise exc
    with pytest.raises(UpstreamProtocolError), map_upstream_errors("read"):
        raise UpstreamProtocolError("kept as is")


def test_pool_registry_is_per_origin() -> None:
    reg = PoolRegistry()
    a = reg.get(Origin("http", "h", 80))
    assert reg.get(Origin("http", "h", 80)) is a
    assert reg.get(Origin("https", "h", 443)) is not a
    assert reg.get(Origin("http", "h", 80, "/ca.pem")) is not a
    reg.close()


# --- TLS -----------------------------------------------------------------------------------------


@pytest.fixture
async def tls_upstream(tmp_path: Path) -> tuple[RawUpstream, Path]:
    cert, key = self_signed_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    up = await RawUpstream(ssl=ctx).start()
    yield up, cert  # type: ignore[misc]
    await up.close()


async def test_https_upstream_with_ca_bundle(tls_upstream: tuple[RawUpstream, Path]) -> None:
    up, cert = tls_upstream
    pool = pool_for(up, str(cert))
    assert up.url.startswith("https://")
    for _ in range(3):
        assert await get(pool) == (200, b'{"ok":true}')
    assert up.connections == 1
    pool.close()


async def test_https_upstream_without_ca_bundle_fails_verification(tls_upstream: tuple[RawUpstream, Path]) -> None:
    up, _ = tls_upstream
    with pytest.raises(UpstreamConnectError, match="TLS") as info:
        await get(pool_for(up))
    assert "CERTIFICATE_VERIFY_FAILED" in info.value.message


async def test_raw_helper_reads_requests() -> None:
    # guard for the helper the other tests rely on
    reader = asyncio.StreamReader()
    reader.feed_data(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
    reader.feed_eof()
    req = await read_request(reader)
    assert req is not None and (req.method, req.target, req.headers["host"], req.body) == ("POST", "/a", "h", b"hi")
    assert await read_request(reader) is None


# --- retries, limits -----------------------------------------------------------------------------


async def test_post_the_upstream_may_have_read_is_never_sent_twice(upstream: RawUpstream) -> None:
    """Issue 6: a stale keep-alive retry re-sent a POST the upstream had already read."""
    served: dict[int, int] = {}

    async def reads_then_drops(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        n = served[id(writer)] = served.get(id(writer), 0) + 1
        if n == 2:  # read the whole request, then closed without a byte of answer
            return False
        writer.write(response(200, b"ok"))
        return True

    upstream.handler = reads_then_drops
    pool = pool_for(upstream)
    assert await get(pool, body=b'{"n":1}') == (200, b"ok")
    with pytest.raises(UpstreamProtocolError, match="before the response was complete"):
        await get(pool, body=b'{"n":2}')
    assert [r.body for r in upstream.requests] == [b'{"n":1}', b'{"n":2}']  # once, not twice
    assert upstream.connections == 1
    pool.close()


async def test_connection_idle_past_the_expiry_is_not_reused(upstream: RawUpstream) -> None:
    pool = pool_for(upstream)
    assert await get(pool) == (200, b'{"ok":true}')
    pool._idle[0].idle_since -= KEEPALIVE_EXPIRY + 1  # as if idle for longer than the expiry
    assert await get(pool) == (200, b'{"ok":true}')
    assert upstream.connections == 2
    await wait_until(lambda: upstream.open_connections == 1)  # the expired one was closed
    pool.close()


async def test_connection_limit_per_target_queues_requests(upstream: RawUpstream) -> None:
    peak = {"open": 0}

    async def slow(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        peak["open"] = max(peak["open"], up.open_connections)
        await asyncio.sleep(0.05)
        writer.write(response(200, req.target.encode()))
        return True

    upstream.handler = slow
    origin, _ = split_base_url(upstream.url)
    pool = UpstreamPool(origin, max_connections=2)
    results = await asyncio.gather(*(get(pool, f"/{i}") for i in range(8)))
    assert results == [(200, f"/{i}".encode()) for i in range(8)]
    assert (peak["open"], upstream.connections, pool.in_use) == (2, 2, 0)
    pool.close()


async def test_pool_timeout_when_the_target_is_full(upstream: RawUpstream) -> None:
    release = asyncio.Event()

    async def hangs(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if req.target == "/hang":
            await release.wait()
        writer.write(response(200, b"done"))
        return True

    upstream.handler = hangs
    origin, _ = split_base_url(upstream.url)
    pool = UpstreamPool(origin, max_connections=1)
    first = asyncio.ensure_future(get(pool, "/hang"))
    await wait_until(lambda: len(upstream.requests) == 1)
    with pytest.raises(UpstreamTimeoutError, match="connection limit") as info:
        await get(pool, "/next", timeout=Timeout(connect=1, first_byte=1, idle=1, pool=0.2))
    assert info.value.status == 503
    waiting = asyncio.ensure_future(get(pool, "/queued", timeout=Timeout(connect=1, first_byte=5, idle=5, pool=5)))
    await asyncio.sleep(0.1)
    release.set()
    assert await first == (200, b"done")
    assert await waiting == (200, b"done")  # handed the freed connection
    assert (upstream.connections, pool.in_use) == (1, 0)
    pool.close()


async def test_a_failed_connection_frees_its_slot(upstream: RawUpstream) -> None:
    async def drop(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        return False

    upstream.handler = drop
    origin, _ = split_base_url(upstream.url)
    pool = UpstreamPool(origin, max_connections=1)
    for _ in range(3):
        with pytest.raises(UpstreamProtocolError):
            await get(pool, timeout=Timeout(connect=1, first_byte=1, idle=1, pool=0.5))
    assert pool.in_use == 0

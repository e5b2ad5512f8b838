"""Tests for gateway/upstream_connection.py: response framing the pool must survive (HEAD, close-
delimited bodies, interim responses, header caps), against a raw asyncio upstream on loopback."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from tests.gateway.gw_helpers import RawRequest, RawUpstream
from tests.gateway.test_upstream import FAST, get, pool_for
from tollgate.errors import UpstreamProtocolError
from tollgate.gateway.upstream import MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS, Timeout


@pytest.fixture
async def upstream() -> RawUpstream:
    up = await RawUpstream().start()
    yield up  # type: ignore[misc]
    await up.close()


async def test_head_response_ends_at_its_head_and_the_connection_is_reused(upstream: RawUpstream) -> None:
    """Issue 6: the parser waited for the body a HEAD response never has (504 after the idle timeout)."""

    async def head_aware(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        body = b'{"data":[]}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
        if req.method != "HEAD":
            writer.write(body)
        return True

    upstream.handler = head_aware
    pool = pool_for(upstream)
    loop = asyncio.get_running_loop()
    started = loop.time()
    resp = await pool.request("HEAD", "/v1/models", [], b"", b"", Timeout(connect=1, first_byte=1, idle=5))
    assert (resp.status, resp.header(b"content-length")) == (200, b"11")
    assert await resp.next_chunk() is None
    assert resp.content_length == 0
    resp.release()
    assert loop.time() - started < 1.0  # not the 5 s idle timeout
    assert await get(pool, "/v1/models") == (200, b'{"data":[]}')  # same connection, fresh parser
    resp = await pool.request("HEAD", "/again", [], b"", b"", FAST)
    assert await resp.read() == b""
    resp.release()
    assert upstream.connections == 1
    assert [r.method for r in upstream.requests] == ["HEAD", "GET", "HEAD"]
    pool.close()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n",
    ],
)
async def test_close_delimited_body_ends_at_the_close(upstream: RawUpstream, head: bytes) -> None:
    """Issue 6: responses with neither length nor chunking always became 502."""

    async def until_close(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(head + b'{"choices":')
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"[]}")
        return False  # closes: the end of the body

    upstream.handler = until_close
    pool = pool_for(upstream)
    resp = await pool.request("POST", "/x", [], b"", b"{}", FAST)
    assert resp.content_length is None
    assert await resp.read() == b'{"choices":[]}'
    resp.release()
    assert await get(pool, body=b"{}") == (200, b'{"choices":[]}')
    assert upstream.connections == 2  # never reused
    pool.close()


async def test_close_delimited_body_cut_by_a_reset_is_an_error(upstream: RawUpstream) -> None:
    async def reset(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not a clean end
        return False

    upstream.handler = reset
    resp = await pool_for(upstream).request("GET", "/x", [], b"", b"", FAST)
    assert await resp.next_chunk() == b"partial"
    with pytest.raises(UpstreamProtocolError, match="before the response was complete"):
        await resp.next_chunk()
    resp.release()


async def test_interim_100_continue_is_skipped(upstream: RawUpstream) -> None:
    async def interim(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n")
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
        return True

    upstream.handler = interim
    pool = pool_for(upstream)
    resp = await pool.request("POST", "/x", [], b"", b"{}", FAST)
    assert (resp.status, resp.headers, await resp.read()) == (201, [(b"content-length", b"2")], b"ok")
    resp.release()
    assert await get(pool) == (201, b"ok")
    assert upstream.connections == 1
    pool.close()


async def test_too_many_response_headers_are_refused(upstream: RawUpstream) -> None:
    """Issue 6: response headers passed through uncapped (20,000 headers)."""

    async def many(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        lines = b"".join(b"x-h%d: v\r\n" % i for i in range(20_000))
        writer.write(b"HTTP/1.1 200 OK\r\n" + lines + b"content-length: 0\r\n\r\n")
        await writer.drain()
        return True

    upstream.handler = many
    with pytest.raises(UpstreamProtocolError, match="too many response headers"):
        await get(pool_for(upstream))
    assert MAX_RESPONSE_HEADERS == 128
    await asyncio.sleep(0)


async def test_oversized_response_head_is_refused_before_it_is_all_read(upstream: RawUpstream) -> None:
    """Issue 6: a 1 MB response header passed through."""
    sent = {"bytes": 0}

    async def huge(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nx-big: ")
        try:
            for _ in range(1024):  # up to 16 MB, 16 KiB at a time
                writer.write(b"a" * 16384)
                await writer.drain()
                sent["bytes"] += 16384
        except ConnectionError:
            pass
        return False

    upstream.handler = huge
    with pytest.raises(UpstreamProtocolError, match="response headers are too large"):
        await get(pool_for(upstream))
    assert sent["bytes"] < 16 * 1024 * 1024
    assert MAX_RESPONSE_HEAD == 64 * 1024

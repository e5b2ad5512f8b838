"""Tests for the server's limits (gateway/server.py, gateway/server_limits.py): head size, header and
keep-alive timeouts, the connection cap, and HEAD framing; raw sockets on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from tests.gateway.gw_helpers import WAIT, new_key, provider, resource_set, start_gateway
from tests.gateway.test_server import Handler, assert_closed, echo, read_response
from tollgate.gateway.server import Connection, Request, protocol_factory
from tollgate.gateway.server_limits import ServerLimits, default_max_connections


@contextlib.asynccontextmanager
async def serve(handler: Handler, **limits: float) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    factory = protocol_factory(handler, limits=ServerLimits(**limits))  # type: ignore[arg-type]
    server = await loop.create_server(factory, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def send_slowly(writer: asyncio.StreamWriter, data: bytes, piece: int, answered: asyncio.Future[object]) -> int:
    """Send `data` in pieces until the server answers; the number of bytes sent."""
    sent = 0
    with contextlib.suppress(ConnectionError):
        while sent < len(data) and not answered.done():
            writer.write(data[sent : sent + piece])
            sent += piece
            await writer.drain()
            await asyncio.sleep(0)
    return sent


# -- request head size ------------------------------------------------------------------------------


async def test_huge_header_is_refused_with_431_before_it_is_all_sent() -> None:
    """Issue 6: no limit on the head, accumulated at quadratic cost (a 50 MB header stalled the node)."""
    _value, key = new_key("LLMProvider", "p")
    gw = await start_gateway(resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9")], keys=[key]))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        answer = asyncio.ensure_future(read_response(reader))
        head = b"GET /p/v1/models HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 8_000_000
        sent = await send_slowly(writer, head, 16384, answer)
        status, headers, body = await answer
        assert (status, headers["connection"]) == (431, "close")
        assert orjson.loads(body)["error"]["message"] == "request line and headers are too large"
        assert sent < 1_000_000  # refused at 64 KiB, not after reading it all
        await assert_closed(reader)
        writer.close()
    finally:
        await gw.close()


@pytest.mark.parametrize(("size", "status"), [(900, 200), (1200, 431)])
async def test_head_cap_is_configurable_and_counts_the_whole_head(size: int, status: int) -> None:
    async with serve(echo, max_head=1024) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = b"GET /x HTTP/1.1\r\nhost: x\r\n"
        for i in range(0, size, 100):  # many small headers, the last one padded to `size` in all
            request += b"x-h%d: %s\r\n" % (i, b"v" * 80)
        writer.write(request + b"\r\n")
        assert (await read_response(reader))[0] == status
        writer.close()


async def test_long_url_is_counted_too() -> None:
    async with serve(echo, max_head=1024) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /" + b"u" * 2000 + b" HTTP/1.1\r\nhost: x\r\n\r\n")
        assert (await read_response(reader))[0] == 431
        writer.close()


async def test_head_cap_applies_to_each_request_on_a_connection() -> None:
    async with serve(echo, max_head=1024) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(5):  # 5 x 700 bytes on one connection: each head is under the cap
            writer.write(b"GET /%d HTTP/1.1\r\nhost: x\r\nx-pad: %s\r\n\r\n" % (i, b"p" * 650))
            assert (await read_response(reader))[0] == 200
        writer.close()


# -- timeouts ---------------------------------------------------------------------------------------


async def test_slowloris_head_times_out_with_408() -> None:
    """Issue 6: 1,000 slowloris connections stayed open; a head must now arrive within the header timeout."""
    async with serve(echo, header_timeout=0.4) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        answer = asyncio.ensure_future(read_response(reader))
        head = b"GET / HTTP/1.1\r\nhost: x\r\n" + b"x-slow: " + b"s" * 1000
        with contextlib.suppress(ConnectionError):
            for byte in head:
                if answer.done():
                    break
                writer.write(bytes([byte]))
                await asyncio.sleep(0.05)
        status, headers, _ = await answer
        assert (status, headers["connection"]) == (408, "close")
        assert 0.35 < time.monotonic() - started < 2.0
        writer.close()


async def test_connection_that_sends_nothing_is_closed_quietly() -> None:
    async with serve(echo, header_timeout=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        assert 0.25 < time.monotonic() - started < 2.0
        writer.close()


async def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout() -> None:
    async with serve(echo, keepalive_timeout=0.4, header_timeout=5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(4):  # requests 0.25 s apart keep it open past 0.4 s
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            assert (await read_response(reader))[0] == 200
            await asyncio.sleep(0.25)
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        assert time.monotonic() - started < 1.0
        writer.close()


async def test_a_slow_handler_is_not_cut_by_the_client_timeouts() -> None:
    async def slow(req: Request, conn: Connection) -> None:
        await asyncio.sleep(0.6)
        conn.send_response(200, [], b"late")

    async with serve(slow, header_timeout=0.2, keepalive_timeout=0.2) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        assert (await read_response(reader))[::2] == (200, b"late")
        writer.close()


# -- connection cap ---------------------------------------------------------------------------------


def test_default_cap_follows_the_open_file_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert default_max_connections() == max(16, (soft - 128) // 2)
    assert ServerLimits(max_connections=7).connection_cap() == 7


async def test_at_the_cap_the_longest_idle_connection_makes_room() -> None:
    async with serve(echo, max_connections=3) as port:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /new HTTP/1.1\r\nhost: x\r\n\r\n")
        assert (await read_response(reader))[0] == 200
        assert await asyncio.wait_for(idle[0][0].read(), WAIT) == b""  # the oldest was closed
        idle[1][1].write(b"GET /still HTTP/1.1\r\nhost: x\r\n\r\n")  # the others still work
        assert (await read_response(idle[1][0]))[0] == 200
        for _, w in [*idle, (reader, writer)]:
            w.close()


async def test_at_the_cap_with_every_connection_busy_new_ones_get_503() -> None:
    release = asyncio.Event()

    async def blocking(req: Request, conn: Connection) -> None:
        if req.path == "/block":
            await release.wait()
        conn.send_response(200, [], req.path.encode())

    async with serve(blocking, max_connections=2) as port:
        busy = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        for _, w in busy:
            w.write(b"GET /block HTTP/1.1\r\nhost: x\r\n\r\n")
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, headers, body = await read_response(reader)
        assert (status, headers["retry-after"], headers["connection"]) == (503, "1", "close")
        assert orjson.loads(body)["error"]["message"] == "the gateway is at its connection limit"
        writer.close()
        release.set()
        for r, _ in busy:
            assert (await read_response(r))[::2] == (200, b"/block")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # busy ones are idle now
        writer.write(b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n")
        assert (await read_response(reader))[::2] == (200, b"/ok")
        for _, w in [*busy, (reader, writer)]:
            w.close()


# -- HEAD -------------------------------------------------------------------------------------------


async def test_head_response_has_no_body_and_the_connection_stays_usable() -> None:
    async def answers(req: Request, conn: Connection) -> None:
        if req.path == "/stream":
            conn.start_stream(200, [(b"content-type", b"text/event-stream")])
            await conn.write_chunk(b"data: 1\n\n")
            conn.end_stream(b"data: 2\n\n")
        else:
            conn.send_response(200, [(b"content-type", b"application/json")], b'{"ok":true}')

    async with serve(answers) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /json HTTP/1.1\r\nhost: x\r\n\r\nHEAD /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        writer.write(b"GET /json HTTP/1.1\r\nhost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 11\r\n" in head
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked\r\n" in head
        # the next bytes are the GET's response: nothing of the two bodies came before it
        assert (await read_response(reader))[::2] == (200, b'{"ok":true}')
        writer.close()


# -- file descriptors -------------------------------------------------------------------------------

_LOW_FD_GATEWAY = """
import asyncio, resource, sys
import uvloop
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
from tests.gateway.gw_helpers import new_key, provider, resource_set, start_gateway

async def main() -> None:
    value, key = new_key("LLMProvider", "p")
    gw = await start_gateway(resource_set([provider("p", "openai", "/p", sys.argv[1])], keys=[key]))
    print(gw.port, value, flush=True)
    await asyncio.Event().wait()

uvloop.run(main())
"""


async def test_idle_connections_past_the_file_limit_do_not_break_normal_requests() -> None:
    """Issue 6: with a 1,024 file limit, 1,100 idle connections made normal requests fail (EMFILE).

    A gateway process with `ulimit -n 256` (uvloop, as `serve` runs it) gets 400 idle connections;
    a normal request still gets its 200 from the upstream."""
    import os
    import sys
    from pathlib import Path

    from tests.gateway.gw_helpers import RawUpstream

    upstream = await RawUpstream().start()
    root = Path(__file__).resolve().parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _LOW_FD_GATEWAY,
        upstream.url,
        stdout=asyncio.subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(root)]))},
    )
    idle: list[asyncio.StreamWriter] = []
    try:
        assert proc.stdout is not None
        port_s, key = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().split()
        port = int(port_s)
        for _ in range(400):
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            idle.append(w)
        await asyncio.sleep(0.3)
        for attempt in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /p/v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key.encode())
            status, _headers, body = await asyncio.wait_for(read_response(reader), 10)
            assert (status, body) == (200, b'{"ok":true}'), attempt
            writer.close()
    finally:
        for w in idle:
            w.close()
        proc.kill()
        await proc.wait()
        await upstream.close()


async def test_stalled_tls_handshake_is_bounded_by_the_header_timeout(tmp_path: Path) -> None:
    from tests.gateway.gw_helpers import ListSink
    from tollgate.gateway.app import GatewayState, server_ssl_context, start_gateway_server
    from tollgate.mock.certs import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    state = GatewayState("tls", ListSink())
    server = await start_gateway_server(
        state, "127.0.0.1", 0, server_ssl_context(str(cert), str(key)), limits=ServerLimits(header_timeout=0.5)
    )
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # plain TCP: never says hello
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), WAIT) == b""
        assert 0.4 < time.monotonic() - started < 3.0
        writer.close()
    finally:
        server.close()

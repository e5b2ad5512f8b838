"""Tests for gateway/server.py: HTTP/1.1 framing over real loopback sockets, raw and through httpx."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import orjson
import pytest

from tests.gateway.gw_helpers import WAIT, new_key, provider, resource_set, start_gateway, wait_until
from tollgate.errors import GatewayError, PayloadTooLargeError
from tollgate.gateway.server import Connection, Request, protocol_factory

Handler = Callable[[Request, Connection], Awaitable[None]]


async def echo(req: Request, conn: Connection) -> None:
    try:
        data = await req.read_body()
    except GatewayError as err:
        error = {"error": {"message": err.message, "type": "invalid_request_error"}}
        conn.send_response(err.status, [], orjson.dumps(error))
        return
    body = orjson.dumps({"method": req.method, "path": req.path, "query": req.query, "len": len(data)})
    conn.send_response(200, [(b"content-type", b"application/json")], body)


@contextlib.asynccontextmanager
async def serve(handler: Handler, max_body: int = 1024 * 1024) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol_factory(handler, max_body), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), WAIT)
    elif headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int(await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT), 16)
            data = await asyncio.wait_for(reader.readexactly(size + 2), WAIT)
            if size == 0:
                break
            body += data[:-2]
    else:
        body = b""
    return status, headers, body


async def assert_closed(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionResetError):
        assert await asyncio.wait_for(reader.read(), WAIT) == b""


async def test_keep_alive_several_requests_on_one_connection() -> None:
    async with serve(echo) as port:
        transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=5) as client:
            peers = set()
            for i in range(5):
                resp = await client.post(f"/p/{i}?q={i}", content=b"x" * i)
                assert resp.json() == {"method": "POST", "path": f"/p/{i}", "query": f"q={i}", "len": i}
                assert "connection" not in resp.headers
                stream = resp.extensions["network_stream"]
                peers.add(stream.get_extra_info("client_addr"))
            assert len(peers) == 1


async def test_pipelined_requests_are_answered_in_order() -> None:
    async def slow_first(req: Request, conn: Connection) -> None:
        if req.path == "/slow":
            await asyncio.sleep(0.1)
        conn.send_response(200, [], req.path.encode())

    async with serve(slow_first) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        paths = ["/slow", "/b", "/c", "/slow", "/e"]
        writer.write(b"".join(f"GET {p} HTTP/1.1\r\nhost: x\r\n\r\n".encode() for p in paths))
        got = [(await read_response(reader))[2].decode() for _ in paths]
        assert got == paths
        writer.close()


async def test_connection_close_is_honoured() -> None:
    async with serve(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert status == 200 and headers["connection"] == "close" and b'"/a"' in body
        await assert_closed(reader)
        writer.close()


async def test_valid_request_before_garbage_is_answered_first() -> None:
    async def slow(req: Request, conn: Connection) -> None:
        await asyncio.sleep(0.05)
        conn.send_response(200, [], req.path.encode())

    async with serve(slow) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\nBROKEN\r\n\r\n")
        assert (await read_response(reader))[::2] == (200, b"/a")
        assert (await read_response(reader))[::2] == (200, b"/b")
        status, headers, _ = await read_response(reader)
        assert status == 400 and headers["connection"] == "close"
        await assert_closed(reader)
        writer.close()


async def test_handler_may_ask_to_close() -> None:
    async def closing(req: Request, conn: Connection) -> None:
        conn.send_response(200, [], b"bye", keep_alive=False)

    async with serve(closing) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert (status, headers["connection"], body) == (200, "close", b"bye")
        await assert_closed(reader)
        writer.close()


async def test_http_10_closes_after_the_response() -> None:
    async with serve(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /old HTTP/1.0\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert status == 200 and b'"/old"' in body and headers["connection"] == "close"
        await assert_closed(reader)
        writer.close()


async def test_http_10_keep_alive_when_asked() -> None:
    async with serve(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for path in ("/one", "/two"):
            writer.write(f"GET {path} HTTP/1.0\r\nconnection: keep-alive\r\n\r\n".encode())
            status, _, body = await read_response(reader)
            assert status == 200 and path.encode() in body
        writer.close()


async def test_http_10_stream_is_unframed_and_ends_by_close() -> None:
    async def streams(req: Request, conn: Connection) -> None:
        conn.start_stream(200, [(b"content-type", b"text/plain")])
        for part in (b"one ", b"two ", b"three"):
            await conn.write_chunk(part)
        conn.end_stream()

    async with serve(streams) as port:
        for version, chunked in ((b"1.0", False), (b"1.1", True)):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/%s\r\nhost: x\r\n\r\n" % version)
            if chunked:
                _status, headers, body = await read_response(reader)
                assert headers["transfer-encoding"] == "chunked" and body == b"one two three"
            else:
                raw = await asyncio.wait_for(reader.read(), WAIT)
                head, _, body = raw.partition(b"\r\n\r\n")
                assert b"transfer-encoding" not in head and b"connection: close" in head
                assert body == b"one two three"
            writer.close()


async def test_expect_100_continue() -> None:
    async with serve(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /up HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"hello")
        status, _, body = await read_response(reader)
        assert status == 200 and orjson.loads(body)["len"] == 5
        writer.close()
    # and through a real client
    async with serve(echo) as port, httpx.AsyncClient(timeout=5) as client:
        resp = await client.post(f"http://127.0.0.1:{port}/x", content=b"abc", headers={"expect": "100-continue"})
        assert resp.status_code == 200 and resp.json()["len"] == 3


@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nbad header line\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: nope\r\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nZZ\r\n",
    ],
)
async def test_malformed_request_gets_400_and_close(garbage: bytes) -> None:
    async with serve(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(garbage)
        status, headers, body = await read_response(reader)
        assert status == 400 and headers["connection"] == "close"
        assert orjson.loads(body)["error"]["type"] == "invalid_request_error"
        await assert_closed(reader)
        writer.close()


async def test_upgrade_is_ignored_and_the_connection_closed() -> None:
    async with serve(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /u HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n\x81\x05hello")
        status, headers, body = await read_response(reader)
        assert status == 200 and b'"/u"' in body and headers["connection"] == "close"
        await assert_closed(reader)
        writer.close()


async def test_body_over_server_limit_is_refused_whatever_the_handler_allows() -> None:
    async def generous(req: Request, conn: Connection) -> None:
        try:
            data = await req.read_body(10**9)
        except PayloadTooLargeError as err:
            conn.send_response(413, [], err.message.encode())
            return
        conn.send_response(200, [], b"%d" % len(data))

    async with serve(generous, max_body=1000) as port, httpx.AsyncClient(timeout=5) as client:
        resp = await client.post(f"http://127.0.0.1:{port}/x", content=b"a" * 5000)
        assert (resp.status_code, resp.text) == (413, "Request body is larger than 1000 bytes.")
        resp = await client.post(f"http://127.0.0.1:{port}/x", content=b"a" * 1000)
        assert (resp.status_code, resp.text) == (200, "1000")


@pytest.mark.parametrize(
    ("template", "path", "check"),
    [
        ("openai", "/p/v1/chat/completions", lambda b: b["error"]["code"] == "request_too_large"),
        ("anthropic", "/p/v1/messages", lambda b: b["type"] == "error" and b["error"]["type"] == "request_too_large"),
        ("gemini", "/p/v1beta/models/g:generateContent", lambda b: b["error"]["status"] == "INVALID_ARGUMENT"),
    ],
)
@pytest.mark.parametrize("server_limit", [None, 4096])
async def test_body_over_route_limit_is_413_in_vendor_shape(
    template: str, path: str, check: Callable[[dict], bool], server_limit: int | None
) -> None:
    value, key = new_key("LLMProvider", "p")
    rs = resource_set([provider("p", template, "/p", "http://127.0.0.1:9", maxRequestBytes=2048)], keys=[key])
    gw = await start_gateway(rs, max_body=server_limit)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.post(gw.url + path, headers={"x-api-key": value}, content=b"{" + b" " * 8000 + b"}")
        assert resp.status_code == 413
        assert check(resp.json())
        assert gw.sink.records[-1].status == 413
    finally:
        await gw.close()


async def test_client_disconnect_mid_request_cancels_the_handler() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def waits(req: Request, conn: Connection) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with serve(waits) as port:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await asyncio.wait_for(started.wait(), WAIT)
        writer.close()
        await asyncio.wait_for(cancelled.wait(), WAIT)


async def test_client_disconnect_mid_body_cancels_the_handler_waiting_for_it() -> None:
    events: list[str] = []

    async def record(req: Request, conn: Connection) -> None:
        events.append("called")
        try:
            await req.read_body()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        events.append("read")

    async with serve(record) as port:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /half HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly-part")
        await writer.drain()
        await wait_until(lambda: events == ["called"])
        writer.close()
        await wait_until(lambda: events == ["called", "cancelled"])


async def test_slow_reader_gets_backpressure_with_bounded_memory() -> None:
    chunk = b"x" * 65536
    progress = {"sent": 0, "buffered_max": 0, "done": False}
    conns: list[Connection] = []

    async def flood(req: Request, conn: Connection) -> None:
        conns.append(conn)
        conn.start_stream(200, [(b"content-type", b"application/octet-stream")])
        for _ in range(160):  # 10 MiB if nothing pushed back
            await conn.write_chunk(chunk)
            progress["sent"] += 1
            assert conn.transport is not None
            progress["buffered_max"] = max(progress["buffered_max"], conn.transport.get_write_buffer_size())
        conn.end_stream()
        progress["done"] = True

    async with serve(flood) as port:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")
        await asyncio.sleep(0.3)  # not reading: the handler must be parked in write_chunk
        stalled_at = progress["sent"]
        await asyncio.sleep(0.2)
        assert progress["sent"] == stalled_at < 80, progress
        assert progress["buffered_max"] < 1024 * 1024
        # now read everything: the handler resumes and finishes
        status, _headers, body = await asyncio.wait_for(read_response(reader), 20)
        assert status == 200 and len(body) == 160 * 65536
        await wait_until(lambda: progress["done"])
        writer.close()


async def test_slow_reader_that_leaves_releases_the_handler() -> None:
    failed = asyncio.Event()

    async def flood(req: Request, conn: Connection) -> None:
        conn.start_stream(200, [])
        try:
            while True:
                await conn.write_chunk(b"y" * 65536)
        except (ConnectionError, asyncio.CancelledError):
            failed.set()
            raise

    async with serve(flood) as port:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await asyncio.sleep(0.2)
        writer.transport.abort()
        await asyncio.wait_for(failed.wait(), WAIT)


async def test_handler_crash_breaks_the_connection_and_server_survives() -> None:
    async def crash(req: Request, conn: Connection) -> None:
        if req.path == "/boom":
            raise RuntimeError("bug")
        conn.send_response(200, [], b"fine")

    loop = asyncio.get_running_loop()
    errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    try:
        async with serve(crash) as port, httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(httpx.HTTPError):
                await client.get(f"http://127.0.0.1:{port}/boom")
            assert (await client.get(f"http://127.0.0.1:{port}/ok")).text == "fine"
        gc.collect()  # the crashed task reports its exception when collected
    finally:
        loop.set_exception_handler(None)
    assert any(isinstance(ctx.get("exception"), RuntimeError) for ctx in errors)


async def test_stream_with_a_known_length_is_sent_unchunked_and_keeps_the_connection() -> None:
    """For relaying a large upstream body of known length piece by piece (bounded memory)."""

    async def known(req: Request, conn: Connection) -> None:
        conn.start_stream(200, [(b"content-type", b"application/json")], content_length=13)
        await conn.write_chunk(b'{"a":')
        await conn.write_chunk(b'"bcdef')
        conn.end_stream(b'"}')

    async with serve(known) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            status, headers, body = await read_response(reader)
            assert (status, headers["content-length"], body) == (200, "13", b'{"a":"bcdef"}')
            assert "transfer-encoding" not in headers and "connection" not in headers
        writer.close()

"""Tests for the request-body contract (gateway/request.py, driven by gateway/server.py): the handler
runs when the head is complete and reads the body itself, bounded; over raw loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson

from tests.gateway.gw_helpers import WAIT, new_key, provider, resource_set, start_gateway, wait_until
from tests.gateway.test_server import Handler, assert_closed, read_response
from tollgate.errors import GatewayError
from tollgate.gateway.server import PREREAD, Connection, Request, protocol_factory
from tollgate.gateway.server_limits import ServerLimits


@contextlib.asynccontextmanager
async def serve(handler: Handler, **limits: float) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol_factory(handler, limits=ServerLimits(**limits)), "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def refuse(req: Request, conn: Connection) -> None:
    """Answers 401 without touching the body (a bad key)."""
    conn.send_response(401, [], b"no")


async def read_then_answer(req: Request, conn: Connection) -> None:
    limit = int(req.header(b"x-limit") or 10**9)
    try:
        data = await req.read_body(limit)
    except GatewayError as err:
        conn.send_response(err.status, [], err.message.encode())
        return
    conn.send_response(200, [], b"%d" % len(data))


async def test_handler_runs_before_the_body_arrives() -> None:
    called = asyncio.Event()

    async def handler(req: Request, conn: Connection) -> None:
        called.set()
        data = await req.read_body()
        conn.send_response(200, [], data)

    async with serve(handler) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n")
        await asyncio.wait_for(called.wait(), WAIT)  # no body byte sent yet
        writer.write(b"hello")
        assert (await read_response(reader))[::2] == (200, b"hello")
        writer.close()


async def test_unread_small_body_is_drained_and_the_connection_kept() -> None:
    async with serve(refuse) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n" + b"x" * 10)
        status, headers, body = await read_response(reader)
        assert (status, body, "connection" in headers) == (401, b"no", False)
        writer.write(b"y" * 990 + b"POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nzz")
        status, headers, body = await read_response(reader)
        assert (status, body, "connection" in headers) == (401, b"no", False)
        writer.close()


async def test_unread_large_or_chunked_body_closes_after_the_answer() -> None:
    heads = [
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n" + b"x" * 100,
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ]
    async with serve(refuse) as port:
        for head in heads:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head)
            status, headers, body = await read_response(reader)
            assert (status, body, headers["connection"]) == (401, b"no", "close")
            # The client may go on sending for a moment: it still reads a clean end, not a reset.
            writer.write(b"x" * 100_000)
            assert await asyncio.wait_for(reader.read(), WAIT) == b""
            writer.close()


async def test_expect_100_continue_is_not_sent_when_the_handler_refuses() -> None:
    async with serve(refuse) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        status, headers, body = await read_response(reader)
        # no interim 100 before it, and closed: the client may or may not send the body now
        assert (status, body, headers["connection"]) == (401, b"no", "close")
        await assert_closed(reader)
        writer.close()


async def test_expect_100_continue_is_sent_when_the_handler_reads() -> None:
    async with serve(read_then_answer) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"hello")
        assert (await read_response(reader))[::2] == (200, b"5")
        writer.close()


async def test_declared_length_over_the_limit_is_refused_without_reading() -> None:
    async with serve(read_then_answer) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\nx-limit: 1000\r\ncontent-length: 1000000000\r\n\r\n")
        status, headers, body = await read_response(reader)  # not one body byte was sent
        assert (status, body, headers["connection"]) == (413, b"Request body is larger than 1000 bytes.", "close")
        await assert_closed(reader)
        writer.close()


async def test_chunked_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    async with serve(read_then_answer) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\nx-limit: 4096\r\ntransfer-encoding: chunked\r\n\r\n")
        sent = 0
        answer = asyncio.ensure_future(read_response(reader))
        while not answer.done() and sent < 1000:
            writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
            sent += 1
            await asyncio.sleep(0.005)
        status, headers, body = await answer
        assert (status, body, headers["connection"]) == (413, b"Request body is larger than 4096 bytes.", "close")
        assert sent < 100  # answered while the body was still coming, not after it
        writer.close()


async def test_body_held_before_the_handler_asks_is_bounded() -> None:
    go = asyncio.Event()
    requests: list[Request] = []

    async def later(req: Request, conn: Connection) -> None:
        requests.append(req)
        await go.wait()
        data = await req.read_body()
        conn.send_response(200, [], b"%d" % len(data))

    async with serve(later) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 8000000\r\n\r\n" + b"x" * 8_000_000)
        await wait_until(lambda: bool(requests))
        await asyncio.sleep(0.3)
        assert requests[0]._received <= PREREAD + 256 * 1024  # then reading paused
        go.set()
        assert (await read_response(reader))[::2] == (200, b"8000000")
        writer.close()


async def test_body_that_stops_arriving_times_out_with_408() -> None:
    async with serve(read_then_answer, body_timeout=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
        status, headers, body = await read_response(reader)
        assert (status, body, headers["connection"]) == (408, b"The request body did not arrive in time.", "close")
        writer.close()


async def test_body_read_twice_is_an_error() -> None:
    outcome: list[str] = []

    async def twice(req: Request, conn: Connection) -> None:
        await req.read_body()
        try:
            await req.read_body()
        except RuntimeError as err:
            outcome.append(str(err))
        conn.send_response(200, [], b"")

    async with serve(twice) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi")
        assert (await read_response(reader))[0] == 200
        assert outcome == ["the request body was already read"]
        writer.close()


async def test_gateway_refuses_a_bad_key_before_reading_the_body() -> None:
    """Issue 6: the body was read (up to 64 MiB) and 100-continue answered before the key was checked."""
    _value, key = new_key("LLMProvider", "p")
    rs = resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9")], keys=[key])
    gw = await start_gateway(rs)
    try:
        for extra in (b"", b"expect: 100-continue\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            writer.write(
                b"POST /p/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: wrong\r\n"
                b"content-type: application/json\r\ncontent-length: 50000000\r\n%s\r\n" % extra
            )
            status, headers, body = await read_response(reader)  # nothing of the 50 MB was sent
            assert (status, headers["connection"]) == (401, "close")
            assert orjson.loads(body)["error"]["code"] == "invalid_api_key"
            writer.close()
    finally:
        await gw.close()


async def test_gateway_refuses_an_over_limit_length_before_reading() -> None:
    value, key = new_key("LLMProvider", "p")
    rs = resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9", maxRequestBytes=2048)], keys=[key])
    gw = await start_gateway(rs)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(
            b"POST /p/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n"
            b"content-length: 50000000\r\n\r\n" % value.encode()
        )
        status, headers, body = await read_response(reader)
        assert (status, headers["connection"]) == (413, "close")
        assert orjson.loads(body)["error"]["message"] == "Request body is larger than 2048 bytes."
        writer.close()
    finally:
        await gw.close()


async def test_pipelined_requests_with_bodies_each_get_their_own() -> None:
    async def lengths(req: Request, conn: Connection) -> None:
        data = await req.read_body()
        conn.send_response(200, [], b"%s %d %d" % (req.path.encode(), len(data), data.count(b"x")))

    big = PREREAD * 4  # held back while the first is answered, then read
    async with serve(lengths) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nxxx"
            b"POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s"
            b"POST /c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nxx\r\n0\r\n\r\n"
            b"GET /d HTTP/1.1\r\nhost: x\r\n\r\n" % (big, b"x" * big)
        )
        got = [(await read_response(reader))[2] for _ in range(4)]
        assert got == [b"/a 3 3", b"/b %d %d" % (big, big), b"/c 2 2", b"/d 0 0"]
        writer.close()


async def test_refused_body_stays_refused() -> None:
    outcome: list[str] = []

    async def twice(req: Request, conn: Connection) -> None:
        for _ in range(2):
            try:
                await req.read_body(10)
            except GatewayError as err:
                outcome.append(f"{err.status} {err.message}")
        conn.send_response(413, [], b"")

    async with serve(twice) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n")
        assert (await read_response(reader))[0] == 413
        assert outcome == ["413 Request body is larger than 10 bytes."] * 2
        writer.close()

"""Upstream transport behaviours seen through a running gateway (relay + snapshot + upstream pool):
raw client sockets in front, a raw upstream behind, the provider resource's transport fields."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.gateway.gw_helpers import (
    RawRequest,
    RawUpstream,
    RunningGateway,
    new_key,
    provider,
    resource_set,
    start_gateway,
    wait_until,
)
from tests.gateway.test_server import read_response
from tests.gateway.test_server_memory import RUNNERS
from tests.gateway.test_upstream_proxy import TinyProxy


@pytest.fixture
async def upstream() -> AsyncIterator[RawUpstream]:
    up = await RawUpstream().start()
    yield up
    await up.close()


async def gateway(upstream: RawUpstream, **spec: Any) -> tuple[RunningGateway, bytes]:
    value, key = new_key("LLMProvider", "p")
    gw = await start_gateway(resource_set([provider("p", "openai", "/p", upstream.url, **spec)], keys=[key]))
    return gw, value.encode()


async def test_head_through_the_gateway_keeps_the_client_connection_clean(upstream: RawUpstream) -> None:
    """Issue 6: HEAD got a 504 after the idle timeout, and a body corrupted the next response."""

    async def head_aware(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        body = b'{"object":"list","data":[]}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
        if req.method != "HEAD":
            writer.write(body)
        return True

    upstream.handler = head_aware
    gw, key = await gateway(upstream, timeouts={"idle": 5})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(b"HEAD /p/v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert loop.time() - started < 1.0
        writer.write(b"GET /p/v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key)
        status, _, body = await read_response(reader)  # the very next bytes: no stray body before it
        assert (status, body) == (200, b'{"object":"list","data":[]}')
        assert [r.method for r in upstream.requests] == ["HEAD", "GET"] and upstream.connections == 1
        assert [r.status for r in gw.sink.records] == [200, 200]
        writer.close()
    finally:
        await gw.close()


async def test_close_delimited_response_is_relayed_not_502(upstream: RawUpstream) -> None:
    """Issue 6: HTTP/1.0 (or unframed) responses always became 502."""
    payload = {
        "id": "c1",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }

    async def http10(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n" + orjson.dumps(payload))
        return False

    upstream.handler = http10
    gw, key = await gateway(upstream)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        body = b'{"model":"gpt-4o","messages":[]}'
        writer.write(
            b"POST /p/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\ncontent-length: %d\r\n\r\n%s"
            % (key, len(body), body)
        )
        status, _, got = await read_response(reader)
        assert (status, orjson.loads(got)) == (200, payload)
        record = gw.sink.records[-1]
        assert (record.status, record.prompt_tokens, record.completion_tokens) == (200, 7, 3)
        writer.close()
    finally:
        await gw.close()


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"".join(b"x-h%d: v\r\n" % i for i in range(20_000)), "upstream sent too many response headers"),
        (b"x-big: " + b"a" * 1_000_000 + b"\r\n", "upstream response headers are too large"),
    ],
)
async def test_oversized_response_headers_are_a_502_in_the_vendor_shape(
    upstream: RawUpstream, head: bytes, message: str
) -> None:
    """Issue 6: 20,000 response headers, or a 1 MB one, passed through to the client."""

    async def huge(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n" + head + b"content-length: 2\r\n\r\n{}")
        return True

    upstream.handler = huge
    gw, key = await gateway(upstream)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /p/v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key)
        status, headers, body = await read_response(reader)
        assert status == 502 and len(headers) < 10
        assert orjson.loads(body)["error"]["message"] == message  # OpenAI's error shape
        writer.close()
    finally:
        await gw.close()


async def test_provider_proxy_field_sends_upstream_traffic_through_the_proxy(upstream: RawUpstream) -> None:
    proxy = await TinyProxy().start()
    gw, key = await gateway(upstream, proxy=proxy.url)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /p/v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key)
        assert (await read_response(reader))[::2] == (200, b'{"ok":true}')
        assert proxy.first_lines == [f"GET http://127.0.0.1:{upstream.port}/v1/models HTTP/1.1".encode()]
        writer.close()
    finally:
        await gw.close()
        await proxy.close()


async def test_provider_connection_limit_queues_then_answers_503(upstream: RawUpstream) -> None:
    release = asyncio.Event()

    async def hangs(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if req.target.endswith("/hang"):
            await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
        return True

    upstream.handler = hangs
    gw, key = await gateway(upstream, maxConnections=1, timeouts={"pool": 0.3})
    try:
        first_r, first_w = await asyncio.open_connection("127.0.0.1", gw.port)
        first_w.write(b"GET /p/v1/models/hang HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key)
        await wait_until(lambda: len(upstream.requests) == 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /p/v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key)
        status, _, body = await read_response(reader)
        assert status == 503
        assert "connection limit" in orjson.loads(body)["error"]["message"]
        release.set()
        assert (await read_response(first_r))[0] == 200
        writer.write(b"GET /p/v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % key)
        assert (await read_response(reader))[0] == 200
        assert upstream.connections == 1
        for w in (first_w, writer):
            w.close()
    finally:
        await gw.close()


@pytest.mark.parametrize("loop", RUNNERS)
def test_a_stream_the_client_leaves_frees_what_the_upstream_had_sent(loop: str) -> None:
    """The upstream connection and its parser form a reference cycle, and so does an error it keeps
    and raised through the relay's frames: body bytes buffered for a client that left must be
    dropped when the connection closes, not when the collector runs. (Found on uvloop only.)"""
    RUNNERS[loop](_abandoned_streams())


async def _abandoned_streams() -> None:
    import gc
    import tracemalloc

    upstream = await RawUpstream().start()

    async def floods(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        event = b"data: " + b"x" * 16000 + b"\n\n"
        frame = b"%x\r\n%s\r\n" % (len(event), event)
        try:
            for _ in range(400):  # 6.4 MB, faster than anyone reads it
                writer.write(frame)
                await writer.drain()
        except ConnectionError:
            pass
        return False

    upstream.handler = floods
    gw, key = await gateway(upstream)
    try:
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            for _ in range(8):
                reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
                body = b'{"model":"gpt-4o","stream":true,"messages":[]}'
                writer.write(
                    b"POST /p/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n"
                    b"content-length: %d\r\n\r\n%s" % (key, len(body), body)
                )
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                await asyncio.sleep(0.3)  # the gateway has paused reading with ~1 MiB buffered
                writer.transport.abort()
            await wait_until(lambda: gw.state.inflight == 0)
            await asyncio.sleep(0.2)
            held = tracemalloc.get_traced_memory()[0] - baseline
        finally:
            tracemalloc.stop()
            gc.enable()
        assert held < 1024 * 1024, f"{held / 1048576:.1f} MB held after 8 abandoned streams"
    finally:
        await gw.close()
        await upstream.close()

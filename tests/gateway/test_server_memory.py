"""Memory the data-plane server holds for hostile uploads (gateway/server.py), measured with
tracemalloc over raw loopback sockets against a real gateway, with the cyclic collector off."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator

import pytest
import uvloop

from tests.gateway.gw_helpers import WAIT, new_key, provider, resource_set, start_gateway, wait_until

MB = 1024 * 1024
#: Each test runs on both loops: asyncio's (the tests' default) and uvloop (what `serve` runs), since
#: when objects are released depends on the loop's own references.
RUNNERS: dict[str, Callable[[Awaitable[None]], None]] = {"asyncio": asyncio.run, "uvloop": uvloop.run}  # type: ignore[dict-item]


@contextlib.contextmanager
def traced_without_gc() -> Iterator[None]:
    """Memory is counted by tracemalloc; only reference counting frees it (as in a busy process
    between two runs of the cyclic collector)."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()
        gc.enable()
        gc.collect()


@pytest.mark.parametrize("loop", RUNNERS)
def test_aborted_uploads_are_freed_at_once(loop: str) -> None:
    """Issue 6: RSS climbed 214 -> 2,135 MB over rounds of aborted 60 MB uploads until gc ran."""
    RUNNERS[loop](_aborted_uploads())


async def _aborted_uploads() -> None:
    value, key = new_key("LLMProvider", "p")
    rs = resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9", maxRequestBytes=64 * MB)], keys=[key])
    gw = await start_gateway(rs)
    try:
        with traced_without_gc():
            baseline = tracemalloc.get_traced_memory()[0]
            for _ in range(4):
                writers = []
                for _ in range(4):
                    _reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
                    writer.write(
                        b"POST /p/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n"
                        b"content-length: %d\r\n\r\n" % (value.encode(), 60 * MB)
                    )
                    writer.write(b"x" * (4 * MB))
                    await writer.drain()
                    writers.append(writer)
                await asyncio.sleep(0.2)  # let the gateway read what was sent
                for writer in writers:
                    writer.transport.abort()
                await asyncio.sleep(0.2)
            await wait_until(lambda: gw.state.inflight == 0, WAIT)
            await asyncio.sleep(0.1)
            held = tracemalloc.get_traced_memory()[0] - baseline
        assert held < 2 * MB, f"{held / MB:.1f} MB still held after 16 aborted 4 MB uploads"
    finally:
        await gw.close()


async def settled_memory() -> int:
    """Traced memory once it stops changing (the gateway has consumed what was sent)."""
    last = -1
    steady = 0
    async with asyncio.timeout(30):
        while steady < 3:
            await asyncio.sleep(0.05)
            now = tracemalloc.get_traced_memory()[0]
            steady = steady + 1 if now == last else 0
            last = now
    return last


@pytest.mark.parametrize("loop", RUNNERS)
def test_many_tiny_chunks_cost_their_size_not_an_object_each(loop: str) -> None:
    """Issue 6: 27 MB of 2-byte chunks kept 217 MB (a list of one bytes object per chunk)."""
    RUNNERS[loop](_tiny_chunks())


async def _tiny_chunks() -> None:
    value, key = new_key("LLMProvider", "p")
    rs = resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9", maxRequestBytes=64 * MB)], keys=[key])
    gw = await start_gateway(rs)
    body = b'{"model":"m","x":"' + b"x" * MB + b'"}'
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(
            b"POST /p/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n"
            b"transfer-encoding: chunked\r\n\r\n" % value.encode()
        )
        with traced_without_gc():
            baseline = tracemalloc.get_traced_memory()[0]
            for off in range(0, len(body), 8192):
                block = body[off : off + 8192]
                writer.write(
                    b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (block[i : i + 2] for i in range(0, 8192, 2)) if p)
                )
                await writer.drain()
            held = await settled_memory() - baseline
            peak = tracemalloc.get_traced_memory()[1] - baseline
        # measured before the body ends, so what the relay does with it afterwards is not counted
        assert held < 1.5 * MB and peak < 3 * MB, f"held {held / MB:.1f} MB, peak {peak / MB:.1f} MB for 1 MB"
        writer.write(b"0\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 502 ")  # nothing listens upstream
        writer.close()
    finally:
        await gw.close()

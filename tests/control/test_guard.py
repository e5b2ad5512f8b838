"""AdminGuard over a real uvicorn listener and raw sockets: token before body, body cap, back-off, logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from tests.control.conftest import ADMIN_TOKEN
from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.control.guard import DEFAULT_ADMIN_MAX_BODY
from tollgate.control.server import start_control_server
from tollgate.node import DEFAULT_ADMIN_MAX_BODY as NODE_DEFAULT
from tollgate.security.backoff import FailureBackoff
from tollgate.store import Store

MAX_BODY = 4096


@pytest.fixture
async def api(store: Store, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setenv("TOLLGATE_ADMIN_TOKEN", ADMIN_TOKEN)
    server, port = await start_control_server(None, store, "127.0.0.1", 0, max_body=MAX_BODY)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def exchange(port: int, head: bytes, body: bytes = b"", *, timeout: float = 2.0) -> tuple[int, bytes]:
    """Send `head` (+ `body`) and return the status and the whole response (read until close or length)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        async with asyncio.timeout(timeout):
            status_line = await reader.readline()
            rest = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(line.split(b":")[1] for line in rest.split(b"\r\n") if line.lower().startswith(b"content-length"))
            )
            payload = await reader.readexactly(length)
        return int(status_line.split()[1]), rest + payload
    finally:
        writer.close()


def put_head(port: int, length: int, token: str | None = None, path: bytes = b"/api/v1/providers/p") -> bytes:
    auth = b"authorization: Bearer %s\r\n" % token.encode() if token else b""
    return (
        b"PUT %s HTTP/1.1\r\nhost: 127.0.0.1:%d\r\ncontent-type: application/json\r\n%scontent-length: %d\r\n\r\n"
        % (
            path,
            port,
            auth,
            length,
        )
    )


async def test_a_keyless_request_is_refused_before_its_body_is_read(api: int) -> None:
    # 100 MB announced, not one body byte sent: the answer must come from the headers alone.
    status, response = await exchange(api, put_head(api, 100_000_000))
    assert status == 401
    assert b'"type":"unauthorized"' in response and b"www-authenticate: bearer" in response.lower()
    accepted = "a user's token (from `tollgate login` or `tollgate tokens create`) or the value of TOLLGATE_ADMIN_TOKEN"
    message = json.loads(response.split(b"\r\n\r\n", 1)[1])["error"]["message"]
    assert message == f"missing token: send 'Authorization: Bearer <token>' with {accepted}"
    status, response = await exchange(api, put_head(api, 100_000_000, "wrong-token"))
    assert status == 401
    message = json.loads(response.split(b"\r\n\r\n", 1)[1])["error"]["message"]
    assert message == f"invalid, expired or revoked token: send {accepted}"


async def test_a_body_over_the_cap_is_413_even_with_a_good_token(api: int) -> None:
    status, response = await exchange(api, put_head(api, MAX_BODY + 1, ADMIN_TOKEN))
    assert status == 413
    assert b'"message":"request body over 4096 bytes"' in response
    chunked = (
        b"PUT /api/v1/providers/p HTTP/1.1\r\nhost: x\r\nauthorization: Bearer %s\r\n"
        b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n" % ADMIN_TOKEN.encode()
    )
    piece = b"%x\r\n%s\r\n" % (3000, b" " * 3000)
    status, _ = await exchange(api, chunked, piece + piece + b"0\r\n\r\n")
    assert status == 413


async def test_a_body_under_the_cap_reaches_the_api(api: int) -> None:
    body = b'{"metadata": {"name": "p"}, "spec": {"template": "openai", "context": "/p"}}'
    status, response = await exchange(api, put_head(api, len(body), ADMIN_TOKEN), body)
    assert status == 200, response
    assert response.endswith(b'{"kind":"LLMProvider","name":"p","outcome":"created","resourceVersion":"1"}')
    status, _ = await exchange(
        api, b"GET /api/v1/providers HTTP/1.1\r\nhost: x\r\nauthorization: Bearer %s\r\n\r\n" % ADMIN_TOKEN.encode()
    )
    assert status == 200


async def test_repeated_bad_tokens_are_logged_and_backed_off(api: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tollgate.security")
    head = b"GET /api/v1/keys HTTP/1.1\r\nhost: x\r\nauthorization: Bearer guess-%d\r\n\r\n"
    statuses = [(await exchange(api, head % i))[0] for i in range(12)]
    assert statuses == [401] * 9 + [429] * 3
    status, response = await exchange(api, head.replace(b"guess-%d", ADMIN_TOKEN.encode()))
    assert status == 429  # blocked clients are not even checked: the right token waits too
    assert b"retry-after: 30\r\n" in response.lower()
    rejected = [r.getMessage() for r in caplog.records if "management API token rejected" in r.getMessage()]
    assert len(rejected) == 10  # the 11th and 12th were refused unchecked, without a log line each
    assert rejected[0].startswith("management API token rejected: client=127.0.0.1 fp=")
    assert all("guess-" not in line for line in rejected)
    assert any("blocked for 30 s after 10 failed tokens" in r.getMessage() for r in caplog.records)


def test_the_node_and_the_guard_share_one_default() -> None:
    assert NODE_DEFAULT == DEFAULT_ADMIN_MAX_BODY == 16 * 1024 * 1024


def test_create_app_takes_a_backoff(store: Store) -> None:
    from fastapi.testclient import TestClient

    backoff = FailureBackoff(max_failures=2, block=5, max_block=5)
    app = create_app(store, auth=AdminAuth(store, env_token=ADMIN_TOKEN), backoff=backoff)
    with TestClient(app) as tc:
        codes = [tc.get("/api/v1/keys", headers={"Authorization": "Bearer x"}).status_code for _ in range(3)]
    assert codes == [401, 429, 429]

"""Tests for gateway/relay.py: a real gateway on loopback in front of the vendor mocks (and raw upstreams).

The client is httpx (or a raw socket where httpx would normalise the request); usage records are
caught by a list-backed sink. Each test reads what the mock actually received.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests.gateway.gw_helpers import (
    WAIT,
    RawRequest,
    RawUpstream,
    RunningGateway,
    new_key,
    provider,
    proxy,
    resource_set,
    start_gateway,
    wait_until,
)
from tollgate.mock import MockServer
from tollgate.resources.keys import KeyRecord
from tollgate.resources.resource_set import ResourceSet

AZURE_QUERY = "api-version=2024-10-21"


@dataclass(frozen=True)
class Vendor:
    template: str
    mock: str
    path: str  # vendor path after the context
    model: str
    upstream_header: str  # where the mock expects its credential
    client_header: tuple[str, str]  # (header, prefix) the vendor's SDK sends its key in
    query: str = ""

    def body(self, text: str = "hello", stream: bool = False, **extra: Any) -> dict[str, Any]:
        if self.template == "gemini":
            return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}
        if self.template == "anthropic":
            body = {"model": self.model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
        else:
            body = {"model": self.model, "messages": [{"role": "user", "content": text}]}
        if stream:
            body["stream"] = True
        return {**body, **extra}

    def stream_path(self) -> tuple[str, str]:
        if self.template == "gemini":
            return self.path.replace(":generateContent", ":streamGenerateContent"), "alt=sse"
        return self.path, self.query


VENDORS: dict[str, Vendor] = {
    "openai": Vendor(
        "openai", "openai", "/v1/chat/completions", "gpt-4o", "authorization", ("authorization", "Bearer ")
    ),
    "anthropic": Vendor("anthropic", "anthropic", "/v1/messages", "claude-sonnet-4-5", "x-api-key", ("x-api-key", "")),
    "gemini": Vendor(
        "gemini",
        "gemini",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "gemini-2.5-flash",
        "x-goog-api-key",
        ("x-goog-api-key", ""),
    ),
    "mistral": Vendor(
        "mistral",
        "mistral",
        "/v1/chat/completions",
        "mistral-small-latest",
        "authorization",
        ("authorization", "Bearer "),
    ),
    "azure": Vendor(
        "azure-openai",
        "azure",
        "/openai/deployments/dep1/chat/completions",
        "dep1",
        "api-key",
        ("api-key", ""),
        AZURE_QUERY,
    ),
    "foundry": Vendor(
        "azure-ai-foundry",
        "foundry",
        "/models/chat/completions",
        "gpt-4o",
        "api-key",
        ("api-key", ""),
        "api-version=2024-05-01-preview",
    ),
}


@dataclass
class Env:
    gw: RunningGateway
    mock: MockServer
    keys: dict[str, str]  # route name -> key value
    client: httpx.AsyncClient

    def url(self, context: str, path: str, query: str = "") -> str:
        return f"{self.gw.url}{context}{path}" + (f"?{query}" if query else "")


def build_resources(mock: MockServer, keys: dict[str, str], records: list[KeyRecord]) -> ResourceSet:
    providers = []
    proxies = []

    def add_key(kind: str, name: str) -> None:
        value, record = new_key(kind, name)
        keys[name] = value
        records.append(record)

    for name, v in VENDORS.items():
        providers.append(provider(name, v.template, f"/{name}", mock.url(v.mock), secret=f"{name}-cred"))
        add_key("LLMProvider", name)
        proxies.append(proxy(f"{name}-app", name, f"/app/{name}"))
        add_key("LLMProxy", f"{name}-app")
    providers.append(
        provider(
            "openai-query",
            "openai",
            "/openai-query",
            mock.url("openai"),
            secret="openai-cred",
            security={"location": "query", "name": "api_key"},
        )
    )
    add_key("LLMProvider", "openai-query")
    providers.append(
        provider("r-openai", "openai", "/r/openai", mock.url("openai"), secret="openai-cred", models=["gpt-4o-mini"])
    )
    add_key("LLMProvider", "r-openai")
    providers.append(
        provider("r-anthropic", "anthropic", "/r/anthropic", mock.url("anthropic"), secret="anthropic-cred")
    )
    add_key("LLMProvider", "r-anthropic")
    secrets = {f"{name}-cred": mock.keys[v.mock] for name, v in VENDORS.items()}
    return resource_set(providers, proxies, records, secrets)


@pytest.fixture
async def env(mock: MockServer) -> AsyncIterator[Env]:
    keys: dict[str, str] = {}
    records: list[KeyRecord] = []
    gw = await start_gateway(build_resources(mock, keys, records))
    async with httpx.AsyncClient(timeout=10) as client:
        yield Env(gw, mock, keys, client)
    await gw.close()


def _all_values(recorded: dict[str, Any]) -> str:
    return " ".join([*recorded["headers"].values(), recorded["query"], recorded["body"]])


@pytest.mark.parametrize("route", ["provider", "proxy"])
@pytest.mark.parametrize("vendor", list(VENDORS))
async def test_client_credential_replaced_by_provider_credential(env: Env, vendor: str, route: str) -> None:
    v = VENDORS[vendor]
    name, context = (vendor, f"/{vendor}") if route == "provider" else (f"{vendor}-app", f"/app/{vendor}")
    key = env.keys[name]
    header, prefix = v.client_header
    for headers in ({header: prefix + key}, {"x-api-key": key}):
        env.mock.clear()
        resp = await env.client.post(env.url(context, v.path, v.query), json=v.body(), headers=headers)
        assert resp.status_code == 200, resp.text
        (seen,) = env.mock.requests(v.mock)
        expected = ("Bearer " if v.upstream_header == "authorization" else "") + env.mock.keys[v.mock]
        assert seen["headers"][v.upstream_header] == expected
        assert key not in _all_values(seen) and key[15:] not in _all_values(seen)
        assert seen["vendor_path"] == v.path
        assert seen["query"] == v.query
    record = env.gw.sink.records[-1]
    assert record.status == 200 and record.provider == vendor
    assert record.proxy == (None if route == "provider" else name)
    assert record.prompt_tokens and record.completion_tokens and record.total_tokens


async def test_query_key_is_stripped_and_vendor_params_kept(env: Env) -> None:
    key = env.keys["openai-query"]
    resp = await env.client.post(
        env.url("/openai-query", "/v1/chat/completions", f"foo=1&api_key={key}&bar=2"), json=VENDORS["openai"].body()
    )
    assert resp.status_code == 200
    (seen,) = env.mock.requests("openai")
    assert seen["query"] == "foo=1&bar=2" and key not in _all_values(seen)

    # Gemini's own `?key=` (here the gateway key, sent beside the header) is stripped; `alt=sse` kept
    env.mock.clear()
    gem = VENDORS["gemini"]
    path, query = gem.stream_path()
    resp = await env.client.post(
        env.url("/gemini", path, f"{query}&key={env.keys['gemini']}"),
        json=gem.body(),
        headers={"x-goog-api-key": env.keys["gemini"]},
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    (seen,) = env.mock.requests("gemini")
    assert seen["query"] == "alt=sse" and env.keys["gemini"] not in _all_values(seen)


async def test_anthropic_version_default_and_client_value(env: Env) -> None:
    v = VENDORS["anthropic"]
    headers = {"x-api-key": env.keys["anthropic"]}
    await env.client.post(env.url("/anthropic", v.path), json=v.body(), headers=headers)
    await env.client.post(
        env.url("/anthropic", v.path), json=v.body(), headers={**headers, "anthropic-version": "2023-01-01"}
    )
    first, second = env.mock.requests("anthropic")
    assert first["headers"]["anthropic-version"] == "2023-06-01"
    assert second["headers"]["anthropic-version"] == "2023-01-01"


async def test_request_ids(env: Env) -> None:
    v = VENDORS["openai"]
    headers = {"x-api-key": env.keys["openai"]}
    ok = await env.client.post(env.url("/openai", v.path), json=v.body(), headers=headers)
    failed = await env.client.post(env.url("/openai", v.path), json=v.body("[mock:error=429]"), headers=headers)
    ids = {ok.headers["x-request-id"], failed.headers["x-request-id"]}
    assert len(ids) == 2 and all(ids)
    assert failed.headers["x-upstream-request-id"].startswith("req_")
    assert failed.headers.get_list("x-request-id") == [failed.headers["x-request-id"]]
    assert [r.request_id for r in env.gw.sink.records] == [ok.headers["x-request-id"], failed.headers["x-request-id"]]


async def test_hop_by_hop_headers_are_not_forwarded(env: Env) -> None:
    v = VENDORS["openai"]
    headers = {
        "x-api-key": env.keys["openai"],
        "keep-alive": "timeout=5",
        "proxy-authorization": "Basic eDp5",
        "te": "trailers",
        "x-custom": "kept",
        "accept-encoding": "gzip",
        "openai-organization": "org-1",
    }
    resp = await env.client.post(env.url("/openai", v.path), json=v.body(), headers=headers)
    assert resp.status_code == 200
    seen = env.mock.requests("openai")[0]["headers"]
    for name in ("keep-alive", "proxy-authorization", "te", "x-api-key"):
        assert name not in seen
    assert seen["x-custom"] == "kept" and seen["openai-organization"] == "org-1"
    assert seen["accept-encoding"] == "identity"
    # the response carries no upstream framing headers twice
    assert "transfer-encoding" not in resp.headers or "content-length" not in resp.headers


async def test_headers_named_in_connection_are_not_forwarded(env: Env) -> None:
    v = VENDORS["openai"]
    headers = {"x-api-key": env.keys["openai"], "connection": "keep-alive, X-Hop", "x-hop": "1", "x-end": "2"}
    resp = await env.client.post(env.url("/openai", v.path), json=v.body(), headers=headers)
    assert resp.status_code == 200
    seen = env.mock.requests("openai")[0]["headers"]
    assert "x-hop" not in seen and seen["x-end"] == "2"


async def _raw(env: Env, target: str, body: bytes, key: str) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(env.gw.url.rsplit(":", 1)[1]))
    try:
        writer.write(
            f"POST {target} HTTP/1.1\r\nhost: x\r\nx-api-key: {key}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        status = int(head.split(b" ", 2)[1])
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        return status, orjson.loads(await asyncio.wait_for(reader.readexactly(length), WAIT))
    finally:
        writer.close()


@pytest.mark.parametrize(
    "path",
    ["/v1/../v1/chat/completions", "/v1/%2e%2e/admin", "/v1/%2E%2e/x", "/./v1/chat/completions", "/v1/chat/.."],
)
async def test_dot_segments_are_rejected(env: Env, path: str) -> None:
    body = orjson.dumps(VENDORS["openai"].body())
    status, err = await _raw(env, "/openai" + path, body, env.keys["openai"])
    assert status == 400 and err["error"]["type"] == "invalid_request_error"
    assert env.mock.requests() == []


async def test_dot_like_names_are_not_rejected(env: Env) -> None:
    resp = await env.client.get(env.url("/openai", "/v1/models/gpt-4o.mini"), headers={"x-api-key": env.keys["openai"]})
    assert resp.status_code in (200, 404)
    assert env.mock.requests("openai")[0]["vendor_path"] == "/v1/models/gpt-4o.mini"


@pytest.mark.parametrize(
    ("vendor", "check"),
    [
        ("openai", lambda b: b["error"]["type"] == "invalid_request_error" and b["error"]["code"] == "invalid_request"),
        ("anthropic", lambda b: b["type"] == "error" and b["error"]["type"] == "invalid_request_error"),
        ("mistral", lambda b: b["object"] == "error" and b["type"] == "invalid_request_error"),
    ],
)
async def test_malformed_json_is_400_in_vendor_shape(env: Env, vendor: str, check: Any) -> None:
    v = VENDORS[vendor]
    for body in (b'{"model": "x",', b"[1, 2]", b"\xff\xfe"):
        resp = await env.client.post(
            env.url(f"/{vendor}", v.path), content=body, headers={"x-api-key": env.keys[vendor]}
        )
        assert resp.status_code == 400, body
        assert check(resp.json())
        assert resp.headers["x-should-retry"] == "false"
    assert env.mock.requests() == []
    assert env.gw.sink.records[-1].status == 400 and env.gw.sink.records[-1].error_code == "invalid_request"


async def test_model_allow_list(env: Env) -> None:
    v = VENDORS["openai"]
    headers = {"x-api-key": env.keys["r-openai"]}
    denied = await env.client.post(env.url("/r/openai", v.path), json=v.body(), headers=headers)
    assert denied.status_code == 400 and denied.json()["error"]["code"] == "model_not_allowed"
    assert "gpt-4o" in denied.json()["error"]["message"]
    allowed = await env.client.post(
        env.url("/r/openai", v.path), json={**v.body(), "model": "gpt-4o-mini"}, headers=headers
    )
    assert allowed.status_code == 200
    assert len(env.mock.requests()) == 1


async def test_not_found_and_unauthorized_in_vendor_shape(env: Env) -> None:
    v = VENDORS["anthropic"]
    missing = await env.client.post(env.gw.url + "/nowhere/v1/messages", json=v.body())
    assert missing.status_code == 404 and missing.json()["type"] == "error"
    unauth = await env.client.post(env.url("/anthropic", v.path), json=v.body(), headers={"x-api-key": "sk-nope"})
    assert unauth.status_code == 401 and unauth.json()["error"]["type"] == "authentication_error"
    wrong_route = await env.client.post(
        env.url("/anthropic", v.path), json=v.body(), headers={"x-api-key": env.keys["openai"]}
    )
    assert wrong_route.status_code == 401
    assert env.mock.requests() == []


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "gemini", "azure"])
@pytest.mark.parametrize("status", [400, 429, 500, 503])
async def test_upstream_error_passes_through_unchanged(env: Env, vendor: str, status: int) -> None:
    v = VENDORS[vendor]
    body = v.body(f"fail [mock:error={status}]")
    via_gateway = await env.client.post(
        env.url(f"/{vendor}", v.path, v.query), json=body, headers={"x-api-key": env.keys[vendor]}
    )
    direct = await env.client.post(
        env.mock.url(v.mock) + v.path + (f"?{v.query}" if v.query else ""),
        json=body,
        headers={
            v.upstream_header: ("Bearer " if v.upstream_header == "authorization" else "") + env.mock.keys[v.mock],
            "anthropic-version": "2023-06-01",
        },
    )
    assert via_gateway.status_code == direct.status_code == status
    strip_ids = lambda b: {k: val for k, val in b.items() if k != "request_id"}  # noqa: E731
    assert strip_ids(via_gateway.json()) == strip_ids(direct.json())
    if status == 429 and "retry-after" in direct.headers:
        assert via_gateway.headers["retry-after"] == direct.headers["retry-after"]
    assert env.gw.sink.records[-1].status == status


async def _stream_lines(resp: httpx.Response) -> list[bytes]:
    data = b""
    async for chunk in resp.aiter_raw():
        data += chunk
    return data.replace(b"\r\n", b"\n").split(b"\n\n")


async def test_openai_stream_without_include_usage_hides_usage_chunk_but_meters(env: Env) -> None:
    v = VENDORS["openai"]
    async with env.client.stream(
        "POST",
        env.url("/openai", v.path),
        json=v.body("count to three", stream=True),
        headers={"x-api-key": env.keys["openai"]},
    ) as resp:
        assert resp.status_code == 200
        frames = [f for f in await _stream_lines(resp) if f]
    events = [orjson.loads(f[6:]) for f in frames if f.startswith(b"data: {")]
    assert events and all(e["choices"] != [] for e in events)
    assert frames[-1] == b"data: [DONE]"
    sent = orjson.loads(env.mock.requests("openai")[0]["body"])
    assert sent["stream_options"] == {"include_usage": True}
    record = env.gw.sink.records[-1]
    assert record.is_streaming and record.status == 200 and record.error_code is None
    assert record.prompt_tokens and record.completion_tokens
    assert record.total_tokens == record.prompt_tokens + record.completion_tokens


async def test_openai_stream_with_include_usage_keeps_the_chunk(env: Env) -> None:
    v = VENDORS["openai"]
    body = v.body(stream=True, stream_options={"include_usage": True})
    async with env.client.stream(
        "POST", env.url("/openai", v.path), json=body, headers={"x-api-key": env.keys["openai"]}
    ) as resp:
        frames = [f for f in await _stream_lines(resp) if f.startswith(b"data: {")]
    assert orjson.loads(frames[-1][6:])["choices"] == []
    assert env.gw.sink.records[-1].total_tokens


@pytest.mark.parametrize(
    ("vendor", "error_marker"),
    [
        ("openai", b'data: {"error"'),
        ("anthropic", b"event: error"),
        ("gemini", b'data: {"error"'),
        ("mistral", b'data: {"error"'),
    ],
)
async def test_upstream_break_mid_stream_ends_with_vendor_error_event(
    env: Env, vendor: str, error_marker: bytes
) -> None:
    v = VENDORS[vendor]
    path, query = v.stream_path()
    headers = {"x-api-key": env.keys[vendor]}
    body = v.body("tell me a long story [mock:break]", stream=True)
    async with env.client.stream("POST", env.url(f"/{vendor}", path, query), json=body, headers=headers) as resp:
        assert resp.status_code == 200
        frames = [f for f in await _stream_lines(resp) if f]
    assert frames[-1].startswith(error_marker), frames[-1]
    assert b"[DONE]" not in b"".join(frames)
    record = env.gw.sink.records[-1]
    assert record.error_code == "upstream_protocol_error"
    # the connection and the gateway are fine for the next request
    again = await env.client.post(env.url(f"/{vendor}", v.path, v.query), json=v.body(), headers=headers)
    assert again.status_code == 200


async def test_upstream_break_in_a_non_sse_stream_breaks_the_client_connection(env: Env) -> None:
    v = VENDORS["gemini"]
    path = v.path.replace(":generateContent", ":streamGenerateContent")  # JSON array stream, no alt=sse
    headers = {"x-api-key": env.keys["gemini"]}
    with pytest.raises(httpx.RemoteProtocolError):
        async with env.client.stream(
            "POST", env.url("/gemini", path), json=v.body("a long story [mock:break]"), headers=headers
        ) as resp:
            assert resp.status_code == 200
            async for _ in resp.aiter_raw():
                pass
    again = await env.client.post(env.url("/gemini", v.path), json=v.body(), headers=headers)
    assert again.status_code == 200


@pytest.mark.parametrize("unchunked", [False, True], ids=["chunked", "content-length"])
async def test_gemini_json_array_stream_is_relayed_and_metered(env: Env, unchunked: bool) -> None:
    """`:streamGenerateContent` without `alt=sse` answers one JSON array, chunked or (through a buffering
    proxy) with a Content-Length: either way a stream, metered from the last element's usageMetadata."""
    v = VENDORS["gemini"]
    path = v.path.replace(":generateContent", ":streamGenerateContent")
    prompt = "Count from 1 to 5." + (" [mock:unchunked]" if unchunked else "")
    prompt_words = 6 if unchunked else 5  # the mock counts every word of the prompt, the directive too
    resp = await env.client.post(
        env.url("/gemini", path), json=v.body(prompt), headers={"x-goog-api-key": env.keys["gemini"]}
    )
    assert resp.status_code == 200
    assert ("content-length" in resp.headers) is unchunked
    assert resp.headers.get("transfer-encoding") == (None if unchunked else "chunked")
    if unchunked:
        assert int(resp.headers["content-length"]) == len(resp.content)
    elements = orjson.loads(resp.content)
    text = "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in elements)
    assert text == "1 2 3 4 5" and len(elements) == 5
    assert elements[-1]["usageMetadata"]["candidatesTokenCount"] == 5
    await wait_until(lambda: bool(env.gw.sink.records))
    record = env.gw.sink.records[-1]
    assert record.status == 200 and record.error_code is None and record.is_streaming
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (prompt_words, 5, prompt_words + 5)
    assert record.response_model == "gemini-2.5-flash"


async def test_first_chunk_failure_is_a_clean_502(mock: MockServer) -> None:
    async def head_then_reset(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        await writer.drain()
        writer.transport.abort()
        return False

    up = await RawUpstream(head_then_reset).start()
    value, record = new_key("LLMProvider", "raw")
    gw = await start_gateway(resource_set([provider("raw", "openai", "/raw", up.url)], keys=[record]))
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.post(
                gw.url + "/raw/v1/chat/completions",
                json=VENDORS["openai"].body(stream=True),
                headers={"x-api-key": value},
            )
        assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_protocol_error"
    finally:
        await gw.close()
        await up.close()


async def test_upstream_unreachable_and_slow(mock: MockServer) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    value, rec = new_key("LLMProvider", "down")
    value2, rec2 = new_key("LLMProvider", "slow")
    rs = resource_set(
        [
            provider("down", "anthropic", "/down", f"http://127.0.0.1:{closed}", secret="c"),
            provider("slow", "openai", "/slow", mock.url("openai"), secret="o", timeouts={"firstByte": 0.3}),
        ],
        keys=[rec, rec2],
        secrets={"c": "x", "o": mock.keys["openai"]},
    )
    gw = await start_gateway(rs)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            down = await client.post(
                gw.url + "/down/v1/messages", json=VENDORS["anthropic"].body(), headers={"x-api-key": value}
            )
            assert down.status_code == 502 and down.json()["error"]["type"] == "api_error"
            slow = await client.post(
                gw.url + "/slow/v1/chat/completions",
                json=VENDORS["openai"].body("[mock:delay=2000]"),
                headers={"x-api-key": value2},
            )
            assert slow.status_code == 504 and slow.json()["error"]["code"] == "upstream_timeout"
        assert [r.status for r in gw.sink.records] == [502, 504]
    finally:
        await gw.close()


async def test_unreachable_upstream_address_is_not_revealed() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    value, rec = new_key("LLMProvider", "down")
    gw = await start_gateway(
        resource_set([provider("down", "openai", "/down", f"http://127.0.0.1:{closed}")], keys=[rec])
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.post(
                gw.url + "/down/v1/chat/completions", json=VENDORS["openai"].body(), headers={"x-api-key": value}
            )
        assert resp.status_code == 502
        assert str(closed) not in resp.text and "127.0.0.1" not in resp.text
    finally:
        await gw.close()


async def test_client_disconnect_mid_stream_closes_the_upstream_connection() -> None:
    first_sent = asyncio.Event()

    async def endless(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        frame = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
        writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        await writer.drain()
        first_sent.set()
        await req.wait_closed()  # never ends the stream on its own
        return False

    up = await RawUpstream(endless).start()
    value, record = new_key("LLMProvider", "raw")
    gw = await start_gateway(resource_set([provider("raw", "openai", "/raw", up.url)], keys=[record]))
    try:
        async with (
            httpx.AsyncClient(timeout=5) as client,
            client.stream(
                "POST",
                gw.url + "/raw/v1/chat/completions",
                json=VENDORS["openai"].body(stream=True),
                headers={"x-api-key": value},
            ) as resp,
        ):
            async for chunk in resp.aiter_raw():
                assert b"data:" in chunk
                break
        await wait_until(lambda: up.open_connections == 0)  # the gateway hung up on the vendor
        assert up.connections == 1
        await wait_until(lambda: bool(gw.sink.records))
        assert gw.sink.records[-1].status == 499 and gw.sink.records[-1].error_code == "client_disconnected"
    finally:
        await gw.close()
        await up.close()


async def test_client_disconnect_while_waiting_for_upstream_head() -> None:
    async def hangs(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        await req.wait_closed()
        return False

    up = await RawUpstream(hangs).start()
    value, record = new_key("LLMProvider", "raw")
    gw = await start_gateway(resource_set([provider("raw", "openai", "/raw", up.url)], keys=[record]))
    try:
        async with httpx.AsyncClient(timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(
                    gw.url + "/raw/v1/chat/completions", json=VENDORS["openai"].body(), headers={"x-api-key": value}
                )
        await wait_until(lambda: up.connections == 1 and up.open_connections == 0)
    finally:
        await gw.close()
        await up.close()


async def test_hot_swap_keeps_streams_and_pools(env: Env) -> None:
    v = VENDORS["openai"]
    headers = {"x-api-key": env.keys["openai"]}
    warm = await env.client.post(env.url("/openai", v.path), json=v.body(), headers=headers)
    assert warm.status_code == 200
    old = env.gw.state.snapshot
    old_pool = old.routes["/openai"].targets[0].pool
    body = v.body("slowly please [mock:chunk-delay=100]", stream=True)
    async with env.client.stream("POST", env.url("/openai", v.path), json=body, headers=headers) as resp:
        iterator = resp.aiter_raw()
        first = await anext(iterator)
        assert b"data:" in first
        # swap to a set where /openai is gone and a new route exists
        keys: dict[str, str] = {}
        new = build_resources(env.mock, keys, [])
        new.providers.pop("openai")
        env.gw.state.apply(new)
        assert env.gw.state.snapshot is not old
        rest = b"".join([chunk async for chunk in iterator])
    assert rest.rstrip().endswith(b"data: [DONE]")
    assert env.gw.sink.records[-1].completion_tokens
    gone = await env.client.post(env.url("/openai", v.path), json=v.body(), headers=headers)
    assert gone.status_code == 404
    assert env.gw.state.snapshot.routes["/openai-query"].targets[0].pool is old_pool


async def test_concurrent_streams_share_nothing(env: Env) -> None:
    async def one(vendor: str) -> bytes:
        v = VENDORS[vendor]
        path, query = v.stream_path()
        async with env.client.stream(
            "POST",
            env.url(f"/{vendor}", path, query),
            json=v.body(f"hi from {vendor}", stream=True),
            headers={"x-api-key": env.keys[vendor]},
        ) as resp:
            assert resp.status_code == 200
            return await resp.aread()

    outs = await asyncio.gather(*(one(name) for name in VENDORS for _ in range(3)))
    assert all(outs)
    streamed = [r for r in env.gw.sink.records if r.is_streaming or r.path.endswith("streamGenerateContent")]
    assert len(env.gw.sink.records) == 18
    assert all(r.status == 200 and r.total_tokens for r in env.gw.sink.records), env.gw.sink.records
    assert streamed


async def test_http10_client_gets_a_plain_stream(env: Env) -> None:
    v = VENDORS["openai"]
    body = orjson.dumps(v.body(stream=True))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(env.gw.url.rsplit(":", 1)[1]))
    writer.write(
        f"POST /openai{v.path} HTTP/1.0\r\nx-api-key: {env.keys['openai']}\r\n".encode()
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError):
        raw = await asyncio.wait_for(reader.read(-1), WAIT)
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    assert b"transfer-encoding: chunked" not in head.lower()  # chunked is HTTP/1.1 only
    assert payload.startswith(b"data: {") and payload.rstrip().endswith(b"data: [DONE]")


async def test_a_client_api_bug_costs_one_request_a_clean_500_not_the_connection() -> None:
    value, rec = new_key("LLMProvider", "buggy")
    gw = await start_gateway(resource_set([provider("buggy", "openai", "/buggy", "http://127.0.0.1:9")], keys=[rec]))
    route = gw.state.snapshot.routes["/buggy"]

    class Boom(Exception):
        pass

    def explode(*_: object) -> None:
        raise Boom("adapter bug")

    object.__setattr__(
        route,
        "client_api",
        type(
            "Broken",
            (),
            {
                "reads_body": staticmethod(lambda *_: False),
                "request_facts": staticmethod(explode),
                "error_response": route.client_api.error_response,
            },
        )(),
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(2):  # the same keep-alive connection serves the next request too
                resp = await client.post(gw.url + "/buggy/v1/chat/completions", json={}, headers={"x-api-key": value})
                assert resp.status_code == 500
                assert resp.json()["error"]["message"] == "Internal gateway error."
                assert "adapter bug" not in resp.text
    finally:
        await gw.close()

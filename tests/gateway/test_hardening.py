"""Regression tests of the relay-side hardening findings (issue 6 §2), over raw sockets against a real
gateway: the model allow-list fails closed, any truthy `stream` is metered as the stream it becomes,
refused requests cannot grow the usage table at the rate they arrive, forwarding headers never reach
the vendor, and clients that keep guessing keys are backed off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from tests.gateway.gw_helpers import (
    WAIT,
    RawRequest,
    RawUpstream,
    RunningGateway,
    new_key,
    provider,
    resource_set,
    start_gateway,
)
from tollgate.gateway.refusals import REFUSED_PATH_LIMIT
from tollgate.mock import MockServer


async def raw(gw: RunningGateway, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one raw HTTP/1.1 request (with `connection: close`), return status, headers, body."""
    port = int(gw.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        async with asyncio.timeout(WAIT):
            data = await reader.read(-1)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return int(lines[0].split(" ")[1]), headers, body


def _unchunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out.append(rest[:size])
        data = rest[size + 2 :]
    return b"".join(out)


def post(path: str, key: str, body: bytes, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: gw", f"x-api-key: {key}", "content-type: application/json"]
    lines += [*extra, f"content-length: {len(body)}", "connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
async def allow_listed(mock: MockServer) -> AsyncIterator[tuple[RunningGateway, dict[str, str]]]:
    keys: dict[str, str] = {}
    records = []
    providers = []
    for name, template, models in (("o", "openai", ["gpt-4o-mini"]), ("g", "gemini", ["gemini-2.5-flash"])):
        providers.append(provider(name, template, f"/{name}", mock.url(template), secret=name, models=models))
        keys[name], record = new_key("LLMProvider", name)
        records.append(record)
    gw = await start_gateway(
        resource_set(providers, keys=records, secrets={"o": mock.keys["openai"], "g": mock.keys["gemini"]})
    )
    yield gw, keys
    await gw.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"messages": []}',
        b'{"model": null, "messages": []}',
        b'{"model": "", "messages": []}',
        b'{"model": ["gpt-4o-mini"], "messages": []}',
        b'{"model": ["gpt-4o", "gpt-4o-mini"], "messages": []}',
        b'{"model": {"id": "gpt-4o-mini"}, "messages": []}',
        b'{"model": 4, "messages": []}',
        b'{"model": "gpt-4o", "messages": []}',
    ],
)
async def test_the_allow_list_fails_closed_on_a_model_it_cannot_read(
    allow_listed: tuple[RunningGateway, dict[str, str]], mock: MockServer, body: bytes
) -> None:
    gw, keys = allow_listed
    status, _, answer = await raw(gw, post("/o/v1/chat/completions", keys["o"], body))
    assert status == 400
    assert orjson.loads(answer)["error"]["code"] == "model_not_allowed"
    assert mock.requests() == []
    assert gw.sink.records[-1].status == 400 and gw.sink.records[-1].error_code == "model_not_allowed"


@pytest.mark.parametrize(
    "path",
    [
        "/g/v1beta//models/gemini-2.5-pro:generateContent",
        "/g/v2/models/gemini-2.5-pro:generateContent",
        "/g/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        "/g/v1beta/models%2Fgemini-2.5-pro:generateContent",
        "/g/v1beta/tunedModels/gemini-2.5-pro:generateContent",
    ],
)
async def test_gemini_paths_of_unusual_shape_do_not_slip_past_the_allow_list(
    allow_listed: tuple[RunningGateway, dict[str, str]], mock: MockServer, path: str
) -> None:
    gw, keys = allow_listed
    status, _, answer = await raw(gw, post(path, keys["g"], b'{"contents": []}'))
    assert status == 400
    assert orjson.loads(answer)["error"]["status"] == "INVALID_ARGUMENT"
    assert mock.requests() == []


async def test_listed_models_and_model_free_reads_still_pass(
    allow_listed: tuple[RunningGateway, dict[str, str]], mock: MockServer
) -> None:
    gw, keys = allow_listed
    body = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
    status, _, _ = await raw(gw, post("/o/v1/chat/completions", keys["o"], body))
    assert status == 200
    contents = b'{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}'
    status, _, _ = await raw(gw, post("/g/v1beta/models/gemini-2.5-flash:generateContent", keys["g"], contents))
    assert status == 200
    listing = f"GET /o/v1/models HTTP/1.1\r\nhost: gw\r\nx-api-key: {keys['o']}\r\nconnection: close\r\n\r\n"
    status, _, _ = await raw(gw, listing.encode())
    assert status == 200
    assert len(mock.requests()) == 3


# --- "stream": 1 and friends against a lenient upstream ------------------------------------------

USAGE_CHUNK = b'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-x","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":5,"total_tokens":16}}\n\n'  # noqa: E501


async def lenient(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
    """Streams for any truthy `stream`, and reports usage only when asked with include_usage."""
    body = orjson.loads(req.body)
    if not body.get("stream"):
        usage = b'{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}'
        payload = b'{"model":"gpt-4o-x","choices":[],"usage":%s}' % usage
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(payload))
        writer.write(payload)
        return True
    content = b'{"id":"c","object":"chat.completion.chunk","model":"gpt-4o-x","choices":[{"delta":{"content":"hi"}}]}'
    frames = [b"data: %s\n\n" % content]
    if (body.get("stream_options") or {}).get("include_usage"):
        frames.append(USAGE_CHUNK)
    frames.append(b"data: [DONE]\n\n")
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    for frame in frames:
        writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


@pytest.fixture
async def lenient_gw() -> AsyncIterator[tuple[RunningGateway, RawUpstream, str]]:
    up = await RawUpstream(lenient).start()
    key, record = new_key("LLMProvider", "p")
    gw = await start_gateway(resource_set([provider("p", "openai", "/p", up.url)], keys=[record]))
    yield gw, up, key
    await gw.close()
    await up.close()


@pytest.mark.parametrize("flag", [b"1", b'"yes"', b"true", b'"false"'])
async def test_any_truthy_stream_gets_usage_injected_and_is_metered_as_a_stream(
    lenient_gw: tuple[RunningGateway, RawUpstream, str], flag: bytes
) -> None:
    gw, up, key = lenient_gw
    body = b'{"model": "gpt-4o", "stream": %s, "messages": []}' % flag
    status, headers, answer = await raw(gw, post("/p/v1/chat/completions", key, body))
    assert status == 200 and headers["content-type"] == "text/event-stream"
    sent = orjson.loads(up.requests[-1].body)
    assert sent["stream_options"] == {"include_usage": True} and sent["stream"] == orjson.loads(flag)
    assert b'"choices":[]' not in answer and answer.endswith(b"data: [DONE]\n\n")  # the client did not ask for it
    row = gw.sink.records[-1]
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (11, 5, 16)
    assert row.is_streaming is True and row.response_model == "gpt-4o-x"


async def test_an_sse_answer_to_a_non_streaming_request_is_metered_as_a_stream(
    lenient_gw: tuple[RunningGateway, RawUpstream, str],
) -> None:
    gw, up, key = lenient_gw
    # the client asks for usage itself, so the chunk is its own and passes
    body = b'{"model": "gpt-4o", "stream": 1, "stream_options": {"include_usage": true}, "messages": []}'
    status, _, answer = await raw(gw, post("/p/v1/chat/completions", key, body))
    assert status == 200 and USAGE_CHUNK in answer
    assert up.requests[-1].body == body  # untouched
    row = gw.sink.records[-1]
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens, row.is_streaming) == (11, 5, 16, True)
    status, _, _ = await raw(gw, post("/p/v1/chat/completions", key, b'{"model": "gpt-4o", "stream": 0}'))
    row = gw.sink.records[-1]
    assert (status, row.total_tokens, row.is_streaming) == (200, 5, False)


# --- refused requests, forwarding headers, backoff ------------------------------------------------


async def test_refused_requests_do_not_grow_the_usage_table_at_their_rate(
    lenient_gw: tuple[RunningGateway, RawUpstream, str],
) -> None:
    gw, up, _ = lenient_gw
    long_path = "/p/v1/" + "a" * 2000
    port = int(gw.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    one = f"POST {long_path} HTTP/1.1\r\nhost: gw\r\ncontent-length: 2\r\n\r\n{{}}".encode()
    started = time.monotonic()
    writer.write(one * 500)  # pipelined, no key at all: nobody is guessing, so no backoff either
    await writer.drain()
    answered = 0
    async with asyncio.timeout(WAIT * 2):
        buf = b""
        while answered < 500:
            buf += await reader.read(65536)
            answered = buf.count(b"HTTP/1.1 401")
    elapsed = time.monotonic() - started
    writer.close()
    assert gw.state.refusals.total == 500
    rows = gw.sink.records
    # the bucket: a burst of 10, then 5 rows a second however fast refusals come
    assert 10 <= len(rows) <= 10 + int(5 * elapsed) + 1, (len(rows), elapsed)
    assert gw.state.refusals.unrecorded == 500 - len(rows)
    assert all(r.status == 401 and len(r.path) == REFUSED_PATH_LIMIT for r in rows)
    assert up.requests == []


async def test_forwarding_headers_never_reach_the_vendor(lenient_gw: tuple[RunningGateway, RawUpstream, str]) -> None:
    gw, up, key = lenient_gw
    request = post(
        "/p/v1/chat/completions",
        key,
        b'{"model": "gpt-4o", "messages": []}',
        "X-Forwarded-For: 6.6.6.6",
        "X-Forwarded-Host: evil.example",
        "X-Forwarded-Proto: https",
        "Forwarded: for=6.6.6.6;host=evil.example",
        "X-Real-IP: 6.6.6.6",
    )
    status, _, _ = await raw(gw, request)
    assert status == 200
    seen = up.requests[-1].headers
    assert not {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "x-real-ip"} & set(seen)
    assert "6.6.6.6" not in " ".join(seen.values())


async def test_a_client_guessing_keys_is_backed_off_and_others_are_not(
    lenient_gw: tuple[RunningGateway, RawUpstream, str], caplog: pytest.LogCaptureFixture
) -> None:
    gw, up, key = lenient_gw
    gw.state.trusted_hops = 1  # one reverse proxy in front: the client is the last X-Forwarded-For entry
    body = b'{"model": "gpt-4o", "messages": []}'
    wrong = key[:-4] + "AAAA"
    statuses = []
    for _ in range(gw.state.backoff.max_failures):
        status, _, _ = await raw(gw, post("/p/v1/chat/completions", wrong, body, "X-Forwarded-For: 10.9.9.9"))
        statuses.append(status)
    assert statuses == [401] * (gw.state.backoff.max_failures - 1) + [429]
    status, headers, answer = await raw(gw, post("/p/v1/chat/completions", key, body, "X-Forwarded-For: 10.9.9.9"))
    assert status == 429 and int(headers["retry-after"]) >= 29  # even the right secret, for that key id, while blocked
    assert orjson.loads(answer)["error"]["type"] == "rate_limit_error"
    status, _, _ = await raw(gw, post("/p/v1/chat/completions", key, body, "X-Forwarded-For: 10.1.1.1"))
    assert status == 200 and len(up.requests) == 1
    malformed = await raw(gw, post("/p/v1/chat/completions", "sk-nope", body, "X-Forwarded-For: 10.9.9.9"))
    assert malformed[0] == 401  # other key ids from the blocked client are counted apart
    assert "blocked for 30 s" in caplog.text and "10.9.9.9" in caplog.text
    assert wrong not in caplog.text and wrong[15:] not in caplog.text


async def test_a_client_rotating_key_ids_is_backed_off_by_address(
    lenient_gw: tuple[RunningGateway, RawUpstream, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Made-up key ids never repeat, so the (address, key id) count never fills; the address count
    over all ids does, at ten times the per-id bar, and then the whole address waits."""
    gw, up, key = lenient_gw
    gw.state.trusted_hops = 1
    body = b'{"model": "gpt-4o", "messages": []}'
    bar = gw.state.address_backoff.max_failures
    assert bar == 10 * gw.state.backoff.max_failures == 100
    statuses = []
    for i in range(bar):
        made_up = f"tg_{i:012x}_{'x' * 30}"  # well formed, a new id each time
        status, _, _ = await raw(gw, post("/p/v1/chat/completions", made_up, body, "X-Forwarded-For: 10.7.7.7"))
        statuses.append(status)
    assert statuses == [401] * (bar - 1) + [429]
    status, headers, _ = await raw(gw, post("/p/v1/chat/completions", key, body, "X-Forwarded-For: 10.7.7.7"))
    assert status == 429 and int(headers["retry-after"]) >= 29  # the address waits, valid key or not
    status, _, _ = await raw(gw, post("/p/v1/chat/completions", key, body, "X-Forwarded-For: 10.1.1.2"))
    assert status == 200 and len(up.requests) == 1  # other addresses are not affected
    assert "client 10.7.7.7 blocked for 30 s after 100 invalid keys of any id" in caplog.text


# --- large and length-less non-streamed responses are relayed as they arrive --------------------

BIG_CONTENT = "lorem ipsum " * 700_000  # ~8 MB of answer


def _big_answer() -> bytes:
    usage = {"prompt_tokens": 21, "completion_tokens": 2_100_000, "total_tokens": 2_100_021}
    choice = {"index": 0, "message": {"role": "assistant", "content": BIG_CONTENT}, "finish_reason": "stop"}
    return orjson.dumps(
        {"id": "c", "object": "chat.completion", "model": "gpt-4o-big", "choices": [choice], "usage": usage}
    )


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close"])
async def test_a_large_json_body_is_relayed_before_it_has_all_arrived(framing: str) -> None:
    body = _big_answer()
    half = len(body) // 2
    client_has_bytes = asyncio.Event()

    async def slow_big(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        if framing == "content-length":
            head += f"content-length: {len(body)}\r\n"
        elif framing == "chunked":
            head += "transfer-encoding: chunked\r\n"
        else:
            head += "connection: close\r\n"
        writer.write((head + "\r\n").encode())
        pieces = [body[:half], body[half:]]
        for i, piece in enumerate(pieces):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if framing == "chunked" else piece)
            await writer.drain()
            if i == 0:  # the rest only once the client got something: a gateway holding the body would hang
                await asyncio.wait_for(client_has_bytes.wait(), WAIT)
        if framing == "chunked":
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return framing != "close"

    up = await RawUpstream(slow_big).start()
    key, record = new_key("LLMProvider", "p")
    gw = await start_gateway(resource_set([provider("p", "openai", "/p", up.url)], keys=[record]))
    try:
        port = int(gw.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/p/v1/chat/completions", key, b'{"model": "gpt-4o", "messages": []}'))
        received = b""
        async with asyncio.timeout(WAIT * 2):
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                received += data
                if len(received) > 1 << 20:
                    client_has_bytes.set()
        writer.close()
        head, _, payload = received.partition(b"\r\n\r\n")
        if framing == "content-length":
            assert f"content-length: {len(body)}".encode() in head.lower()
        else:
            assert b"transfer-encoding: chunked" in head.lower()
            payload = _unchunk(payload)
        assert payload == body
        row = gw.sink.records[-1]
        assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (21, 2_100_000, 2_100_021)
        assert (row.status, row.response_model, row.is_streaming) == (200, "gpt-4o-big", False)
    finally:
        await gw.close()
        await up.close()

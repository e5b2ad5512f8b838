"""Streams are relayed chunk by chunk, never buffered, with each vendor's framing intact; a client
that disconnects mid-stream, or an upstream that breaks mid-stream, does not hurt the gateway.
"""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from e2e_clients import openai_client
from e2e_harness import E2E, wait_usage

CHUNK_DELAY_MS = 300
PIECES = 5  # "Count from 1 to 5" -> 5 text chunks, each 300 ms after the previous one
STREAM_SECONDS = (PIECES + 1) * CHUNK_DELAY_MS / 1000  # + the delay before the tail


def _assert_incremental(arrivals: list[float], started: float, ended: float) -> None:
    """The first text arrives about one chunk delay after the start, long before the stream ends,
    and the pieces arrive spread out, not in one burst."""
    assert len(arrivals) == PIECES, arrivals
    first = arrivals[0] - started
    total = ended - started
    assert total >= STREAM_SECONDS * 0.9, f"the stream took {total:.2f}s, expected ~{STREAM_SECONDS}s"
    assert first < total - 2 * CHUNK_DELAY_MS / 1000, f"first text after {first:.2f}s of {total:.2f}s: buffered"
    spread = arrivals[-1] - arrivals[0]
    assert spread >= (PIECES - 1) * CHUNK_DELAY_MS / 1000 * 0.7, f"pieces arrived within {spread:.2f}s: a burst"


def test_openai_sdk_receives_chunks_as_they_come(e2e: E2E) -> None:
    client = openai_client(e2e.invoke_url("openai"), e2e.key("openai"))
    started = time.monotonic()
    arrivals: list[float] = []
    text = []
    stream = client.chat.completions.create(
        model="gpt-4o",
        stream=True,
        messages=[{"role": "user", "content": f"Count from 1 to {PIECES}. [mock:chunk-delay={CHUNK_DELAY_MS}]"}],
    )
    for chunk in stream:
        delta = chunk.choices[0].delta.content if chunk.choices else None
        if delta:
            arrivals.append(time.monotonic())
            text.append(delta)
    ended = time.monotonic()
    assert "".join(text) == "1 2 3 4 5"
    _assert_incremental(arrivals, started, ended)


@pytest.mark.parametrize("route", ["openai", "anthropic-app"])
def test_raw_httpx_receives_chunks_as_they_come(e2e: E2E, route: str) -> None:
    prompt = f"Count from 1 to {PIECES}. [mock:chunk-delay={CHUNK_DELAY_MS}]"
    if route == "openai":
        path, body = (
            "/v1/chat/completions",
            {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": prompt}]},
        )
        marker = b'"content":"'
    else:
        path, body = (
            "/v1/messages",
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 64,
                "stream": True,
                "messages": [{"role": "user", "content": prompt}],
            },
        )
        marker = b'"text_delta"'
    arrivals: list[float] = []
    started = time.monotonic()
    with httpx.stream(
        "POST", e2e.invoke_url(route) + path, json=body, headers={"X-API-Key": e2e.key(route)}, timeout=15
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers.get("x-request-id")
        for line in response.iter_lines():
            if marker in line.encode() and b'"content":""' not in line.encode():
                arrivals.append(time.monotonic())
    ended = time.monotonic()
    _assert_incremental(arrivals, started, ended)


def test_gemini_sse_framing_is_kept(e2e: E2E) -> None:
    """CRLF frames, `data: ` with the space, no comment lines, no [DONE], alt=sse forwarded."""
    url = e2e.invoke_url("gemini") + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    body = {"contents": [{"role": "user", "parts": [{"text": "Count from 1 to 3. gemini-framing"}]}]}
    response = httpx.post(url, json=body, headers={"X-API-Key": e2e.key("gemini")}, timeout=15)
    assert response.status_code == 200
    raw = response.content
    frames = [f for f in raw.split(b"\r\n\r\n") if f]
    assert len(frames) == 3 and all(f.startswith(b"data: {") for f in frames), raw
    assert b"[DONE]" not in raw and b"\n:" not in raw and not raw.startswith(b":")
    upstream = [r for r in e2e.mock.requests("gemini") if "gemini-framing" in str(r["body"])]
    assert len(upstream) == 1 and "alt=sse" in upstream[0]["query"]


def test_anthropic_event_lines_are_kept(e2e: E2E) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "Count from 1 to 2."}],
    }
    response = httpx.post(
        e2e.invoke_url("anthropic") + "/v1/messages", json=body, headers={"X-API-Key": e2e.key("anthropic")}, timeout=15
    )
    events = [line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event: ")]
    assert events[:2] == ["message_start", "content_block_start"] and events[-1] == "message_stop", events


def test_client_disconnect_mid_stream_does_not_break_the_gateway(e2e: E2E) -> None:
    route = "openai"
    body = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "Count from 1 to 20. [mock:chunk-delay=200] disconnect-me"}],
    }
    started = time.time()
    with httpx.stream(
        "POST",
        e2e.invoke_url(route) + "/v1/chat/completions",
        json=body,
        headers={"X-API-Key": e2e.key(route)},
        timeout=15,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if '"content":"1"' in line:
                break  # leave after the first piece: closing the stream drops the connection
    ended = time.time()
    # the next requests work, streamed and not
    client = openai_client(e2e.invoke_url(route), e2e.key(route))
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "What is WSO2?"}])
    assert reply.choices[0].message.content == "Hello from the mock OpenAI API."
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="gpt-4o", stream=True, messages=[{"role": "user", "content": "Count from 1 to 3."}]
        )
        if c.choices
    )
    assert text == "1 2 3"
    assert e2e.gateway.alive()
    # the abandoned request is metered as a client disconnect (499), not as a success
    rows = wait_usage(e2e.db_path, started, ended + 5, provider=route, proxy=None)
    abandoned = [r for r in rows if r["status"] != 200 or r["error_code"]]
    assert abandoned and abandoned[0]["status"] == 499, rows


def test_upstream_break_mid_stream_is_contained(e2e: E2E) -> None:
    client = openai_client(e2e.invoke_url("openai"), e2e.key("openai"))
    received = []
    # the gateway turns the broken upstream into the vendor's in-stream error event -> openai.APIError
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(
            model="gpt-4o",
            stream=True,
            messages=[{"role": "user", "content": "Count from 1 to 6. [mock:break]"}],
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["1", " 2", " 3"], received  # the pieces before the break arrived
    assert str(info.value) and "tg_" not in str(info.value) and "mock-openai-key" not in str(info.value)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "What is WSO2?"}])
    assert reply.choices[0].message.content == "Hello from the mock OpenAI API."

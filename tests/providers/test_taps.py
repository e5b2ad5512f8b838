"""Tests for providers/taps.py beyond one vendor: the bounded tap for large JSON bodies, the JSON value
scanner, and in-band error events (the SSE tap is exercised per vendor in the template tests)."""

from __future__ import annotations

import orjson
import pytest

from tollgate.providers.anthropic import anthropic_template
from tollgate.providers.gemini import gemini_template
from tollgate.providers.openai import openai_template
from tollgate.providers.taps import BODY_EDGE, JSONBodyTap, event_error, json_value_at
from tollgate.providers.template import Template
from tollgate.usage.record import TokenUsage, UsageResult

from .chunking import chunkings, fixture, run_tap


def _inflate(body: bytes, path: list[str | int], size: int) -> bytes:
    """`body` with the text at `path` made `size` characters long (braces and quotes included)."""
    obj = orjson.loads(body)
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 'x{"usage": {"prompt_tokens": 1}} "model": "fake" ' * (size // 50)
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2)


CASES: list[tuple[Template, bytes, UsageResult]] = [
    (
        openai_template(),
        _inflate(fixture("openai_chat.json"), ["choices", 0, "message", "content"], 3 * BODY_EDGE),
        UsageResult(TokenUsage(1117, 46, 1163, 0), "gpt-4o-2024-08-06", ("stop",)),
    ),
    (
        anthropic_template(),
        _inflate(fixture("anthropic_message.json"), ["content", 0, "text"], 3 * BODY_EDGE),
        UsageResult(TokenUsage(2095 + 1800, 503, 2095 + 1800 + 503, 1800), "claude-sonnet-4-5-20250929", ("end_turn",)),
    ),
    (
        gemini_template(),
        _inflate(fixture("gemini_response.json"), ["candidates", 0, "content", "parts", 0, "text"], 3 * BODY_EDGE),
        gemini_template().backend.usage_from_json(fixture("gemini_response.json"), "asked"),
    ),
]


@pytest.mark.parametrize(("template", "body", "expected"), CASES, ids=["openai", "anthropic", "gemini"])
def test_a_large_body_is_metered_from_its_edges_in_any_chunking(
    template: Template, body: bytes, expected: UsageResult
) -> None:
    assert len(body) > 3 * BODY_EDGE
    assert template.backend.usage_from_json(body, "asked") == expected  # what reading it whole gives
    for chunks in chunkings(body, random_runs=5):
        if len(chunks) > 5000:
            chunks = [body[i : i + 997] for i in range(0, len(body), 997)]  # per byte is too slow here
        assert run_tap(template.backend.new_body_tap("asked"), chunks) == expected


def test_the_tap_keeps_only_its_edges() -> None:
    tap = JSONBodyTap(openai_template().backend.reader, "m")  # type: ignore[attr-defined]
    for _ in range(100):
        tap.feed(b"x" * 10_000)
    assert len(tap._head) == BODY_EDGE and len(tap._tail) == BODY_EDGE
    assert tap.result() == UsageResult(TokenUsage(), "m")


def test_a_small_body_is_read_whole() -> None:
    body = fixture("openai_embeddings.json")
    assert run_tap(openai_template().backend.new_body_tap("m"), [body[:10], body[10:]]) == UsageResult(
        TokenUsage(8, None, 8), "text-embedding-3-small"
    )


def test_json_value_at_skips_braces_in_strings_and_says_when_cut() -> None:
    buf = b'{"usage": {"a": "}{\\\\\\"", "b": [1, {"c": 2}]}, "n": 12, "s": "x\\\\"}'
    assert json_value_at(buf, buf.index(b":") + 1) == b'{"a": "}{\\\\\\"", "b": [1, {"c": 2}]}'
    assert json_value_at(buf, buf.index(b'"n":') + 4) == b"12"
    assert json_value_at(buf, buf.index(b'"s":') + 4) == b'"x\\\\"'
    assert json_value_at(b'{"usage": {"a": 1', 10) is None
    assert json_value_at(b"   ", 0) is None


@pytest.mark.parametrize(
    ("event", "obj", "code"),
    [
        (b"error", {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, "overloaded_error"),
        (None, {"error": {"code": 500, "message": "x", "status": "INTERNAL"}}, "INTERNAL"),
        (None, {"error": {"message": "x"}}, "stream_error"),
        (b"error", None, "stream_error"),
        (None, {"type": "message_delta", "error": {"type": "x"}}, None),
        (None, {"choices": [], "error": None}, None),
    ],
)
def test_event_error(event: bytes | None, obj: dict[str, object] | None, code: str | None) -> None:
    assert event_error(event, obj) == code  # type: ignore[arg-type]


def test_cached_prompt_tokens_as_each_vendor_reports_them() -> None:
    openai_body = (
        b'{"model":"gpt-4o","choices":[{"index":0,"finish_reason":"length"},{"index":1,"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,'
        b'"prompt_tokens_details":{"cached_tokens":1920}}}'
    )
    assert openai_template().backend.usage_from_json(openai_body, "m") == UsageResult(
        TokenUsage(2006, 300, 2306, 1920), "gpt-4o", ("length", "stop")
    )
    responses_body = b'{"model":"gpt-4.1","usage":{"input_tokens":1500,"output_tokens":20,"total_tokens":1520,"input_tokens_details":{"cached_tokens":1024}}}'  # noqa: E501
    assert openai_template().backend.usage_from_json(responses_body, "m").usage == TokenUsage(1500, 20, 1520, 1024)
    stream = (
        b'data: {"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
        b'data: {"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b'data: {"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1100,"completion_tokens":1,'
        b'"total_tokens":1101,"prompt_tokens_details":{"cached_tokens":1024}}}\n\n'
        b"data: [DONE]\n\n"
    )
    for chunks in chunkings(stream):
        assert run_tap(openai_template().backend.new_stream_tap("m"), chunks) == UsageResult(
            TokenUsage(1100, 1, 1101, 1024), "gpt-4o", ("stop",)
        )
    gemini_body = (
        b'{"candidates":[{"finishReason":"MAX_TOKENS"}],"modelVersion":"gemini-2.5-flash","usageMetadata":'
        b'{"promptTokenCount":4000,"candidatesTokenCount":8,"totalTokenCount":4008,"cachedContentTokenCount":3072}}'
    )
    assert gemini_template().backend.usage_from_json(gemini_body, "m") == UsageResult(
        TokenUsage(4000, 8, 4008, 3072), "gemini-2.5-flash", ("MAX_TOKENS",)
    )

"""Anthropic Messages client → Gemini generateContent backend."""

from __future__ import annotations

from itertools import count

import orjson

from tests.providers.translating import CLOCK, frames, sse, translate_stream
from tollgate.providers.anthropic_gemini import AnthropicGeminiTranslator
from tollgate.types import JSONObject

PATH = "/v1/messages"
PNG = "iVBORw0KGgoAAAANSUhEUg=="


def make() -> AnthropicGeminiTranslator:
    ids = count(1)
    return AnthropicGeminiTranslator(clock=lambda: CLOCK, call_id=lambda: f"toolu_{next(ids)}")


BODY: JSONObject = {
    "model": "gemini-2.5-flash",
    "max_tokens": 64,
    "system": "Be brief.",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {"q": "x"}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "a cat", "is_error": False}],
        },
    ],
    "tools": [{"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
    "tool_choice": {"type": "auto"},
    "temperature": 0.3,
    "top_k": 40,
    "stop_sequences": ["##"],
}


def test_request() -> None:
    up = make().request(PATH, "", {**BODY, "stream": True})
    assert (up.path, up.query) == ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse")
    assert orjson.loads(up.body) == {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}],
            },
            {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "x"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"result": "a cat"}}}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "lookup",
                        "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {"maxOutputTokens": 64, "temperature": 0.3, "topK": 40, "stopSequences": ["##"]},
    }


def test_answer() -> None:
    t = make()
    t.request(PATH, "", BODY)
    backend = {
        "candidates": [{"content": {"parts": [{"text": "A cat."}]}, "finishReason": "MAX_TOKENS"}],
        "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 3, "cachedContentTokenCount": 10},
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "abc",
    }
    assert orjson.loads(t.response_body(orjson.dumps(backend))) == {
        "id": "abc",
        "type": "message",
        "role": "assistant",
        "model": "gemini-2.5-flash-001",
        "content": [{"type": "text", "text": "A cat."}],
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 10,
            "output_tokens": 3,
        },
    }


def _gem(parts: list[JSONObject], finish: str | None, usage: JSONObject) -> JSONObject:
    candidate: JSONObject = {"content": {"role": "model", "parts": parts}}  # type: ignore[dict-item]
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}


def _event(kind: str, **data: object) -> JSONObject:
    return {"event": kind, "type": kind, **data}  # type: ignore[dict-item]


def test_stream_text_and_function_call_end_at_eof() -> None:
    upstream = sse(
        _gem([{"text": "Looking"}], None, {"promptTokenCount": 9, "candidatesTokenCount": 1}),
        _gem(
            [{"functionCall": {"name": "lookup", "args": {"q": "cats"}}}],
            "STOP",
            {"promptTokenCount": 9, "candidatesTokenCount": 6},
        ),
        crlf=True,
    )
    out = translate_stream(make, PATH, {**BODY, "stream": True}, upstream)
    assert frames(out) == [
        _event(
            "message_start",
            message={
                "id": "r1",
                "type": "message",
                "role": "assistant",
                "model": "gemini-2.5-flash",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 0,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 0,
                },
            },
        ),
        _event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        _event("content_block_delta", index=0, delta={"type": "text_delta", "text": "Looking"}),
        _event("content_block_stop", index=0),
        _event(
            "content_block_start",
            index=1,
            content_block={"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}},
        ),
        _event("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"q":"cats"}'}),
        _event("content_block_stop", index=1),
        _event(
            "message_delta",
            delta={"stop_reason": "tool_use", "stop_sequence": None},
            usage={
                "input_tokens": 9,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 6,
            },
        ),
        _event("message_stop"),
    ]


def test_errors_in_anthropic_shape() -> None:
    upstream = sse({"error": {"code": 500, "message": "Internal", "status": "INTERNAL"}}, crlf=True)
    out = translate_stream(make, PATH, {**BODY, "stream": True}, upstream)
    assert out.endswith(b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Internal"}}\n\n')
    status, _, body = make().error(
        400, [], b'{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}'
    )
    assert status == 400
    assert orjson.loads(body)["error"] == {"type": "invalid_request_error", "message": "API key not valid."}

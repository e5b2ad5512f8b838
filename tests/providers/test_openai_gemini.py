"""OpenAI Chat Completions client → Gemini generateContent backend."""

from __future__ import annotations

from itertools import count

import orjson
import pytest

from tests.providers.translating import CLOCK, CREATED, frames, sse, translate_stream
from tollgate.providers.openai_gemini import OpenAIGeminiTranslator
from tollgate.providers.translation import UntranslatableError
from tollgate.types import JSONObject

PATH = "/v1/chat/completions"
PNG = "iVBORw0KGgoAAAANSUhEUg=="
SCHEMA: JSONObject = {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": False}


def make() -> OpenAIGeminiTranslator:
    ids = count(1)
    return OpenAIGeminiTranslator(clock=lambda: CLOCK, call_id=lambda: f"call_{next(ids)}")


def test_request_goes_to_the_model_path_with_contents_tools_and_generation_config() -> None:
    body: JSONObject = {
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg?size=2"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_x",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"id": "call_y", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_x", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_y", "content": "noon"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}},
            {"type": "function", "function": {"name": "get_time"}},
        ],
        "tool_choice": "required",
        "max_tokens": 100,
        "temperature": 1.2,
        "top_p": 0.5,
        "stop": "END",
        "seed": 7,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}},
    }
    up = make().request(PATH, "", body)
    assert (up.path, up.query, up.is_streaming) == ("/v1beta/models/gemini-2.5-flash:generateContent", "", False)
    assert orjson.loads(up.body) == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Weather?"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG}},
                    {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg?size=2"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_time", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                    {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}},
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "get_weather", "description": "Weather", "parametersJsonSchema": SCHEMA},
                    {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {}}},
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "generationConfig": {
            "maxOutputTokens": 100,
            "temperature": 1.2,
            "topP": 0.5,
            "stopSequences": ["END"],
            "seed": 7,
            "presencePenalty": 0.1,
            "frequencyPenalty": 0.2,
            "responseMimeType": "application/json",
            "responseJsonSchema": SCHEMA,
        },
    }


def test_stream_request_uses_sse_and_forced_function() -> None:
    body: JSONObject = {
        "model": "gemini-2.5-pro",
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_object"},
    }
    up = make().request(PATH, "", body)
    assert (up.path, up.query) == ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", "alt=sse")
    out = orjson.loads(up.body)
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}
    assert out["generationConfig"] == {"responseMimeType": "application/json"}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}, "messages[0]"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.com/img"}}]}
                ]
            },
            "messages[0].content[0].image_url",
        ),
        ({"logprobs": True}, "logprobs"),
        ({"model": None}, "model"),
    ],
)
def test_what_cannot_be_translated_is_a_400_naming_the_field(patch: JSONObject, field: str) -> None:
    body: JSONObject = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], **patch}
    with pytest.raises(UntranslatableError) as caught:
        make().request(PATH, "", body)
    assert caught.value.field == field


def test_answer_with_function_calls_thoughts_and_cached_usage() -> None:
    t = make()
    t.request(PATH, "", {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]})
    backend = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"text": "Calling."},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 20,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 3,
            "cachedContentTokenCount": 8,
            "totalTokenCount": 28,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }
    assert orjson.loads(t.response_body(orjson.dumps(backend))) == {
        "id": "resp-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gemini-2.5-flash",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Calling.",
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 8,
            "total_tokens": 28,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    }


@pytest.mark.parametrize(
    ("reason", "finish"), [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("OTHER", "stop")]
)
def test_finish_reasons(reason: str, finish: str) -> None:
    t = make()
    t.request(PATH, "", {"model": "g", "messages": [{"role": "user", "content": "hi"}]})
    body = {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": reason}]}
    assert orjson.loads(t.response_body(orjson.dumps(body)))["choices"][0]["finish_reason"] == finish


def _gem(parts: list[JSONObject], finish: str | None, usage: JSONObject) -> JSONObject:
    candidate: JSONObject = {"content": {"role": "model", "parts": parts}, "index": 0}  # type: ignore[dict-item]
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}


def _chunk(delta: JSONObject, finish: str | None = None) -> JSONObject:
    return {
        "id": "r1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gemini-2.5-flash",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def test_stream_text_then_two_whole_function_calls_with_crlf_frames() -> None:
    upstream = sse(
        _gem([{"text": "Let me"}], None, {"promptTokenCount": 9, "candidatesTokenCount": 2, "totalTokenCount": 11}),
        _gem([{"text": " check."}], None, {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}),
        _gem(
            [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ],
            "STOP",
            {"promptTokenCount": 9, "candidatesTokenCount": 10, "totalTokenCount": 19},
        ),
        crlf=True,
    )
    body: JSONObject = {
        "model": "gemini-2.5-flash",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    out = translate_stream(make, PATH, body, upstream)
    assert b"\r" not in out and out.endswith(b"data: [DONE]\n\n")
    assert frames(out) == [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Let me"}),
        _chunk({"content": " check."}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"city":"Rome"}'}}]}),
        _chunk({}, "tool_calls"),
        {
            "id": "r1",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": "gemini-2.5-flash",
            "choices": [],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 10,
                "total_tokens": 19,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        },
        "[DONE]",
    ]


def test_in_stream_error_and_backend_error() -> None:
    upstream = sse(
        _gem([{"text": "Hi"}], None, {"promptTokenCount": 1}),
        {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
        crlf=True,
    )
    body: JSONObject = {"model": "gemini-2.5-flash", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    out = frames(translate_stream(make, PATH, body, upstream))
    assert out[-1] == {
        "error": {
            "message": "The model is overloaded.",
            "type": "overloaded_error",
            "param": None,
            "code": "upstream_error",
        }
    }
    status, headers, err = make().error(
        429, [(b"retry-after", b"3")], b'{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}'
    )
    assert status == 429 and (b"retry-after", b"3") in headers
    assert orjson.loads(err)["error"] == {
        "message": "Quota",
        "type": "rate_limit_error",
        "param": None,
        "code": "upstream_error",
    }

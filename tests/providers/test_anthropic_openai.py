"""Anthropic Messages client → OpenAI-shaped backends (OpenAI, Mistral, Azure, Foundry): one class, dialects."""

from __future__ import annotations

import orjson
import pytest

from tests.providers.translating import CLOCK, frames, sse, translate_stream
from tollgate.providers import openai_helper
from tollgate.providers.anthropic_openai import AnthropicOpenAITranslator
from tollgate.providers.openai_helper import OpenAIDialect
from tollgate.providers.translation import UntranslatableError
from tollgate.types import JSONObject

PATH = "/v1/messages"
PNG = "iVBORw0KGgoAAAANSUhEUg=="
TOOL: JSONObject = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CONVERSATION: JSONObject = {
    "model": "gpt-4o",
    "max_tokens": 256,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Also:"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
            ],
        },
    ],
    "tools": [TOOL],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "temperature": 0.2,
    "top_p": 0.8,
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-1"},
}
EXPECTED_MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Weather?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ],
    },
    {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
    {"role": "user", "content": "Also:"},
]
EXPECTED_TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather in a city", "parameters": TOOL["input_schema"]},
    }
]


def make(dialect: OpenAIDialect = openai_helper.OPENAI) -> AnthropicOpenAITranslator:
    return AnthropicOpenAITranslator(dialect, clock=lambda: CLOCK)


def test_openai_request() -> None:
    up = make().request(PATH, "", {**CONVERSATION, "stream": True})
    assert (up.path, up.query, up.is_streaming, up.model) == ("/v1/chat/completions", "", True, "gpt-4o")
    assert orjson.loads(up.body) == {
        "model": "gpt-4o",
        "messages": EXPECTED_MESSAGES,
        "max_completion_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.8,
        "stop": ["END"],
        "tools": EXPECTED_TOOLS,
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "user": "u-1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_mistral_request_uses_max_tokens_no_user_and_no_stream_options() -> None:
    up = make(openai_helper.MISTRAL).request(PATH, "", {**CONVERSATION, "stream": True})
    body = orjson.loads(up.body)
    assert up.path == "/v1/chat/completions"
    assert body["max_tokens"] == 256 and "max_completion_tokens" not in body
    assert "user" not in body and "stream_options" not in body and body["stream"] is True


def test_azure_request_names_the_deployment_and_api_version() -> None:
    up = make(openai_helper.AZURE_OPENAI).request(PATH, "", CONVERSATION)
    assert (up.path, up.query) == ("/openai/deployments/gpt-4o/chat/completions", "api-version=2024-10-21")
    other = AnthropicOpenAITranslator(openai_helper.AZURE_OPENAI, api_version="2025-04-01-preview")
    assert other.request(PATH, "", CONVERSATION).query == "api-version=2025-04-01-preview"
    foundry = make(openai_helper.AZURE_FOUNDRY).request(PATH, "", {**CONVERSATION, "stream": True})
    assert (foundry.path, foundry.query) == ("/models/chat/completions", "api-version=2024-05-01-preview")
    assert "stream_options" not in orjson.loads(foundry.body)


def test_structured_output_and_tool_choice_variants() -> None:
    body: JSONObject = {
        "model": "gpt-4o",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [TOOL],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    }
    out = orjson.loads(make().request(PATH, "", body).body)
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}},
    }
    assert out["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"top_k": 5}, "top_k"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "thinking"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"mcp_servers": [{"type": "url", "url": "https://x"}]}, "mcp_servers"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", "source": {}}]}
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0]",
        ),
        ({"output_config": {"effort": "high"}}, "output_config.effort"),
    ],
)
def test_what_cannot_be_translated_is_a_400_naming_the_field(patch: JSONObject, field: str) -> None:
    body: JSONObject = {"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], **patch}
    with pytest.raises(UntranslatableError) as caught:
        make().request(PATH, "", body)
    assert caught.value.field == field


def test_answer_becomes_an_anthropic_message() -> None:
    t = make()
    t.request(PATH, "", CONVERSATION)
    backend = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-11-20",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "On it.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 50,
            "completion_tokens": 9,
            "total_tokens": 59,
            "prompt_tokens_details": {"cached_tokens": 20},
        },
    }
    assert orjson.loads(t.response_body(orjson.dumps(backend))) == {
        "id": "chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o-2024-11-20",
        "content": [
            {"type": "text", "text": "On it."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 30,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 20,
            "output_tokens": 9,
        },
    }


def _oai(delta: JSONObject | None, finish: str | None = None, **extra: object) -> JSONObject:
    chunk: JSONObject = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    chunk["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    chunk.update(extra)  # type: ignore[arg-type]
    return chunk


def _event(kind: str, **data: object) -> JSONObject:
    return {"event": kind, "type": kind, **data}  # type: ignore[dict-item]


EXPECTED_TOOL_EVENTS = [
    _event(
        "message_start",
        message={
            "id": "chatcmpl-9",
            "type": "message",
            "role": "assistant",
            "model": "gpt-4o",
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
    _event("content_block_delta", index=0, delta={"type": "text_delta", "text": "Sure"}),
    _event("content_block_stop", index=0),
    _event(
        "content_block_start",
        index=1,
        content_block={"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}},
    ),
    _event("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"city"'}),
    _event("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": ': "Oslo"}'}),
    _event("content_block_stop", index=1),
    _event(
        "content_block_start",
        index=2,
        content_block={"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {}},
    ),
    _event("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": '{"city": "Bergen"}'}),
    _event("content_block_stop", index=2),
    _event(
        "message_delta",
        delta={"stop_reason": "tool_use", "stop_sequence": None},
        usage={
            "input_tokens": 40,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 10,
            "output_tokens": 12,
        },
    ),
    _event("message_stop"),
]


def test_openai_stream_with_split_tool_arguments_and_usage_chunk() -> None:
    upstream = (
        sse(
            _oai({"role": "assistant", "content": ""}),
            _oai({"content": "Sure"}),
            _oai(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            ),
            _oai({"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}),
            _oai({"tool_calls": [{"index": 0, "function": {"arguments": ': "Oslo"}'}}]}),
            _oai(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Bergen"}'},
                        }
                    ]
                }
            ),
            _oai({}, "tool_calls"),
            _oai(
                None,
                usage={
                    "prompt_tokens": 50,
                    "completion_tokens": 12,
                    "total_tokens": 62,
                    "prompt_tokens_details": {"cached_tokens": 10},
                },
            ),
        )
        + b"data: [DONE]\n\n"
    )
    out = translate_stream(make, PATH, {**CONVERSATION, "stream": True}, upstream)
    assert out.startswith(b"event: message_start\ndata: {")
    assert frames(out) == EXPECTED_TOOL_EVENTS


def test_azure_stream_with_filter_chunk_and_mistral_whole_calls_with_usage_on_finish() -> None:
    filter_chunk: JSONObject = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [],
    }
    upstream = sse(
        filter_chunk,
        _oai({"role": "assistant", "content": ""}),
        _oai({"content": "Sure"}),
        _oai(
            {"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": '{"city"'}}]}
        ),
        _oai({"tool_calls": [{"index": 0, "function": {"arguments": ': "Oslo"}'}}]}),
        _oai(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_b", "function": {"name": "get_weather", "arguments": '{"city": "Bergen"}'}}
                ]
            }
        ),
        _oai(
            {"content": ""},
            "tool_calls",
            usage={
                "prompt_tokens": 50,
                "completion_tokens": 12,
                "total_tokens": 62,
                "prompt_tokens_details": {"cached_tokens": 10},
            },
        ),
    )  # no [DONE]: the end of the stream ends the message
    out = translate_stream(lambda: make(openai_helper.MISTRAL), PATH, {**CONVERSATION, "stream": True}, upstream)
    assert frames(out) == EXPECTED_TOOL_EVENTS


def test_in_stream_error_becomes_an_anthropic_error_event() -> None:
    upstream = sse(
        _oai({"role": "assistant", "content": ""}),
        _oai({"content": "Hel"}),
        {"error": {"message": "The server had an error.", "type": "server_error", "param": None, "code": None}},
    )
    out = translate_stream(make, PATH, {**CONVERSATION, "stream": True}, upstream)
    assert out.endswith(
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"The server had an error."}}\n\n'
    )
    assert [f["type"] for f in frames(out) if isinstance(f, dict)] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
    ]


def test_backend_errors_come_back_in_anthropic_shape() -> None:
    t = make(openai_helper.AZURE_OPENAI)
    status, headers, body = t.error(
        429, [(b"retry-after-ms", b"1500")], b'{"error":{"code":"429","message":"Too many"}}'
    )
    assert status == 429 and (b"retry-after", b"2") in headers
    assert orjson.loads(body) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Too many"},
        "request_id": "",
    }
    status, _, body = make(openai_helper.MISTRAL).error(401, [], b'{"message":"Unauthorized","request_id":"r"}')
    assert status == 401 and orjson.loads(body)["error"] == {"type": "authentication_error", "message": "Unauthorized"}

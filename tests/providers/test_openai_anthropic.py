"""OpenAI Chat Completions client → Anthropic Messages backend: requests, answers, streams, errors."""

from __future__ import annotations

import orjson
import pytest

from tests.providers.translating import CLOCK, CREATED, anthropic_events, frames, translate_stream
from tollgate.errors import RouteNotFoundError
from tollgate.providers.openai_anthropic import OpenAIAnthropicTranslator
from tollgate.providers.translation import UntranslatableError
from tollgate.types import JSONObject

PATH = "/v1/chat/completions"
PNG = "iVBORw0KGgoAAAANSUhEUg=="
WEATHER_TOOL: JSONObject = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def make() -> OpenAIAnthropicTranslator:
    return OpenAIAnthropicTranslator(clock=lambda: CLOCK)


def translate(body: JSONObject) -> JSONObject:
    up = make().request(PATH, "", body)
    assert up.path == "/v1/messages" and up.query == ""
    result = orjson.loads(up.body)
    assert isinstance(result, dict)
    return result


def test_request_carries_system_turns_images_tools_and_parameters() -> None:
    body: JSONObject = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "rain"}]},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_completion_tokens": 300,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["END", "STOP"],
        "user": "u-42",
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
        "store": False,
    }
    assert translate(body) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 300,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"city": "Rome"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "call_b", "content": "rain"},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "system": "Be brief.\n\nUse tools.",
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END", "STOP"],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather in a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }
        ],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "u-42"},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    }


def test_request_defaults_max_tokens_and_maps_tool_choice_modes() -> None:
    base: JSONObject = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL]}
    assert translate(base)["max_tokens"] == 4096
    assert translate({**base, "tool_choice": "required"})["tool_choice"] == {"type": "any"}
    assert translate({**base, "tool_choice": "auto"})["tool_choice"] == {"type": "auto"}
    assert translate({**base, "tool_choice": "none"})["tool_choice"] == {"type": "none"}
    assert translate({**base, "stream": True, "max_tokens": 7}) == {
        "model": "m",
        "max_tokens": 7,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather in a city",
                "input_schema": WEATHER_TOOL["function"]["parameters"],
            }
        ],  # type: ignore[index,call-overload]
        "stream": True,
    }
    other = OpenAIAnthropicTranslator(default_max_tokens=1024)
    assert orjson.loads(other.request(PATH, "", base).body)["max_tokens"] == 1024


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"seed": 3}, "seed"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"temperature": 1.5}, "temperature"),
        ({"audio": {"voice": "x"}}, "audio"),
        ({"response_format": {"type": "json_object"}}, "response_format.type"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AAAA"}}],
                    }
                ]
            },
            "messages[0].content[0].image_url",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]},
            "messages[0].content[0].image_url.url",
        ),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "late"}]}, "messages[1].role"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{bad"}}],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
    ],
)
def test_what_cannot_be_translated_is_a_400_naming_the_field(patch: JSONObject, field: str) -> None:
    body: JSONObject = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **patch}
    with pytest.raises(UntranslatableError) as caught:
        make().request(PATH, "", body)
    assert caught.value.status == 400
    assert caught.value.field == field
    assert caught.value.message.startswith(field + ": ")


def test_other_paths_are_not_found() -> None:
    with pytest.raises(RouteNotFoundError):
        make().request("/v1/embeddings", "", {"model": "m", "input": "x"})


def test_answer_with_text_tool_calls_and_cached_usage() -> None:
    t = make()
    t.request(PATH, "", {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]})
    backend = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 30,
            "cache_creation_input_tokens": 2,
            "output_tokens": 7,
        },
    }
    assert orjson.loads(t.response_body(orjson.dumps(backend))) == {
        "id": "msg_01",
        "object": "chat.completion",
        "created": CREATED,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me look.",
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "toolu_1",
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
            "prompt_tokens": 42,
            "completion_tokens": 7,
            "total_tokens": 49,
            "prompt_tokens_details": {"cached_tokens": 30},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("refusal", "content_filter")],
)
def test_stop_reasons_become_finish_reasons(stop: str, finish: str) -> None:
    t = make()
    t.request(PATH, "", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    body = {"id": "x", "model": "m", "content": [{"type": "text", "text": "a"}], "stop_reason": stop, "usage": {}}
    assert orjson.loads(t.response_body(orjson.dumps(body)))["choices"][0]["finish_reason"] == finish


def _chunk(delta: JSONObject, finish: str | None = None) -> JSONObject:
    return {
        "id": "msg_1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "claude-sonnet-4-5",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


TOOL_STREAM = anthropic_events(
    (
        "message_start",
        {
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "cache_read_input_tokens": 4, "output_tokens": 1},
            }
        },
    ),
    ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ("ping", {}),
    ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Checking "}}),
    ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "both."}}),
    ("content_block_stop", {"index": 0}),
    (
        "content_block_start",
        {"index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}},
    ),
    ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
    ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}}),
    ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": 'ty": "Par'}}),
    ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": 'is"}'}}),
    ("content_block_stop", {"index": 1}),
    (
        "content_block_start",
        {"index": 2, "content_block": {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {}}},
    ),
    ("content_block_delta", {"index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"city": "Rome"}'}}),
    ("content_block_stop", {"index": 2}),
    ("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 31}}),
    ("message_stop", {}),
)


def test_stream_with_text_and_two_tool_calls_split_across_deltas() -> None:
    body: JSONObject = {"model": "claude-sonnet-4-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    out = translate_stream(make, PATH, body, TOOL_STREAM)
    assert out.startswith(b"data: {") and out.endswith(b"data: [DONE]\n\n") and b"event:" not in out
    assert frames(out) == [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Checking "}),
        _chunk({"content": "both."}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Par'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'is"}'}}]}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "toolu_b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"city": "Rome"}'}}]}),
        _chunk({}, "tool_calls"),
        "[DONE]",
    ]


def test_stream_usage_chunk_only_when_the_client_asked() -> None:
    body: JSONObject = {
        "model": "claude-sonnet-4-5",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    out = frames(translate_stream(make, PATH, body, TOOL_STREAM, random_runs=3))
    assert out[-2] == {
        "id": "msg_1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "claude-sonnet-4-5",
        "choices": [],
        "usage": {
            "prompt_tokens": 16,
            "completion_tokens": 31,
            "total_tokens": 47,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_first_event_is_sent_at_once_and_nothing_is_held_back() -> None:
    t = make()
    t.request(PATH, "", {"model": "claude-sonnet-4-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    events = TOOL_STREAM.split(b"\n\n")
    first = t.stream_chunk(events[0] + b"\n\n")
    assert frames(first) == [_chunk({"role": "assistant", "content": ""})]
    assert t.stream_chunk(events[1][:10]) == b""  # an incomplete event waits for its end, nothing more


def test_in_stream_error_becomes_an_openai_error_frame() -> None:
    upstream = anthropic_events(
        ("message_start", {"message": {"id": "msg_1", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 3}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )
    body: JSONObject = {"model": "claude-sonnet-4-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    out = frames(translate_stream(make, PATH, body, upstream))
    assert out == [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hi"}),
        {"error": {"message": "Overloaded", "type": "overloaded_error", "param": None, "code": "upstream_error"}},
    ]


def test_backend_errors_come_back_in_openai_shape_with_status_and_retry_hints() -> None:
    t = make()
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}, "request_id": "req_1"}
    status, headers, out = t.error(429, [(b"retry-after", b"7"), (b"request-id", b"req_1")], orjson.dumps(body))
    assert status == 429
    assert (b"retry-after", b"7") in headers and (b"retry-after-ms", b"7000") in headers
    assert orjson.loads(out) == {
        "error": {"message": "Slow down", "type": "rate_limit_error", "param": None, "code": "upstream_error"}
    }
    status, headers, out = t.error(
        529, [], orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    )
    assert status == 529 and orjson.loads(out)["error"]["type"] == "overloaded_error"
    status, _, out = t.error(502, [], b"<html>bad gateway</html>")
    assert status == 502 and orjson.loads(out)["error"]["message"] == "<html>bad gateway</html>"
    assert orjson.loads(out)["error"]["type"] == "server_error"

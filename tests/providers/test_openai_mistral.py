"""OpenAI Chat Completions client → Mistral's native chat API."""

from __future__ import annotations

import orjson
import pytest

from tests.providers.translating import CLOCK, CREATED, frames, sse, translate_stream
from tollgate.providers.openai_mistral import OpenAIMistralTranslator
from tollgate.providers.translation import UntranslatableError
from tollgate.types import JSONObject

PATH = "/v1/chat/completions"


def make() -> OpenAIMistralTranslator:
    return OpenAIMistralTranslator(clock=lambda: CLOCK)


def test_request_renames_what_mistral_names_differently_and_drops_bookkeeping() -> None:
    body: JSONObject = {
        "model": "mistral-small-latest",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}],
        "max_completion_tokens": 50,
        "seed": 4,
        "user": "u",
        "store": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    up = make().request(PATH, "", body)
    assert (up.path, up.query) == ("/v1/chat/completions", "")
    assert orjson.loads(up.body) == {
        "model": "mistral-small-latest",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "random_seed": 4,
        "stream": True,
    }


def test_unknown_fields_are_refused_before_mistral_refuses_them() -> None:
    with pytest.raises(UntranslatableError) as caught:
        make().request(
            PATH, "", {"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low"}
        )
    assert caught.value.field == "reasoning_effort"


def _m(delta: JSONObject, finish: str | None = None, **extra: object) -> JSONObject:
    chunk: JSONObject = {"id": "m1", "object": "chat.completion.chunk", "created": 5, "model": "mistral-small-latest"}
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    chunk.update(extra)  # type: ignore[arg-type]
    return chunk


def _chunk(delta: JSONObject, finish: str | None = None) -> JSONObject:
    return {
        "id": "m1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "mistral-small-latest",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def test_stream_moves_usage_off_the_finish_chunk_and_keeps_whole_tool_calls() -> None:
    upstream = (
        sse(
            _m({"role": "assistant", "content": ""}),
            _m({"tool_calls": [{"id": "abcDEF123", "function": {"name": "f", "arguments": '{"a":1}'}, "index": 0}]}),
            _m({"content": ""}, "tool_calls", usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}),
        )
        + b"data: [DONE]\n\n"
    )
    body: JSONObject = {"model": "mistral-small-latest", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    assert frames(translate_stream(make, PATH, body, upstream)) == [
        _chunk({"role": "assistant", "content": ""}),
        _chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "abcDEF123", "type": "function", "function": {"name": "f", "arguments": ""}}
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}),
        _chunk({}, "tool_calls"),
        "[DONE]",
    ]


def test_answer_and_errors() -> None:
    t = make()
    t.request(PATH, "", {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "x"}]})
    backend = {
        "id": "m1",
        "object": "chat.completion",
        "created": 5,
        "model": "mistral-small-latest",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", "tool_calls": None, "prefix": False},
                "finish_reason": "model_length",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    out = orjson.loads(t.response_body(orjson.dumps(backend)))
    assert out["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "hi", "refusal": None},
        "logprobs": None,
        "finish_reason": "length",
    }
    status, _, body = t.error(
        429,
        [],
        b'{"object":"error","message":"Requests rate limit exceeded","type":"rate_limited","param":null,"code":"429"}',
    )
    assert status == 429
    assert orjson.loads(body)["error"] == {
        "message": "Requests rate limit exceeded",
        "type": "rate_limit_error",
        "param": None,
        "code": "upstream_error",
    }

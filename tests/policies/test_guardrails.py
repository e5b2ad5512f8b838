"""Guardrails: params errors naming the field, request and response texts per client API, invert,
incremental stream checks with exact cut points, and the whole-text rules."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest
from pydantic import ValidationError

from tollgate.errors import GatewayError
from tollgate.policies.content_length import ContentLengthParams
from tollgate.policies.content_length import build as build_length
from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import Guardrail
from tollgate.policies.json_schema import JSONSchemaParams
from tollgate.policies.json_schema import build as build_schema
from tollgate.policies.jsonpath import JSONPath, JSONPathError
from tollgate.policies.regex_guardrail import RegexGuardrailParams
from tollgate.policies.regex_guardrail import build as build_regex
from tollgate.policies.sentence_count import SentenceCountParams, SentenceCountRule
from tollgate.policies.url_guardrail import URLGuardrailParams
from tollgate.policies.url_guardrail import build as build_url
from tollgate.policies.word_count import WordCountParams
from tollgate.policies.word_count import build as build_words

ENV = BuildEnv("LLMProxy/p#0")


@dataclass
class FakeClientAPI:
    name: str


@dataclass
class FakeStreamExchange:
    """What a guardrail's stream filter reads of the exchange."""

    api: str = "openai"
    status: int = 200

    @property
    def client_api(self) -> FakeClientAPI:
        return FakeClientAPI(self.api)


def _regex(**params: object) -> Guardrail:
    return build_regex(RegexGuardrailParams.model_validate(params), ENV)


def test_params_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        RegexGuardrailParams.model_validate({"patterns": ["ok", "(unclosed"]})
    err = info.value.errors()[0]
    assert err["loc"] == ("patterns",) and "pattern 1 is not a valid regular expression" in err["msg"]
    with pytest.raises(ValidationError) as info:
        RegexGuardrailParams.model_validate({"patterns": ["x"], "path": "messages.content"})
    assert info.value.errors()[0]["loc"] == ("path",)
    with pytest.raises(ValidationError) as info:
        WordCountParams.model_validate({"min": 10, "max": 5})
    assert "min (10) is larger than max (5)" in info.value.errors()[0]["msg"]
    with pytest.raises(ValidationError) as info:
        WordCountParams.model_validate({})
    assert "give min, max or both" in info.value.errors()[0]["msg"]
    with pytest.raises(ValidationError) as info:
        JSONSchemaParams.model_validate({"schema": {"type": "no-such-type"}})
    assert info.value.errors()[0]["loc"] == ("schema",)
    with pytest.raises(ValidationError) as info:
        RegexGuardrailParams.model_validate({"patterns": ["x"], "side": "upstream"})
    assert info.value.errors()[0]["loc"] == ("side",)


def test_jsonpath_subset() -> None:
    doc = {"a": [{"b": 1}, {"b": 2}, {"c": 3}], "d": {"e f": "x"}}
    assert JSONPath("$.a[*].b").select(doc) == [1, 2]
    assert JSONPath("$.a[-1].c").select(doc) == [3]
    assert JSONPath("$.d['e f']").select(doc) == ["x"]
    assert JSONPath("$.a[9].b").select(doc) == []
    with pytest.raises(JSONPathError, match="position 3"):
        JSONPath("$.a[?(@.b)]")


async def test_request_text_per_client_api() -> None:
    guard = _regex(patterns=["secret"])
    openai_body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a secret"}]}]}
    assert guard.request_text("openai", openai_body) == "a secret"
    anthropic_body = {"system": "sys", "messages": [{"role": "user", "content": "hi"}]}
    assert guard.request_text("anthropic", anthropic_body) == "sys\nhi"
    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "one"}, {"text": "two"}]}]}
    assert guard.request_text("gemini", gemini_body) == "one\ntwo"
    violation = await guard.assess(guard.request_text("openai", openai_body), "request")
    assert violation is not None and violation.status == 422
    assert (
        violation.message
        == "Blocked by guardrail 'regex-guardrail' on the request: the text matches pattern 0 ('secret')."
    )
    assert await guard.assess("nothing here", "request") is None


async def test_invert_requires_a_match_and_custom_message() -> None:
    guard = _regex(patterns=[r"^Answer:"], invert=True, message="Answers must start with 'Answer:'.")
    assert await guard.assess("Answer: 42", "response") is None
    violation = await guard.assess("no prefix", "response")
    assert violation is not None and violation.message == "Answers must start with 'Answer:'."


def _openai_sse(*texts: str) -> bytes:
    frames = [b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}) + b"\n\n" for t in texts]
    return b"".join(frames) + b"data: [DONE]\n\n"


async def test_stream_cut_as_soon_as_a_pattern_completes_across_events() -> None:
    guard = _regex(patterns=["forbidden word"], side="response")
    stream = _openai_sse("this is a for", "bidden ", "word and more")
    sg = guard.stream_guard("openai")
    verdicts = [sg.feed(stream[i : i + 7]) for i in range(0, len(stream), 7)]
    hits = [i for i, v in enumerate(verdicts) if v is not None]
    assert len(hits) == 1
    # the third event completes the match: the verdict comes with the chunk that ends that event
    third_end = stream.index(b"word and more") + len(b"word and more") + len(b'"}}]}\n\n')
    assert hits[0] == (third_end - 1) // 7
    assert sg.text == "this is a forbidden word and more"


async def test_stream_anthropic_and_gemini_deltas() -> None:
    guard = build_words(WordCountParams.model_validate({"max": 3, "side": "response"}), ENV)
    delta = b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"%s"}}\n\n'
    start = b'event: message_start\ndata: {"type":"message_start","message":{"content":[]}}\n\n'
    anth = start + delta % b"one two" + delta % b" three four"
    sg = guard.stream_guard("anthropic")
    violation = sg.feed(anth)
    assert violation is not None
    assert violation.message.endswith("4 words, allowed at most 3.")
    gem = b'data: {"candidates":[{"content":{"parts":[{"text":"a b"}],"role":"model"}}]}\r\n\r\n'
    sg = guard.stream_guard("gemini")
    assert sg.feed(gem) is None
    assert await sg.finish() is None
    assert sg.text == "a b"


async def test_min_bound_decided_at_stream_end() -> None:
    guard = build_words(WordCountParams.model_validate({"min": 5, "side": "response"}), ENV)
    sg = guard.stream_guard("openai")
    assert sg.feed(_openai_sse("only three words")) is None
    violation = await sg.finish()
    assert violation is not None and violation.message.endswith("3 words, allowed at least 5.")


async def test_response_body_text() -> None:
    guard = build_length(ContentLengthParams.model_validate({"max": 5, "side": "response", "unit": "bytes"}), ENV)
    body = orjson.dumps({"choices": [{"message": {"role": "assistant", "content": "héllo"}}]})
    text = guard.response_text("openai", body)
    violation = await guard.assess(text, "response")
    assert violation is not None and violation.message.endswith("6 bytes, allowed at most 5.")
    assert guard.response_text("anthropic", b'{"content":[{"type":"text","text":"hi"}]}') == "hi"
    assert guard.response_text("openai", b"not json") == ""


def test_sentence_counting() -> None:
    rule = SentenceCountRule(SentenceCountParams.model_validate({"max": 1}))
    assert rule.count("One. Two! Three?") == 3
    assert rule.count("One... and two") == 2
    assert rule.count("Version 1.5 is out.") == 1
    assert rule.count("   ") == 0
    assert rule.count("一。二。") == 2


async def test_json_schema_whole_text() -> None:
    guard = build_schema(
        JSONSchemaParams.model_validate(
            {
                "side": "response",
                "schema": {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "integer"}}},
            }
        ),
        ENV,
    )
    assert await guard.assess('{"answer": 42}', "response") is None
    assert await guard.assess('```json\n{"answer": 42}\n```', "response") is None
    bad = await guard.assess('{"answer": "x"}', "response")
    assert bad is not None and "at answer: " in bad.message
    not_json = await guard.assess("42 is the answer", "response")
    assert not_json is not None and not_json.message.endswith("the text is not JSON.")
    sg = guard.stream_guard("openai")
    assert sg.feed(_openai_sse('{"answer":', ' "x"}')) is None
    assert await sg.finish() is not None


async def test_url_guardrail_dns() -> None:
    guard = build_url(URLGuardrailParams.model_validate({"side": "response", "timeout": 2}), ENV)
    assert await guard.assess("see http://localhost:1/x and http://127.0.0.1/", "response") is None
    bad = await guard.assess("see https://no-such-host.invalid/page.", "response")
    assert bad is not None
    assert bad.message.endswith("1 of 1 URL(s) do not work: https://no-such-host.invalid/page.")
    assert await guard.assess("no links", "response") is None


def _frame(text: str) -> bytes:
    return b"data: " + orjson.dumps({"choices": [{"delta": {"content": text}}]}) + b"\n\n"


async def test_stream_filter_holds_only_the_final_event_until_the_verdict() -> None:
    guard = build_words(WordCountParams.model_validate({"min": 3, "side": "response"}), ENV)
    ex = FakeStreamExchange()
    flt = guard.stream_filter(ex)  # type: ignore[arg-type]
    assert flt is not None
    quoted = _frame("data: [DONE] is how ")  # the marker inside a text is not the final event
    assert flt.feed(quoted) == quoted
    assert flt.feed(_frame("streams end") + b"data: [DO") == _frame("streams end")  # it may be the final event
    assert flt.feed(b"NE]\n\n") == b""
    assert flt.close() == b"data: [DONE]\n\n"  # 6 words: passes, the final event follows
    short = guard.stream_filter(ex)  # type: ignore[arg-type]
    assert short is not None
    assert short.feed(_frame("too short") + b"data: [DONE]\n\n") == _frame("too short")
    with pytest.raises(GatewayError, match="2 words, allowed at least 3"):
        short.close()  # the error event takes the final event's place
    anthropic_flt = guard.stream_filter(FakeStreamExchange(api="anthropic"))  # type: ignore[arg-type]
    assert anthropic_flt is not None
    delta = b'event: content_block_delta\ndata: {"delta":{"text":"one two three"}}\n\n'
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert anthropic_flt.feed(delta + stop) == delta
    assert anthropic_flt.close() == stop


def test_a_guardrail_compiles_only_the_phases_of_its_side() -> None:
    from tollgate.policies.base import PolicyChain

    request_side = PolicyChain.compile((_regex(patterns=["x"]),))
    assert len(request_side.request_body) == 1
    assert request_side.response_complete == () and request_side.stream_filters == ()  # nothing per answer
    response_side = PolicyChain.compile((_regex(patterns=["x"], side="response"),))
    assert response_side.request_body == ()
    assert len(response_side.response_complete) == 1 and len(response_side.stream_filters) == 1
    both = PolicyChain.compile((_regex(patterns=["x"], side="both"),))
    assert len(both.request_body) == len(both.response_complete) == len(both.stream_filters) == 1

"""PII masking: detection, placeholders, restoring JSON answers and streams cut inside placeholders."""

from __future__ import annotations

import random

import orjson
import pytest
from pydantic import ValidationError

from tollgate.policies.env import BuildEnv
from tollgate.policies.pii_mask import PIIMasker, PIIMaskParams, StreamRestorer, build, restore_body
from tollgate.policies.text_paths import text_paths

ENV = BuildEnv("LLMProxy/p#0")
TEXT = "Mail ann@example.com or call +1 415-555-0100; card 4111 1111 1111 1111, ip 10.0.0.7, ssn 123-45-6789."


def _masker(**params: object) -> PIIMasker:
    return build(PIIMaskParams.model_validate(params), ENV)


def test_params_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        PIIMaskParams.model_validate({"entities": ["email", "dna"]})
    assert info.value.errors()[0]["loc"] == ("entities", 1)
    with pytest.raises(ValidationError) as info:
        PIIMaskParams.model_validate({"custom": [{"name": "EMP", "pattern": "(["}]})
    assert info.value.errors()[0]["loc"] == ("custom", 0, "pattern")


def test_mask_request_with_stable_placeholders() -> None:
    body = {"messages": [{"role": "user", "content": TEXT}, {"role": "user", "content": "again ann@example.com"}]}
    mapping = _masker().mask_request("openai", body)
    assert body["messages"][0]["content"] == (  # type: ignore[index]
        "Mail [PII_EMAIL_1] or call [PII_PHONE_1]; card [PII_CREDIT_CARD_1], ip [PII_IPV4_1], ssn [PII_SSN_1]."
    )
    assert body["messages"][1]["content"] == "again [PII_EMAIL_1]"  # type: ignore[index]
    assert mapping == {
        "[PII_EMAIL_1]": "ann@example.com",
        "[PII_PHONE_1]": "+1 415-555-0100",
        "[PII_CREDIT_CARD_1]": "4111 1111 1111 1111",
        "[PII_IPV4_1]": "10.0.0.7",
        "[PII_SSN_1]": "123-45-6789",
    }


def test_card_numbers_must_pass_luhn_and_nothing_found_is_none() -> None:
    body = {"messages": [{"role": "user", "content": "order 4111 1111 1111 1112"}]}
    assert _masker(entities=["credit-card"]).mask_request("openai", body) is None
    assert body["messages"][0]["content"] == "order 4111 1111 1111 1112"  # type: ignore[index]


def test_redact_and_custom_detector() -> None:
    masker = _masker(mode="redact", custom=[{"name": "EMP", "pattern": r"EMP-\d{4}"}], entities=["email"])
    body = {"system": "ops", "messages": [{"role": "user", "content": "EMP-1234 is x@y.io"}]}
    assert masker.mask_request("anthropic", body) == {}
    assert body["messages"][0]["content"] == "[REDACTED_EMP] is [REDACTED_EMAIL]"  # type: ignore[index]


def test_restore_json_body_escapes_values() -> None:
    mapping = {"[PII_EMAIL_1]": 'a"b@example.com'}
    body = orjson.dumps({"choices": [{"message": {"content": "write to [PII_EMAIL_1] now"}}]})
    restored = orjson.loads(restore_body(body, mapping))
    assert restored["choices"][0]["message"]["content"] == 'write to a"b@example.com now'


def _sse(texts: list[str]) -> bytes:
    out = [
        b"data: " + orjson.dumps({"id": "c1", "choices": [{"index": 0, "delta": {"content": t}}]}) + b"\n\n"
        for t in texts
    ]
    finish = {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    return b"".join(out) + b"data: " + orjson.dumps(finish) + b"\n\ndata: [DONE]\n\n"


def _texts(stream: bytes) -> list[str]:
    out = []
    for frame in stream.split(b"\n\n"):
        if frame.startswith(b"data: {"):
            delta = orjson.loads(frame[6:])["choices"][0]["delta"]
            if "content" in delta:
                out.append(delta["content"])
    return out


MAPPING = {"[PII_EMAIL_1]": "ann@example.com", "[PII_PHONE_1]": "+1 415-555-0100"}


@pytest.mark.parametrize("seed", range(8))
def test_stream_restores_placeholders_split_across_events_and_chunks(seed: int) -> None:
    texts = ["Write to [PII_", "EMAIL", "_1] or [", "PII_PHONE_1", "] today. [not a placeholder] ["]
    stream = _sse(texts)
    rng = random.Random(seed)
    restorer = StreamRestorer(MAPPING, text_paths("openai").stream)
    out = b""
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 40)
        out += restorer.feed(stream[pos : pos + step])
        pos += step
    out += restorer.close()
    joined = "".join(_texts(out))
    assert joined == "Write to ann@example.com or +1 415-555-0100 today. [not a placeholder] ["
    # nothing but the held partial placeholders moved: each event's text is exact
    assert _texts(out) == [
        "Write to ",
        "",
        "ann@example.com or ",
        "",
        "+1 415-555-0100 today. [not a placeholder] ",
        "[",
    ]
    assert out.endswith(b"data: [DONE]\n\n")


def test_stream_without_brackets_passes_the_same_bytes() -> None:
    stream = _sse(["plain ", "text"])
    restorer = StreamRestorer(MAPPING, text_paths("openai").stream)
    assert restorer.feed(stream) + restorer.close() == stream


def test_anthropic_stream_restore() -> None:
    delta = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"text":"%s"}}\n\n'
    frames = [
        delta % b"hi [PII_EM",
        delta % b"AIL_1]!",
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    restorer = StreamRestorer(MAPPING, text_paths("anthropic").stream)
    out = b"".join(restorer.feed(f) for f in frames) + restorer.close()
    assert b'"text":"hi "' in out and b'"text":"ann@example.com!"' in out
    assert out.count(b"event: content_block_delta\n") == 2

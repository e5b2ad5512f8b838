"""Cache keys: what makes two requests the same (exact) or alike but for their text (semantic)."""

from __future__ import annotations

from tests.gateway.gw_helpers import provider, resource_set
from tollgate.gateway.exchange import Exchange
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.policies.cache.keys import DEFAULT_IGNORED_FIELDS, KeySpec, partition_key, prompt_text, request_key
from tollgate.providers.base import RequestFacts
from tollgate.types import JSONObject

IGNORED = frozenset(DEFAULT_IGNORED_FIELDS)
SPEC = KeySpec()
SNAP = compile_snapshot(
    resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9"), provider("q", "gemini", "/q", None)]),
    PoolRegistry(),
)


def ex(
    context: str = "/p",
    sub: str = "/v1/chat/completions",
    query: str = "",
    stream: bool = False,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Exchange:
    e = Exchange("r", 0.0, "POST", context + sub, query, headers or [], "127.0.0.1")
    e.route = SNAP.routes[context]
    e.client_api = e.route.client_api
    e.sub_path = sub
    e.key_id = "k1"
    e.facts = RequestFacts("gpt-4o", stream)
    return e


def key(e: Exchange, body: JSONObject, per_key: bool = False) -> str:
    return request_key(e, body, KeySpec(per_key=per_key))


BODY: JSONObject = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def test_key_ignores_order_and_fields_that_do_not_change_the_answer() -> None:
    base = key(ex(), BODY)
    assert len(base) == 64
    reordered: JSONObject = {"temperature": 0, "messages": [{"content": "hi", "role": "user"}], "model": "gpt-4o"}
    assert key(ex(), reordered) == base
    assert key(ex(), {**BODY, "user": "u1", "metadata": {"a": 1}, "stream": False, "store": True}) == base


def test_key_tells_apart_what_changes_the_answer() -> None:
    base = key(ex(), BODY)
    others = {
        key(ex(), {**BODY, "temperature": 1}),
        key(ex(), {**BODY, "stream_options": {"include_usage": True}}),
        key(ex(stream=True), BODY),  # a stream is another key
        key(ex(sub="/v1/other"), BODY),
        key(ex(query="a=1"), BODY),
        key(ex(), BODY, per_key=True),
        key(ex("/q"), BODY),  # another route (and client API)
        key(ex(headers=[(b"anthropic-beta", b"tools-2024")]), BODY),
    }
    assert base not in others and len(others) == 8
    assert key(ex(headers=[(b"x-stainless-os", b"Linux"), (b"user-agent", b"x")]), BODY) == base


def test_query_is_sorted_and_loses_credential_parameters() -> None:
    a = key(ex("/q", query="alt=sse&key=SECRET1"), BODY)  # Gemini's `key` carries a client credential
    assert a == key(ex("/q", query="key=OTHER&alt=sse"), BODY)
    assert a != key(ex("/q", query="alt=json"), BODY)


def test_partition_blanks_text_only() -> None:
    worded = {**BODY, "messages": [{"role": "user", "content": "something else entirely"}]}
    assert partition_key(ex(), BODY, SPEC) == partition_key(ex(), worded, SPEC)
    two_turns = {**BODY, "messages": [*BODY["messages"], {"role": "user", "content": "hi"}]}  # type: ignore[misc]
    image = {
        **BODY,
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/1.png"}}]}],
    }
    base = partition_key(ex(), BODY, SPEC)
    assert partition_key(ex(), two_turns, SPEC) != base
    assert partition_key(ex(), image, SPEC) != base
    assert partition_key(ex(), {**BODY, "temperature": 1}, SPEC) != base


def test_prompt_text_reads_every_client_api_shape() -> None:
    assert prompt_text(BODY) == "user:\nhi"
    anthropic: JSONObject = {
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "max_tokens": 5,
    }
    assert prompt_text(anthropic) == "Be brief.\nuser:\nHello"
    gemini: JSONObject = {"contents": [{"role": "user", "parts": [{"text": "Bonjour"}]}]}
    assert prompt_text(gemini) == "user:\nBonjour"
    assert prompt_text({"model": "m", "user": "u-42", "input": "embed me"}, IGNORED) == "embed me"

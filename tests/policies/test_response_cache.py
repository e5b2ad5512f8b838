"""`response-cache` through a real gateway on loopback, with the real OpenAI and Anthropic SDKs as
clients and the vendor mocks upstream: hits that never reach the mock, streams replayed and parsed by
the SDKs, opt-outs, TTL, the LRU bound, errors never cached, metering of hits, the semantic cache
(the mock's embeddings are similarity-meaningful) and its failing open, and the Redis store."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.gateway.gw_helpers import ListSink, RunningGateway, new_key, provider, resource_set
from tests.redis_support import OwnRedis, require_shared_redis
from tollgate.gateway.app import GatewayState, start_gateway_server
from tollgate.mock import MockServer
from tollgate.policies.services import PolicyServices
from tollgate.resources.models import PolicyRef
from tollgate.resources.resource_set import ResourceSet
from tollgate.usage.record import UsageRecord

CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def mock_module() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def mock(mock_module: MockServer) -> Iterator[MockServer]:
    mock_module.reset()
    yield mock_module
    mock_module.reset()


@dataclass
class Site:
    gw: RunningGateway
    keys: dict[str, str]
    resources: ResourceSet

    @property
    def records(self) -> list[UsageRecord]:
        return self.gw.sink.records

    def openai(self, context: str = "/openai", **headers: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.gw.url}{context}/v1",
            api_key=self.keys[context],
            max_retries=0,
            default_headers=headers or None,
        )

    def anthropic(self, context: str = "/anthropic") -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=f"{self.gw.url}{context}", api_key=self.keys[context], max_retries=0)


async def start(
    mock: MockServer, cache: dict[str, Any], *, services: PolicyServices | None = None, chat_vendor: str = "openai"
) -> Site:
    """A gateway with an `openai` and an `anthropic` provider (the cache on both) and an `embed` provider."""
    providers, keys, records = [], {}, []
    for name in ("openai", "anthropic", "gemini"):
        policies = [{"name": "response-cache", "params": cache}]
        providers.append(provider(name, name, f"/{name}", mock.url(name), secret=name, policies=policies))
        value, rec = new_key("LLMProvider", name)
        keys[f"/{name}"], records = value, [*records, rec]
    providers.append(provider("embed", "openai", "/embed", mock.url("openai"), secret="openai"))
    rs = resource_set(providers, keys=records, secrets={n: mock.keys[n] for n in ("openai", "anthropic", "gemini")})
    sink = ListSink()
    state = GatewayState("test-gw", sink)
    if services is not None:
        state.policy_services = services
    state.apply(rs)
    server = await start_gateway_server(state, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return Site(RunningGateway(state, server, sink, f"http://127.0.0.1:{port}"), keys, rs)


@pytest.fixture
async def site(mock: MockServer, request: pytest.FixtureRequest) -> AsyncIterator[Site]:
    params = getattr(request, "param", {"ttl": 60})
    running = await start(mock, params)
    yield running
    await running.gw.close()


def chat_calls(mock: MockServer, vendor: str = "openai") -> int:
    return sum(1 for r in mock.requests(vendor) if str(r["vendor_path"]).endswith(("/chat/completions", "/messages")))


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def settled(site: Site, count: int) -> None:
    """Completion (and the cache's background store) has run for `count` requests."""
    for _ in range(200):
        if len(site.records) >= count:
            await asyncio.sleep(0.01)
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(site.records)} records, expected {count}")


async def test_second_identical_openai_call_is_a_hit_that_never_reaches_the_mock(site: Site, mock: MockServer) -> None:
    client = site.openai()
    first = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("hello there"))
    await settled(site, 1)
    second = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("hello there"))
    assert (first.headers["x-tollgate-cache"], second.headers["x-tollgate-cache"]) == ("miss", "hit")
    assert second.headers["age"] == "0"
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert chat_calls(mock) == 1
    a, b = first.parse(), second.parse()
    assert b.model_dump() == a.model_dump()
    assert a.usage is not None and a.usage.total_tokens == 8  # mock word counts: "hello there" 2, the reply 6
    await settled(site, 2)
    miss, hit = site.records
    assert (miss.cache_result, miss.total_tokens, miss.saved_tokens) == ("miss", a.usage.total_tokens, None)
    assert (hit.cache_result, hit.prompt_tokens, hit.completion_tokens, hit.total_tokens) == ("hit", 0, 0, 0)
    assert (hit.saved_tokens, hit.status, hit.response_model) == (a.usage.total_tokens, 200, miss.response_model)
    # a different prompt, and the same prompt with only ignored fields changed
    await client.chat.completions.create(model="gpt-4o", messages=ask("hello again"))
    await settled(site, 3)
    same = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("hello there"), user="someone-else", stream=False
    )
    assert same.headers["x-tollgate-cache"] == "hit"
    other = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("hello there"), temperature=0.5
    )
    assert other.headers["x-tollgate-cache"] == "miss"
    assert chat_calls(mock) == 3


async def test_openai_stream_is_replayed_as_a_stream_the_sdk_parses_to_the_same_text(
    site: Site, mock: MockServer
) -> None:
    client = site.openai()

    async def streamed() -> tuple[str, str, int | None]:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=ask("count from 1 to 12"), stream=True, stream_options={"include_usage": True}
        )
        text, total = [], None
        async for chunk in raw.parse():
            text += [c.delta.content or "" for c in chunk.choices]
            total = chunk.usage.total_tokens if chunk.usage else total
        return raw.headers["x-tollgate-cache"], "".join(text), total

    state1, text1, total1 = await streamed()
    await settled(site, 1)
    state2, text2, total2 = await streamed()
    assert (state1, state2) == ("miss", "hit")
    assert text1 == text2 == " ".join(str(i) for i in range(1, 13))
    assert total1 == total2 == 5 + 12
    assert chat_calls(mock) == 1
    await settled(site, 2)
    assert (site.records[1].is_streaming, site.records[1].saved_tokens) == (True, total1)
    # a whole answer is not made from a stream: another key
    whole = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("count from 1 to 12"), stream_options={"include_usage": True}
    )
    assert whole.headers["x-tollgate-cache"] == "miss"
    assert whole.headers["content-type"].startswith("application/json")
    assert chat_calls(mock) == 2


async def test_anthropic_basic_and_streaming_hits(site: Site, mock: MockServer) -> None:
    client = site.anthropic()
    first = await client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=64, messages=ask("hi"))
    await settled(site, 1)
    second = await client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=ask("hi")
    )
    assert (first.headers["x-tollgate-cache"], second.headers["x-tollgate-cache"]) == ("miss", "hit")
    a, b = await first.parse(), await second.parse()
    assert b.content[0].text == a.content[0].text  # type: ignore[union-attr]
    texts = []
    for _ in range(2):
        async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=ask("a story")) as s:
            texts.append(("".join([t async for t in s.text_stream]), (await s.get_final_message()).usage.output_tokens))
        await settled(site, 2 + len(texts))
    assert texts[0] == texts[1] and texts[0][0]
    assert chat_calls(mock, "anthropic") == 2
    assert [r.cache_result for r in site.records] == ["miss", "hit", "miss", "hit"]


async def test_gemini_stream_and_whole_answer_hits(site: Site, mock: MockServer) -> None:
    http = genai_types.HttpOptions(
        base_url=f"{site.gw.url}/gemini",
        headers={"X-API-Key": site.keys["/gemini"]},
        retry_options=genai_types.HttpRetryOptions(attempts=1),
    )
    client = genai.Client(api_key="placeholder", http_options=http)
    texts = []
    for _ in range(2):
        stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="count from 1 to 9")
        texts.append("".join([c.text or "" async for c in stream]))
        await settled(site, len(texts))
    whole = [
        (await client.aio.models.generate_content(model="gemini-2.5-flash", contents="count from 1 to 9")).text
        for _ in range(2)
    ]
    await settled(site, 4)
    assert texts[0] == texts[1] == whole[0] == whole[1] == "1 2 3 4 5 6 7 8 9"
    assert [r.cache_result for r in site.records] == ["miss", "hit", "miss", "hit"]
    generate = [r for r in mock.requests("gemini") if "generatecontent" in str(r["vendor_path"]).lower()]
    assert len(generate) == 2
    assert ["alt=sse" in str(r["query"]) for r in generate] == [True, False]  # a stream and a whole answer: two keys


async def test_opt_out_headers_bypass_the_cache(site: Site, mock: MockServer) -> None:
    client = site.openai()
    await client.chat.completions.create(model="gpt-4o", messages=ask("opt out"))
    await settled(site, 1)
    for headers in ({"x-tollgate-cache": "no-cache"}, {"Cache-Control": "no-cache"}, {"cache-control": "no-store"}):
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=ask("opt out"), extra_headers=headers
        )
        assert raw.headers["x-tollgate-cache"] == "bypass"
    assert chat_calls(mock) == 4
    assert all("x-tollgate-cache" not in r["headers"] for r in mock.requests("openai"))  # never forwarded
    raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("opt out"))
    assert raw.headers["x-tollgate-cache"] == "hit"
    # no-store on a new prompt: the answer is not kept either
    await client.chat.completions.create(
        model="gpt-4o", messages=ask("never kept"), extra_headers={"x-tollgate-cache": "no-store"}
    )
    await settled(site, 6)
    raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("never kept"))
    assert raw.headers["x-tollgate-cache"] == "miss"
    assert [r.cache_result for r in site.records][1:4] == ["bypass"] * 3


@pytest.mark.parametrize("site", [{"ttl": 1}], indirect=True)
async def test_entries_expire_after_their_ttl(site: Site, mock: MockServer) -> None:
    client = site.openai()
    states = []
    for pause in (0.0, 0.0, 1.1):
        await asyncio.sleep(pause)
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("short lived"))
        states.append(raw.headers["x-tollgate-cache"])
        await settled(site, len(states))
    assert states == ["miss", "hit", "miss"]
    assert chat_calls(mock) == 2


@pytest.mark.parametrize("site", [{"maxEntries": 2}], indirect=True)
async def test_least_recently_used_goes_first_past_max_entries(site: Site, mock: MockServer) -> None:
    client = site.openai()

    async def state(text: str) -> str:
        done = len(site.records) + 1
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask(text))
        await settled(site, done)
        return raw.headers["x-tollgate-cache"]

    assert [await state(t) for t in ("a", "b", "a", "c")] == ["miss", "miss", "hit", "miss"]
    # "b" was the least recently used when "c" came in
    assert [await state(t) for t in ("a", "c", "b")] == ["hit", "hit", "miss"]
    assert chat_calls(mock) == 4


async def test_errors_are_never_cached(site: Site, mock: MockServer) -> None:
    client = site.openai()
    for done in (1, 2):
        with pytest.raises(openai.InternalServerError) as info:
            await client.chat.completions.create(model="gpt-4o", messages=ask("boom [mock:error=500]"))
        assert info.value.response.headers["x-tollgate-cache"] == "miss"
        await settled(site, done)
    assert chat_calls(mock) == 2
    assert [r.status for r in site.records] == [500, 500]
    anthropic_client = site.anthropic()
    for directive, done in (
        ("[mock:break]", 3),
        ("[mock:break]", 4),
        ("[mock:stream-error]", 5),
        ("[mock:stream-error]", 6),
    ):
        with contextlib.suppress(anthropic.APIError, httpx.HTTPError):
            async with anthropic_client.messages.stream(
                model="claude-sonnet-4-5", max_tokens=64, messages=ask(f"a cut story {directive}")
            ) as s:
                async for _ in s.text_stream:
                    pass
        await settled(site, done)
    assert chat_calls(mock, "anthropic") == 4  # a cut stream and a stream ending in an error event: never cached
    assert [r.cache_result for r in site.records[2:]] == ["miss"] * 4
    assert all(r.error_code is not None for r in site.records[2:])


async def test_a_hit_settles_a_token_limit_to_nothing(mock: MockServer) -> None:
    cache = {"name": "response-cache", "params": {}}
    limit = {"name": "token-limit", "params": {"limits": [{"tokens": 1000, "per": "minute"}]}}
    value, rec = new_key("LLMProvider", "openai")
    rs = resource_set(
        [provider("openai", "openai", "/openai", mock.url("openai"), secret="s", policies=[limit, cache])],
        keys=[rec],
        secrets={"s": mock.keys["openai"]},
    )
    sink = ListSink()
    state = GatewayState("test-gw", sink)
    state.apply(rs)
    server = await start_gateway_server(state, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        client = openai.AsyncOpenAI(base_url=url + "/openai/v1", api_key=value, max_retries=0)
        body = {"model": "gpt-4o", "messages": ask("hello there"), "max_tokens": 100}
        remaining = []
        for _ in range(3):
            raw = await client.chat.completions.with_raw_response.create(**body)  # type: ignore[call-overload]
            remaining.append(int(raw.headers["x-ratelimit-remaining-tokens"]))
            for _ in range(100):
                if len(sink.records) == len(remaining):
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.02)
        # the miss settles at its metered 8 tokens; each hit reserves then settles back to 0
        reserve = 1000 - remaining[0]
        assert remaining[1] == 1000 - 8 - reserve and remaining[2] == remaining[1]
        assert [r.cache_result for r in sink.records] == ["miss", "hit", "hit"]
    finally:
        server.close()
        state.pools.close()


SEMANTIC = {"provider": "embed", "model": "text-embedding-3-small", "dimensions": 256}


@pytest.mark.parametrize("site", [{"semantic": {**SEMANTIC, "threshold": 0.85}}], indirect=True)
async def test_semantic_hit_above_the_threshold(site: Site, mock: MockServer) -> None:
    client = site.openai()
    await client.chat.completions.create(model="gpt-4o", messages=ask("What is the capital of France?"))
    await settled(site, 1)
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("what is the capital city of france")
    )
    assert raw.headers["x-tollgate-cache"] == "hit"
    assert 0.85 <= float(raw.headers["x-tollgate-cache-similarity"]) < 0.95
    unrelated = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("tell me a joke about cats")
    )
    assert unrelated.headers["x-tollgate-cache"] == "miss"
    # same wording, other parameters: never compared
    other = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("What is the capital of France?"), max_tokens=5
    )
    assert other.headers["x-tollgate-cache"] == "miss"
    assert chat_calls(mock) == 3
    embeds = [r for r in mock.requests("openai") if r["vendor_path"] == "/v1/embeddings"]
    assert len(embeds) == 4 and '"dimensions":256' in str(embeds[0]["body"])
    await settled(site, 4)
    assert [r.cache_result for r in site.records] == ["miss", "semantic_hit", "miss", "miss"]


@pytest.mark.parametrize("site", [{"semantic": {**SEMANTIC, "threshold": 0.95}}], indirect=True)
async def test_semantic_miss_below_the_threshold(site: Site, mock: MockServer) -> None:
    client = site.openai()
    await client.chat.completions.create(model="gpt-4o", messages=ask("What is the capital of France?"))
    await settled(site, 1)
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("what is the capital city of france")
    )
    assert raw.headers["x-tollgate-cache"] == "miss" and "x-tollgate-cache-similarity" not in raw.headers
    # punctuation and case only: the same words, similarity 1
    same = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("what is the capital of france")
    )
    assert same.headers["x-tollgate-cache"] == "hit"
    assert chat_calls(mock) == 2


@pytest.mark.parametrize("site", [{"semantic": {**SEMANTIC, "threshold": 0.8, "timeout": 0.5}}], indirect=True)
async def test_semantic_cache_fails_open_when_embeddings_fail(
    site: Site, mock: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = site.anthropic()
    mock.configure(error=500, vendors=["openai"])  # the embeddings provider is down
    answers = []
    for _ in range(2):
        raw = await client.messages.with_raw_response.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=ask("What is the capital of France?")
        )
        answers.append(raw.headers["x-tollgate-cache"])
        await settled(site, len(answers))
    assert answers == ["miss", "hit"]  # answered upstream, and the exact cache still works
    assert "semantic cache: embedding failed (embeddings answered 500)" in caplog.text
    mock.configure(delay=2000, vendors=["openai"])  # now slower than the 0.5 s timeout
    started = asyncio.get_running_loop().time()
    raw = await client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=ask("what is the capital city of france")
    )
    assert raw.headers["x-tollgate-cache"] == "miss"
    assert asyncio.get_running_loop().time() - started < 1.5
    assert chat_calls(mock, "anthropic") == 2


def redis_services(url: str) -> PolicyServices:
    prefix = f"tgtest:{uuid.uuid4().hex}:"
    return PolicyServices.from_env({"TOLLGATE_REDIS_URL": url, "TOLLGATE_REDIS_PREFIX": prefix})


async def test_redis_store_shared_by_two_gateways(mock: MockServer) -> None:
    url = require_shared_redis()
    services = redis_services(url)
    cache = {"store": "redis", "semantic": {**SEMANTIC, "threshold": 0.85}}
    one, two = await start(mock, cache, services=services), await start(mock, cache, services=services)
    try:
        a, b = one.openai(), two.openai()
        await a.chat.completions.create(model="gpt-4o", messages=ask("What is the capital of France?"))
        await settled(one, 1)
        await asyncio.sleep(0.05)
        raw = await b.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=ask("What is the capital of France?")
        )
        assert raw.headers["x-tollgate-cache"] == "hit"
        similar = await b.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=ask("what is the capital city of france")
        )
        assert similar.headers["x-tollgate-cache"] == "hit" and "x-tollgate-cache-similarity" in similar.headers
        assert chat_calls(mock) == 1
    finally:
        for running in (one, two):
            await running.gw.close()
        await services.counters.aclose()


async def test_redis_down_fails_open(mock: MockServer, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    redis = OwnRedis(tmp_path)
    services = redis_services(redis.url)
    running = await start(mock, {"store": "redis"}, services=services)
    try:
        client = running.openai()
        await client.chat.completions.create(model="gpt-4o", messages=ask("kept in redis"))
        await settled(running, 1)
        await asyncio.sleep(0.05)
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("kept in redis"))
        assert raw.headers["x-tollgate-cache"] == "hit"
        redis.stop()
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("kept in redis"))
        assert raw.status_code == 200 and raw.headers["x-tollgate-cache"] == "miss"
        await settled(running, 3)
        assert running.records[-1].cache_result == "unavailable"
        assert "response cache: Redis unavailable" in caplog.text
        assert chat_calls(mock) == 2
    finally:
        redis.stop()
        await running.gw.close()
        await services.counters.aclose()


async def test_a_config_change_keeps_the_memory_cache_unless_its_params_change(mock: MockServer) -> None:
    running = await start(mock, {"ttl": 60})
    try:
        client = running.openai()
        await client.chat.completions.create(model="gpt-4o", messages=ask("survive a reload"))
        await settled(running, 1)
        state = running.gw.state
        before = state.snapshot
        _, extra = new_key("LLMProvider", "anthropic")  # any change rebuilds the snapshot and its policies
        current = running.resources
        state.apply(dataclasses.replace(current, keys=[*current.keys, extra], revision=current.revision + 1))
        assert state.snapshot is not before
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("survive a reload"))
        assert raw.headers["x-tollgate-cache"] == "hit"
        changed = [
            p.model_copy(update={"spec": p.spec.model_copy(update={"policies": [
                PolicyRef.model_validate({"name": "response-cache", "params": {"ttl": 120}})
            ]})})
            if p.metadata.name == "openai" else p
            for p in current.providers.values()
        ]  # fmt: skip
        state.apply(
            dataclasses.replace(current, providers={p.metadata.name: p for p in changed}, revision=current.revision + 2)
        )
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("survive a reload"))
        assert raw.headers["x-tollgate-cache"] == "miss"  # new params: a new cache
    finally:
        await running.gw.close()

"""Tests of the exchange pipeline's seams through a real gateway: policy phases, failover between
targets, and streams that fail or carry the vendor's error event (recorded as errors).

Policies here are test doubles installed on a live route's compiled chain; the vendors are the mocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tests.gateway.gw_helpers import RunningGateway, new_key, provider, resource_set, start_gateway
from tollgate.errors import GatewayError, GuardrailError, RateLimitedError
from tollgate.gateway.exchange import Exchange, ExchangeKey
from tollgate.gateway.targets import Target, TargetHealth
from tollgate.gateway.upstream import split_base_url
from tollgate.mock import MockServer
from tollgate.policies.base import ChunkFilter, ChunkTap, Policy, PolicyChain
from tollgate.providers.base import IdentityTranslation, RequestFacts, Translation, UpstreamRequest
from tollgate.types import HeaderList, JSONObject

CHAT = "/v1/chat/completions"
SEEN: ExchangeKey[list[str]] = ExchangeKey("seen")


def chat(text: str = "hello", stream: bool = False) -> dict[str, object]:
    body: dict[str, object] = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return body


class Gate:
    def __init__(self, gw: RunningGateway, key: str, client: httpx.AsyncClient) -> None:
        self.gw = gw
        self.key = key
        self.client = client

    def install(self, *policies: Policy, context: str = "/openai") -> None:
        route = self.gw.state.snapshot.routes[context]
        object.__setattr__(route, "chain", PolicyChain.compile(policies))

    async def post(self, body: dict[str, object], context: str = "/openai") -> httpx.Response:
        return await self.client.post(f"{self.gw.url}{context}{CHAT}", json=body, headers={"x-api-key": self.key})


@pytest.fixture
async def gate(mock: MockServer) -> AsyncIterator[Gate]:
    value, rec = new_key("LLMProvider", "openai")
    rs = resource_set(
        [provider("openai", "openai", "/openai", mock.url("openai"), secret="s")],
        keys=[rec],
        secrets={"s": mock.keys["openai"]},
    )
    gw = await start_gateway(rs)
    async with httpx.AsyncClient(timeout=10) as client:
        yield Gate(gw, value, client)
    await gw.close()


class Limit(Policy):
    name = "limit"

    async def on_request_headers(self, ex: Exchange) -> GatewayError | None:
        return RateLimitedError("Rate limit of 1 request per minute reached.", retry_after=42)


async def test_a_request_header_hook_ends_the_exchange_in_the_client_api_shape(gate: Gate, mock: MockServer) -> None:
    gate.install(Limit())
    resp = await gate.post(chat())
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "42"
    assert resp.json()["error"] == {
        "message": "Rate limit of 1 request per minute reached.",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert mock.requests("openai") == []  # nothing reached the vendor
    row = gate.gw.sink.records[-1]
    assert (row.status, row.error_code, row.request_model) == (429, "rate_limit_exceeded", None)


class Tracer(Policy):
    """Uses every phase: records what it saw on the exchange, upper-cases the stream, counts bytes."""

    name = "tracer"
    needs_request_body = True

    def __init__(self) -> None:
        self.completed: list[Exchange] = []
        self.tapped: list[bytes] = []

    async def on_request_headers(self, ex: Exchange) -> GatewayError | None:
        ex.set(SEEN, [f"headers:{ex.key_id is not None}:{ex.body == b''}"])
        return None

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        seen = ex.get(SEEN)
        assert seen is not None and ex.body_obj is not None
        seen.append(f"body:{ex.facts.model}:{ex.facts.is_streaming}:{ex.endpoint}")
        return None

    def on_response_headers(self, ex: Exchange) -> GatewayError | None:
        seen = ex.get(SEEN)
        assert seen is not None
        seen.append(f"response:{ex.status}")
        ex.response_headers.append((b"x-traced", b"yes"))
        return None

    def stream_filter(self, ex: Exchange) -> ChunkFilter | None:
        return Upper()

    def stream_tap(self, ex: Exchange) -> ChunkTap | None:
        return Collect(self.tapped)

    def on_completion(self, ex: Exchange) -> None:
        self.completed.append(ex)


class Upper:
    def feed(self, chunk: bytes) -> bytes:
        return chunk.replace(b'"content":"', b'"content":"!')

    def close(self) -> bytes:
        return b": traced\n\n"


class Collect:
    def __init__(self, out: list[bytes]) -> None:
        self.out = out

    def feed(self, chunk: bytes) -> None:
        self.out.append(chunk)

    def close(self) -> None:
        self.out.append(b"<closed>")


async def test_every_phase_runs_in_order_and_filters_rewrite_what_the_client_gets(gate: Gate) -> None:
    tracer = Tracer()
    gate.install(tracer)
    async with gate.client.stream(
        "POST", f"{gate.gw.url}/openai{CHAT}", json=chat("two words", stream=True), headers={"x-api-key": gate.key}
    ) as resp:
        assert resp.headers["x-traced"] == "yes"
        raw = await resp.aread()
    assert b'"content":"!' in raw and raw.endswith(b": traced\n\n")
    assert b'"choices":[]' not in raw  # the include_usage chunk is still hidden (the translation runs first)
    assert b"".join(tracer.tapped) == raw + b"<closed>"  # taps read exactly what the client got
    (ex,) = tracer.completed
    assert ex.get(SEEN) == ["headers:True:True", "body:gpt-4o:True:chat", "response:200"]
    assert ex.is_stream and ex.result is not None and ex.result.usage.total_tokens
    row = gate.gw.sink.records[-1]
    assert (row.status, row.error_code, row.is_streaming) == (200, None, True)
    assert (row.prompt_tokens, row.completion_tokens) == (
        ex.result.usage.prompt_tokens,
        ex.result.usage.completion_tokens,
    )


class Guard(Policy):
    name = "guard"

    def stream_filter(self, ex: Exchange) -> ChunkFilter | None:
        return Trip()


class Trip:
    def __init__(self) -> None:
        self.seen = 0

    def feed(self, chunk: bytes) -> bytes:
        self.seen += 1
        if self.seen == 2:
            raise GuardrailError("The answer was blocked by a guardrail.")
        return chunk

    def close(self) -> bytes:
        return b""


async def test_a_filter_error_after_the_first_byte_becomes_the_in_stream_error_event(gate: Gate) -> None:
    gate.install(Guard())
    body = chat("a long story [mock:chunk-delay=5]", stream=True)
    async with gate.client.stream(
        "POST", f"{gate.gw.url}/openai{CHAT}", json=body, headers={"x-api-key": gate.key}
    ) as resp:
        assert resp.status_code == 200
        raw = await resp.aread()
    last = raw.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert orjson.loads(last.removeprefix(b"data: "))["error"]["message"] == "The answer was blocked by a guardrail."
    assert b"[DONE]" not in raw
    row = gate.gw.sink.records[-1]
    assert (row.status, row.error_code) == (GuardrailError.status, GuardrailError.code)


async def test_an_in_band_vendor_error_event_is_recorded_as_an_error(gate: Gate) -> None:
    async with gate.client.stream(
        "POST",
        f"{gate.gw.url}/openai{CHAT}",
        json=chat("story [mock:stream-error]", stream=True),
        headers={"x-api-key": gate.key},
    ) as resp:
        assert resp.status_code == 200
        raw = await resp.aread()
    assert b'data: {"error"' in raw  # the client got the vendor's own event, untouched
    row = gate.gw.sink.records[-1]
    assert row.status == 502 and row.error_code not in (None, "")


async def test_a_cut_upstream_stream_is_recorded_as_an_error(gate: Gate) -> None:
    async with gate.client.stream(
        "POST",
        f"{gate.gw.url}/openai{CHAT}",
        json=chat("story [mock:break]", stream=True),
        headers={"x-api-key": gate.key},
    ) as resp:
        await resp.aread()
    row = gate.gw.sink.records[-1]
    assert (row.status, row.error_code) == (502, "upstream_protocol_error")


class Last(Policy):
    name = "last"

    def pick_target(self, ex: Exchange, candidates: tuple[Target, ...]) -> Target | None:
        return candidates[0] if candidates else None


async def test_failover_to_the_next_target_before_the_first_byte(gate: Gate, mock: MockServer) -> None:
    route = gate.gw.state.snapshot.routes["/openai"]
    (good,) = route.targets
    dead = _dead(gate, good)
    object.__setattr__(route, "targets", (dead, good))
    gate.install(Last())
    resp = await gate.post(chat())
    assert resp.status_code == 200
    assert len(mock.requests("openai")) == 1
    assert dead.health.failures == 1 and not dead.health.is_up and good.health.failures == 0
    # the default picker now passes over the dead target while it cools down
    gate.install()
    resp = await gate.post(chat())
    assert resp.status_code == 200 and dead.health.failures == 1


async def test_no_target_left_answers_the_last_failure(gate: Gate) -> None:
    route = gate.gw.state.snapshot.routes["/openai"]
    (good,) = route.targets
    dead = _dead(gate, good)
    object.__setattr__(route, "targets", (dead,))
    resp = await gate.post(chat())
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "upstream_unreachable"


def _dead(gate: Gate, target: Target) -> Target:
    """A copy of `target` whose pool points at port 9 (discard): connection refused."""
    origin = split_base_url("http://127.0.0.1:9")[0]
    return dataclasses.replace(target, name="dead", pool=gate.gw.state.pools.get(origin), health=TargetHealth())


class Shouting(IdentityTranslation):
    """A test translation: rewrites the path and whole bodies, and re-shapes backend errors."""

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None:
        req.headers = [*req.headers, (b"x-translated", b"1")]

    def response_headers(self, status: int, headers: HeaderList) -> HeaderList:
        return [*headers, (b"x-translated-response", b"1")]

    def response_body(self, body: bytes) -> bytes:
        return body.upper()

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        return 503, [*headers, (b"x-was", str(status).encode())], b'{"error": {"message": "translated"}}'


class ShoutingTranslator:
    name = "test->test"

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None:
        return Shouting()


async def test_a_translation_rewrites_request_body_and_backend_errors(gate: Gate, mock: MockServer) -> None:
    route = gate.gw.state.snapshot.routes["/openai"]
    (target,) = route.targets
    object.__setattr__(route, "targets", (dataclasses.replace(target, translator=ShoutingTranslator()),))
    resp = await gate.post(chat("hello"))
    assert resp.status_code == 200 and resp.headers["x-translated-response"] == "1"
    assert resp.content == resp.content.upper() and b'"CHOICES"' in resp.content
    (seen,) = mock.requests("openai")
    assert seen["headers"]["x-translated"] == "1"
    row = gate.gw.sink.records[-1]
    assert row.total_tokens is not None and row.total_tokens > 0  # metered from what the upstream sent
    resp = await gate.post(chat("x [mock:error=429]"))
    assert resp.status_code == 503 and resp.headers["x-was"] == "429"
    assert resp.json() == {"error": {"message": "translated"}}
    assert gate.gw.sink.records[-1].status == 503

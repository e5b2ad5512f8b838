"""A custom ProviderTemplate end to end: declared credential placement, client key header, dotted usage
paths and error format, routed to the mock's OpenAI API (and to a raw upstream for a query credential)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from tests.gateway.gw_helpers import (
    RawRequest,
    RawUpstream,
    RunningGateway,
    new_key,
    provider,
    resource_set,
    response,
    start_gateway,
    template,
)
from tollgate.mock import MockServer

ACME: dict[str, Any] = {
    "credential": {"location": "header", "name": "Authorization", "prefix": "Bearer "},
    "clientKeyHeaders": ["X-Acme-Key"],
    "defaultHeaders": {"X-Acme-Version": "7"},
    "requestModel": {"bodyField": "model"},
    "streaming": {"bodyFlag": "stream"},
    "responseModel": ["model"],
    "usage": {
        "promptTokens": ["usage.prompt_tokens"],
        "completionTokens": ["usage.completion_tokens"],
        "totalTokens": ["usage.total_tokens"],
    },
    "errorFormat": "anthropic",
}
CHAT = "/acme/v1/chat/completions"


def _chat(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
async def acme(mock: MockServer) -> AsyncIterator[tuple[RunningGateway, str]]:
    tpl = template("acme", {**ACME, "baseUrl": mock.url("openai")})
    value, key = new_key("LLMProvider", "acme")
    rs = resource_set(
        [provider("acme", "acme", "/acme", None, secret="acme-cred", models=["gpt-4o"])],
        keys=[key],
        secrets={"acme-cred": mock.keys["openai"]},
        templates=[tpl],
    )
    gw = await start_gateway(rs)
    yield gw, value
    await gw.close()


async def test_custom_template_end_to_end_with_usage(acme: tuple[RunningGateway, str], mock: MockServer) -> None:
    gw, value = acme
    async with httpx.AsyncClient(timeout=5) as client:
        resp = await client.post(gw.url + CHAT, json=_chat(), headers={"x-acme-key": value})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    (seen,) = mock.requests("openai")
    assert seen["headers"]["authorization"] == "Bearer " + mock.keys["openai"]
    assert seen["headers"]["x-acme-version"] == "7"
    assert "x-acme-key" not in seen["headers"], "the gateway key reached the vendor"
    assert value not in " ".join(seen["headers"].values())
    record = gw.sink.records[-1]
    assert (record.provider, record.status, record.request_model, record.response_model) == (
        "acme",
        200,
        "gpt-4o",
        body["model"],
    )
    assert record.prompt_tokens == body["usage"]["prompt_tokens"]
    assert record.completion_tokens == body["usage"]["completion_tokens"]
    assert record.total_tokens == body["usage"]["total_tokens"]


async def test_custom_template_stream_is_metered(acme: tuple[RunningGateway, str], mock: MockServer) -> None:
    gw, value = acme
    async with (
        httpx.AsyncClient(timeout=5) as client,
        client.stream(
            "POST",
            gw.url + CHAT,
            json=_chat(stream=True, stream_options={"include_usage": True}),
            headers={"x-api-key": value},
        ) as resp,
    ):
        assert resp.status_code == 200
        data = await resp.aread()
    # a declarative template relays the stream untouched (usage chunk included) and never rewrites
    assert data.rstrip().endswith(b"data: [DONE]")
    assert b'"choices":[]' in data.replace(b" ", b"")
    assert orjson.loads(mock.requests("openai")[0]["body"])["stream_options"] == {"include_usage": True}
    record = gw.sink.records[-1]
    assert record.is_streaming and record.prompt_tokens and record.completion_tokens and record.total_tokens


async def test_custom_template_errors_use_its_error_format(acme: tuple[RunningGateway, str], mock: MockServer) -> None:
    gw, value = acme
    async with httpx.AsyncClient(timeout=5) as client:
        missing = await client.post(gw.url + CHAT, json=_chat())
        denied = await client.post(gw.url + CHAT, json={**_chat(), "model": "gpt-9"}, headers={"x-acme-key": value})
        broken = await client.post(gw.url + CHAT, content=b"{nope", headers={"x-acme-key": value})
        upstream = await client.post(gw.url + CHAT, json=_chat("[mock:error=429]"), headers={"x-acme-key": value})
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    assert denied.status_code == 400 and denied.json()["type"] == "error"
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"
    # the vendor's own error is passed through as the vendor wrote it
    assert upstream.status_code == 429 and upstream.json()["error"]["code"] == "rate_limit_exceeded"
    assert len(mock.requests()) == 1


async def test_custom_template_query_credential_and_dotted_paths() -> None:
    async def acme_api(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
        answer = {"result": "ok", "meta": {"billing": {"in": 11, "out": 7}}, "engine": {"name": "acme-2"}}
        writer.write(response(200, orjson.dumps(answer)))
        return True

    up = await RawUpstream(acme_api).start()
    tpl = template(
        "acme-q",
        {
            "baseUrl": up.url + "/api",
            "credential": {"location": "query", "name": "token", "prefix": "tk-"},
            "clientKeyHeaders": [],
            "requestModel": {"bodyField": "params.engine"},
            "responseModel": ["engine.name"],
            "usage": {"promptTokens": ["meta.billing.in"], "completionTokens": ["meta.billing.out"]},
            "errorFormat": "gemini",
        },
    )
    value, key = new_key("LLMProvider", "q")
    rs = resource_set(
        [provider("q", "acme-q", "/q", None, secret="s")], keys=[key], secrets={"s": "se cret&x"}, templates=[tpl]
    )
    gw = await start_gateway(rs)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.post(
                gw.url + "/q/run?x=1", json={"params": {"engine": "acme-1"}}, headers={"x-api-key": value}
            )
            unauth = await client.post(gw.url + "/q/run", json={})
        assert resp.status_code == 200
        (seen,) = up.requests
        assert seen.target == "/api/run?x=1&token=tk-se%20cret%26x"
        assert value not in str(seen.headers)
        record = gw.sink.records[0]
        assert (record.request_model, record.response_model) == ("acme-1", "acme-2")
        assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (11, 7, 18)
        assert unauth.status_code == 401 and unauth.json()["error"]["status"] == "UNAUTHENTICATED"
    finally:
        await gw.close()
        await up.close()

"""Translated routes end to end: the real SDKs against a real gateway whose routes speak another
vendor's API than their backend (issue 10 §1, §4). One gateway process for this module, its own YAML.

Routes (`/t/<client>/<backend>`): the OpenAI client API in front of Anthropic, Gemini, Mistral,
Azure OpenAI and Foundry; the Anthropic client API in front of OpenAI, Gemini, Azure OpenAI, Mistral
and Foundry; plus an OpenAI-speaking LLMProxy on a plain Anthropic provider.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import yaml
from e2e_clients import TIMEOUT_S, Result, anthropic_client, chat_anthropic, chat_openai, lc, openai_client
from e2e_harness import GatewayProcess, closed_port, env_name, timed, wait_usage

from tollgate.mock import MockServer
from tollgate.mock import anthropic as anthropic_mock
from tollgate.mock import gemini as gemini_mock
from tollgate.mock import mistral as mistral_mock
from tollgate.mock import openai as openai_mock
from tollgate.mock.text import count_words
from tollgate.resources.keys import generate_key

AZURE_DEPLOYMENT = "gpt4o-deploy"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PNG_SIZE = len(base64.b64decode(PNG_B64))
#: route name -> (template, mock vendor, client API, model the client asks for, mock label)
ROUTES: dict[str, tuple[str, str, str, str, str]] = {
    "oai-anthropic": ("anthropic", "anthropic", "openai", "claude-sonnet-4-5", "Anthropic"),
    "oai-gemini": ("gemini", "gemini", "openai", "gemini-2.5-flash", "Gemini"),
    "oai-mistral": ("mistral", "mistral", "openai", "mistral-small-latest", "Mistral"),
    "oai-azure": ("azure-openai", "azure", "openai", AZURE_DEPLOYMENT, "Azure OpenAI"),
    "oai-foundry": ("azure-ai-foundry", "foundry", "openai", "gpt-4o", "Azure AI Foundry"),
    "ant-openai": ("openai", "openai", "anthropic", "gpt-4o", "OpenAI"),
    "ant-gemini": ("gemini", "gemini", "anthropic", "gemini-2.5-flash", "Gemini"),
    "ant-azure": ("azure-openai", "azure", "anthropic", AZURE_DEPLOYMENT, "Azure OpenAI"),
    "ant-mistral": ("mistral", "mistral", "anthropic", "mistral-small-latest", "Mistral"),
    "ant-foundry": ("azure-ai-foundry", "foundry", "anthropic", "gpt-4o", "Azure AI Foundry"),
}
PROXY = "oai-claude-app"  # an LLMProxy with clientApi: openai on the plain `claude` provider
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": WEATHER_TOOL["function"]["parameters"],  # type: ignore[index]
}


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


class Gateway:
    def __init__(self, process: GatewayProcess, keys: dict[str, str], mock: MockServer) -> None:
        self.process = process
        self.keys = keys
        self.mock = mock

    def url(self, route: str) -> str:
        return f"{self.process.url}/t/{route}"


@pytest.fixture(scope="module")
def gw(mock_server: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    workdir: Path = tmp_path_factory.mktemp("tollgate-translation")
    docs: list[dict[str, Any]] = []
    keys: dict[str, str] = {}
    for vendor, value in mock_server.keys.items():
        docs.append(_doc("Secret", f"{vendor}-upstream", {"value": value}))

    def key_for(kind: str, name: str) -> None:
        keys[name] = generate_key().value
        spec = {"target": {"kind": kind, "name": name}, "valueFromEnv": env_name(name)}
        docs.append(_doc("APIKey", f"k-{name}", spec))

    for name, (template, vendor, client_api, _, _) in ROUTES.items():
        spec = {
            "template": template,
            "context": f"/t/{name}",
            "upstreamUrl": f"{mock_server.base_url}/{vendor}",
            "credential": {"secret": f"{vendor}-upstream"},
            "clientApi": client_api,
        }
        docs.append(_doc("LLMProvider", name, spec))
        key_for("LLMProvider", name)
    claude = {
        "template": "anthropic",
        "context": "/t/claude",
        "upstreamUrl": f"{mock_server.base_url}/anthropic",
        "credential": {"secret": "anthropic-upstream"},
    }
    docs.append(_doc("LLMProvider", "claude", claude))
    mapped = {**claude, "context": "/t/mapped", "modelMap": {"claude-sonnet-4-5": "claude-sonnet-4-6"}}
    docs.append(_doc("LLMProvider", "mapped", mapped))
    key_for("LLMProvider", "mapped")
    docs.append(_doc("LLMProxy", PROXY, {"provider": "claude", "context": f"/t/{PROXY}", "clientApi": "openai"}))
    key_for("LLMProxy", PROXY)
    openai_spec = {"template": "openai", "credential": {"secret": "openai-upstream"}}
    closed = closed_port()
    docs.append(
        _doc(
            "LLMProvider",
            "down-openai",
            {**openai_spec, "context": "/t/down-openai", "upstreamUrl": f"http://127.0.0.1:{closed}/openai"},
        )
    )
    slow = {
        **openai_spec,
        "context": "/t/slow-openai",
        "upstreamUrl": f"{mock_server.base_url}/openai",
        "timeouts": {"firstByte": 1.0},
    }
    docs.append(_doc("LLMProvider", "slow-openai", slow))
    for name, primary in (("fo-connect", "down-openai"), ("fo-slow", "slow-openai")):
        breaker = {"failures": 1}  # one failure suspends: the test below relies on it
        spec = {"provider": primary, "context": f"/t/{name}", "fallbacks": ["claude"], "circuitBreaker": breaker}
        docs.append(_doc("LLMProxy", name, spec))
        key_for("LLMProxy", name)
    config = workdir / "config"
    config.mkdir()
    (config / "resources.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    process = GatewayProcess(
        config, workdir / "tg.db", {env_name(k): v for k, v in keys.items()}, log_name="translation"
    )
    try:
        process.wait_ready()
        yield Gateway(process, keys, mock_server)
    finally:
        process.stop()


def oai(gw: Gateway, route: str) -> openai.OpenAI:
    return openai_client(gw.url(route), gw.keys[route])  # type: ignore[no-any-return]


def ant(gw: Gateway, route: str) -> anthropic.Anthropic:
    return anthropic_client(gw.url(route), gw.keys[route])  # type: ignore[no-any-return]


def last_upstream(gw: Gateway, vendor: str, nonce: str) -> dict[str, Any]:
    found = [r for r in gw.mock.requests(vendor) if nonce in str(r["body"])]
    assert len(found) == 1, f"expected one upstream {vendor} request with {nonce}, got {len(found)}"
    return found[0]


OPENAI_ROUTES = [r for r, spec in ROUTES.items() if spec[2] == "openai"]
ANTHROPIC_ROUTES = [r for r, spec in ROUTES.items() if spec[2] == "anthropic"]


@pytest.mark.parametrize("route", [*OPENAI_ROUTES, PROXY])
def test_openai_sdk_basic_and_stream(gw: Gateway, route: str) -> None:
    _, vendor, _, model, label = ROUTES.get(route, ROUTES["oai-anthropic"])
    api = oai(gw, route)
    nonce = "n" + secrets.token_hex(4)
    with timed() as window:
        response = api.chat.completions.create(model=model, messages=[{"role": "user", "content": f"Hello {nonce}"}])
    assert response.choices[0].message.content == f"Hello from the mock {label} API."
    assert response.choices[0].finish_reason == "stop" and response.choices[0].message.role == "assistant"
    assert response.usage is not None and response.usage.prompt_tokens > 0
    upstream = last_upstream(gw, vendor, nonce)
    provider = "claude" if route == PROXY else route
    rows = wait_usage(
        gw.process.db_path, window[0], window[1], provider=provider, proxy=PROXY if route == PROXY else None
    )
    assert len(rows) == 1 and rows[0]["status"] == 200
    assert (rows[0]["prompt_tokens"], rows[0]["completion_tokens"]) == (
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
    )
    assert "tg_" not in json.dumps(upstream["headers"])

    chunks = list(
        api.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"Count from 1 to 5. {nonce}s"}], stream=True
        )
    )
    assert all(c.choices for c in chunks), "no choices: [] chunk unless the client asked for usage"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "1 2 3 4 5"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("route", ["oai-anthropic", "oai-gemini", "oai-mistral"])
def test_chat_openai_invoke_and_stream(gw: Gateway, route: str) -> None:
    _, _, _, model, label = ROUTES[route]
    basic, stream = lc(lambda url, key: chat_openai(url, key, model))
    assert basic(gw.url(route), gw.keys[route], "Hi").text == f"Hello from the mock {label} API."
    result: Result = stream(gw.url(route), gw.keys[route], "Count from 1 to 4.")
    assert result.text == "1 2 3 4" and len(result.pieces) == 4


@pytest.mark.parametrize("route", ANTHROPIC_ROUTES)
def test_anthropic_sdk_basic_and_stream(gw: Gateway, route: str) -> None:
    _, _, _, model, label = ROUTES[route]
    api = ant(gw, route)
    message = api.messages.create(model=model, max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].type == "text" and message.content[0].text == f"Hello from the mock {label} API."
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == count_words(message.content[0].text)
    with api.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "Count from 1 to 5."}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "1 2 3 4 5"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 5 and final.usage.input_tokens > 0


@pytest.mark.parametrize("route", ["ant-openai", "ant-gemini", "ant-azure"])
def test_chat_anthropic_invoke_and_stream(gw: Gateway, route: str) -> None:
    _, _, _, model, label = ROUTES[route]

    def factory(url: str, key: str) -> Any:
        llm = chat_anthropic(url, key)
        return llm.model_copy(update={"model": model})

    basic, stream = lc(factory)
    assert basic(gw.url(route), gw.keys[route], "Hi").text == f"Hello from the mock {label} API."
    result: Result = stream(gw.url(route), gw.keys[route], "Count from 1 to 3.")
    assert result.text == "1 2 3"


PROMPT = "Weather in Paris please"


@pytest.mark.parametrize("route", ["oai-anthropic", "oai-gemini", "oai-mistral", "oai-azure"])
def test_openai_streamed_tool_call_arrives_whole_then_tool_result(gw: Gateway, route: str) -> None:
    _, vendor, _, model, _ = ROUTES[route]
    api = oai(gw, route)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    raw = list(api.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL], stream=True))  # type: ignore[list-item]
    argument_chunks = [
        c for c in raw if c.choices and c.choices[0].delta.tool_calls and not c.choices[0].delta.tool_calls[0].id
    ]
    if vendor in ("anthropic", "azure"):  # these backends stream the arguments in pieces
        assert len(argument_chunks) > 3
    with api.chat.completions.stream(model=model, messages=messages, tools=[WEATHER_TOOL]) as stream:  # type: ignore[list-item]
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", {"city": PROMPT})]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [c.model_dump(exclude_none=True) for c in calls]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
    ]
    answer = api.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])  # type: ignore[list-item]
    expected = 'Tool results: {"result":"sunny"}' if vendor == "gemini" else "Tool results: sunny"
    assert answer.choices[0].message.content == expected


@pytest.mark.parametrize("route", ["ant-openai", "ant-gemini", "ant-mistral"])
def test_anthropic_streamed_tool_use_arrives_whole_then_tool_result(gw: Gateway, route: str) -> None:
    _, vendor, _, model, _ = ROUTES[route]
    api = ant(gw, route)
    with api.messages.stream(
        model=model,
        max_tokens=200,
        tools=[ANTHROPIC_TOOL],
        messages=[{"role": "user", "content": PROMPT + " [mock:tool-calls=1]"}],  # type: ignore[list-item]
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    deltas = [e for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    if vendor == "openai":
        assert len(deltas) > 3
    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [("get_weather", {"city": PROMPT})]
    follow = api.messages.create(
        model=model,
        max_tokens=200,
        tools=[ANTHROPIC_TOOL],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": PROMPT},
            {"role": "assistant", "content": final.content},  # type: ignore[typeddict-item]
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny"}]},
        ],
    )
    expected = 'Tool results: {"result":"sunny"}' if vendor == "gemini" else "Tool results: sunny"
    assert follow.content[0].text == expected  # type: ignore[union-attr]


def test_openai_image_message_reaches_anthropic_and_gemini(gw: Gateway) -> None:
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
    ]
    for route, label in (("oai-anthropic", "Anthropic"), ("oai-gemini", "Gemini")):
        response = oai(gw, route).chat.completions.create(
            model=ROUTES[route][3],
            messages=[{"role": "user", "content": content}],  # type: ignore[misc,list-item]
        )
        assert (
            response.choices[0].message.content
            == f"Hello from the mock {label} API. [images: image/png {PNG_SIZE} bytes]"
        )


def test_anthropic_image_message_reaches_openai(gw: Gateway) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "What is this?"},
    ]
    message = ant(gw, "ant-openai").messages.create(
        model="gpt-4o", max_tokens=50, messages=[{"role": "user", "content": content}]
    )  # type: ignore[misc,list-item]
    assert message.content[0].text == (  # type: ignore[union-attr]
        f"Hello from the mock OpenAI API. [images: image/png {PNG_SIZE} bytes, https://example.com/cat.png]"
    )


def test_backend_429_raises_openai_rate_limit_error_on_an_anthropic_backend(gw: Gateway) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        oai(gw, "oai-anthropic").chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi [mock:error=429]"}]
        )
    assert caught.value.status_code == 429
    assert "per-minute rate limit" in caught.value.message
    assert caught.value.response.headers.get("retry-after") == "1"


def test_backend_429_raises_anthropic_rate_limit_error_on_an_openai_backend(gw: Gateway) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        ant(gw, "ant-openai").messages.create(
            model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "Hi [mock:error=429]"}]
        )
    assert caught.value.status_code == 429 and "Rate limit reached" in str(caught.value)


def test_in_stream_backend_error_raises_in_the_client(gw: Gateway) -> None:
    stream = oai(gw, "oai-anthropic").chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "Count from 1 to 8. [mock:stream-error]"}],
        stream=True,
    )
    with pytest.raises(openai.APIError, match="Overloaded"):
        for _ in stream:
            pass


def test_untranslatable_field_is_a_400_naming_it(gw: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai(gw, "oai-anthropic").chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi"}], logprobs=True
        )
    assert "logprobs" in caught.value.message
    with pytest.raises(anthropic.BadRequestError, match="top_k"):
        ant(gw, "ant-openai").messages.create(
            model="gpt-4o", max_tokens=5, messages=[{"role": "user", "content": "Hi"}], extra_body={"top_k": 3}
        )


def test_other_endpoints_are_404_naming_the_endpoint_in_the_client_shape(gw: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai(gw, "oai-anthropic").embeddings.create(model="x", input="y", timeout=TIMEOUT_S)
    assert caught.value.message == (
        "Error code: 404 - The embeddings endpoint (POST /v1/embeddings) is not available on this route: it "
        "translates only OpenAI chat completions and the models list to its Anthropic backend."
    )
    assert caught.value.body["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as not_found:
        ant(gw, "ant-gemini").messages.count_tokens(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}]
        )
    assert not_found.value.body["error"]["message"] == (  # type: ignore[index]
        "The token counting endpoint (POST /v1/messages/count_tokens) is not available on this route: it "
        "translates only Anthropic messages and the models list to its Gemini backend."
    )
    # a GET of a path that is not the models list: a 404 too, not a complaint about a missing body
    response = httpx.get(gw.url("oai-gemini") + "/v1/files", headers={"X-API-Key": gw.keys["oai-gemini"]})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        "GET /v1/files is not available on this route: it translates only OpenAI chat completions and the "
        "models list to its Gemini backend."
    )


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("oai-anthropic", [(m, "anthropic") for m, _, _ in anthropic_mock.MODELS]),
        ("oai-gemini", [(m, "google") for m in gemini_mock.MODELS]),
        ("oai-mistral", [(m, "mistralai") for m in mistral_mock.MODELS]),
    ],
)
def test_openai_models_list_is_translated(gw: Gateway, route: str, expected: list[tuple[str, str]]) -> None:
    models = list(oai(gw, route).models.list())
    assert [(m.id, m.owned_by) for m in models] == expected
    assert all(m.object == "model" for m in models)
    vendor = ROUTES[route][1]
    listed = gw.mock.requests(vendor)[-1]
    assert listed["method"] == "GET" and listed["body"] == ""
    assert (listed["vendor_path"], listed["query"]) == {
        "anthropic": ("/v1/models", "limit=1000"),
        "gemini": ("/v1beta/models", "pageSize=1000"),
        "mistral": ("/v1/models", ""),
    }[vendor]


def test_openai_model_retrieve_is_translated(gw: Gateway) -> None:
    claude = oai(gw, "oai-anthropic").models.retrieve("claude-opus-4-1")
    # Anthropic's created_at 2025-08-05T00:00:00Z in unix seconds
    assert (claude.id, claude.created, claude.owned_by) == ("claude-opus-4-1", 1754352000, "anthropic")
    gemini = oai(gw, "oai-gemini").models.retrieve("gemini-2.5-pro")
    assert (gemini.id, gemini.created, gemini.owned_by) == ("gemini-2.5-pro", 0, "google")
    assert gw.mock.requests("gemini")[-1]["vendor_path"] == "/v1beta/models/gemini-2.5-pro"


@pytest.mark.parametrize("route", ["ant-openai", "ant-gemini", "ant-mistral"])
def test_anthropic_models_list_is_translated(gw: Gateway, route: str) -> None:
    page = ant(gw, route).models.list()
    ids = {
        "ant-openai": list(openai_mock.MODELS),
        "ant-gemini": list(gemini_mock.MODELS),
        "ant-mistral": list(mistral_mock.MODELS),
    }[route]
    assert [m.id for m in page.data] == ids
    assert (page.first_id, page.last_id, page.has_more) == (ids[0], ids[-1], False)
    assert all(m.type == "model" for m in page.data)
    first = page.data[0]
    if route == "ant-openai":  # OpenAI's created 1715367049 as RFC 3339, the id as display name
        assert (first.display_name, first.created_at.isoformat()) == ("gpt-4o", "2024-05-10T18:50:49+00:00")
    if route == "ant-gemini":  # Gemini's displayName; it has no creation time
        assert (first.display_name, first.created_at.isoformat()) == ("Gemini 2.5 Flash", "1970-01-01T00:00:00+00:00")
    model = ant(gw, route).models.retrieve(ids[1])
    assert model.id == ids[1]


@pytest.mark.parametrize(("route", "backend"), [("oai-azure", "Azure OpenAI"), ("ant-foundry", "Azure AI Foundry")])
def test_models_list_on_an_azure_backend_is_a_404_naming_it(gw: Gateway, route: str, backend: str) -> None:
    error = openai.NotFoundError if route.startswith("oai") else anthropic.NotFoundError
    client = oai(gw, route) if route.startswith("oai") else ant(gw, route)
    with pytest.raises(error) as caught:
        client.models.list()
    chat = "OpenAI chat completions" if route.startswith("oai") else "Anthropic messages"
    assert f"GET /v1/models is not available on this route: it translates only {chat} to its {backend} backend." in (
        str(caught.value)
    )


def test_gateway_errors_are_in_the_client_api_shape(gw: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai_client(gw.url("oai-anthropic"), "tg_000000000000_wrong").chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi"}]
        )
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(gw.url("ant-gemini"), "tg_000000000000_wrong").messages.create(
            model="gemini-2.5-flash", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        )


def test_model_map_keeps_a_retired_model_name_working(gw: Gateway) -> None:
    nonce = "m" + secrets.token_hex(4)
    with timed() as window:
        message = ant(gw, "mapped").messages.create(
            model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": f"Hi {nonce}"}]
        )
    assert message.model == "claude-sonnet-4-6"
    assert json.loads(last_upstream(gw, "anthropic", nonce)["body"])["model"] == "claude-sonnet-4-6"
    rows = wait_usage(gw.process.db_path, window[0], window[1], provider="mapped", proxy=None)
    assert [(r["request_model"], r["response_model"]) for r in rows] == [("claude-sonnet-4-5", "claude-sonnet-4-6")]
    with ant(gw, "mapped").messages.stream(
        model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "Count from 1 to 3."}]
    ) as stream:
        assert "".join(stream.text_stream) == "1 2 3"
        assert stream.get_final_message().model == "claude-sonnet-4-6"


def test_failover_after_connection_refused_to_another_vendor(gw: Gateway) -> None:
    with timed() as window:
        response = oai(gw, "fo-connect").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]
        )
    assert response.choices[0].message.content == "Hello from the mock Anthropic API."
    rows = wait_usage(gw.process.db_path, window[0], window[1], provider="claude", proxy="fo-connect")
    assert len(rows) == 1 and rows[0]["status"] == 200


def test_failover_after_a_500_and_after_a_timeout_then_the_suspended_target_comes_back(gw: Gateway) -> None:
    api = oai(gw, "fo-slow")
    ask = lambda: api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])  # noqa: E731
    assert ask().choices[0].message.content == "Hello from the mock OpenAI API."
    try:
        gw.mock.configure(error=500, vendors=["openai"])
        assert ask().choices[0].message.content == "Hello from the mock Anthropic API."  # a 500: next target
        gw.mock.configure(delay=1500, vendors=["openai"])
        assert ask().choices[0].message.content == "Hello from the mock Anthropic API."  # a timeout: next target
    finally:
        gw.mock.reset()
    # the timed-out target is suspended for a while: the fallback keeps serving, then it is brought back
    assert ask().choices[0].message.content == "Hello from the mock Anthropic API."
    time.sleep(5.2)
    assert ask().choices[0].message.content == "Hello from the mock OpenAI API."

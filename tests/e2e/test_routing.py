"""Multi-provider proxies end to end (issue 10 §2): the real OpenAI, Anthropic and google-genai SDKs
against a real gateway process whose proxies sit on several providers of the mock vendors.

Each proxy has its own providers (`<proxy>-openai`, `<proxy>-claude`, `<proxy>-gemini`), so one
test's suspended target never leaks into another (health is kept per provider). The OpenAI-speaking
proxies reach Claude and Gemini through translation, so the answer names the vendor that served:
"Hello from the mock OpenAI API." / "... Anthropic API." / "... Gemini API.".
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import yaml
from e2e_clients import anthropic_client, genai_client, openai_client
from e2e_harness import GatewayProcess, closed_port, env_name, timed, usage_rows
from google.genai import errors as genai_errors

from tollgate.mock import MockServer
from tollgate.resources.keys import generate_key

VENDOR_OF = {"openai": ("openai", "openai"), "claude": ("anthropic", "anthropic"), "gemini": ("gemini", "gemini")}
ANSWER = {
    "openai": "Hello from the mock OpenAI API.",
    "claude": "Hello from the mock Anthropic API.",
    "gemini": "Hello from the mock Gemini API.",
}
SERVED_BY = {text: name for name, text in ANSWER.items()}
FAST_BREAKER = {"failures": 1, "suspendFor": 1.5}
#: proxy -> (its providers, first is the primary; extra proxy spec)
PROXIES: dict[str, tuple[list[str], dict[str, Any]]] = {
    "weighted": (["openai", "claude"], {"routing": {"strategy": "weighted", "weights": {"weighted-openai": 3}}}),
    "rr": (["openai", "claude", "gemini"], {"routing": {"strategy": "round-robin"}}),
    "fastest": (["openai", "claude"], {"routing": {"strategy": "lowest-latency"}}),
    "by-header": (["openai", "claude", "gemini"], {"routing": {"strategy": "header", "header": "x-provider"}}),
    "sticky": (
        ["openai", "claude", "gemini"],
        {"routing": {"strategy": "hash", "header": "x-user-id"}, "circuitBreaker": {"failures": 1, "suspendFor": 5}},
    ),
    "fo-500": (["openai", "claude"], {"circuitBreaker": FAST_BREAKER}),
    "fo-timeout": (["slow", "claude"], {"circuitBreaker": FAST_BREAKER}),
    "fo-refused": (["down", "claude"], {"circuitBreaker": FAST_BREAKER}),
    "retry-429": (["openai"], {"failover": {"maxAttempts": 2, "maxRetryAfter": 2}}),
    "no-budget": (["openai", "claude"], {"failover": {"budget": {"ratio": 0, "minPerSecond": 0}}}),
    "out-openai": (["dead", "dead2"], {"circuitBreaker": {"failures": 1, "suspendFor": 60}}),
    "out-anthropic": (
        ["dead", "dead2"],
        {"circuitBreaker": {"failures": 1, "suspendFor": 60}, "clientApi": "anthropic"},
    ),
    "out-gemini": (["gdead", "gdead2"], {"circuitBreaker": {"failures": 1, "suspendFor": 60}}),
    "by-model": (
        ["openai", "claude", "gemini"],
        {
            "routing": {
                "strategy": "model",
                "aliases": {"anthropic": "by-model-claude", "google": "by-model-gemini"},
                "models": {
                    "fast": {"provider": "google", "model": "gemini-2.5-flash"},
                    "smart": [
                        {"provider": "anthropic", "model": "claude-sonnet-4-6"},
                        {"provider": "by-model-openai", "model": "gpt-4o"},
                    ],
                },
            },
            "circuitBreaker": FAST_BREAKER,
        },
    ),
    "agents": (
        ["claude", "openai"],
        {"clientApi": "anthropic", "routing": {"strategy": "model", "aliases": {"openai": "agents-openai"}}},
    ),
    "mixed": (["claude", "gemini"], {"clientApi": None}),  # no clientApi: providers of two APIs speak OpenAI's
}


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


class Gateway:
    def __init__(self, process: GatewayProcess, keys: dict[str, str], mock: MockServer, down_port: int) -> None:
        self.process = process
        self.keys = keys
        self.mock = mock
        self.down_port = down_port

    def openai(self, proxy: str, **extra: Any) -> openai.OpenAI:
        return openai_client(f"{self.process.url}/p/{proxy}", self.keys[proxy], **extra)  # type: ignore[no-any-return]

    def ask(self, proxy: str, headers: dict[str, str] | None = None) -> str:
        """Which provider (openai, claude, gemini) answered one chat completion."""
        response = self.openai(proxy).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], extra_headers=headers
        )
        return SERVED_BY[response.choices[0].message.content or ""]

    def rows(self, proxy: str, window: list[float], count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The proxy's usage rows in the window once `count` have been written (then exactly those)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self._rows(proxy, window)
            if len(rows) >= count or time.monotonic() > deadline:
                time.sleep(0.3)  # a row too many would show up now
                return self._rows(proxy, window)
            time.sleep(0.1)

    def _rows(self, proxy: str, window: list[float]) -> list[dict[str, Any]]:
        rows = usage_rows(self.process.db_path, window[0], window[1])  # rows carry the arrival time: inside
        return [r for r in rows if r["proxy"] == proxy]


def _provider_spec(kind: str, mock: MockServer, dead: dict[str, int], down_port: int) -> dict[str, Any]:
    if kind in VENDOR_OF:
        template, vendor = VENDOR_OF[kind]
        return {"template": template, "upstreamUrl": mock.url(vendor), "credential": {"secret": f"{vendor}-upstream"}}
    if kind == "slow":
        spec = _provider_spec("openai", mock, dead, down_port)
        return {**spec, "timeouts": {"firstByte": 1.0}}
    if kind == "down":  # nothing listens until a test starts a mock there
        return {
            **_provider_spec("openai", mock, dead, down_port),
            "upstreamUrl": f"http://127.0.0.1:{down_port}/openai",
        }
    template, vendor = ("gemini", "gemini") if kind.startswith("g") else ("openai", "openai")
    url = f"http://127.0.0.1:{dead[kind]}/{vendor}"
    return {"template": template, "upstreamUrl": url, "credential": {"secret": f"{vendor}-upstream"}}


@pytest.fixture(scope="module")
def gw(mock_server: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    workdir: Path = tmp_path_factory.mktemp("tollgate-routing")
    docs = [_doc("Secret", f"{v}-upstream", {"value": key}) for v, key in mock_server.keys.items()]
    keys: dict[str, str] = {}
    down_port = closed_port()
    dead = {kind: closed_port() for kind in ("dead", "dead2", "gdead", "gdead2")}
    for proxy, (kinds, extra) in PROXIES.items():
        names = [f"{proxy}-{kind}" for kind in kinds]
        for kind, name in zip(kinds, names, strict=True):
            spec = {**_provider_spec(kind, mock_server, dead, down_port), "context": f"/prov/{name}"}
            docs.append(_doc("LLMProvider", name, spec))
        is_gemini = kinds[0].startswith("g")
        spec = {"provider": names[0], "context": f"/p/{proxy}", "fallbacks": names[1:], **extra}
        if not is_gemini and "clientApi" not in extra:
            spec["clientApi"] = "openai"
        spec = {k: v for k, v in spec.items() if v is not None}
        docs.append(_doc("LLMProxy", proxy, spec))
        keys[proxy] = generate_key().value
        target = {"kind": "LLMProxy", "name": proxy}
        docs.append(_doc("APIKey", f"k-{proxy}", {"target": target, "valueFromEnv": env_name(proxy)}))
    config = workdir / "config"
    config.mkdir()
    (config / "resources.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    process = GatewayProcess(config, workdir / "tg.db", {env_name(k): v for k, v in keys.items()}, log_name="routing")
    try:
        process.wait_ready()
        yield Gateway(process, keys, mock_server, down_port)
    finally:
        process.stop()


def test_weighted_three_to_one_serves_six_and_two_of_eight(gw: Gateway) -> None:
    with timed() as window:
        served = [gw.ask("weighted") for _ in range(8)]
    assert Counter(served) == {"openai": 6, "claude": 2}, served
    assert served == ["openai", "openai", "claude", "openai"] * 2  # smooth weighted round robin interleaves
    rows = gw.rows("weighted", window, 8)
    assert Counter(r["provider"] for r in rows) == {"weighted-openai": 6, "weighted-claude": 2}
    assert {(r["status"], r["error_code"]) for r in rows} == {(200, None)}


def test_round_robin_takes_turns(gw: Gateway) -> None:
    served = [gw.ask("rr") for _ in range(6)]
    assert Counter(served) == {"openai": 2, "claude": 2, "gemini": 2}
    assert served == ["openai", "claude", "gemini"] * 2


def test_lowest_latency_measures_each_target_once_then_keeps_to_the_fastest(gw: Gateway) -> None:
    gw.mock.configure(delay=600, vendors=["openai"])
    try:
        served = [gw.ask("fastest") for _ in range(8)]
    finally:
        gw.mock.reset()
    assert served == ["openai"] + ["claude"] * 7


def test_header_selects_the_provider_by_name_and_refuses_a_name_it_does_not_have(gw: Gateway) -> None:
    assert gw.ask("by-header", {"x-provider": "by-header-gemini"}) == "gemini"
    assert gw.ask("by-header", {"X-Provider": "BY-HEADER-CLAUDE"}) == "claude"
    assert gw.ask("by-header") == "openai"
    with pytest.raises(openai.BadRequestError) as refused:
        gw.ask("by-header", {"x-provider": "mistral"})
    assert refused.value.status_code == 400
    assert refused.value.body == {
        "message": "Header 'x-provider' must name one of this API's providers: "
        "by-header-openai, by-header-claude, by-header-gemini.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_request",
    }


def test_sticky_hash_keeps_each_user_on_one_target_and_moves_only_the_users_of_a_failing_one(gw: Gateway) -> None:
    users = [f"user-{i}" for i in range(9)]
    first = {u: gw.ask("sticky", {"x-user-id": u}) for u in users}
    assert all(gw.ask("sticky", {"x-user-id": u}) == first[u] for u in users for _ in range(2))
    assert len(set(first.values())) >= 2, "nine users all hashed to one target"
    victim = next(u for u in users if first[u] == "openai") if "openai" in first.values() else None
    if victim is None:
        pytest.fail(f"no user hashed to openai: {first}")
    gw.mock.configure(error=500, vendors=["openai"])
    try:
        moved = {victim: gw.ask("sticky", {"x-user-id": victim})}
        back_at = time.monotonic() + 5.1  # openai failed (and was suspended for 5 s) before now
        moved.update({u: gw.ask("sticky", {"x-user-id": u}) for u in users if u != victim})
    finally:
        gw.mock.reset()
    assert moved[victim] != "openai"
    assert all(moved[u] == first[u] for u in users if first[u] != "openai"), "only openai's users moved"
    again = {u: gw.ask("sticky", {"x-user-id": u}) for u in users}
    assert again == moved, "while openai is suspended its users stay on their second choice"
    time.sleep(max(0.0, back_at - time.monotonic()))
    assert {u: gw.ask("sticky", {"x-user-id": u}) for u in users} == first, "back after the trial request"


def test_failover_after_a_500_then_the_suspended_target_comes_back(gw: Gateway) -> None:
    gw.mock.configure(error=500, times=1, vendors=["openai"])
    nonce = "n" + secrets.token_hex(4)
    with timed() as window:
        response = gw.openai("fo-500").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"Hi {nonce}"}]
        )
    assert response.choices[0].message.content == ANSWER["claude"]
    assert response.usage is not None
    attempt, served = gw.rows("fo-500", window, 2)
    assert attempt["request_id"] == served["request_id"]
    assert {k: attempt[k] for k in ("provider", "status", "error_code", "prompt_tokens", "total_tokens")} == {
        "provider": "fo-500-openai",
        "status": 500,
        "error_code": "retried:upstream_status",
        "prompt_tokens": None,
        "total_tokens": None,
    }
    assert (attempt["request_model"], attempt["response_model"], attempt["is_streaming"]) == ("gpt-4o", None, 0)
    assert {k: served[k] for k in ("provider", "status", "error_code", "request_model", "response_model")} == {
        "provider": "fo-500-claude",
        "status": 200,
        "error_code": None,
        "request_model": "gpt-4o",
        "response_model": "gpt-4o",
    }
    assert (served["prompt_tokens"], served["completion_tokens"]) == (
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
    )
    # suspended: the next requests go straight to the fallback, with no failed attempt
    with timed() as window:
        assert gw.ask("fo-500") == "claude"
    assert [r["provider"] for r in gw.rows("fo-500", window, 1)] == ["fo-500-claude"]
    time.sleep(1.6)
    with timed() as window:
        chunks = list(
            gw.openai("fo-500").chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Count from 1 to 3."}], stream=True
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "1 2 3"
    assert [(r["provider"], r["status"], r["is_streaming"]) for r in gw.rows("fo-500", window, 1)] == [
        ("fo-500-openai", 200, 1)
    ]


def test_failover_of_a_stream_after_a_500(gw: Gateway) -> None:
    gw.mock.configure(error=503, times=1, vendors=["openai"])
    with timed() as window:
        stream = gw.openai("fo-500").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Count from 1 to 4."}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "1 2 3 4"
    rows = gw.rows("fo-500", window, 2)
    assert [(r["provider"], r["status"], r["error_code"], r["is_streaming"]) for r in rows] == [
        ("fo-500-openai", 503, "retried:upstream_status", 1),
        ("fo-500-claude", 200, None, 1),
    ]
    time.sleep(1.6)  # leave fo-500-openai in service for the next test


def test_failover_after_a_timeout_then_back(gw: Gateway) -> None:
    gw.mock.configure(delay=1500, times=1, vendors=["openai"])
    with timed() as window:
        assert gw.ask("fo-timeout") == "claude"
    attempt, served = gw.rows("fo-timeout", window, 2)
    assert (attempt["provider"], attempt["status"], attempt["error_code"]) == (
        "fo-timeout-slow",
        504,
        "retried:upstream_timeout",
    )
    assert 950 <= attempt["latency_ms"] < 1500  # firstByte: 1 s
    assert (served["provider"], served["status"]) == ("fo-timeout-claude", 200)
    assert gw.ask("fo-timeout") == "claude"
    time.sleep(1.6)
    assert gw.ask("fo-timeout") == "openai"


def test_failover_after_connection_refused_and_back_once_the_upstream_listens(gw: Gateway) -> None:
    with timed() as window:
        assert gw.ask("fo-refused") == "claude"
    attempt, served = gw.rows("fo-refused", window, 2)
    assert (attempt["provider"], attempt["status"], attempt["error_code"]) == (
        "fo-refused-down",
        502,
        "retried:upstream_unreachable",
    )
    assert served["provider"] == "fo-refused-claude"
    with MockServer(port=gw.down_port) as revived:
        assert gw.ask("fo-refused") == "claude"  # still suspended
        assert revived.requests() == []
        time.sleep(1.6)
        with timed() as window:
            assert gw.ask("fo-refused") == "openai"
        assert [r["provider"] for r in gw.rows("fo-refused", window, 1)] == ["fo-refused-down"]
        assert len(revived.requests("openai")) == 1


def test_a_short_retry_after_is_waited_for_and_the_same_target_tried_again(gw: Gateway) -> None:
    gw.mock.configure(error=429, times=1, vendors=["openai"], **{"retry-after": 1})
    started = time.monotonic()
    with timed() as window:
        assert gw.ask("retry-429") == "openai"
    assert time.monotonic() - started >= 1.0
    rows = gw.rows("retry-429", window, 2)
    assert [(r["provider"], r["status"], r["error_code"]) for r in rows] == [
        ("retry-429-openai", 429, "retried:upstream_status"),
        ("retry-429-openai", 200, None),
    ]


def test_a_spent_retry_budget_hands_the_client_the_upstream_error(gw: Gateway) -> None:
    gw.mock.clear()
    gw.mock.configure(error=500, times=1, vendors=["openai"])
    with timed() as window, pytest.raises(openai.InternalServerError) as failed:
        gw.ask("no-budget")
    assert failed.value.status_code == 500
    rows = gw.rows("no-budget", window, 1)
    assert [(r["provider"], r["status"]) for r in rows] == [("no-budget-openai", 500)]
    assert [r["vendor"] for r in gw.mock.requests()] == ["openai"], "no retry: the fallback was not asked"


def test_every_target_out_answers_503_in_each_client_apis_shape(gw: Gateway) -> None:
    with timed() as window, pytest.raises(openai.InternalServerError) as first:
        gw.ask("out-openai")
    assert first.value.status_code == 502  # both refused: the last failure
    rows = gw.rows("out-openai", window, 2)
    assert [(r["provider"], r["status"], r["error_code"]) for r in rows] == [
        ("out-openai-dead", 502, "retried:upstream_unreachable"),
        ("out-openai-dead2", 502, "upstream_unreachable"),
    ]
    message = "Every upstream of this API is out of service for now (suspended after failures); retry shortly."
    with timed() as window, pytest.raises(openai.InternalServerError) as out:
        gw.ask("out-openai")
    assert out.value.status_code == 503
    assert out.value.body == {"message": message, "type": "server_error", "param": None, "code": "upstream_unavailable"}
    assert 55 <= int(out.value.response.headers["retry-after"]) <= 60
    assert [(r["status"], r["error_code"]) for r in gw.rows("out-openai", window, 1)] == [(503, "upstream_unavailable")]

    client = anthropic_client(f"{gw.process.url}/p/out-anthropic", gw.keys["out-anthropic"])
    ask = lambda: client.messages.create(  # noqa: E731
        model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
    )
    with pytest.raises(anthropic.APIStatusError):
        ask()
    with pytest.raises(anthropic.InternalServerError) as ant_out:
        ask()
    assert ant_out.value.status_code == 503
    assert ant_out.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": message},
        "request_id": ant_out.value.response.headers["x-request-id"],
    }

    gemini = genai_client(f"{gw.process.url}/p/out-gemini", gw.keys["out-gemini"])
    with pytest.raises(genai_errors.ServerError):
        gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    with pytest.raises(genai_errors.ServerError) as gem_out:
        gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert (gem_out.value.code, gem_out.value.status, gem_out.value.message) == (503, "UNAVAILABLE", message)


def _upstream_model(gw: Gateway, vendor: str, nonce: str) -> str:
    (request,) = [r for r in gw.mock.requests(vendor) if nonce in str(r["body"])]
    if vendor == "gemini":  # the model is in the path
        return str(request["vendor_path"]).split("/models/")[1].split(":")[0]
    return str(json.loads(str(request["body"]))["model"])


def test_model_names_and_provider_prefixes_choose_the_provider_and_the_model_it_gets(gw: Gateway) -> None:
    api = gw.openai("by-model")

    def ask(model: str) -> tuple[str, str, str]:
        nonce = "n" + secrets.token_hex(4)
        answer = api.chat.completions.create(model=model, messages=[{"role": "user", "content": f"Hi {nonce}"}])
        served = SERVED_BY[answer.choices[0].message.content or ""]
        vendor = VENDOR_OF[served][1]
        return served, _upstream_model(gw, vendor, nonce), answer.model

    with timed() as window:
        assert ask("fast") == ("gemini", "gemini-2.5-flash", "gemini-2.5-flash")
    rows = gw.rows("by-model", window, 1)
    assert [(r["provider"], r["request_model"], r["response_model"]) for r in rows] == [
        ("by-model-gemini", "fast", "gemini-2.5-flash")
    ]
    assert ask("smart") == ("claude", "claude-sonnet-4-6", "claude-sonnet-4-6")
    assert ask("anthropic/claude-opus-4-1") == ("claude", "claude-opus-4-1", "claude-opus-4-1")
    assert ask("by-model-gemini/gemini-2.5-pro") == ("gemini", "gemini-2.5-pro", "gemini-2.5-pro")
    assert ask("gpt-4o-mini") == ("openai", "gpt-4o-mini", "gpt-4o-mini")  # no entry: the declared order
    # an alias with two providers fails over in its own order, each sent its own model
    gw.mock.configure(error=529, vendors=["anthropic"])
    try:
        with timed() as window:
            assert ask("smart") == ("openai", "gpt-4o", "gpt-4o")
    finally:
        gw.mock.reset()
    rows = gw.rows("by-model", window, 2)
    assert [(r["provider"], r["status"], r["error_code"], r["request_model"]) for r in rows] == [
        ("by-model-claude", 529, "retried:upstream_status", "smart"),
        ("by-model-openai", 200, None, "smart"),
    ]


def test_an_anthropic_client_reaches_openai_models_by_prefix(gw: Gateway) -> None:
    client = anthropic_client(f"{gw.process.url}/p/agents", gw.keys["agents"])
    nonce = "n" + secrets.token_hex(4)
    message = client.messages.create(
        model="openai/gpt-4o", max_tokens=20, messages=[{"role": "user", "content": f"Hi {nonce}"}]
    )
    assert message.content[0].text == ANSWER["openai"]  # type: ignore[union-attr]
    assert _upstream_model(gw, "openai", nonce) == "gpt-4o"
    plain = client.messages.create(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]
    )
    assert plain.content[0].text == ANSWER["claude"]  # type: ignore[union-attr]


def test_a_proxy_on_providers_of_two_apis_speaks_openai(gw: Gateway) -> None:
    assert gw.ask("mixed") == "claude"

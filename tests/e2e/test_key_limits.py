"""An APIKey's own limits through the real SDKs against real gateway processes: per-key request and
token windows with decreasing `x-ratelimit-remaining-*` and `openai.RateLimitError`, two keys on one
route counted apart, a key's model list refused in each client API's error shape, and per-key
counters shared by two gateways through Redis."""

from __future__ import annotations

import math
import time
from pathlib import Path

import anthropic
import openai
import pytest
from policy_harness import PolicySite, gateways, redis_prefix
from tests.redis_support import require_shared_redis

from tollgate.mock import MockServer


def oa(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


TOKENS = 400
MAX_TOKENS = 20


def test_two_keys_on_one_route_have_their_own_windows(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai")
    site.proxy("team", "openai", [], keys=0)
    site.key(
        "a",
        "LLMProxy",
        "team",
        {"requests": [{"requests": 3, "per": "day"}], "tokens": [{"tokens": TOKENS, "per": "day"}]},
    )
    site.key("b", "LLMProxy", "team", {"requests": [{"requests": 5, "per": "day"}]})
    with gateways(site, tmp_path) as (gw,):
        a, b = oa(gw.url + "/p/team", site.keys["a"]), oa(gw.url + "/p/team", site.keys["b"])
        requests_left, tokens_left, expected_tokens = [], [], []
        used = 0
        for i in range(3):
            if i == 2:  # a stream is charged like any request
                with a.chat.completions.with_streaming_response.create(
                    model="gpt-4o",
                    messages=ask("hello there"),
                    max_tokens=MAX_TOKENS,
                    stream=True,
                    stream_options={"include_usage": True},
                ) as raw:
                    body = raw.http_request.content
                    headers = raw.headers
                    tail = [line for line in raw.iter_lines() if '"usage":{' in line]
                total = int(tail[-1].split('"total_tokens":')[1].split(",")[0].rstrip("}"))
            else:
                raw = a.chat.completions.with_raw_response.create(
                    model="gpt-4o", messages=ask("hello there"), max_tokens=MAX_TOKENS
                )
                body, headers = raw.http_request.content, raw.headers
                usage = raw.parse().usage
                assert usage is not None
                total = usage.total_tokens
            reservation = math.ceil(len(body) / 3) + MAX_TOKENS
            requests_left.append(headers["x-ratelimit-remaining-requests"])
            tokens_left.append(int(headers["x-ratelimit-remaining-tokens"]))
            expected_tokens.append(TOKENS - used - reservation)
            assert headers["x-ratelimit-limit-tokens"] == str(TOKENS)
            used += total
            time.sleep(0.2)  # the settle runs after the answer
        assert requests_left == ["2", "1", "0"]
        assert tokens_left == expected_tokens and tokens_left[0] > tokens_left[1] > tokens_left[2]
        with pytest.raises(openai.RateLimitError) as info:
            a.chat.completions.create(model="gpt-4o", messages=ask("hi"))
        assert info.value.status_code == 429
        assert info.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
        assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"
        assert info.value.body["message"].startswith("Request limit exceeded; the window has room again in ")  # type: ignore[index]
        # the other key on the same route has its own window, and no token limit
        raw = b.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("hi"))
        assert raw.headers["x-ratelimit-remaining-requests"] == "4"
        assert raw.headers["x-ratelimit-limit-requests"] == "5"
        assert "x-ratelimit-remaining-tokens" not in raw.headers


def test_a_key_token_budget_refuses_what_does_not_fit(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai", [])
    site.key("small", "LLMProvider", "openai", {"tokens": [{"tokens": 200, "per": "day"}]})
    with gateways(site, tmp_path) as (gw,):
        client = oa(gw.url + "/openai", site.keys["small"])
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=ask("say something long [mock:chunks=40]"), max_tokens=100
        )
        reservation = math.ceil(len(raw.http_request.content) / 3) + 100
        assert raw.headers["x-ratelimit-remaining-tokens"] == str(200 - reservation)
        usage = raw.parse().usage
        assert usage is not None
        time.sleep(0.2)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="gpt-4o", messages=ask("hi"), max_tokens=150)
        second = math.ceil(len(info.value.response.request.content) / 3) + 150
        assert second <= 200 < usage.total_tokens + second  # fits the limit, not what is left of it
        assert info.value.body["message"].startswith("Token limit exceeded")  # type: ignore[index]
        assert info.value.response.headers["x-ratelimit-limit-tokens"] == "200"
        assert info.value.response.headers["x-ratelimit-remaining-tokens"] == str(200 - usage.total_tokens)
        # without a key limit, the provider's other key is not limited at all
        other = oa(gw.url + "/openai", site.keys["openai"]).chat.completions.with_raw_response.create(
            model="gpt-4o", messages=ask("hi"), max_tokens=100
        )
        assert other.status_code == 200 and "x-ratelimit-limit-tokens" not in other.headers


def test_a_key_model_list_is_refused_in_each_client_api_shape(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai").provider("anthropic", "anthropic")
    site.key("mini-only", "LLMProvider", "openai", {"models": ["gpt-4o-mini*"]})
    site.key("haiku-only", "LLMProvider", "anthropic", {"models": ["claude-haiku-4-5"]})
    with gateways(site, tmp_path) as (gw,):
        client = oa(gw.url + "/openai", site.keys["mini-only"])
        assert client.chat.completions.create(model="gpt-4o-mini-2024-07-18", messages=ask("hi")).choices
        for stream in (False, True):
            with pytest.raises(openai.PermissionDeniedError) as info:
                client.chat.completions.create(model="gpt-4o", messages=ask("hi"), stream=stream)
            assert info.value.status_code == 403
            assert info.value.body == {  # the OpenAI error object, as the SDK unwraps it
                "message": "This API key may not use model 'gpt-4o'.",
                "type": "permission_error",
                "param": None,
                "code": "model_not_allowed",
            }
        # the provider's own key has no model list
        assert oa(gw.url + "/openai", site.keys["openai"]).chat.completions.create(model="gpt-4o", messages=ask("hi"))
        ac = anthropic.Anthropic(base_url=gw.url + "/anthropic", api_key=site.keys["haiku-only"], max_retries=0)
        ac.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=ask("hi"))  # type: ignore[arg-type]
        with pytest.raises(anthropic.PermissionDeniedError) as ainfo:
            ac.messages.create(model="claude-sonnet-4-5", max_tokens=20, messages=ask("hi"))  # type: ignore[arg-type]
        assert ainfo.value.status_code == 403
        assert ainfo.value.body["error"] == {  # type: ignore[index]
            "type": "permission_error",
            "message": "This API key may not use model 'claude-sonnet-4-5'.",
        }


def test_key_limits_hold_across_two_gateways_sharing_redis(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai")
    site.key("shared", "LLMProvider", "openai", {"requests": [{"requests": 3, "per": "day"}]})
    env = {"TOLLGATE_REDIS_URL": require_shared_redis(), "TOLLGATE_REDIS_PREFIX": redis_prefix()}
    with gateways(site, tmp_path, count=2, env=env) as (gw1, gw2):
        remaining = [
            oa(gw.url + "/openai", site.keys["shared"])
            .chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("hi"))
            .headers["x-ratelimit-remaining-requests"]
            for gw in (gw1, gw2, gw1)
        ]
        assert remaining == ["2", "1", "0"]
        with pytest.raises(openai.RateLimitError):
            oa(gw2.url + "/openai", site.keys["shared"]).chat.completions.create(model="gpt-4o", messages=ask("hi"))

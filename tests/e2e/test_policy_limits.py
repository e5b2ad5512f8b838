"""Limits through the real SDKs against real gateway processes: decreasing remaining headers, 429s the
SDKs raise with their retry headers, a token budget held by 20 concurrent streams, limits shared by
two gateways through Redis, and Redis going away (fail open and fail closed)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from policy_harness import PolicySite, gateways, redis_prefix
from tests.redis_support import OwnRedis, free_port, require_shared_redis

from tollgate.mock import MockServer


def oa(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_rate_limit_headers_decrease_then_openai_rate_limit_error(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai")
    site.proxy(
        "rl",
        "openai",
        [{"name": "rate-limit", "params": {"algorithm": "fixed", "limits": [{"requests": 3, "per": "minute"}]}}],
    )
    site.provider("anthropic", "anthropic")
    site.proxy(
        "rl-anthropic", "anthropic", [{"name": "rate-limit", "params": {"limits": [{"requests": 1, "per": "day"}]}}]
    )
    with gateways(site, tmp_path) as (gw,):
        client = oa(gw.url + site.contexts["rl"], site.keys["rl"])
        remaining = []
        for i in range(3):
            if i == 1:  # a stream counts like any request
                with client.chat.completions.with_streaming_response.create(
                    model="gpt-4o", messages=ask("hi"), stream=True
                ) as raw:
                    remaining.append(raw.headers["x-ratelimit-remaining-requests"])
                    assert raw.headers["x-ratelimit-limit-requests"] == "3"
                    assert "".join(raw.iter_lines())  # read to the end
            else:
                raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask("hi"))
                remaining.append(raw.headers["x-ratelimit-remaining-requests"])
        assert remaining == ["2", "1", "0"]
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="gpt-4o", messages=ask("hi"))
        headers = info.value.response.headers
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert 1 <= int(headers["retry-after"]) <= 60
        assert int(headers["retry-after-ms"]) <= 60_000
        assert "x-should-retry" not in headers
        assert info.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
        assert info.value.message.startswith("Error code: 429 - ")
        # Anthropic: its own exception, and the day window says do not retry
        sent: list[str] = []  # every HTTP request the SDK makes, retries included (its default is 2 retries)
        http = anthropic.DefaultHttpxClient(event_hooks={"request": [lambda request: sent.append(request.url.path)]})
        ac = anthropic.Anthropic(
            base_url=gw.url + site.contexts["rl-anthropic"], api_key=site.keys["rl-anthropic"], http_client=http
        )
        ac.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=ask("hi"))  # type: ignore[arg-type]
        with pytest.raises(anthropic.RateLimitError) as ainfo:
            ac.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=ask("hi"))  # type: ignore[arg-type]
        assert len(sent) == 2  # x-should-retry: false: the SDK did not retry the 429
        assert ainfo.value.response.headers["x-should-retry"] == "false"
        assert ainfo.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


BUDGET = 1000
MAX_TOKENS = 40


def test_token_budget_held_by_20_concurrent_streams(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai")
    site.proxy(
        "tok",
        "openai",
        [
            {
                "name": "token-limit",
                "params": {"scope": "proxy", "algorithm": "fixed", "limits": [{"tokens": BUDGET, "per": "hour"}]},
            }
        ],
    )
    with gateways(site, tmp_path) as (gw,):
        url, key = gw.url + site.contexts["tok"], site.keys["tok"]
        prompt = "please answer [mock:chunks=30] [mock:chunk-delay=20]"

        def one(_: int) -> tuple[str, int]:
            client = oa(url, key)
            try:
                stream = client.chat.completions.create(
                    model="gpt-4o",
                    messages=ask(prompt),
                    max_tokens=MAX_TOKENS,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                usage = [c.usage for c in stream if c.usage is not None]
                return "ok", usage[-1].total_tokens
            except openai.RateLimitError:
                return "429", 0

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(one, range(20)))
        admitted = [tokens for outcome, tokens in results if outcome == "ok"]
        refused = [o for o, _ in results if o == "429"]
        assert len(admitted) + len(refused) == 20 and refused
        # the bound: what the admitted streams used stays within the budget
        assert sum(admitted) <= BUDGET
        assert len(set(admitted)) == 1 and admitted[0] == 34  # 4 prompt words + 30 completion words
        time.sleep(0.3)  # settling runs after each answer, off the request path
        with oa(url, key).chat.completions.with_streaming_response.create(
            model="gpt-4o",
            messages=ask(prompt),
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        ) as raw:
            reservation = -(-len(raw.http_request.content) // 3) + MAX_TOKENS
            remaining = int(raw.headers["x-ratelimit-remaining-tokens"])
            list(raw.iter_lines())
        # every admitted stream had its whole reservation inside the budget, and they were settled
        assert len(admitted) <= BUDGET // reservation
        assert remaining == BUDGET - sum(admitted) - reservation


def _redis_rate_site(mock_server: MockServer, limit: int) -> PolicySite:
    site = PolicySite(mock_server).provider("openai", "openai")
    site.proxy(
        "shared",
        "openai",
        [
            {
                "name": "rate-limit",
                "params": {"scope": "proxy", "algorithm": "fixed", "limits": [{"requests": limit, "per": "day"}]},
            }
        ],
    )
    return site


def test_limits_hold_across_two_gateways_sharing_redis(mock_server: MockServer, tmp_path: Path) -> None:
    site = _redis_rate_site(mock_server, 4)
    env = {"TOLLGATE_REDIS_URL": require_shared_redis(), "TOLLGATE_REDIS_PREFIX": redis_prefix()}
    with gateways(site, tmp_path, count=2, env=env) as (gw1, gw2):
        remaining = []
        for gw in (gw1, gw2, gw1, gw2):
            raw = oa(gw.url + "/p/shared", site.keys["shared"]).chat.completions.with_raw_response.create(
                model="gpt-4o", messages=ask("hi")
            )
            remaining.append(raw.headers["x-ratelimit-remaining-requests"])
        assert remaining == ["3", "2", "1", "0"]
        for gw in (gw1, gw2):
            with pytest.raises(openai.RateLimitError):
                oa(gw.url + "/p/shared", site.keys["shared"]).chat.completions.create(
                    model="gpt-4o", messages=ask("hi")
                )


def _failures(metrics_port: int) -> dict[str, float]:
    """The limit-counter failure series of a gateway's /metrics, by their label text."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    prefix = "tollgate_limit_counter_failures_total{"
    return {
        line[len(prefix) : line.index("}")]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


def test_redis_gone_mid_test_fail_open_and_fail_closed(mock_server: MockServer, tmp_path: Path) -> None:
    redis = OwnRedis(tmp_path)
    site = _redis_rate_site(mock_server, 100)
    open_metrics, closed_metrics = free_port(), free_port()
    try:
        base = {"TOLLGATE_REDIS_URL": redis.url, "TOLLGATE_REDIS_TIMEOUT": "0.3"}
        open_env = {**base, "TOLLGATE_REDIS_FAIL": "open", "TOLLGATE_METRICS_PORT": str(open_metrics)}
        closed_env = {**base, "TOLLGATE_REDIS_FAIL": "closed", "TOLLGATE_METRICS_PORT": str(closed_metrics)}
        with (
            gateways(site, tmp_path, env=open_env) as (open_gw,),
            gateways(site, tmp_path, env=closed_env) as (closed_gw,),
        ):
            key = site.keys["shared"]
            for gw, expected in ((open_gw, "99"), (closed_gw, "98")):
                raw = oa(gw.url + "/p/shared", key).chat.completions.with_raw_response.create(
                    model="gpt-4o", messages=ask("hi")
                )
                assert raw.headers["x-ratelimit-remaining-requests"] == expected
            assert _failures(open_metrics) == {
                'backend="redis",fail="open",operation="acquire"': 0.0,
                'backend="redis",fail="open",operation="adjust"': 0.0,
            }
            redis.stop()
            raw = oa(open_gw.url + "/p/shared", key).chat.completions.with_raw_response.create(
                model="gpt-4o", messages=ask("hi")
            )
            assert raw.status_code == 200 and "x-ratelimit-remaining-requests" not in raw.headers
            with pytest.raises(openai.InternalServerError) as info:
                oa(closed_gw.url + "/p/shared", key).chat.completions.create(model="gpt-4o", messages=ask("hi"))
            assert info.value.status_code == 503
            assert info.value.body["code"] == "limits_unavailable"  # type: ignore[index]
            time.sleep(0.2)
            assert (
                "Redis unavailable" in open_gw.stderr_path.read_text()
                and "failed open" in open_gw.stderr_path.read_text()
            )
            assert "failed closed" in closed_gw.stderr_path.read_text()
            # one failed acquire each, exported by the gateway process itself
            assert _failures(open_metrics) == {
                'backend="redis",fail="open",operation="acquire"': 1.0,
                'backend="redis",fail="open",operation="adjust"': 0.0,
            }
            assert _failures(closed_metrics) == {
                'backend="redis",fail="closed",operation="acquire"': 1.0,
                'backend="redis",fail="closed",operation="adjust"': 0.0,
            }
            oa(open_gw.url + "/p/shared", key).chat.completions.create(model="gpt-4o", messages=ask("hi"))
            assert _failures(open_metrics)['backend="redis",fail="open",operation="acquire"'] == 2.0
            # one line when the outage started; the next failure within 10 s is not logged on its own
            assert open_gw.stderr_path.read_text().count("Redis unavailable") == 1
            assert redis.url not in open_gw.stderr_path.read_text()
    finally:
        redis.stop()

"""The limit policies: params validation naming the field, scopes, headers, reserve and settle, exact values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.policies.conftest import Clock, FakeExchange, FakeRoute
from tollgate.policies.cost_limit import CostLimitParams, CostLimitPolicy
from tollgate.policies.counters.memory import MemoryCounters
from tollgate.policies.env import BuildEnv
from tollgate.policies.limits import LimitExceededError
from tollgate.policies.rate_limit import RateLimitParams, RateLimitPolicy
from tollgate.policies.token_limit import TokenLimitParams, TokenLimitPolicy
from tollgate.usage.record import TokenUsage


def _env(clock: Clock, owner: str = "LLMProxy/team-a#0") -> BuildEnv:
    return BuildEnv(owner=owner, counters=MemoryCounters(clock))


def test_params_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        RateLimitParams.model_validate({"limits": [{"requests": 0, "per": "minute"}]})
    assert info.value.errors()[0]["loc"] == ("limits", 0, "requests")
    with pytest.raises(ValidationError) as info:
        RateLimitParams.model_validate({"limits": [{"requests": 5, "per": "fortnight"}]})
    assert info.value.errors()[0]["loc"] == ("limits", 0, "per")
    with pytest.raises(ValidationError) as info:
        RateLimitParams.model_validate({"limits": [{"requests": 5, "per": "1m"}], "scope": "team"})
    assert info.value.errors()[0]["loc"] == ("scope",)
    with pytest.raises(ValidationError) as info:
        TokenLimitParams.model_validate({"limits": [{"tokens": 5, "per": 60}], "bytesPerToken": 0})
    assert info.value.errors()[0]["loc"] == ("bytesPerToken",)
    with pytest.raises(ValidationError, match="same length"):
        RateLimitParams.model_validate({"limits": [{"requests": 5, "per": "1m"}, {"requests": 9, "per": 60}]})
    with pytest.raises(ValidationError) as info:
        RateLimitParams.model_validate({"limits": [{"requests": 5, "per": "1m"}], "userHeadr": "x"})
    assert info.value.errors()[0]["loc"] == ("userHeadr",)


def test_durations() -> None:
    params = RateLimitParams.model_validate(
        {"limits": [{"requests": 1, "per": p} for p in ("second", "90s", "5m", "2h", "1d", 7)]}
    )
    assert [w.per for w in params.limits] == [1, 90, 300, 7200, 86400, 7]


async def test_rate_limit_headers_decrease_then_429(clock: Clock) -> None:
    clock.now = 3600 * 10 + 20  # 20 s into the minute
    policy = RateLimitPolicy(
        RateLimitParams.model_validate(
            {"limits": [{"requests": 3, "per": "minute"}, {"requests": 100, "per": "day"}], "algorithm": "fixed"}
        ),
        _env(clock),
    )
    ex = FakeExchange()
    seen = []
    for _ in range(3):
        ticket = await policy.admit(ex)
        assert ticket is not None
        seen.append(dict(ticket.headers()))
    assert [h[b"x-ratelimit-remaining-requests"] for h in seen] == [b"2", b"1", b"0"]
    assert seen[0][b"x-ratelimit-limit-requests"] == b"3"
    assert seen[0][b"x-ratelimit-reset-requests"] == b"40s"
    with pytest.raises(LimitExceededError) as info:
        await policy.admit(ex)
    err = info.value
    assert err.status == 429 and err.retry_after == pytest.approx(40.0)
    assert dict(err.headers)[b"x-ratelimit-remaining-requests"] == b"0"
    assert b"x-should-retry" not in dict(err.headers)
    assert err.message == "Request limit exceeded; the window has room again in 40 s."


async def test_429_far_ahead_says_do_not_retry(clock: Clock) -> None:
    clock.now = 86400 * 3 + 100
    policy = RateLimitPolicy(
        RateLimitParams.model_validate({"limits": [{"requests": 1, "per": "day"}], "algorithm": "fixed"}), _env(clock)
    )
    await policy.admit(FakeExchange())
    with pytest.raises(LimitExceededError) as info:
        await policy.admit(FakeExchange())
    assert dict(info.value.headers)[b"x-should-retry"] == b"false"
    assert info.value.retry_after == pytest.approx(86300.0)


async def test_scopes(clock: Clock) -> None:
    counters = MemoryCounters(clock)
    params = {"limits": [{"requests": 1, "per": "minute"}]}
    by_key = RateLimitPolicy(RateLimitParams.model_validate(params), BuildEnv("p#0", counters))
    await by_key.admit(FakeExchange(key_id="k1"))
    await by_key.admit(FakeExchange(key_id="k2"))  # another key: its own counter
    with pytest.raises(LimitExceededError):
        await by_key.admit(FakeExchange(key_id="k1"))
    # provider scope on a provider attachment: every proxy of the provider shares it
    by_provider = RateLimitPolicy(
        RateLimitParams.model_validate({**params, "scope": "provider"}), BuildEnv("LLMProvider/openai#0", counters)
    )
    await by_provider.admit(FakeExchange(route=FakeRoute(proxy="team-a")))
    with pytest.raises(LimitExceededError):
        await by_provider.admit(FakeExchange(route=FakeRoute(proxy="team-b")))
    by_user = RateLimitPolicy(
        RateLimitParams.model_validate({**params, "scope": "user", "userHeader": "X-Tollgate-User"}),
        BuildEnv("u#0", counters),
    )
    assert await by_user.admit(FakeExchange()) is None  # no header: skipped
    await by_user.admit(FakeExchange(headers=[(b"x-tollgate-user", b"alice")]))
    await by_user.admit(FakeExchange(headers=[(b"x-tollgate-user", b"bob")]))
    with pytest.raises(LimitExceededError):
        await by_user.admit(FakeExchange(headers=[(b"x-tollgate-user", b"alice")]))


async def test_token_limit_reserves_then_settles(clock: Clock) -> None:
    policy = TokenLimitPolicy(
        TokenLimitParams.model_validate(
            {
                "limits": [{"tokens": 1000, "per": "hour"}, {"tokens": 400, "per": "hour", "count": "completion"}],
                "bytesPerToken": 4,
            }
        ),
        _env(clock),
    )
    body = b"x" * 400  # 100 prompt tokens estimated
    ex = FakeExchange(body=body, body_obj={"max_tokens": 300})
    assert policy.reservation(ex) == (100, 300)
    ticket = await policy.admit(ex)
    assert ticket is not None
    assert dict(ticket.headers())[b"x-ratelimit-remaining-tokens"] == b"600"
    assert dict(ticket.headers())[b"x-ratelimit-remaining-completion-tokens"] == b"100"
    # a second identical request does not fit the completion window (300 > 100 left)
    with pytest.raises(LimitExceededError) as info:
        await policy.admit(ex)
    assert "Token limit exceeded" in info.value.message
    await policy.settle(ticket, None, TokenUsage(prompt_tokens=12, completion_tokens=30))
    again = await policy.admit(ex)
    assert again is not None
    # 1000 - 42 - 400 reserved; completion: 400 - 30 - 300
    assert dict(again.headers())[b"x-ratelimit-remaining-tokens"] == b"558"
    assert dict(again.headers())[b"x-ratelimit-remaining-completion-tokens"] == b"70"
    await policy.refund(again)
    with pytest.raises(LimitExceededError) as info:  # no cap: defaultMaxTokens 1024 > the whole limit
        await policy.admit(FakeExchange(body=body, body_obj={}))
    assert info.value.message == "This request needs more than the whole token limit allows per window."
    assert dict(info.value.headers)[b"x-should-retry"] == b"false"


async def test_cost_limit_in_dollars(clock: Clock) -> None:
    def price(model: str | None, prompt: int | None, completion: int | None) -> float:
        assert model == "gpt-4o"
        return ((prompt or 0) * 2.5 + (completion or 0) * 10.0) / 1_000_000

    env = BuildEnv("LLMProxy/team-a#1", MemoryCounters(clock), price)
    policy = CostLimitPolicy(
        CostLimitParams.model_validate({"limits": [{"usd": 0.01, "per": "day"}], "bytesPerToken": 4}), env
    )
    ex = FakeExchange(body=b"y" * 400, body_obj={"max_tokens": 500})  # 100 * 2.5 + 500 * 10 = 5250 micro-USD
    ticket = await policy.admit(ex)
    assert ticket is not None
    assert dict(ticket.headers())[b"x-ratelimit-limit-cost-usd"] == b"0.01"
    assert dict(ticket.headers())[b"x-ratelimit-remaining-cost-usd"] == b"0.00475"
    with pytest.raises(LimitExceededError):
        await policy.admit(ex)
    await policy.settle(ticket, "gpt-4o", TokenUsage(prompt_tokens=10, completion_tokens=20))  # 225 micro-USD
    again = await policy.admit(ex)
    assert again is not None
    assert dict(again.headers())[b"x-ratelimit-remaining-cost-usd"] == b"0.004525"


def test_limit_error_headers_reach_every_vendor_shape() -> None:
    from tollgate.providers.error_shapes import error_headers

    err = LimitExceededError(
        "Request limit exceeded", retry_after=12.2, headers=[(b"x-ratelimit-remaining-requests", b"0")]
    )
    headers = dict(error_headers(err))
    assert headers[b"retry-after"] == b"13" and headers[b"retry-after-ms"] == b"12200"
    assert headers[b"x-ratelimit-remaining-requests"] == b"0"
    assert b"x-should-retry" not in headers

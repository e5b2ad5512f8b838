"""Tests for gateway/failover.py and the breaker in gateway/targets.py: attempts, retry budget,
backoff, Retry-After, half-open trials, the 503 when every target is out, and the attempt rows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from tollgate.errors import UpstreamConnectError, UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from tollgate.gateway import failover
from tollgate.gateway.exchange import Exchange
from tollgate.gateway.failover import FailoverSettings, RetryBudget, parse_retry_after
from tollgate.gateway.selection import Ordered
from tollgate.gateway.snapshot import Route, compile_snapshot
from tollgate.gateway.targets import Target, TargetHealth
from tollgate.gateway.upstream import PoolRegistry, UpstreamResponse
from tollgate.providers.base import Translation
from tollgate.usage.record import UsageRecord

from .gw_helpers import provider, proxy, resource_set

UP = "http://127.0.0.1:9"
BACKOFF = failover._backoff  # the real one: the autouse fixture below replaces it for the loop tests


class FakeResponse:
    """The part of an UpstreamResponse the failover loop reads."""

    def __init__(self, status: int, headers: dict[bytes, bytes] | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        self.released = False

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name)

    def release(self) -> None:
        self.released = True


class Sink:
    def __init__(self) -> None:
        self.rows: list[UsageRecord] = []

    def submit(self, record: UsageRecord) -> None:
        self.rows.append(record)


Outcome = FakeResponse | UpstreamError | Callable[[], Awaitable[FakeResponse]]


class Upstreams:
    """A `send` that answers per target from a script, and remembers who was asked."""

    def __init__(self, script: dict[str, list[Outcome]]) -> None:
        self.script = script
        self.calls: list[str] = []

    async def __call__(self, target: Target) -> tuple[UpstreamResponse, Translation | None]:
        self.calls.append(target.name)
        outcome = self.script[target.name].pop(0)
        if isinstance(outcome, UpstreamError):
            raise outcome
        if not isinstance(outcome, FakeResponse):
            outcome = await outcome()
        return cast(UpstreamResponse, outcome), None


def route(names: tuple[str, ...] = ("a", "b"), **spec: Any) -> Route:
    rs = resource_set(
        [provider(n, "openai", f"/{n}", UP) for n in names],
        [proxy("app", names[0], "/app", fallbacks=list(names[1:]), **spec)],
    )
    return compile_snapshot(rs, PoolRegistry(), {}).routes["/app"]


def exchange(r: Route) -> Exchange:
    ex = Exchange("req1", 1000.0, "POST", "/app/v1/chat/completions", "", [], "127.0.0.1")
    ex.route, ex.key_id = r, "key1"
    return ex


async def call(r: Route, upstreams: Upstreams, sink: Sink | None = None) -> tuple[Exchange, FakeResponse]:
    assert r.routing is not None
    ex = exchange(r)
    resp, _ = await r.routing.call(ex, upstreams, sink or Sink(), "gw1")
    return ex, cast(FakeResponse, resp)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff is tested on its own; here it would only slow the tests down."""
    monkeypatch.setattr(failover, "_backoff", lambda settings, retry: 0.0)


async def test_a_connect_error_fails_over_and_the_failed_attempt_gets_its_own_row() -> None:
    r, sink = route(), Sink()
    upstreams = Upstreams({"a": [UpstreamConnectError("refused")], "b": [FakeResponse(200)]})
    ex, resp = await call(r, upstreams, sink)
    assert resp.status == 200 and upstreams.calls == ["a", "b"]
    assert ex.target is not None and ex.target.name == "b" and ex.attempts == 2
    (row,) = sink.rows
    latency = row.latency_ms
    assert 0 <= latency < 1000
    assert row == UsageRecord(
        1000.0,
        "req1",
        "gw1",
        "a",
        "app",
        "key1",
        "POST",
        "/app/v1/chat/completions",
        None,
        None,
        None,
        None,
        None,
        502,
        latency,
        None,
        False,
        "retried:upstream_unreachable",
        upstream_ms=latency,  # a failed attempt is all upstream time
    )


async def test_a_retried_status_is_released_and_recorded_with_the_upstream_status() -> None:
    r, sink = route(), Sink()
    first = FakeResponse(500)
    upstreams = Upstreams({"a": [first], "b": [FakeResponse(200)]})
    _, resp = await call(r, upstreams, sink)
    assert resp.status == 200 and first.released
    assert [(row.provider, row.status, row.error_code) for row in sink.rows] == [("a", 500, "retried:upstream_status")]


async def test_the_last_answer_reaches_the_client_when_no_attempt_is_left() -> None:
    r, sink = route(), Sink()
    last = FakeResponse(429, {b"retry-after": b"30"})
    upstreams = Upstreams({"a": [FakeResponse(503)], "b": [last]})
    _, resp = await call(r, upstreams, sink)
    assert resp is last and not last.released
    assert [(row.provider, row.status) for row in sink.rows] == [("a", 503)]
    upstreams = Upstreams({"a": [UpstreamConnectError("refused")], "b": [UpstreamTimeoutError("slow")]})
    sink = Sink()
    with pytest.raises(UpstreamTimeoutError):
        await call(route(), upstreams, sink)
    assert [(row.provider, row.status, row.error_code) for row in sink.rows] == [
        ("a", 502, "retried:upstream_unreachable")
    ]


async def test_a_status_outside_retry_statuses_is_an_answer_not_a_failure() -> None:
    r = route(retryStatuses=[503])
    upstreams = Upstreams({"a": [FakeResponse(500)], "b": []})
    _, resp = await call(r, upstreams)
    assert resp.status == 500 and upstreams.calls == ["a"]
    assert r.targets[0].health.failures == 0


async def test_breaker_suspends_after_consecutive_failures_then_one_trial_brings_it_back() -> None:
    r = route(circuitBreaker={"failures": 2, "suspendFor": 0.2})
    a = r.targets[0]
    await call(r, Upstreams({"a": [FakeResponse(500)], "b": [FakeResponse(200)]}))
    assert (a.health.failures, a.health.down_until) == (1, 0.0)  # one failure: still in service
    await call(r, Upstreams({"a": [UpstreamTimeoutError("slow")], "b": [FakeResponse(200)]}))
    assert a.health.failures == 2 and a.health.down_until > time.monotonic()
    upstreams = Upstreams({"a": [], "b": [FakeResponse(200)]})
    await call(r, upstreams)
    assert upstreams.calls == ["b"], "a suspended target is passed over"
    await asyncio.sleep(0.25)
    # half-open: one request tries a; while it is in flight, others pass it over
    gate = asyncio.Event()

    async def slow_ok() -> FakeResponse:
        await gate.wait()
        return FakeResponse(200)

    trial_upstreams = Upstreams({"a": [slow_ok], "b": [FakeResponse(200)]})
    trial = asyncio.create_task(call(r, trial_upstreams))
    await asyncio.sleep(0.01)
    assert a.health.probing
    other = Upstreams({"a": [], "b": [FakeResponse(200)]})
    await call(r, other)
    assert other.calls == ["b"]
    gate.set()
    ex, resp = await trial
    assert resp.status == 200 and ex.target is a
    assert (a.health.failures, a.health.down_until, a.health.probing) == (0, 0.0, False)


async def test_a_failed_trial_suspends_again_at_once() -> None:
    r = route(circuitBreaker={"failures": 3, "suspendFor": 0.1})
    health = r.targets[0].health
    for _ in range(3):
        await call(r, Upstreams({"a": [FakeResponse(502)], "b": [FakeResponse(200)]}))
    await asyncio.sleep(0.15)
    before = time.monotonic()
    await call(r, Upstreams({"a": [FakeResponse(502)], "b": [FakeResponse(200)]}))
    assert health.failures == 4 and health.down_until >= before + 0.1


async def test_a_cancelled_trial_frees_the_slot() -> None:
    r = route(circuitBreaker={"failures": 1, "suspendFor": 0.05})
    health = r.targets[0].health
    health.failed(0.05, 1, time.monotonic())
    await asyncio.sleep(0.06)

    async def hang() -> FakeResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    task = asyncio.create_task(call(r, Upstreams({"a": [hang], "b": []})))
    await asyncio.sleep(0.01)
    assert health.probing
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not health.probing and health.acquire(time.monotonic())


async def test_every_target_out_is_a_503_with_retry_after_until_the_first_comes_back() -> None:
    r = route(circuitBreaker={"failures": 1, "suspendFor": 30})
    now = time.monotonic()
    r.targets[0].health.failed(30, 1, now)
    r.targets[1].health.failed(12, 1, now)
    upstreams = Upstreams({"a": [], "b": []})
    with pytest.raises(UpstreamUnavailableError) as out:
        await call(r, upstreams)
    assert upstreams.calls == []
    assert (out.value.status, out.value.code) == (503, "upstream_unavailable")
    assert out.value.retry_after is not None and 11.5 < out.value.retry_after <= 12


async def test_max_attempts_wraps_around_and_a_short_retry_after_is_waited_for_on_the_same_target() -> None:
    r = route(("a",), failover={"maxAttempts": 3, "maxRetryAfter": 1})
    limited = FakeResponse(429, {b"retry-after-ms": b"150"})
    upstreams = Upstreams({"a": [limited, FakeResponse(500), FakeResponse(200)]})
    sink = Sink()
    started = time.monotonic()
    ex, resp = await call(r, upstreams, sink)
    assert resp.status == 200 and upstreams.calls == ["a", "a", "a"] and ex.attempts == 3
    assert time.monotonic() - started >= 0.15
    assert [(row.status, row.error_code) for row in sink.rows] == [
        (429, "retried:upstream_status"),
        (500, "retried:upstream_status"),
    ]


async def test_a_long_retry_after_suspends_the_target_and_moves_on() -> None:
    r = route(failover={"maxRetryAfter": 1}, circuitBreaker={"maxSuspend": 20})
    upstreams = Upstreams({"a": [FakeResponse(429, {b"retry-after": b"45"})], "b": [FakeResponse(200)]})
    started = time.monotonic()
    await call(r, upstreams)
    health = r.targets[0].health
    assert time.monotonic() - started < 0.5
    assert 19.5 < health.down_until - time.monotonic() <= 20  # capped at maxSuspend
    assert health.failures == 0


async def test_the_retry_budget_stops_retries_and_the_client_gets_the_answer() -> None:
    r = route(failover={"budget": {"ratio": 0, "minPerSecond": 0}})
    upstreams = Upstreams({"a": [FakeResponse(500)], "b": []})
    sink = Sink()
    _, resp = await call(r, upstreams, sink)
    assert resp.status == 500 and upstreams.calls == ["a"] and sink.rows == []


def test_retry_budget_counts_a_ratio_of_requests_over_ten_seconds() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=0)
    for _ in range(10):
        budget.request(100.0)
    assert [budget.take(100.5) for _ in range(3)] == [True, True, False]
    budget.request(105.0)  # 11 requests: 2.2 retries
    assert budget.take(105.0) is False
    for _ in range(5):
        budget.request(109.9)  # 16 requests in the window: 3.2
    assert budget.take(109.9) is True
    # at 110 the requests of second 100 leave the window: 6 requests (1.2), 3 retries spent
    assert budget.take(110.0) is False
    assert RetryBudget(ratio=0, min_per_second=0.5).take(0.0) is True  # 5 per 10 s in reserve
    reserve = RetryBudget(ratio=0, min_per_second=0.2)
    assert [reserve.take(50.0) for _ in range(3)] == [True, True, False]
    assert reserve.take(70.0) is True  # a fresh window


def test_backoff_is_full_jitter_doubling_up_to_max() -> None:
    settings = FailoverSettings(retry_statuses=frozenset(), backoff_initial=0.01, backoff_max=0.03)
    samples = [BACKOFF(settings, retry) for retry in (1, 2, 3, 9) for _ in range(200)]
    assert all(0 <= s <= 0.01 for s in samples[:200])
    assert all(0 <= s <= 0.02 for s in samples[200:400])
    assert all(0 <= s <= 0.03 for s in samples[400:])
    assert max(samples[600:]) > 0.02 and len(set(samples)) > 700


def test_parse_retry_after() -> None:
    assert parse_retry_after(cast(UpstreamResponse, FakeResponse(429, {b"retry-after": b"3"}))) == 3.0
    both = {b"retry-after": b"3", b"retry-after-ms": b"2500"}
    assert parse_retry_after(cast(UpstreamResponse, FakeResponse(429, both))) == 2.5
    date = {b"retry-after": b"Wed, 21 Oct 2015 07:28:00 GMT"}
    assert parse_retry_after(cast(UpstreamResponse, FakeResponse(429, date))) is None
    assert parse_retry_after(cast(UpstreamResponse, FakeResponse(429, {b"retry-after": b"-1"}))) is None
    assert parse_retry_after(cast(UpstreamResponse, FakeResponse(429))) is None


def test_a_route_without_fallbacks_or_settings_has_no_routing() -> None:
    plain = route(("a",))
    assert plain.routing is None
    tuned = route(("a",), circuitBreaker={"failures": 5})
    assert tuned.routing is not None and tuned.routing.settings.failures == 5
    assert isinstance(tuned.routing.selector, Ordered)


def test_target_health_states() -> None:
    health = TargetHealth()
    assert health.acquire(0.0)
    health.failed(5, 2, 10.0)
    assert health.acquire(10.0) and health.down_until == 0.0
    health.failed(5, 2, 10.0)
    assert health.down_until == 15.0 and not health.acquire(14.9)
    assert health.acquire(15.0) and health.probing and not health.acquire(15.1)
    health.release()
    assert health.acquire(15.2)
    health.succeeded()
    assert (health.failures, health.down_until, health.probing) == (0, 0.0, False)


async def test_suspension_and_recovery_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    r = route(circuitBreaker={"failures": 1, "suspendFor": 0.05})
    with caplog.at_level("WARNING", logger="tollgate.gateway"):
        await call(r, Upstreams({"a": [UpstreamConnectError("refused")], "b": [FakeResponse(200)]}))
        await call(r, Upstreams({"a": [], "b": [FakeResponse(200)]}))  # passed over: nothing to say
        await asyncio.sleep(0.06)
        await call(r, Upstreams({"a": [FakeResponse(200)], "b": []}))
        await call(r, Upstreams({"a": [FakeResponse(429, {b"retry-after": b"9"})], "b": [FakeResponse(200)]}))
    assert [rec.getMessage() for rec in caplog.records] == [
        "provider a suspended for 0.05 s after 1 consecutive failures (last: upstream_unreachable)",
        "provider a is back in service (a trial request succeeded)",
        "provider a suspended for 9 s: it answered 429 with Retry-After",
    ]


async def test_a_trial_picked_for_a_retry_is_freed_when_the_client_leaves_during_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(failover, "_backoff", lambda settings, retry: 10.0)  # a long wait to be cut short
    r = route(circuitBreaker={"failures": 1, "suspendFor": 0.05})
    b = r.targets[1].health
    b.failed(0.05, 1, time.monotonic())
    await asyncio.sleep(0.06)  # b is half-open
    task = asyncio.create_task(call(r, Upstreams({"a": [UpstreamConnectError("refused")], "b": []})))
    await asyncio.sleep(0.02)
    assert b.probing, "b's trial is taken by the retry, which is waiting"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not b.probing and b.acquire(time.monotonic())

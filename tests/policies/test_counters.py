"""Counters: exact fixed and sliding window arithmetic, in-process and on the real Redis, and Redis outages."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from tests.policies.conftest import Clock
from tests.redis_support import OwnRedis
from tollgate.policies.counters.base import CountersUnavailableError, Window, sliding_retry_after
from tollgate.policies.counters.memory import MemoryCounters
from tollgate.policies.counters.redis import RedisCounters


async def test_fixed_window_counts_down_and_refuses_then_resets(clock: Clock) -> None:
    counters = MemoryCounters(clock)
    clock.now = 600.0 + 15  # 15 s into a minute
    window = [Window("k", 60, 3)]
    remaining = []
    for _ in range(3):
        got = await counters.acquire(window, [1])
        assert got.allowed
        remaining.append(got.states[0].remaining)
    assert remaining == [2, 1, 0]
    refused = await counters.acquire(window, [1])
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(45.0)
    assert refused.states[0].remaining == 0
    clock.now = 660.0
    assert (await counters.acquire(window, [1])).states[0].remaining == 2


async def test_all_or_nothing_across_windows(clock: Clock) -> None:
    counters = MemoryCounters(clock)
    windows = [Window("a", 60, 10), Window("b", 3600, 2)]
    assert (await counters.acquire(windows, [1, 1])).allowed
    assert (await counters.acquire(windows, [1, 1])).allowed
    refused = await counters.acquire(windows, [1, 1])
    assert not refused.allowed
    # the minute window was not charged by the refused call
    assert [s.remaining for s in refused.states] == [8, 0]


async def test_amount_over_the_limit_can_never_pass(clock: Clock) -> None:
    counters = MemoryCounters(clock)
    got = await counters.acquire([Window("a", 60, 10)], [11])
    assert not got.allowed
    assert math.isinf(got.retry_after)


async def test_sliding_window_weighs_the_previous_period(clock: Clock) -> None:
    counters = MemoryCounters(clock)
    window = [Window("s", 60, 10, sliding=True)]
    clock.now = 60 * 100 + 30
    assert (await counters.acquire(window, [8])).allowed
    clock.now = 60 * 101 + 15  # 8 * 0.75 = 6 still count
    got = await counters.acquire(window, [4])
    assert got.allowed and got.states[0].remaining == 0
    refused = await counters.acquire(window, [1])
    assert not refused.allowed
    # prev 8, current 4: 1 more needs 8*(1-t/60) <= 5 -> t >= 22.5 -> 7.5 s after 15 s
    assert refused.retry_after == pytest.approx(7.5)


def test_sliding_retry_after_into_the_next_period() -> None:
    # current alone exceeds: wait for the end (30 s) then current (10) decays to 10-1: 6 s more
    assert sliding_retry_after(0, 10, 10, 1, 30.0, 60) == pytest.approx(30 + 6)


async def test_adjust_corrects_a_reservation(clock: Clock) -> None:
    counters = MemoryCounters(clock)
    window = [Window("t", 60, 100)]
    got = await counters.acquire(window, [90])
    await counters.adjust(got.slots, [-80])
    assert (await counters.acquire(window, [1])).states[0].remaining == 89


async def test_memory_sweeps_expired_periods(clock: Clock) -> None:
    counters = MemoryCounters(clock)
    await counters.acquire([Window("x", 1, 5)], [1])
    clock.now += 100
    await counters.acquire([Window("y", 60, 5)], [1])
    assert list(counters._counts) == [f"y:{int(clock.now // 60)}"]


# --- the real Redis (shared server, random key prefix) ---------------------------------------------


async def test_redis_fixed_window_matches_memory(redis_counters: RedisCounters) -> None:
    window = [Window("r", 3600, 3)]
    remaining = [(await redis_counters.acquire(window, [1])).states[0].remaining for _ in range(3)]
    assert remaining == [2, 1, 0]
    refused = await redis_counters.acquire(window, [1])
    assert not refused.allowed
    assert 0 < refused.retry_after <= 3600
    assert refused.retry_after == pytest.approx(refused.states[0].reset_after, abs=0.01)


async def test_redis_multi_window_all_or_nothing_and_adjust(redis_counters: RedisCounters, redis_prefix: str) -> None:
    windows = [Window("a", 3600, 100), Window("b", 86400, 50)]
    got = await redis_counters.acquire(windows, [40, 40])
    assert got.allowed and [s.remaining for s in got.states] == [60, 10]
    refused = await redis_counters.acquire(windows, [20, 20])
    assert not refused.allowed and [s.remaining for s in refused.states] == [60, 10]
    await redis_counters.adjust(got.slots, [-30, -30])
    again = await redis_counters.acquire(windows, [20, 20])
    assert again.allowed and [s.remaining for s in again.states] == [70, 20]
    assert all(slot.startswith(redis_prefix) for slot in got.slots)
    ttl = await redis_counters._client.ttl(got.slots[0])
    assert 3600 < ttl <= 7200


async def test_redis_never_pass_and_sliding(redis_counters: RedisCounters) -> None:
    never = await redis_counters.acquire([Window("n", 60, 5)], [6])
    assert not never.allowed and math.isinf(never.retry_after)
    sliding = [Window("s", 86400, 10, sliding=True)]
    assert (await redis_counters.acquire(sliding, [10])).allowed
    refused = await redis_counters.acquire(sliding, [1])
    assert not refused.allowed and refused.retry_after > 0


async def test_redis_concurrent_acquires_never_overshoot(redis_counters: RedisCounters) -> None:
    window = [Window("c", 3600, 25)]
    results = await asyncio.gather(*(redis_counters.acquire(window, [1]) for _ in range(60)))
    assert sum(r.allowed for r in results) == 25
    assert sorted(r.states[0].remaining for r in results if r.allowed) == list(range(25))


async def test_redis_down_fails_open_with_a_count_and_a_log(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    counters = RedisCounters.from_url(own_redis.url, prefix="t:", timeout=0.5, fail_open=True)
    window = [Window("o", 30 * 86400, 1)]  # one period for the whole test
    assert (await counters.acquire(window, [1])).allowed
    assert not (await counters.acquire(window, [1])).allowed
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="tollgate.policies"):
        got = await counters.acquire(window, [1])
    assert got.allowed and got.degraded and got.states == ()
    assert counters.unavailable_total == 1
    assert "Redis unavailable" in caplog.text and "failed open" in caplog.text
    await counters.aclose()


async def test_redis_down_fails_closed(own_redis: OwnRedis) -> None:
    counters = RedisCounters.from_url(own_redis.url, prefix="t:", timeout=0.5, fail_open=False)
    assert (await counters.acquire([Window("c", 60, 5)], [1])).allowed
    own_redis.stop()
    with pytest.raises(CountersUnavailableError):
        await counters.acquire([Window("c", 60, 5)], [1])
    await counters.adjust(["t:c:1"], [3])  # never raises
    assert counters.unavailable_total == 2
    await counters.aclose()


async def test_redis_closed_port_fails_within_the_timeout() -> None:
    from tests.policies.conftest import free_port

    counters = RedisCounters.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, fail_open=False)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(CountersUnavailableError):
        await counters.acquire([Window("c", 60, 5)], [1])
    assert loop.time() - start < 1.0
    await counters.aclose()

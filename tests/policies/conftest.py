"""Shared fixtures of the policy tests: a fake exchange, a controllable clock, real Redis servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from tests.redis_support import OwnRedis, free_port, require_shared_redis

__all__ = ["OwnRedis", "free_port"]
from tollgate.policies.counters.redis import RedisCounters
from tollgate.types import HeaderList, JSONObject


@dataclass
class FakeRoute:
    provider: str = "openai"
    proxy: str | None = "team-a"


@dataclass
class FakeFacts:
    model: str | None = "gpt-4o"
    is_streaming: bool = False


@dataclass
class FakeExchange:
    """The fields of the pipeline's Exchange that policies read."""

    method: str = "POST"
    sub_path: str = "/v1/chat/completions"
    headers: HeaderList = field(default_factory=list)
    key_id: str | None = "key1"
    body: bytes = b""
    body_obj: JSONObject | None = None
    route: FakeRoute | None = field(default_factory=FakeRoute)
    facts: FakeFacts = field(default_factory=FakeFacts)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis_prefix() -> str:
    return f"tgtest:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_counters(redis_prefix: str) -> AsyncIterator[RedisCounters]:
    # fail closed and a generous timeout: on a loaded host a slow call must fail the test, never pass uncounted
    counters = RedisCounters.from_url(require_shared_redis(), prefix=redis_prefix, timeout=10.0, fail_open=False)
    yield counters
    client = counters._client
    keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
    if keys:
        await client.delete(*keys)
    await counters.aclose()


@pytest.fixture
def own_redis(tmp_path: object) -> Iterator[OwnRedis]:
    server = OwnRedis(str(tmp_path))
    yield server
    server.stop()

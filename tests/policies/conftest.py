"""Shared fixtures of the policy tests: a fake exchange, a controllable clock, real Redis servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from tollgate.policies.counters.redis import RedisCounters
from tollgate.types import HeaderList, JSONObject

SHARED_REDIS_URL = os.environ.get("TOLLGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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
    counters = RedisCounters.from_url(SHARED_REDIS_URL, prefix=redis_prefix, timeout=10.0, fail_open=False)
    yield counters
    client = counters._client
    keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
    if keys:
        await client.delete(*keys)
    await counters.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnRedis:
    """A redis-server of the test's own on a free port, which the test may stop (never the shared one)."""

    def __init__(self, tmp: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path: object) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(str(tmp_path))
    yield server
    server.stop()

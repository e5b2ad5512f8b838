"""The answer stores: LRU by entries and by bytes, TTL, the wire form; Redis's LRU bound and expiry."""

from __future__ import annotations

import uuid

import pytest

from tests.redis_support import require_shared_redis
from tollgate.policies.cache.answer import ENTRY_OVERHEAD, CachedAnswer
from tollgate.policies.cache.store import MemoryAnswers, RedisAnswers
from tollgate.policies.env import SharedRedis


def answer(body: bytes = b'{"ok":true}', stream: bool = False) -> CachedAnswer:
    return CachedAnswer(1700000000.5, stream, b"application/json", "gpt-4o-2024", 3, 4, body)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wire_form_round_trips_and_rejects_foreign_values() -> None:
    a = answer(b"data: {}\n\ndata: [DONE]\n\n", stream=True)
    assert CachedAnswer.decode(a.encode()) == a
    assert (a.saved_tokens, a.size) == (7, len(a.body) + ENTRY_OVERHEAD)
    assert CachedAnswer.decode(b"no header line") is None
    assert CachedAnswer.decode(b'["short"]\nbody') is None


async def test_memory_store_expires_after_the_ttl() -> None:
    clock = Clock()
    store = MemoryAnswers(10, 1 << 20, clock)
    await store.put("k", answer(), ttl=5)
    clock.now += 4.9
    assert await store.get("k") == answer()
    clock.now += 0.1
    assert await store.get("k") is None and len(store) == 0 and store.bytes == 0


async def test_memory_store_evicts_least_recently_used_by_entries_and_by_bytes() -> None:
    store = MemoryAnswers(2, 10_000, Clock())
    for key in ("a", "b"):
        await store.put(key, answer(), ttl=60)
    assert await store.get("a") is not None  # "b" is now the least recently used
    await store.put("c", answer(), ttl=60)
    assert [await store.get(k) is not None for k in ("a", "b", "c")] == [True, False, True]
    small = MemoryAnswers(100, 2 * (100 + ENTRY_OVERHEAD), Clock())
    for key in ("x", "y", "z"):
        await small.put(key, answer(b"." * 100), ttl=60)
    assert (len(small), small.bytes) == (2, 2 * (100 + ENTRY_OVERHEAD))
    assert await small.get("x") is None
    await small.put("huge", answer(b"." * 10_000), ttl=60)  # larger than the whole store: not kept
    assert await small.get("huge") is None and len(small) == 2


async def test_redis_store_bounds_entries_least_recently_used_first() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(require_shared_redis())
    prefix = f"tgtest:{uuid.uuid4().hex}:"
    store = RedisAnswers(SharedRedis(client, prefix, 1.0), "LLMProvider/p#0", max_entries=2)
    try:
        for key in ("a", "b"):
            await store.put(key, answer(), ttl=60)
        assert await store.get("a") == answer()
        await store.put("c", answer(), ttl=60)
        assert [await store.get(k) is not None for k in ("a", "b", "c")] == [True, False, True]
        await store.put("short", answer(), ttl=0.05)
        assert 0 < await client.pttl(prefix + "cache:short") <= 50
    finally:
        keys = await client.keys(prefix + "*")
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.mark.parametrize("value", [b"", b"\n", b'[1,true,"x",null,1,2]\n'])
def test_decode_tolerates_odd_values(value: bytes) -> None:
    decoded = CachedAnswer.decode(value)
    assert decoded is None or decoded.body == b""

"""Vector indexes: nearest by cosine similarity within a partition, expiry, the entry bound; Redis too."""

from __future__ import annotations

import uuid

from tests.redis_support import require_shared_redis
from tollgate.policies.cache.vectors import MemoryVectors, RedisVectors, normalised
from tollgate.policies.env import SharedRedis


def vec(*values: float):  # type: ignore[no-untyped-def]
    out = normalised(values)
    assert out is not None
    return out


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_normalised_refuses_zero_vectors() -> None:
    assert normalised([0.0, 0.0]) is None and normalised([]) is None
    assert list(vec(3.0, 4.0)) == [0.6000000238418579, 0.800000011920929]


async def test_memory_nearest_within_partition_with_expiry_and_bound() -> None:
    clock = Clock()
    index = MemoryVectors(3, clock)
    await index.add("p", "k1", vec(1, 0), ttl=10)
    await index.add("p", "k2", vec(0.6, 0.8), ttl=20)
    await index.add("other", "k3", vec(0.8, 0.6), ttl=10)
    found = await index.nearest("p", vec(0.8, 0.6))  # k3 (0.8, 0.6) is in another partition
    assert found is not None and found[0] == "k2" and abs(found[1] - 0.96) < 1e-6
    assert await index.nearest("nothing", vec(1, 0)) is None
    found = await index.nearest("p", vec(1, 0.1))
    assert found is not None and found[0] == "k1"
    clock.now += 10  # k1 expired
    found = await index.nearest("p", vec(1, 0.1))
    assert found is not None and found[0] == "k2" and abs(found[1] - 0.68 / 1.004987562) < 1e-5
    await index.add("p", "k4", vec(1, 1), ttl=10)
    await index.add("p", "k5", vec(1, 2), ttl=10)  # past 3 entries: the oldest goes
    assert len(index) == 3
    found = await index.nearest("p", vec(0.6, 0.8))
    assert found is not None and found[0] != "k2"


async def test_redis_vectors_shared_and_bounded() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(require_shared_redis())
    prefix = f"tgtest:{uuid.uuid4().hex}:"
    index = RedisVectors(SharedRedis(client, prefix, 1.0), max_entries=2)
    other_node = RedisVectors(SharedRedis(client, prefix, 1.0), max_entries=2)
    try:
        await index.add("p", "k1", vec(1, 0), ttl=60)
        await index.add("p", "k2", vec(0, 1), ttl=61)
        found = await other_node.nearest("p", vec(0.8, 0.6))
        assert found is not None and found[0] == "k1" and abs(found[1] - 0.8) < 1e-6
        assert await other_node.nearest("q", vec(0.8, 0.6)) is None
        await index.add("p", "k3", vec(0.6, 0.8), ttl=62)  # k1 expires first: it goes
        assert set(await client.hkeys(prefix + "cache-vec:p")) == {b"k2", b"k3"}
    finally:
        keys = await client.keys(prefix + "*")
        if keys:
            await client.delete(*keys)
        await client.aclose()

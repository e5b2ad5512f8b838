"""Vector indexes of the semantic cache: prompt embeddings -> the exact key of the answer they got.

Vectors are normalised when added, so cosine similarity is a dot product. Entries are grouped by
partition (requests alike in everything but their text); a lookup scans one partition, in plain
Python on the event loop (no numpy in the dependencies): 150-210 ns per dimension per entry on a
loaded host, so the entry bound (`maxEntries`) and the embedding size (`dimensions`) bound the cost
of a lookup.
`MemoryVectors` lives in this process; `RedisVectors` keeps each partition in a Redis hash that
every node reads.
"""

from __future__ import annotations

import asyncio
import math
import operator
import struct
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from redis.exceptions import RedisError

from tollgate.policies.cache.store import CacheUnavailableError, UnavailableLog
from tollgate.policies.env import SharedRedis

__all__ = ["MemoryVectors", "RedisVectors", "VectorIndex", "normalised"]

_EXPIRES = struct.Struct("<d")


def normalised(vector: Sequence[float]) -> array[float] | None:
    """`vector` scaled to length 1 (float32), None for a zero or empty vector."""
    norm = math.sqrt(sum(v * v for v in vector))
    if not norm or not math.isfinite(norm):
        return None
    return array("f", [v / norm for v in vector])


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(map(operator.mul, a, b)) if len(a) == len(b) else -1.0


class VectorIndex(Protocol):
    async def nearest(self, partition: str, vector: array[float]) -> tuple[str, float] | None:
        """The key of the most similar live entry of `partition` and its cosine similarity, or None."""
        ...

    async def add(self, partition: str, key: str, vector: array[float], ttl: float) -> None: ...


class MemoryVectors:
    """Vectors in this process, at most `max_entries` in all, least recently added out first."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._parts: dict[str, OrderedDict[str, tuple[array[float], float]]] = {}
        self._order: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._order)

    async def nearest(self, partition: str, vector: array[float]) -> tuple[str, float] | None:
        part = self._parts.get(partition)
        if not part:
            return None
        now = self._clock()
        best: tuple[str, float] | None = None
        expired: list[str] = []
        for key, (stored, expires) in part.items():
            if now >= expires:
                expired.append(key)
                continue
            score = _dot(vector, stored)
            if best is None or score > best[1]:
                best = (key, score)
        for key in expired:
            self._remove(partition, key)
        return best

    async def add(self, partition: str, key: str, vector: array[float], ttl: float) -> None:
        part = self._parts.setdefault(partition, OrderedDict())
        if key in part:
            self._remove(partition, key)
            part = self._parts.setdefault(partition, OrderedDict())
        part[key] = (vector, self._clock() + ttl)
        self._order[(partition, key)] = None
        while len(self._order) > self.max_entries:
            old_partition, old_key = next(iter(self._order))
            self._remove(old_partition, old_key)

    def _remove(self, partition: str, key: str) -> None:
        part = self._parts.get(partition)
        if part is not None and part.pop(key, None) is not None and not part:
            del self._parts[partition]
        self._order.pop((partition, key), None)


# KEYS[1] partition hash, KEYS[2] its expiry set. ARGV: exact key, packed vector, expires ms, ttl ms, now ms, max.
_ADD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
for i = 1, #gone do redis.call('HDEL', KEYS[1], gone[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do redis.call('HDEL', KEYS[1], old[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
"""


class RedisVectors:
    """Vectors in Redis, shared by every node: per partition a hash `exact key -> expiry + float32
    vector` and a sorted set by expiry that bounds it to `max_entries` (the soonest to expire out).
    A lookup reads the partition's hash whole (bounded by `max_entries`) and scans it here."""

    def __init__(self, redis: SharedRedis, max_entries: int) -> None:
        self._client = redis.client
        self._prefix = redis.prefix + "cache-vec:"
        self._timeout = redis.timeout
        self.max_entries = max_entries
        self._add = self._client.register_script(_ADD)
        self.unavailable = UnavailableLog("semantic cache: Redis")

    async def nearest(self, partition: str, vector: array[float]) -> tuple[str, float] | None:
        raw: Any = await self._call(self._client.hgetall(self._prefix + partition))
        now = time.time()
        best: tuple[str, float] | None = None
        for key, value in raw.items():
            if len(value) < _EXPIRES.size or _EXPIRES.unpack_from(value)[0] <= now:
                continue
            stored = array("f")
            stored.frombytes(value[_EXPIRES.size :])
            score = _dot(vector, stored)
            if best is None or score > best[1]:
                best = (key.decode(), score)
        return best

    async def add(self, partition: str, key: str, vector: array[float], ttl: float) -> None:
        now = time.time()
        value = _EXPIRES.pack(now + ttl) + vector.tobytes()
        keys = [self._prefix + partition, self._prefix + partition + ":exp"]
        args: list[bytes | str | int] = [
            key,
            value,
            int((now + ttl) * 1000),
            max(1, int(ttl * 1000)),
            int(now * 1000),
            self.max_entries,
        ]
        await self._call(self._add(keys=keys, args=args))

    async def _call(self, call: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            self.unavailable.failed(exc)
            raise CacheUnavailableError(type(exc).__name__) from None

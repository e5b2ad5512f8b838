"""Where cached answers live: in this process (`MemoryAnswers`, LRU with entry and byte bounds) or in
Redis (`RedisAnswers`, shared by every node). Both expire entries after their TTL.

A store that cannot answer raises `CacheUnavailableError`; the policy then answers from the
upstream (a cache never fails closed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from tollgate.policies.cache.answer import CachedAnswer
from tollgate.policies.env import SharedRedis

__all__ = ["AnswerStore", "CacheUnavailableError", "MemoryAnswers", "RedisAnswers", "UnavailableLog"]

log = logging.getLogger("tollgate.policies")

#: At most one "cache store unavailable" line per this many seconds (with the count since the last).
_LOG_EVERY = 10.0


class CacheUnavailableError(Exception):
    """The shared store did not answer in time (or at all)."""


class AnswerStore(Protocol):
    async def get(self, key: str) -> CachedAnswer | None:
        """The live answer under `key`, or None; CacheUnavailableError when the store cannot say."""
        ...

    async def put(self, key: str, answer: CachedAnswer, ttl: float) -> None:
        """Keep `answer` under `key` for `ttl` seconds; CacheUnavailableError when it cannot."""
        ...


class MemoryAnswers:
    """Answers in this process: least recently used first out past `max_entries` or `max_bytes`.

    One per policy attachment; event-loop only (no await inside, so no lock). `clock` is for tests.
    """

    def __init__(self, max_entries: int, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[CachedAnswer, float]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedAnswer | None:
        found = self._entries.get(key)
        if found is None:
            return None
        answer, expires = found
        if self._clock() >= expires:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return answer

    async def put(self, key: str, answer: CachedAnswer, ttl: float) -> None:
        if answer.size > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (answer, self._clock() + ttl)
        self.bytes += answer.size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        answer, _ = self._entries.pop(key)
        self.bytes -= answer.size


# Recency is Redis's own clock in microseconds (one clock for every node, no ties between calls).
_NOW = "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
# KEYS[1] answer key, KEYS[2] the recency set of this attachment.
# The answer, and its recency refreshed (so the size bound evicts the least recently used).
_GET = (
    _NOW
    + """
local v = redis.call('GET', KEYS[1])
if v then redis.call('ZADD', KEYS[2], 'XX', now, KEYS[1]) end
return v
"""
)
# KEYS[1] answer key, KEYS[2] recency set. ARGV: value, ttl ms, max entries.
# Keys unused for longer than the TTL have expired already: dropped from the set first; then the
# least recently used go until the set holds `max entries`.
_PUT = (
    _NOW
    + """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]) * 1000)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do redis.call('DEL', old[i]) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""
)


class UnavailableLog:
    """Counts failed store calls and logs them at most once per 10 s, with the count since the last line."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.total = 0
        self._unlogged = 0
        self._next = 0.0

    def failed(self, exc: BaseException) -> None:
        self.total += 1
        self._unlogged += 1
        now = time.monotonic()
        if now >= self._next:
            log.warning(
                "%s unavailable (%s): %d call(s) failed since the last report; answering from the upstream",
                self.what,
                type(exc).__name__,
                self._unlogged,
            )
            self._unlogged = 0
            self._next = now + _LOG_EVERY


class RedisAnswers:
    """Answers in Redis, shared by every node: `<prefix>cache:<key>` with a TTL, and a sorted set per
    attachment (`<prefix>cache-lru:<namespace>`) that bounds the number of entries, least recently
    used out first. The byte bound is Redis's own (`maxmemory` with an LRU policy).
    """

    def __init__(self, redis: SharedRedis, namespace: str, max_entries: int) -> None:
        self._client = redis.client
        self._prefix = redis.prefix + "cache:"
        self._lru = f"{redis.prefix}cache-lru:{namespace}"
        self._timeout = redis.timeout
        self.max_entries = max_entries
        self._get = self._client.register_script(_GET)
        self._put = self._client.register_script(_PUT)
        self.unavailable = UnavailableLog("response cache: Redis")

    async def get(self, key: str) -> CachedAnswer | None:
        raw: Any = await self._call(self._get, [self._prefix + key, self._lru], [])
        return CachedAnswer.decode(raw) if isinstance(raw, bytes) else None

    async def put(self, key: str, answer: CachedAnswer, ttl: float) -> None:
        args = [answer.encode(), max(1, int(ttl * 1000)), self.max_entries]
        await self._call(self._put, [self._prefix + key, self._lru], args)

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self.unavailable.failed(exc)
            raise CacheUnavailableError(str(type(exc).__name__)) from None

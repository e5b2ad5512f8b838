"""Redis counters: limits shared by several gateway nodes, each acquire one atomic Lua script.

The script reads Redis's own clock (`TIME`), so nodes whose clocks drift still agree on window
edges. Keys are `<prefix><window key>:<period>` with a TTL of two window lengths (a sliding window
reads the previous period). When Redis is unreachable or slower than `timeout`, the `fail_open`
switch decides: let the request through uncounted (fail open, the default: an outage of the
counter store must not become an outage of the gateway) or refuse it (fail closed: a budget that
must never be exceeded). Either way the failure is counted by operation (`failures`, exported on
/metrics as `tollgate_limit_counter_failures_total`) and logged: one warning when an outage starts,
at most one more per 10 seconds while it lasts (with the count since the last), and one line when
Redis answers again. The lines name the error type only: never the URL (it may hold a password).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tollgate.policies.counters.base import Acquired, CountersUnavailableError, Window, WindowState

__all__ = ["DEFAULT_REDIS_TIMEOUT", "RedisCounters"]

log = logging.getLogger("tollgate.policies")

#: Seconds one Redis round trip may take before the fail-open / fail-closed switch applies.
DEFAULT_REDIS_TIMEOUT = 0.25
_LOG_EVERY = 10.0

# KEYS: window keys. ARGV: for each window 4 values: seconds, limit, amount, sliding (0/1).
# Returns {allowed, retry_after_ms, then per window: remaining, reset_ms, period}.
# Lua numbers are doubles: exact for integer counts below 2^53.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS
local allowed = 1
local retry = 0
local out = {}
local slots = {}
local used_by = {}
for i = 1, n do
  local base = (i - 1) * 4
  local seconds = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local amount = tonumber(ARGV[base + 3])
  local sliding = ARGV[base + 4] == '1'
  local period = math.floor(now / seconds)
  local elapsed = now - period * seconds
  local slot = KEYS[i] .. ':' .. period
  slots[i] = slot
  local current = tonumber(redis.call('GET', slot) or '0')
  local used = current
  local wait
  if amount > limit then
    wait = -1
  elseif sliding then
    local prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (period - 1)) or '0')
    used = prev * math.max(0, 1 - elapsed / seconds) + current
    local room = limit - amount - current
    if room >= 0 then
      if prev <= 0 then wait = 0 else wait = math.max(0, seconds * (1 - room / prev) - elapsed) end
    else
      wait = (seconds - elapsed) + seconds * math.max(0, 1 - (limit - amount) / current)
    end
  else
    wait = seconds - elapsed
  end
  if used + amount > limit then
    allowed = 0
    if wait < 0 or retry < 0 then retry = -1 elseif wait > retry then retry = wait end
  end
  used_by[i] = used
  out[4 + (i - 1) * 3] = math.floor((seconds - elapsed) * 1000)
  out[5 + (i - 1) * 3] = period
end
for i = 1, n do
  local base = (i - 1) * 4
  local limit = tonumber(ARGV[base + 2])
  local charged = 0
  if allowed == 1 then charged = tonumber(ARGV[base + 3]) end
  out[3 + (i - 1) * 3] = math.max(0, math.floor(limit - used_by[i] - charged))
end
if allowed == 1 then
  for i = 1, n do
    local base = (i - 1) * 4
    local amount = tonumber(ARGV[base + 3])
    redis.call('INCRBY', slots[i], amount)
    redis.call('EXPIRE', slots[i], 2 * tonumber(ARGV[base + 1]), 'NX')
  end
  retry = 0
end
out[1] = allowed
if retry < 0 then out[2] = -1 else out[2] = math.floor(retry * 1000) end
return out
"""

# KEYS: exact counters charged by an acquire. ARGV: deltas. Expired counters stay expired.
_ADJUST = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[i]) end
end
return #KEYS
"""


class RedisCounters:
    """Counters in Redis; one instance (one connection pool) per gateway process.

    `prefix` is prepended to every key (tests use a random one per test). `timeout` bounds each
    round trip. `fail_open`: what to do when Redis cannot answer (see the module docstring).
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "tollgate:",
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        fail_open: bool = True,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._timeout = timeout
        self.fail_open = fail_open
        self._acquire = client.register_script(_ACQUIRE)
        self._adjust = client.register_script(_ADJUST)
        self.backend = "redis"
        self.is_local = False
        self.fail_mode = "open" if fail_open else "closed"
        self.unavailable_total = 0
        self.failures: dict[str, int] = {"acquire": 0, "adjust": 0}
        self._unlogged = 0
        self._next_log = 0.0
        self._failing = False

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "tollgate:", timeout: float = DEFAULT_REDIS_TIMEOUT, fail_open: bool = True
    ) -> RedisCounters:
        """A client for `url` (redis://host:port/db) whose socket timeouts match `timeout`."""
        client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix=prefix, timeout=timeout, fail_open=fail_open)

    async def acquire(self, windows: Sequence[Window], amounts: Sequence[int], scope: str = "") -> Acquired:
        base = self._prefix + scope
        keys = [base + w.key for w in windows]
        args: list[int] = []
        for window, amount in zip(windows, amounts, strict=True):
            args += [window.seconds, window.limit, amount, 1 if window.sliding else 0]
        try:
            async with asyncio.timeout(self._timeout):
                raw: Any = await self._acquire(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._unavailable("acquire", exc)
            if self.fail_open:
                return Acquired(True, (), 0.0, (), degraded=True)
            raise CountersUnavailableError("the limit counters are unavailable") from None
        if self._failing:
            self._recovered()
        values = [int(v) for v in raw]
        states: list[WindowState] = []
        slots: list[str] = []
        for i, window in enumerate(windows):
            remaining, reset_ms, period = values[2 + 3 * i : 5 + 3 * i]
            states.append(WindowState(window.limit, remaining, reset_ms / 1000.0))
            slots.append(f"{keys[i]}:{period}")
        allowed = values[0] == 1
        retry = math.inf if values[1] < 0 else values[1] / 1000.0
        return Acquired(allowed, tuple(states), 0.0 if allowed else retry, tuple(slots))

    def acquire_nowait(self, windows: Sequence[Window], amounts: Sequence[int], scope: str = "") -> Acquired:
        raise NotImplementedError("Redis counters are asynchronous: await acquire()")

    async def adjust(self, slots: Sequence[str], deltas: Sequence[int]) -> None:
        pairs = [(s, d) for s, d in zip(slots, deltas, strict=True) if d]
        if not pairs:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._adjust(keys=[s for s, _ in pairs], args=[d for _, d in pairs])
        except (RedisError, OSError, TimeoutError) as exc:
            self._unavailable("adjust", exc)

    def adjust_nowait(self, slots: Sequence[str], deltas: Sequence[int]) -> bool:
        return False

    async def aclose(self) -> None:
        await self._client.aclose()

    def _unavailable(self, operation: str, exc: BaseException) -> None:
        self.unavailable_total += 1
        self.failures[operation] += 1
        self._unlogged += 1
        now = time.monotonic()
        if not self._failing or now >= self._next_log:
            log.warning(
                "limit counters: Redis unavailable (%s), %d call(s) failed %s since the last report",
                type(exc).__name__,
                self._unlogged,
                self.fail_mode,
            )
            self._failing = True
            self._unlogged = 0
            self._next_log = now + _LOG_EVERY

    def _recovered(self) -> None:
        self._failing = False
        if self._unlogged:
            log.warning(
                "limit counters: %d more call(s) failed %s before Redis answered", self._unlogged, self.fail_mode
            )
            self._unlogged = 0
        log.warning("limit counters: Redis answers again (%d failed call(s) in all so far)", self.unavailable_total)

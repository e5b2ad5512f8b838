"""The process-wide services policies are built with: the limit counters and the price function.

One `PolicyServices` per gateway process, made once at start (`from_env`) and handed to every
snapshot compile, so counters survive configuration changes. Redis is used when
`TOLLGATE_REDIS_URL` is set (several nodes share limits), else in-process counters (one node).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from redis.asyncio import Redis

from tollgate.policies.counters.base import Counters
from tollgate.policies.counters.memory import MemoryCounters
from tollgate.policies.counters.redis import DEFAULT_REDIS_TIMEOUT, RedisCounters
from tollgate.policies.env import CostFunction, SharedRedis
from tollgate.usage.pricing import cost as list_price

__all__ = ["REDIS_FAIL_ENV", "REDIS_PREFIX_ENV", "REDIS_TIMEOUT_ENV", "REDIS_URL_ENV", "PolicyServices"]

#: redis://host:port/db of the shared counters; unset = in-process counters.
REDIS_URL_ENV = "TOLLGATE_REDIS_URL"
#: `open` (default: count nothing, let requests through while Redis is down) or `closed` (answer 503).
REDIS_FAIL_ENV = "TOLLGATE_REDIS_FAIL"
#: Seconds one Redis call may take before the switch applies (default 0.25).
REDIS_TIMEOUT_ENV = "TOLLGATE_REDIS_TIMEOUT"
#: Key prefix of the counters (default `tollgate:`), e.g. to share one Redis between deployments.
REDIS_PREFIX_ENV = "TOLLGATE_REDIS_PREFIX"


@dataclass(frozen=True, slots=True)
class PolicyServices:
    counters: Counters = field(default_factory=MemoryCounters)
    cost: CostFunction = list_price
    #: the Redis the counters use, for other shared state (the response cache); None on one node
    redis: SharedRedis | None = None
    #: state a policy keeps across snapshot compiles, by its own key (the response cache's stores: a
    #: config change must not empty the cache)
    kept: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PolicyServices:
        """Redis counters when TOLLGATE_REDIS_URL is set (with the fail switch and timeout), else in-process."""
        env = os.environ if environ is None else environ
        url = env.get(REDIS_URL_ENV)
        if not url:
            return cls()
        fail = env.get(REDIS_FAIL_ENV, "open").strip().lower()
        if fail not in ("open", "closed"):
            raise ValueError(f"{REDIS_FAIL_ENV} must be 'open' or 'closed', not {fail!r}")
        timeout = float(env.get(REDIS_TIMEOUT_ENV) or DEFAULT_REDIS_TIMEOUT)
        prefix = env.get(REDIS_PREFIX_ENV) or "tollgate:"
        client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        counters = RedisCounters(client, prefix=prefix, timeout=timeout, fail_open=fail == "open")
        return cls(counters, redis=SharedRedis(client, prefix, timeout))

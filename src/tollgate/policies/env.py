"""What `build(params, env)` is given besides the params: the shared services a policy may hold."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tollgate.policies.counters.base import Counters
from tollgate.policies.counters.memory import MemoryCounters

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from tollgate.gateway.targets import Target

__all__ = ["BuildEnv", "CostFunction", "SharedRedis"]

#: `cost(model, prompt_tokens, completion_tokens) -> USD` (tollgate.usage.pricing.cost in production).
CostFunction = Callable[[str | None, int | None, int | None], float]


def _no_cost(model: str | None, prompt: int | None, completion: int | None) -> float:
    return 0.0


@dataclass(frozen=True, slots=True)
class SharedRedis:
    """The process's Redis connection pool and settings (TOLLGATE_REDIS_*), shared by the limit counters
    and the response cache: one pool per process, one key prefix, one timeout per round trip."""

    client: Redis
    prefix: str
    timeout: float


@dataclass(frozen=True, slots=True)
class BuildEnv:
    """Per-attachment build inputs. `owner` names where the policy is attached, e.g. `LLMProvider/openai#0`
    (the counters' namespace); `counters`, `cost` and `redis` are shared by the whole process.

    `targets` maps each deployed provider's name to its upstream target (for a policy that calls a
    provider itself, e.g. for embeddings). The snapshot compiler fills it while it builds, so read it
    per request, not at build time.
    """

    owner: str
    counters: Counters = field(default_factory=MemoryCounters)
    cost: CostFunction = _no_cost
    redis: SharedRedis | None = None
    targets: Mapping[str, Target] = field(default_factory=dict)
    #: process-wide state kept across snapshot compiles (`PolicyServices.kept`), by a key of the policy's own
    kept: dict[str, object] = field(default_factory=dict)

"""What `build(params, env)` is given besides the params: the shared services a policy may hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tollgate.policies.counters.base import Counters
from tollgate.policies.counters.memory import MemoryCounters

__all__ = ["BuildEnv", "CostFunction"]

#: `cost(model, prompt_tokens, completion_tokens) -> USD` (tollgate.usage.pricing.cost in production).
CostFunction = Callable[[str | None, int | None, int | None], float]


def _no_cost(model: str | None, prompt: int | None, completion: int | None) -> float:
    return 0.0


@dataclass(frozen=True, slots=True)
class BuildEnv:
    """Per-attachment build inputs. `owner` names where the policy is attached, e.g. `LLMProvider/openai#0`
    (the counters' namespace); `counters` and `cost` are shared by the whole process."""

    owner: str
    counters: Counters = field(default_factory=MemoryCounters)
    cost: CostFunction = _no_cost

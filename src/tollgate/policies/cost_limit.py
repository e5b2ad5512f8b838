"""`cost-limit`: US dollars per window at the price table's list prices, reserved before the call, settled after.

The reservation is the cost of the token reservation (see token_limit); counts are kept in
micro-dollars. An unpriced model costs 0 (the price table warns once), so it is never refused for
cost: a budget cannot be spent on what cannot be priced.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from tollgate.policies.env import BuildEnv, CostFunction
from tollgate.policies.limits import Limiter, MeteredWindow
from tollgate.policies.reservation import ReservationParams, ReservingLimit
from tollgate.policies.view import ExchangeView
from tollgate.policies.windows import CostWindow, require_distinct_lengths
from tollgate.usage.record import TokenUsage

__all__ = ["NAME", "CostLimitParams", "CostLimitPolicy", "build"]

NAME = "cost-limit"
DESCRIPTION = "US dollars per window at list prices, reserved before the call and settled with metered usage."

MICRO = 1_000_000


class CostLimitParams(ReservationParams):
    limits: list[CostWindow] = Field(min_length=1, max_length=8, description="One or more windows, all enforced.")

    @model_validator(mode="after")
    def _distinct_windows(self) -> CostLimitParams:
        require_distinct_lengths([w.per for w in self.limits])
        return self


def micro_usd(cost: CostFunction, model: str | None, prompt: int | None, completion: int | None) -> int:
    return round(cost(model, prompt, completion) * MICRO)


class CostLimitPolicy(ReservingLimit):
    """Phases as token-limit (see `ReservingLimit`); the headers are `x-ratelimit-*-cost-usd`."""

    name = NAME
    what = "cost"

    def __init__(self, params: CostLimitParams, env: BuildEnv) -> None:
        windows = [MeteredWindow("cost-usd", w.per, round(w.usd * MICRO)) for w in params.limits]
        limiter = Limiter(env.owner, params, windows, env.counters, unit_scale={"cost-usd": MICRO})
        super().__init__(env.owner, params, limiter)
        self._cost = env.cost
        self._n = len(windows)

    def reserved(self, ex: ExchangeView, prompt: int, completion: int) -> list[int]:
        return [micro_usd(self._cost, ex.facts.model, prompt, completion)] * self._n

    def metered(self, model: str | None, usage: TokenUsage | None) -> list[int] | None:
        if usage is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
            return None
        return [micro_usd(self._cost, model, usage.prompt_tokens, usage.completion_tokens)] * self._n


def build(params: CostLimitParams, env: BuildEnv) -> CostLimitPolicy:
    return CostLimitPolicy(params, env)

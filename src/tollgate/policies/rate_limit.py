"""`rate-limit`: requests per window (several windows at once), per key, proxy, provider or end user."""

from __future__ import annotations

from pydantic import Field, model_validator

from tollgate.policies.env import BuildEnv
from tollgate.policies.limits import Limiter, LimitScopeParams, LimitTicket, MeteredWindow
from tollgate.policies.params import Duration, PolicyParams
from tollgate.policies.view import ExchangeView

__all__ = ["NAME", "RateLimitParams", "RateLimitPolicy", "build"]

NAME = "rate-limit"
DESCRIPTION = "Requests per window (e.g. 60 per minute and 1000 per day), per key, proxy, provider or end user."


class RequestWindow(PolicyParams):
    requests: int = Field(gt=0, le=1_000_000_000, description="Requests allowed per window.")
    per: Duration = Field(description="Window length: minute, hour, day, '90s', '5m', '1d' or seconds.")


class RateLimitParams(LimitScopeParams):
    limits: list[RequestWindow] = Field(min_length=1, max_length=8, description="One or more windows, all enforced.")

    @model_validator(mode="after")
    def _distinct_windows(self) -> RateLimitParams:
        lengths = [w.per for w in self.limits]
        if len(set(lengths)) != len(lengths):
            raise ValueError("limits: two windows have the same length; merge them")
        return self


class RateLimitPolicy:
    """Counts one per request before the upstream call; never settles (a request is a request)."""

    name = NAME

    def __init__(self, params: RateLimitParams, env: BuildEnv) -> None:
        self.params = params
        windows = [MeteredWindow("requests", w.per, w.requests) for w in params.limits]
        self.limiter = Limiter(env.owner, params, windows, env.counters)
        self._ones = (1,) * len(windows)

    async def admit(self, ex: ExchangeView) -> LimitTicket | None:
        """Charge this request, or raise LimitExceededError (429) / LimitsUnavailableError (503)."""
        route = ex.route
        assert route is not None
        scope = self.limiter.scope_value(route.provider, route.proxy, ex.key_id, ex.headers)
        if scope is None:
            return None
        return await self.limiter.acquire(scope, self._ones, "request")


def build(params: RateLimitParams, env: BuildEnv) -> RateLimitPolicy:
    return RateLimitPolicy(params, env)

"""`rate-limit`: requests per window (several windows at once), per key, proxy, provider or end user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from tollgate.errors import GatewayError
from tollgate.gateway.exchange import ExchangeKey
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.env import BuildEnv
from tollgate.policies.limits import Limiter, LimitScopeParams, LimitTicket, MeteredWindow
from tollgate.policies.view import ExchangeView
from tollgate.policies.windows import RequestWindow, require_distinct_lengths

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "RateLimitParams", "RateLimitPolicy", "build"]

NAME = "rate-limit"
DESCRIPTION = "Requests per window (e.g. 60 per minute and 1000 per day), per key, proxy, provider or end user."


class RateLimitParams(LimitScopeParams):
    limits: list[RequestWindow] = Field(min_length=1, max_length=8, description="One or more windows, all enforced.")

    @model_validator(mode="after")
    def _distinct_windows(self) -> RateLimitParams:
        require_distinct_lengths([w.per for w in self.limits])
        return self


class RateLimitPolicy(AttachedPolicy):
    """Counts one per request before the body is read; never settles (a request is a request).

    Phases: REQUEST_HEADERS (charge or 429), RESPONSE_HEADERS (the `x-ratelimit-*-requests` headers).
    """

    name = NAME

    def __init__(self, params: RateLimitParams, env: BuildEnv) -> None:
        super().__init__()
        self.params = params
        self._ticket: ExchangeKey[LimitTicket] = ExchangeKey(env.owner)
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

    async def on_request_headers(self, ex: Exchange) -> GatewayError | None:
        if not self.applies(ex):
            return None
        if self.limiter.is_local:  # in-process counters: no coroutine below this one
            route = ex.route
            assert route is not None
            scope = self.limiter.scope_value(route.provider, route.proxy, ex.key_id, ex.headers)
            ticket = None if scope is None else self.limiter.acquire_nowait(scope, self._ones, "request")
        else:
            ticket = await self.admit(ex)
        if ticket is not None:
            ex.set(self._ticket, ticket)
        return None

    def on_response_headers(self, ex: Exchange) -> GatewayError | None:
        ticket = ex.get(self._ticket)
        if ticket is not None:
            ex.response_headers.extend(ticket.headers())
        return None


def build(params: RateLimitParams, env: BuildEnv) -> RateLimitPolicy:
    return RateLimitPolicy(params, env)

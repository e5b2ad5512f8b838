"""`cost-limit`: US dollars per window at the price table's list prices, reserved before the call, settled after.

The reservation is the cost of the token reservation (see token_limit); counts are kept in
micro-dollars. An unpriced model costs 0 (the price table warns once), so it is never refused for
cost: a budget cannot be spent on what cannot be priced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from tollgate.errors import GatewayError
from tollgate.gateway.exchange import ExchangeKey
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.env import BuildEnv, CostFunction
from tollgate.policies.estimate import estimate_prompt_tokens, requested_max_tokens
from tollgate.policies.limits import Limiter, LimitTicket, MeteredWindow, require_distinct_lengths
from tollgate.policies.params import Duration, PolicyParams
from tollgate.policies.token_limit import ReservationParams
from tollgate.policies.view import ExchangeView
from tollgate.usage.record import TokenUsage

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "CostLimitParams", "CostLimitPolicy", "build"]

NAME = "cost-limit"
DESCRIPTION = "US dollars per window at list prices, reserved before the call and settled with metered usage."

MICRO = 1_000_000


class CostWindow(PolicyParams):
    usd: float = Field(gt=0, le=1_000_000_000, description="US dollars allowed per window.")
    per: Duration = Field(description="Window length: minute, hour, day, '90s', '5m', '1d' or seconds.")


class CostLimitParams(ReservationParams):
    limits: list[CostWindow] = Field(min_length=1, max_length=8, description="One or more windows, all enforced.")

    @model_validator(mode="after")
    def _distinct_windows(self) -> CostLimitParams:
        require_distinct_lengths([w.per for w in self.limits])
        return self


def micro_usd(cost: CostFunction, model: str | None, prompt: int | None, completion: int | None) -> int:
    return round(cost(model, prompt, completion) * MICRO)


class CostLimitPolicy(AttachedPolicy):
    """Phases as token-limit: REQUEST_BODY (reserve), RESPONSE_HEADERS (`x-ratelimit-*-cost-usd`), COMPLETION."""

    name = NAME
    needs_request_body = True

    def __init__(self, params: CostLimitParams, env: BuildEnv) -> None:
        super().__init__()
        self.params = params
        self._ticket: ExchangeKey[LimitTicket] = ExchangeKey(env.owner)
        self._cost = env.cost
        windows = [MeteredWindow("cost-usd", w.per, round(w.usd * MICRO)) for w in params.limits]
        self.limiter = Limiter(env.owner, params, windows, env.counters, unit_scale={"cost-usd": MICRO})
        self._n = len(windows)

    async def admit(self, ex: ExchangeView) -> LimitTicket | None:
        route = ex.route
        assert route is not None
        scope = self.limiter.scope_value(route.provider, route.proxy, ex.key_id, ex.headers)
        if scope is None:
            return None
        cap = requested_max_tokens(ex.body_obj)
        completion = self.params.default_max_tokens if cap is None else cap
        prompt = estimate_prompt_tokens(ex.body, self.params.bytes_per_token)
        reserved = micro_usd(self._cost, ex.facts.model, prompt, completion)
        return await self.limiter.acquire(scope, [reserved] * self._n, "cost")

    def metered(self, model: str | None, usage: TokenUsage | None) -> list[int] | None:
        if usage is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
            return None
        return [micro_usd(self._cost, model, usage.prompt_tokens, usage.completion_tokens)] * self._n

    async def settle(self, ticket: LimitTicket, model: str | None, usage: TokenUsage | None) -> None:
        amounts = self.metered(model, usage)
        if amounts is not None:
            await ticket.settle(amounts)

    async def refund(self, ticket: LimitTicket) -> None:
        await ticket.settle([0] * self._n)

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        if not self.applies(ex):
            return None
        ticket = await self.admit(ex)
        if ticket is not None:
            ex.set(self._ticket, ticket)
        return None

    def on_response_headers(self, ex: Exchange) -> GatewayError | None:
        ticket = ex.get(self._ticket)
        if ticket is not None:
            ex.response_headers.extend(ticket.headers())
        return None

    def on_completion(self, ex: Exchange) -> None:
        ticket = ex.get(self._ticket)
        if ticket is None:
            return
        result = ex.result
        if result is None:
            amounts: list[int] | None = [0] * self._n
        else:
            amounts = self.metered(result.response_model or ex.facts.model, result.usage)
        if amounts is not None and not ticket.settle_nowait(amounts):
            self.spawn(ticket.settle(amounts))


def build(params: CostLimitParams, env: BuildEnv) -> CostLimitPolicy:
    return CostLimitPolicy(params, env)

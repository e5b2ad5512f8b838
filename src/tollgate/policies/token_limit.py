"""`token-limit`: prompt, completion or total tokens per window, reserved before the call, settled after.

Before the upstream call each window is charged an estimate: the prompt's (body size /
`bytesPerToken`) and the completion's (the request's own cap, `max_tokens` and kin, else
`defaultMaxTokens`). A request only passes if every window has room for the whole reservation.
When the response's usage is known, each window is corrected to the metered count.

The bound (docs/policies.md): within a window, counted usage never exceeds the limit by more than
the sum, over requests admitted while the window was open, of what each one used beyond its own
reservation. A request that states its cap and whose prompt estimate is high enough (the default
over-counts) can never push a window past its limit, however many run at once; a request without a
cap can overshoot by at most (its completion - `defaultMaxTokens`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from tollgate.errors import GatewayError
from tollgate.gateway.exchange import ExchangeKey
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.env import BuildEnv
from tollgate.policies.estimate import DEFAULT_BYTES_PER_TOKEN, estimate_prompt_tokens, requested_max_tokens
from tollgate.policies.limits import Limiter, LimitScopeParams, LimitTicket, MeteredWindow
from tollgate.policies.params import Duration, PolicyParams
from tollgate.policies.view import ExchangeView
from tollgate.usage.record import TokenUsage

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "TokenLimitParams", "TokenLimitPolicy", "build"]

NAME = "token-limit"
DESCRIPTION = "Tokens per window (prompt, completion or total), reserved before the call and settled after."

Counted = Literal["total", "prompt", "completion"]
_METRICS: dict[str, str] = {"total": "tokens", "prompt": "prompt-tokens", "completion": "completion-tokens"}


class TokenWindow(PolicyParams):
    tokens: int = Field(gt=0, le=10**12, description="Tokens allowed per window.")
    per: Duration = Field(description="Window length: minute, hour, day, '90s', '5m', '1d' or seconds.")
    count: Counted = Field(default="total", description="Which tokens count: total, prompt or completion.")


class ReservationParams(LimitScopeParams):
    """How token and cost limits size their reservation before the call."""

    default_max_tokens: int = Field(
        default=1024,
        ge=0,
        le=10_000_000,
        description="Completion tokens reserved for a request that sets no max_tokens (or its API's equivalent).",
    )
    bytes_per_token: float = Field(
        default=DEFAULT_BYTES_PER_TOKEN,
        ge=0.5,
        le=16,
        description="Request body bytes per estimated prompt token (lower reserves more).",
    )


class TokenLimitParams(ReservationParams):
    limits: list[TokenWindow] = Field(min_length=1, max_length=8, description="One or more windows, all enforced.")

    @model_validator(mode="after")
    def _distinct_windows(self) -> TokenLimitParams:
        seen = [(w.per, w.count) for w in self.limits]
        if len(set(seen)) != len(seen):
            raise ValueError("limits: two windows count the same tokens over the same length; merge them")
        return self


class TokenLimitPolicy(AttachedPolicy):
    """Reserve in `admit`, correct in `settle`; one instance per attachment, shared by its requests.

    Phases: REQUEST_BODY (reserve or 429), RESPONSE_HEADERS (`x-ratelimit-*-tokens`), COMPLETION
    (settle with the metered usage, off the request path).
    """

    name = NAME
    needs_request_body = True

    def __init__(self, params: TokenLimitParams, env: BuildEnv) -> None:
        super().__init__()
        self.params = params
        self._ticket: ExchangeKey[LimitTicket] = ExchangeKey(env.owner)
        self._counted = tuple(w.count for w in params.limits)
        windows = [MeteredWindow(_METRICS[w.count], w.per, w.tokens) for w in params.limits]
        self.limiter = Limiter(env.owner, params, windows, env.counters)

    def reservation(self, ex: ExchangeView) -> tuple[int, int]:
        """(prompt estimate, completion reservation) for this request."""
        cap = requested_max_tokens(ex.body_obj)
        completion = self.params.default_max_tokens if cap is None else cap
        return estimate_prompt_tokens(ex.body, self.params.bytes_per_token), completion

    async def admit(self, ex: ExchangeView) -> LimitTicket | None:
        """Reserve, or raise LimitExceededError (429) / LimitsUnavailableError (503)."""
        route = ex.route
        assert route is not None
        scope = self.limiter.scope_value(route.provider, route.proxy, ex.key_id, ex.headers)
        if scope is None:
            return None
        prompt, completion = self.reservation(ex)
        return await self.limiter.acquire(scope, self.amounts(prompt, completion), "token")

    def amounts(self, prompt: int, completion: int) -> list[int]:
        total = prompt + completion
        return [total if k == "total" else prompt if k == "prompt" else completion for k in self._counted]

    def metered(self, usage: TokenUsage | None) -> list[int] | None:
        """Per window, what the metered usage counts; None when the usage is unknown (keep the reservation)."""
        if usage is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
            return None
        prompt = usage.prompt_tokens or 0
        completion = usage.completion_tokens or 0
        total = usage.total_tokens or prompt + completion
        return [total if k == "total" else prompt if k == "prompt" else completion for k in self._counted]

    async def settle(self, ticket: LimitTicket, usage: TokenUsage | None) -> None:
        """Correct the reservation to the metered usage; unknown usage keeps the reservation."""
        amounts = self.metered(usage)
        if amounts is not None:
            await ticket.settle(amounts)

    async def refund(self, ticket: LimitTicket) -> None:
        """The upstream never answered: nothing was used."""
        await ticket.settle([0] * len(self._counted))

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
        # no answer, or an error answer: nothing was generated
        amounts = [0] * len(self._counted) if result is None else self.metered(result.usage)
        if amounts is not None and not ticket.settle_nowait(amounts):
            self.spawn(ticket.settle(amounts))


def build(params: TokenLimitParams, env: BuildEnv) -> TokenLimitPolicy:
    return TokenLimitPolicy(params, env)

"""What token-limit and cost-limit share: reserve before the call, answer with the window headers,
settle with the metered usage after (refund when nothing was generated).

The two differ only in what one request is worth per window (tokens or micro-dollars), before the
call (`reserved`) and after it (`metered`); everything else lives here once.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from tollgate.errors import GatewayError
from tollgate.gateway.exchange import ExchangeKey
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.estimate import DEFAULT_BYTES_PER_TOKEN, estimate_prompt_tokens, requested_max_tokens
from tollgate.policies.limits import Limiter, LimitScopeParams, LimitTicket
from tollgate.policies.view import ExchangeView
from tollgate.usage.record import TokenUsage

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["ReservationParams", "ReservingLimit"]


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


class ReservingLimit(AttachedPolicy):
    """A limit that reserves in REQUEST_BODY (or 429), adds its `x-ratelimit-*` headers in
    RESPONSE_HEADERS and settles in COMPLETION (off the request path when the counters are remote).

    One instance per attachment, shared by its requests; the ticket of one request lives on its exchange.
    """

    needs_request_body = True
    #: names the limit in a 429 message ("token", "cost")
    what: ClassVar[str] = "limit"

    def __init__(self, owner: str, params: ReservationParams, limiter: Limiter) -> None:
        super().__init__()
        self.params = params
        self.limiter = limiter
        self._ticket: ExchangeKey[LimitTicket] = ExchangeKey(owner)
        self._zeros = [0] * len(limiter.windows)

    @abstractmethod
    def reserved(self, ex: ExchangeView, prompt: int, completion: int) -> list[int]:
        """Per window, what a request estimated at `prompt` + `completion` tokens reserves."""

    @abstractmethod
    def metered(self, model: str | None, usage: TokenUsage | None) -> list[int] | None:
        """Per window, what the metered usage counts; None when it is unknown (keep the reservation)."""

    def reservation(self, ex: ExchangeView) -> tuple[int, int]:
        """(prompt estimate, completion reservation) for this request."""
        cap = requested_max_tokens(ex.body_obj)
        completion = self.params.default_max_tokens if cap is None else cap
        return estimate_prompt_tokens(ex.body, self.params.bytes_per_token), completion

    async def admit(self, ex: ExchangeView) -> LimitTicket | None:
        """Reserve, or raise LimitExceededError (429) / LimitsUnavailableError (503); None when out of scope."""
        route = ex.route
        assert route is not None
        scope = self.limiter.scope_value(route.provider, route.proxy, ex.key_id, ex.headers)
        if scope is None:
            return None
        prompt, completion = self.reservation(ex)
        return await self.limiter.acquire(scope, self.reserved(ex, prompt, completion), self.what)

    def admit_nowait(self, ex: ExchangeView) -> LimitTicket | None:
        """`admit` on in-process counters (`limiter.is_local`), without a coroutine."""
        route = ex.route
        assert route is not None
        scope = self.limiter.scope_value(route.provider, route.proxy, ex.key_id, ex.headers)
        if scope is None:
            return None
        prompt, completion = self.reservation(ex)
        return self.limiter.acquire_nowait(scope, self.reserved(ex, prompt, completion), self.what)

    async def settle(self, ticket: LimitTicket, model: str | None, usage: TokenUsage | None) -> None:
        """Correct the reservation to the metered usage; unknown usage keeps the reservation."""
        amounts = self.metered(model, usage)
        if amounts is not None:
            await ticket.settle(amounts)

    async def refund(self, ticket: LimitTicket) -> None:
        """The upstream never answered: nothing was used."""
        await ticket.settle(self._zeros)

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        if not self.applies(ex):
            return None
        ticket = self.admit_nowait(ex) if self.limiter.is_local else await self.admit(ex)
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
        amounts = self._zeros if result is None else self.metered(result.response_model or ex.facts.model, result.usage)
        if amounts is not None and not ticket.settle_nowait(amounts):
            self.spawn(ticket.settle(amounts))

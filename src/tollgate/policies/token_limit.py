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

from pydantic import Field, model_validator

from tollgate.policies.env import BuildEnv
from tollgate.policies.limits import Limiter, MeteredWindow
from tollgate.policies.reservation import ReservationParams, ReservingLimit
from tollgate.policies.view import ExchangeView
from tollgate.policies.windows import TokenWindow, require_distinct_token_windows
from tollgate.usage.record import TokenUsage

__all__ = ["NAME", "ReservationParams", "TokenLimitParams", "TokenLimitPolicy", "build"]

NAME = "token-limit"
DESCRIPTION = "Tokens per window (prompt, completion or total), reserved before the call and settled after."

_METRICS: dict[str, str] = {"total": "tokens", "prompt": "prompt-tokens", "completion": "completion-tokens"}


class TokenLimitParams(ReservationParams):
    limits: list[TokenWindow] = Field(min_length=1, max_length=8, description="One or more windows, all enforced.")

    @model_validator(mode="after")
    def _distinct_windows(self) -> TokenLimitParams:
        require_distinct_token_windows(self.limits)
        return self


class TokenLimitPolicy(ReservingLimit):
    """Reserve in `admit`, correct in `settle` (see `ReservingLimit` for the phases); the headers are
    `x-ratelimit-*-tokens` (or `-prompt-tokens`, `-completion-tokens`)."""

    name = NAME
    what = "token"

    def __init__(self, params: TokenLimitParams, env: BuildEnv) -> None:
        windows = [MeteredWindow(_METRICS[w.count], w.per, w.tokens) for w in params.limits]
        super().__init__(env.owner, params, Limiter(env.owner, params, windows, env.counters))
        self._counted = tuple(w.count for w in params.limits)

    def reserved(self, ex: ExchangeView, prompt: int, completion: int) -> list[int]:
        return self.amounts(prompt, completion)

    def amounts(self, prompt: int, completion: int) -> list[int]:
        total = prompt + completion
        return [total if k == "total" else prompt if k == "prompt" else completion for k in self._counted]

    def metered(self, model: str | None, usage: TokenUsage | None) -> list[int] | None:
        if usage is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
            return None
        prompt = usage.prompt_tokens or 0
        completion = usage.completion_tokens or 0
        total = usage.total_tokens or prompt + completion
        return [total if k == "total" else prompt if k == "prompt" else completion for k in self._counted]


def build(params: TokenLimitParams, env: BuildEnv) -> TokenLimitPolicy:
    return TokenLimitPolicy(params, env)

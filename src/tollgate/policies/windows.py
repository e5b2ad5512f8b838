"""The window parameter models of the limits (requests, tokens, dollars per window), shared by the
limit policies and by an APIKey's own `spec.limits`.

A leaf module (pydantic and `params` only): the resource models import it to validate an APIKey
document at apply time without importing the gateway. Nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator

from tollgate.policies.params import Duration, PolicyParams

__all__ = [
    "CostWindow",
    "Counted",
    "KeyLimits",
    "RequestWindow",
    "TokenWindow",
    "require_distinct_lengths",
    "require_distinct_token_windows",
]

Counted = Literal["total", "prompt", "completion"]
#: Most windows one limit list may have.
MAX_WINDOWS = 8


class RequestWindow(PolicyParams):
    requests: int = Field(gt=0, le=1_000_000_000, description="Requests allowed per window.")
    per: Duration = Field(description="Window length: minute, hour, day, '90s', '5m', '1d' or seconds.")


class TokenWindow(PolicyParams):
    tokens: int = Field(gt=0, le=10**12, description="Tokens allowed per window.")
    per: Duration = Field(description="Window length: minute, hour, day, '90s', '5m', '1d' or seconds.")
    count: Counted = Field(default="total", description="Which tokens count: total, prompt or completion.")


class CostWindow(PolicyParams):
    usd: float = Field(gt=0, le=1_000_000_000, description="US dollars allowed per window.")
    per: Duration = Field(description="Window length: minute, hour, day, '90s', '5m', '1d' or seconds.")


def require_distinct_lengths(lengths: Sequence[float]) -> None:
    """Params check shared by the window lists: two windows of one length would count the same thing
    twice (the second one is the one to merge into the first)."""
    if len(set(lengths)) != len(lengths):
        raise ValueError("limits: two windows have the same length; merge them")


def require_distinct_token_windows(windows: Sequence[TokenWindow]) -> None:
    seen = [(w.per, w.count) for w in windows]
    if len(set(seen)) != len(seen):
        raise ValueError("limits: two windows count the same tokens over the same length; merge them")


class KeyLimits(PolicyParams):
    """An APIKey's own limits (`spec.limits`): counted per key, whatever route-level limits also apply.

    Every list is optional; at least one thing must be set. `models` restricts which request models
    the key may use (exact names or `*` patterns); a request naming none is refused on a model call.
    """

    requests: list[RequestWindow] = Field(
        default_factory=list, max_length=MAX_WINDOWS, description="Requests per window (all enforced)."
    )
    tokens: list[TokenWindow] = Field(
        default_factory=list, max_length=MAX_WINDOWS, description="Tokens per window, reserved and settled."
    )
    cost: list[CostWindow] = Field(
        default_factory=list, max_length=MAX_WINDOWS, description="US dollars per window at list prices."
    )
    models: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list,
        max_length=1000,
        description="Models the key may use (exact names or patterns like 'gpt-4o*'); empty = any.",
    )

    @model_validator(mode="after")
    def _check(self) -> KeyLimits:
        if not (self.requests or self.tokens or self.cost or self.models):
            raise ValueError("give at least one of requests, tokens, cost or models")
        require_distinct_lengths([w.per for w in self.requests])
        require_distinct_token_windows(self.tokens)
        require_distinct_lengths([w.per for w in self.cost])
        return self

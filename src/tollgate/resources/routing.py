"""The routing settings of an LLMProxy on several providers: which target a request tries first
(`routing`), how it fails over (`failover`) and when a failing target is passed over (`circuitBreaker`).

Shape and values only, checked when a document is applied; the names they refer to are checked
against the proxy's own providers by `ProxySpec`. Compiled for the data plane by `gateway/selection.py`
and `gateway/failover.py`; nothing here runs per request.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["STRATEGIES", "CircuitBreakerSpec", "FailoverSpec", "RoutingSpec", "Strategy"]

#: How the first target of a request is chosen (docs/routing-and-translation.md explains each).
Strategy = Literal["ordered", "round-robin", "weighted", "lowest-latency", "header", "hash", "model"]
STRATEGIES: tuple[str, ...] = ("ordered", "round-robin", "weighted", "lowest-latency", "header", "hash", "model")
#: An HTTP field name (RFC 9110 token characters).
_HEADER_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_PROVIDER_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
#: Headers that carry credentials: a sticky hash or a selector on them would key routing on a secret.
_SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "proxy-authorization"}
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


ModelName = Annotated[str, Field(min_length=1, max_length=256)]
ProviderName = Annotated[str, Field(pattern=_PROVIDER_NAME)]


class ModelRoute(_Spec):
    """One provider a model name (or alias) goes to, and the model it is sent as there."""

    provider: ProviderName = Field(description="One of the proxy's providers (by name or alias).")
    model: ModelName | None = Field(default=None, description="The model sent to that provider (default: as asked).")


class RoutingSpec(_Spec):
    """Which of the proxy's providers a request tries first; the others follow as failover targets."""

    strategy: Strategy = Field(
        default="ordered",
        description="ordered (provider, then fallbacks), round-robin, weighted, lowest-latency, header "
        "(the target a request header names) or hash (sticky: a hash of a request header).",
    )
    weights: dict[Annotated[str, Field(pattern=_PROVIDER_NAME)], Annotated[int, Field(ge=0, le=1000)]] = Field(
        default_factory=dict,
        description="weighted: provider name -> weight (0-1000; a provider left out weighs 1, 0 = failover only).",
    )
    header: str | None = Field(
        default=None,
        description="header: the request header naming the provider to use; hash: the header whose value is "
        "hashed (e.g. x-user-id; absent = the API key id).",
    )
    models: dict[ModelName, list[ModelRoute]] = Field(
        default_factory=dict,
        description="model: requested model (or alias such as 'fast') -> the providers it goes to, in failover "
        "order, each with the model it is sent as there. One entry may be given without the list.",
    )
    aliases: dict[ProviderName, ProviderName] = Field(
        default_factory=dict,
        description="model and header: alias -> provider name, so clients may write 'alias/model' or send the "
        "alias in the header (a provider's own name always works).",
    )
    smoothing: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="lowest-latency: weight of the newest sample in the moving average of time to first byte.",
    )
    decay: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="lowest-latency: seconds after which an unused target's average counts e^-1 of itself, so a "
        "target that was slow once is tried again later.",
    )

    @field_validator("models", mode="before")
    @classmethod
    def _one_or_list(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value

    @field_validator("models")
    @classmethod
    def _not_empty(cls, value: dict[str, list[ModelRoute]]) -> dict[str, list[ModelRoute]]:
        for name, routes in value.items():
            if not routes:
                raise ValueError(f"{name!r}: name at least one provider")
        return value

    @field_validator("header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _HEADER_RE.match(value):
            raise ValueError("must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-, at most 64)")
        if value.lower() in _SECRET_HEADERS:
            raise ValueError(f"{value!r} carries credentials; route on another header")
        return value.lower()

    @model_validator(mode="after")
    def _fits_strategy(self) -> RoutingSpec:
        if self.weights and self.strategy != "weighted":
            raise ValueError(f"weights apply only to strategy 'weighted', not {self.strategy!r}")
        if self.strategy == "weighted" and not self.weights:
            raise ValueError("strategy 'weighted' needs weights (provider name -> weight)")
        if self.strategy == "weighted" and not any(self.weights.values()):
            raise ValueError("weights: at least one provider needs a weight above 0")
        if self.strategy == "header" and self.header is None:
            raise ValueError("strategy 'header' needs header (the request header naming the provider)")
        if self.header is not None and self.strategy not in ("header", "hash"):
            raise ValueError(f"header applies only to strategies 'header' and 'hash', not {self.strategy!r}")
        if self.models and self.strategy != "model":
            raise ValueError(f"models apply only to strategy 'model', not {self.strategy!r}")
        if self.aliases and self.strategy not in ("model", "header"):
            raise ValueError(f"aliases apply only to strategies 'model' and 'header', not {self.strategy!r}")
        return self

    def names_used(self) -> dict[str, str]:
        """Field path -> provider name (or alias) for every name this block refers to (checked by ProxySpec)."""
        used = {f"routing.weights.{name}": name for name in self.weights}
        for model, routes in self.models.items():
            for index, route in enumerate(routes):
                used[f"routing.models.{model}.{index}.provider"] = route.provider
        return used


class Backoff(_Spec):
    initial: float = Field(default=0.025, ge=0, le=5, description="Seconds: the first wait is random in [0, initial].")
    max: float = Field(default=0.25, ge=0, le=30, description="Seconds: no wait between attempts is longer.")


class RetryBudget(_Spec):
    ratio: float = Field(
        default=0.2,
        ge=0,
        le=10,
        description="Retries allowed per request over the last 10 s (0.2: at most one retry per five requests).",
    )
    min_per_second: float = Field(
        default=3.0,
        ge=0,
        le=10_000,
        alias="minPerSecond",
        description="Retries always allowed per second on top of the ratio, so a quiet proxy can still fail over.",
    )


class FailoverSpec(_Spec):
    """How a request moves on to the next target before the first byte reached the client."""

    max_attempts: int | None = Field(
        default=None,
        ge=1,
        le=10,
        alias="maxAttempts",
        description="Upstream attempts per request at most (default: one per provider). Above the number of "
        "providers, targets are tried again in the same order.",
    )
    budget: RetryBudget = Field(default_factory=RetryBudget, description="How many retries the proxy may make.")
    backoff: Backoff = Field(default_factory=Backoff, description="Wait between attempts (full jitter, doubling).")
    max_retry_after: float = Field(
        default=2.0,
        ge=0,
        le=60,
        alias="maxRetryAfter",
        description="A Retry-After up to this many seconds is waited for before trying that same target again; "
        "a longer one moves on to another target (or answers the client).",
    )

    @model_validator(mode="after")
    def _bounded(self) -> FailoverSpec:
        if self.backoff.initial > self.backoff.max:
            raise ValueError(
                f"backoff.initial ({self.backoff.initial}) must not exceed backoff.max ({self.backoff.max})"
            )
        return self


class CircuitBreakerSpec(_Spec):
    """When a failing target is passed over, and how it comes back (a half-open trial request)."""

    failures: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Consecutive failures (connect error, timeout, retried status) that suspend a target.",
    )
    suspend_for: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        alias="suspendFor",
        description="Seconds a suspended target is passed over; then one request tries it (half-open).",
    )
    max_suspend: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        alias="maxSuspend",
        description="A 429 or 503 with Retry-After suspends its target that long at once, up to this many seconds.",
    )

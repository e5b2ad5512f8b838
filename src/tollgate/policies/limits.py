"""What the three limit policies share: scopes, counter keys, rate-limit headers, reserve and settle.

`Limiter` is compiled once per attached limit policy. Per request it derives the scope value (key
id, proxy, provider or an end-user header), charges every window in one counter call, and returns a
`LimitTicket` that renders the `x-ratelimit-*` headers and later settles the reservation. It does
not know what is counted (requests, tokens, dollars): the policy passes amounts per window.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from tollgate.errors import GatewayError, RateLimitedError
from tollgate.policies.counters.base import Acquired, Counters, CountersUnavailableError, Window, WindowState
from tollgate.policies.params import PolicyParams
from tollgate.types import HeaderList

__all__ = [
    "LimitExceededError",
    "LimitScopeParams",
    "LimitTicket",
    "Limiter",
    "LimitsUnavailableError",
    "MeteredWindow",
]

Scope = Literal["key", "proxy", "provider", "user"]
#: Longest scope value kept verbatim in a counter key; longer ones (user ids) are hashed.
_MAX_SCOPE_VALUE = 64


class LimitScopeParams(PolicyParams):
    """Parameters every limit policy has: who is counted together, and how windows move."""

    scope: Scope = Field(
        default="key",
        description="Who shares the counters: each API key, the whole proxy, the whole provider (every proxy "
        "on it), or each end user named by `userHeader`.",
    )
    user_header: str = Field(
        default="x-tollgate-user",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        description="Request header naming the end user when scope is 'user'.",
    )
    missing_user: Literal["skip", "shared"] = Field(
        default="skip",
        description="scope 'user' and no header: 'skip' the limit, or count all such requests together.",
    )
    algorithm: Literal["fixed", "sliding"] = Field(
        default="sliding",
        description="'fixed' resets at each period boundary; 'sliding' weighs the previous period in, "
        "so no burst of twice the limit at a boundary.",
    )
    retry_horizon: int = Field(
        default=60,
        ge=0,
        le=86400,
        description="Seconds: a 429 whose window resets further ahead says x-should-retry: false, so SDKs "
        "give up at once instead of waiting.",
    )


class LimitExceededError(RateLimitedError):
    """429 from a limit policy, with the `x-ratelimit-*` headers (and `x-should-retry`) of the refusal."""

    def __init__(self, message: str, *, retry_after: float | None, headers: HeaderList) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers = headers


class LimitsUnavailableError(GatewayError):
    """503: the shared counters are down and the switch says fail closed."""

    status = 503
    code = "limits_unavailable"
    kind = "api_error"


@dataclass(frozen=True, slots=True)
class MeteredWindow:
    """A compiled window: what it counts (`metric`, the header suffix), its length and limit."""

    metric: str
    seconds: int
    limit: int


class LimitTicket:
    """One request's charge on one limit policy: the headers to answer with, then `settle`."""

    __slots__ = ("_counters", "_limiter", "amounts", "slots", "states")

    def __init__(
        self,
        limiter: Limiter,
        counters: Counters,
        slots: tuple[str, ...],
        amounts: Sequence[int],
        states: tuple[WindowState, ...],
    ) -> None:
        self._limiter = limiter
        self._counters = counters
        self.slots = slots
        self.amounts = tuple(amounts)
        self.states = states

    def headers(self) -> HeaderList:
        """`x-ratelimit-limit-<metric>`, `-remaining-`, `-reset-` of the tightest window per metric."""
        return self._limiter.headers(self.states)

    async def settle(self, actual: Sequence[int]) -> None:
        """Replace the reserved amounts by the metered ones (per window, same order)."""
        if not self.slots:
            return
        deltas = [a - r for a, r in zip(actual, self.amounts, strict=True)]
        if any(deltas):
            await self._counters.adjust(self.slots, deltas)

    def settle_nowait(self, actual: Sequence[int]) -> bool:
        """`settle` at once when the counters are in-process; False when it must be awaited (Redis)."""
        if not self.slots:
            return True
        deltas = [a - r for a, r in zip(actual, self.amounts, strict=True)]
        return not any(deltas) or self._counters.adjust_nowait(self.slots, deltas)


class Limiter:
    """The compiled counting part of one attached limit policy; shared by every request of the route.

    `owner` identifies where the policy is attached (`LLMProvider/openai#0`), so a provider's
    counters are shared by all its proxies while two policies never share a counter by accident.
    """

    def __init__(
        self,
        owner: str,
        params: LimitScopeParams,
        windows: Sequence[MeteredWindow],
        counters: Counters,
        *,
        unit_scale: dict[str, float] | None = None,
    ) -> None:
        self._owner = owner
        self._scope = params.scope
        self._user_header = params.user_header.lower().encode()
        self._missing_user = params.missing_user
        self._horizon = params.retry_horizon
        self._counters = counters
        #: in-process counters: charge without awaiting anything
        self.is_local = counters.is_local
        self.windows = tuple(windows)
        sliding = params.algorithm == "sliding"
        #: compiled once; per request only the scope prefix of their keys changes
        self._windows = tuple(Window(f"{w.metric}:{w.seconds}", w.seconds, w.limit, sliding) for w in self.windows)
        self._single = len(self.windows) == 1
        #: metric -> divisor to show counts in the header's unit (micro-dollars -> dollars)
        self._scale = unit_scale or {}
        self._names = {
            w.metric: (
                f"x-ratelimit-limit-{w.metric}".encode(),
                f"x-ratelimit-remaining-{w.metric}".encode(),
                f"x-ratelimit-reset-{w.metric}".encode(),
            )
            for w in self.windows
        }

    def scope_value(self, provider: str, proxy: str | None, key_id: str | None, headers: HeaderList) -> str | None:
        """The counter key part for this request; None when the limit does not apply to it."""
        scope = self._scope
        if scope == "key":
            return f"key={key_id or '-'}"
        if scope == "proxy":
            return f"proxy={proxy or provider}"
        if scope == "provider":
            return f"provider={provider}"
        name = self._user_header
        user = next((v for n, v in headers if n == name), None)
        if user is None or not user:
            return None if self._missing_user == "skip" else "user="
        text = user.decode("latin-1")
        if len(text) > _MAX_SCOPE_VALUE or ":" in text:
            text = "#" + hashlib.sha256(user).hexdigest()[:32]
        return f"user={text}"

    async def acquire(self, scope_value: str, amounts: Sequence[int], what: str) -> LimitTicket:
        """Charge `amounts` (one per window) or raise LimitExceededError / LimitsUnavailableError.

        `what` names the limit in the 429 message ("request", "token", "cost").
        """
        if self.is_local:
            return self.acquire_nowait(scope_value, amounts, what)
        try:
            got = await self._counters.acquire(self._windows, amounts, f"{self._owner}:{scope_value}:")
        except CountersUnavailableError:
            raise LimitsUnavailableError("Limits cannot be checked right now; try again shortly.") from None
        return self._ticket(got, amounts, what)

    def acquire_nowait(self, scope_value: str, amounts: Sequence[int], what: str) -> LimitTicket:
        """`acquire` on in-process counters (`is_local`), without a coroutine."""
        got = self._counters.acquire_nowait(self._windows, amounts, f"{self._owner}:{scope_value}:")
        return self._ticket(got, amounts, what)

    def _ticket(self, got: Acquired, amounts: Sequence[int], what: str) -> LimitTicket:
        if got.allowed:
            return LimitTicket(self, self._counters, got.slots, amounts, got.states)
        headers = self.headers(got.states)
        retry = got.retry_after
        if math.isinf(retry):
            headers.append((b"x-should-retry", b"false"))
            raise LimitExceededError(
                f"This request needs more than the whole {what} limit allows per window.",
                retry_after=None,
                headers=headers,
            )
        if retry > self._horizon:
            headers.append((b"x-should-retry", b"false"))
        seconds = math.ceil(retry)
        raise LimitExceededError(
            f"{what.capitalize()} limit exceeded; the window has room again in {seconds} s.",
            retry_after=retry,
            headers=headers,
        )

    def headers(self, states: Sequence[WindowState]) -> HeaderList:
        if self._single and states:  # the usual case: one window, no comparison
            window, state = self.windows[0], states[0]
            limit_name, remaining_name, reset_name = self._names[window.metric]
            scale = self._scale.get(window.metric)
            return [
                (limit_name, _amount(state.limit, scale)),
                (remaining_name, _amount(max(0, state.remaining), scale)),
                (reset_name, b"%ds" % math.ceil(state.reset_after)),
            ]
        tightest: dict[str, tuple[MeteredWindow, WindowState]] = {}
        for window, state in zip(self.windows, states, strict=False):
            seen = tightest.get(window.metric)
            if seen is None or state.remaining < seen[1].remaining:
                tightest[window.metric] = (window, state)
        out: HeaderList = []
        for metric, (_, state) in tightest.items():
            limit_name, remaining_name, reset_name = self._names[metric]
            scale = self._scale.get(metric)
            out.append((limit_name, _amount(state.limit, scale)))
            out.append((remaining_name, _amount(max(0, state.remaining), scale)))
            out.append((reset_name, f"{math.ceil(state.reset_after)}s".encode()))
        return out


def _amount(value: int, scale: float | None) -> bytes:
    if scale is None:
        return str(value).encode()
    return f"{value / scale:.6f}".rstrip("0").rstrip(".").encode() or b"0"

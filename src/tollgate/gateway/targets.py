"""Upstream targets of a route: one backend behind one pool, with its credential, limits and health.

A route holds a tuple of targets so routing can choose among them and fail over to the next one
before the first byte reaches the client. Targets are built at snapshot compile; only their
`TargetHealth` changes at run time (from the event loop thread, no locks).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from tollgate.gateway.upstream import Timeout, UpstreamPool
from tollgate.providers.base import Backend, Translator
from tollgate.types import HeaderList

__all__ = ["DEFAULT_COOLDOWN", "Target", "TargetHealth", "first_available"]

#: Seconds a target that failed to connect is passed over while others are available.
DEFAULT_COOLDOWN = 5.0


class TargetHealth:
    """Passive health of one target: a circuit breaker and a moving average of its time to first byte.

    Closed (`down_until == 0`): the target serves. Open (`now < down_until`): passed over. Half-open
    (the suspension ran out): `acquire` lets exactly one request through as a trial (`probing`); its
    success closes the breaker, its failure opens it again. Shared by every route and snapshot that
    keeps the same provider (by name), mutated only from the event loop thread (no locks).
    """

    __slots__ = ("down_until", "ewma_at", "ewma_ms", "failures", "probing")

    def __init__(self) -> None:
        self.failures = 0
        self.down_until = 0.0
        self.probing = False
        self.ewma_ms: float | None = None
        self.ewma_at = 0.0

    def failed(self, cooldown: float = DEFAULT_COOLDOWN, threshold: int = 1, now: float | None = None) -> None:
        """One more consecutive failure; at `threshold` (or while half-open) the target is suspended."""
        self.failures += 1
        self.probing = False
        if self.failures >= threshold:
            self.down_until = (time.monotonic() if now is None else now) + cooldown

    def suspend(self, seconds: float, now: float) -> None:
        """Pass the target over for `seconds` at once (the upstream asked, with Retry-After)."""
        self.probing = False
        self.down_until = max(self.down_until, now + seconds)

    def succeeded(self) -> None:
        if self.failures or self.down_until or self.probing:
            self.failures = 0
            self.down_until = 0.0
            self.probing = False

    def acquire(self, now: float) -> bool:
        """Whether a request may go to this target now; a half-open target admits one trial at a time."""
        if self.down_until == 0.0:
            return True
        if now < self.down_until or self.probing:
            return False
        self.probing = True
        return True

    def release(self) -> None:
        """The trial ended without a verdict (the client left): let the next request try."""
        self.probing = False

    def observe(self, ms: float, now: float, smoothing: float, decay: float) -> None:
        """Fold one time-to-first-byte sample into the moving average (decayed for the time unused)."""
        ewma = self.ewma_ms
        if ewma is None:
            self.ewma_ms = ms
        else:
            self.ewma_ms = smoothing * ms + (1.0 - smoothing) * ewma * math.exp((self.ewma_at - now) / decay)
        self.ewma_at = now

    def latency(self, now: float, decay: float) -> float:
        """The expected time to first byte, decayed towards 0 while unused; 0 before any sample."""
        ewma = self.ewma_ms
        return 0.0 if ewma is None else ewma * math.exp((self.ewma_at - now) / decay)

    @property
    def is_up(self) -> bool:
        return self.down_until == 0.0 or time.monotonic() >= self.down_until


@dataclass(frozen=True, slots=True)
class Target:
    """One upstream a route may send a request to; everything per target is prebuilt here.

    `translator` is the one for the route's client API and this target's backend (pass-through when
    they are the same vendor). `unavailable` says why the target cannot serve (no URL, credential
    missing); such a target answers 503 when picked.
    """

    name: str
    backend: Backend
    translator: Translator
    pool: UpstreamPool | None
    base_path: str
    fixed_headers: bytes  # credential + fixed header lines, preformatted, sent with every request
    default_headers: HeaderList  # added only when the client sent none of that name
    credential_query: str  # "name=value" appended to the upstream query, or ""
    strip_query: frozenset[str]
    timeout: Timeout
    health: TargetHealth
    unavailable: str | None = None

    def target_url(self, path: str, query: str) -> str:
        """The request target (path and query) on this upstream for a path below the context."""
        if query and self.strip_query:
            query = "&".join(p for p in query.split("&") if p.split("=", 1)[0] not in self.strip_query)
        if self.credential_query:
            query = f"{query}&{self.credential_query}" if query else self.credential_query
        path = self.base_path + path
        return f"{path}?{query}" if query else path


def first_available(targets: tuple[Target, ...]) -> Target | None:
    """The default target picker: the first target that is up, else the first one (a target that is
    down is still better than none), None when `targets` is empty."""
    for target in targets:
        if target.health.is_up:
            return target
    return targets[0] if targets else None

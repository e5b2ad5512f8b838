"""Upstream targets of a route: one backend behind one pool, with its credential, limits and health.

A route holds a tuple of targets so routing can choose among them and fail over to the next one
before the first byte reaches the client. Targets are built at snapshot compile; only their
`TargetHealth` changes at run time (from the event loop thread, no locks).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tollgate.gateway.upstream import Timeout, UpstreamPool
from tollgate.providers.base import Backend, Translator
from tollgate.types import HeaderList

__all__ = ["DEFAULT_COOLDOWN", "Target", "TargetHealth", "first_available"]

#: Seconds a target that failed to connect is passed over while others are available.
DEFAULT_COOLDOWN = 5.0


class TargetHealth:
    """Passive health of one target: consecutive failures and until when it is passed over.

    Shared by the snapshots that keep the same target (by name and origin), mutated by the relay.
    """

    __slots__ = ("down_until", "failures")

    def __init__(self) -> None:
        self.failures = 0
        self.down_until = 0.0

    def failed(self, cooldown: float = DEFAULT_COOLDOWN) -> None:
        self.failures += 1
        self.down_until = time.monotonic() + cooldown

    def succeeded(self) -> None:
        if self.failures:
            self.failures = 0
            self.down_until = 0.0

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

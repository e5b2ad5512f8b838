"""Failover of a route with several targets: attempts in the selector's order before the first byte
reaches the client, a retry budget, jittered backoff, and the circuit breaker's bookkeeping.

`Routing` is compiled once per snapshot for a proxy with fallbacks or routing settings; the relay
hands it the request and a `send` for one target. A route without it never comes here. What this
module does not do: build or translate requests (the relay's `send`), relay responses, retry after a
byte went out (a stream cannot be taken back).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tollgate.errors import UpstreamError, UpstreamUnavailableError
from tollgate.gateway.exchange import attempt_record
from tollgate.gateway.selection import Selector
from tollgate.gateway.targets import Target
from tollgate.usage.sink import UsageSink

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange
    from tollgate.gateway.upstream import UpstreamResponse
    from tollgate.providers.base import Translation

__all__ = ["RETRIED", "FailoverSettings", "RetryBudget", "Routing", "RoutingCounters", "Send", "parse_retry_after"]

log = logging.getLogger("tollgate.gateway")

#: Prefix of the error code of a failed attempt's usage row (the request went on to another attempt).
RETRIED = "retried:"
#: Seconds of history the retry budget weighs retries against requests over.
BUDGET_WINDOW = 10
#: Statuses whose Retry-After may suspend a target at once (the vendor says when to come back).
_SUSPENDING = frozenset({429, 503})

#: Sends the request to one target: the upstream response head and the request's translation.
Send = Callable[[Target], Awaitable[tuple["UpstreamResponse", "Translation | None"]]]


@dataclass(frozen=True, slots=True)
class FailoverSettings:
    """A proxy's failover and circuit-breaker settings, resolved with their defaults (seconds)."""

    retry_statuses: frozenset[int]
    max_attempts: int | None = None
    backoff_initial: float = 0.025
    backoff_max: float = 0.25
    max_retry_after: float = 2.0
    failures: int = 3
    suspend_for: float = 5.0
    max_suspend: float = 60.0
    smoothing: float = 0.3
    decay: float = 30.0


class RetryBudget:
    """Retries one route may make on one node: `ratio` per request over the last BUDGET_WINDOW seconds,
    plus `min_per_second` always, so an outage cannot multiply the load on the remaining targets.

    Counted in one-second buckets with running totals: O(1) per request.
    """

    __slots__ = ("_ratio", "_requests", "_reserve", "_retries", "_second", "_total_requests", "_total_retries")

    def __init__(self, ratio: float = 0.2, min_per_second: float = 3.0) -> None:
        self.configure(ratio, min_per_second)
        self._requests = [0] * BUDGET_WINDOW
        self._retries = [0] * BUDGET_WINDOW
        self._total_requests = 0
        self._total_retries = 0
        self._second = -BUDGET_WINDOW

    def configure(self, ratio: float, min_per_second: float) -> None:
        """Set the allowance (a new snapshot may change it); the counts so far are kept."""
        self._ratio = ratio
        self._reserve = min_per_second * BUDGET_WINDOW

    def _slot(self, now: float) -> int:
        second = int(now)
        last = self._second
        if second != last:
            if second - last >= BUDGET_WINDOW:
                self._requests = [0] * BUDGET_WINDOW
                self._retries = [0] * BUDGET_WINDOW
                self._total_requests = self._total_retries = 0
            else:
                for passed in range(last + 1, second + 1):
                    slot = passed % BUDGET_WINDOW
                    self._total_requests -= self._requests[slot]
                    self._total_retries -= self._retries[slot]
                    self._requests[slot] = self._retries[slot] = 0
            self._second = second
        return second % BUDGET_WINDOW

    def request(self, now: float) -> None:
        slot = self._slot(now)
        self._requests[slot] += 1
        self._total_requests += 1

    def take(self, now: float) -> bool:
        """Spend one retry if the budget has one left."""
        slot = self._slot(now)
        if self._total_retries + 1 > self._ratio * self._total_requests + self._reserve:
            return False
        self._retries[slot] += 1
        self._total_retries += 1
        return True


def parse_retry_after(resp: UpstreamResponse) -> float | None:
    """Seconds the upstream asks to wait: `retry-after-ms`, else `retry-after` in seconds (an HTTP
    date is not honoured: vendors send seconds)."""
    for name, scale in ((b"retry-after-ms", 0.001), (b"retry-after", 1.0)):
        raw = resp.header(name)
        if raw is not None:
            try:
                value = float(raw) * scale
            except ValueError:
                continue
            if math.isfinite(value) and value >= 0:
                return value
    return None


class RoutingCounters:
    """What a multi-provider proxy counts at run time, kept by proxy name across snapshots: the
    rotation position of round robin and weighted strategies, and the retry budget."""

    __slots__ = ("budget", "rotation")

    def __init__(self) -> None:
        self.rotation = 0
        self.budget = RetryBudget()


class Routing:
    """The compiled selection and failover of one route; one per route and snapshot, shared by its
    requests (its counters are per node)."""

    __slots__ = ("budget", "observes_latency", "selector", "settings", "targets")

    def __init__(
        self, targets: tuple[Target, ...], selector: Selector, settings: FailoverSettings, budget: RetryBudget
    ) -> None:
        self.targets = targets
        self.selector = selector
        self.settings = settings
        self.budget = budget
        self.observes_latency = selector.observes_latency

    async def call(
        self, ex: Exchange, send: Send, sink: UsageSink, gateway: str
    ) -> tuple[UpstreamResponse, Translation | None]:
        """Try targets until one answers with a status that is not retried, or nothing is left.

        Raises `UpstreamUnavailableError` (503) when every target is suspended, the last transport
        error when the last attempt failed so; returns the last retried answer (e.g. the vendor's
        429) when no further attempt is allowed. Each attempt that is retried gets its own usage row.
        """
        settings = self.settings
        now = time.monotonic()
        self.budget.request(now)
        order = self.selector.order(ex, now)
        limit = settings.max_attempts or len(order)
        target, pos = _pick(order, 0, now)
        if target is None:
            raise _all_out(order, now)
        previous: Target | None = None
        wait: float | None = None
        attempt = 0
        while True:
            attempt += 1
            ex.target = target
            ex.attempts += 1
            health = target.health
            trial = health.probing  # this request holds the half-open target's one trial
            try:
                if attempt > 1:
                    delay = wait if wait is not None and target is previous else _backoff(settings, attempt - 1)
                    if delay > 0:
                        await asyncio.sleep(delay)
                started = time.monotonic()
                resp, translation = await send(target)
            except UpstreamError as err:
                now = time.monotonic()
                _failed(target, settings, now, err.code)
                following, pos = self._next(order, pos, attempt, limit, now)
                if following is None:
                    raise
                sink.submit(attempt_record(ex, gateway, (now - started) * 1000.0, err.status, RETRIED + err.code))
                previous, target, wait = target, following, None
                continue
            except (
                BaseException
            ):  # cancelled (the client left, also while waiting): a trial without a verdict frees its slot
                if trial:
                    health.release()
                raise
            now = time.monotonic()
            status = resp.status
            if status not in settings.retry_statuses:
                if trial:
                    log.warning("provider %s is back in service (a trial request succeeded)", target.name)
                health.succeeded()
                if self.observes_latency:
                    health.observe((now - started) * 1000.0, now, settings.smoothing, settings.decay)
                return resp, translation
            retry_after = parse_retry_after(resp)
            wait = None
            if retry_after is not None and retry_after > settings.max_retry_after and status in _SUSPENDING:
                seconds = min(retry_after, settings.max_suspend)
                health.suspend(seconds, now)
                log.warning(
                    "provider %s suspended for %g s: it answered %d with Retry-After", target.name, seconds, status
                )
            else:
                _failed(target, settings, now, f"status {status}")
                wait = retry_after
            following, pos = self._next(order, pos, attempt, limit, now)
            if following is None:
                return resp, translation  # the client gets the upstream's own answer
            resp.release()
            sink.submit(attempt_record(ex, gateway, (now - started) * 1000.0, status, RETRIED + "upstream_status"))
            previous, target = target, following

    def _next(
        self, order: tuple[Target, ...], pos: int, attempt: int, limit: int, now: float
    ) -> tuple[Target | None, int]:
        """The target of the next attempt, if attempts and the retry budget allow one and a target is up."""
        if attempt >= limit:
            return None, pos
        target, pos = _pick(order, pos, now)
        if target is None:
            return None, pos
        if not self.budget.take(now):
            target.health.release()
            log.warning("retry budget spent: not trying %s", target.name)
            return None, pos
        return target, pos


def _failed(target: Target, settings: FailoverSettings, now: float, reason: str) -> None:
    """Count a failure; say so once when it suspends the target (not for every request passed over)."""
    health = target.health
    was_up = health.down_until <= now
    health.failed(settings.suspend_for, settings.failures, now)
    if was_up and health.down_until > now:
        log.warning(
            "provider %s suspended for %g s after %d consecutive failures (last: %s)",
            target.name,
            settings.suspend_for,
            health.failures,
            reason,
        )


def _pick(order: tuple[Target, ...], pos: int, now: float) -> tuple[Target | None, int]:
    """The first target from `pos` (cyclic) that can take a request now, and the position after it."""
    size = len(order)
    for step in range(size):
        target = order[(pos + step) % size]
        if target.pool is not None and target.unavailable is None and target.health.acquire(now):
            return target, pos + step + 1
    return None, pos


def _backoff(settings: FailoverSettings, retry: int) -> float:
    """Full jitter: random in [0, initial * 2^(retry-1)], capped at max."""
    ceiling = min(settings.backoff_max, settings.backoff_initial * (1 << min(retry - 1, 16)))
    return random.uniform(0.0, ceiling) if ceiling > 0 else 0.0


def _all_out(order: tuple[Target, ...], now: float) -> UpstreamError:
    """503 when every target is suspended (Retry-After: until the first comes back), or the reason a
    target that cannot serve at all gives (no credential, no URL)."""
    waits = [t.health.down_until - now for t in order if t.pool is not None and t.unavailable is None]
    if not waits:
        reason = next((t.unavailable for t in order if t.unavailable is not None), "no upstream is configured")
        return UpstreamError(f"Upstream unavailable: {reason}.", status=503)
    return UpstreamUnavailableError(
        "Every upstream of this API is out of service for now (suspended after failures); retry shortly.",
        retry_after=max(min(waits), 0.001),
    )

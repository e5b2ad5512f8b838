"""In-process counters: one gateway node, no network. Exact and atomic (one event loop, no await inside)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from tollgate.policies.counters.base import (
    Acquired,
    Window,
    WindowState,
    fixed_retry_after,
    sliding_count,
    sliding_retry_after,
)

__all__ = ["MemoryCounters"]

#: Expired periods are swept at most this often, so memory stays bounded by the live windows.
_SWEEP_SECONDS = 30.0


class MemoryCounters:
    """Counters in a dict keyed by `window key:period`; shared by every route of one process.

    `clock` is injectable for tests. Periods older than two window lengths (a sliding window still
    reads the previous one) are dropped by a sweep that runs at most every 30 seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._next_sweep = 0.0
        self.backend = "memory"
        self.is_local = True
        self.unavailable_total = 0
        self.failures: dict[str, int] = {}
        self.fail_mode = "open"

    async def acquire(self, windows: Sequence[Window], amounts: Sequence[int], scope: str = "") -> Acquired:
        return self.acquire_nowait(windows, amounts, scope)

    def acquire_nowait(self, windows: Sequence[Window], amounts: Sequence[int], scope: str = "") -> Acquired:
        """`acquire` without a coroutine: in-process counters never wait (the limit policies call this
        directly, one coroutine less per layer on the request path)."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        if len(windows) == 1:
            return self._acquire_one(windows[0], amounts[0], scope, now)
        counts = self._counts
        used_by: list[float] = []
        resets: list[float] = []
        slots: list[str] = []
        allowed = True
        retry_after = 0.0
        for window, amount in zip(windows, amounts, strict=True):
            period = int(now // window.seconds)
            elapsed = now - period * window.seconds
            key = scope + window.key
            slot = f"{key}:{period}"
            current = counts.get(slot, 0)
            if window.sliding:
                prev = counts.get(f"{key}:{period - 1}", 0)
                used = sliding_count(prev, current, elapsed, window.seconds)
                wait = sliding_retry_after(prev, current, window.limit, amount, elapsed, window.seconds)
            else:
                used = current
                wait = fixed_retry_after(window.limit, amount, elapsed, window.seconds)
            if used + amount > window.limit:
                allowed = False
                retry_after = max(retry_after, wait)
            used_by.append(used)
            resets.append(window.seconds - elapsed)
            slots.append(slot)
        if allowed:
            for window, slot, amount in zip(windows, slots, amounts, strict=True):
                counts[slot] = counts.get(slot, 0) + amount
                self._expires.setdefault(slot, now + 2 * window.seconds)
            retry_after = 0.0
        states = tuple(
            WindowState(w.limit, max(0, math.floor(w.limit - used - (amount if allowed else 0))), reset)
            for w, used, amount, reset in zip(windows, used_by, amounts, resets, strict=True)
        )
        return Acquired(allowed, states, retry_after, tuple(slots))

    def _acquire_one(self, window: Window, amount: int, scope: str, now: float) -> Acquired:
        """`acquire` of a single window (the usual limit): the same arithmetic, fewer objects."""
        counts = self._counts
        seconds = window.seconds
        period = int(now // seconds)
        elapsed = now - period * seconds
        key = scope + window.key
        slot = f"{key}:{period}"
        current = counts.get(slot, 0)
        limit = window.limit
        if window.sliding:
            prev = counts.get(f"{key}:{period - 1}", 0)
            used = sliding_count(prev, current, elapsed, seconds)
        else:
            prev = 0
            used = current
        reset = seconds - elapsed
        if used + amount > limit:
            if window.sliding:
                wait = sliding_retry_after(prev, current, limit, amount, elapsed, seconds)
            else:
                wait = fixed_retry_after(limit, amount, elapsed, seconds)
            return Acquired(False, (WindowState(limit, max(0, math.floor(limit - used)), reset),), wait, (slot,))
        counts[slot] = current + amount
        if slot not in self._expires:
            self._expires[slot] = now + 2 * seconds
        return Acquired(True, (WindowState(limit, math.floor(limit - used - amount), reset),), 0.0, (slot,))

    async def adjust(self, slots: Sequence[str], deltas: Sequence[int]) -> None:
        self.adjust_nowait(slots, deltas)

    def adjust_nowait(self, slots: Sequence[str], deltas: Sequence[int]) -> bool:
        counts = self._counts
        for slot, delta in zip(slots, deltas, strict=True):
            if delta and slot in counts:
                counts[slot] += delta
        return True

    async def aclose(self) -> None:
        self._counts.clear()
        self._expires.clear()

    def _sweep(self, now: float) -> None:
        expired = [slot for slot, at in self._expires.items() if at <= now]
        for slot in expired:
            del self._expires[slot]
            self._counts.pop(slot, None)
        self._next_sweep = now + _SWEEP_SECONDS

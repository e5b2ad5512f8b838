"""The counter interface the limit policies are given, and the window arithmetic both backends share.

A limit is a set of `Window`s (one key, length and limit each). `acquire` charges an amount to every
window at once, or to none: all windows must have room. `adjust` later corrects what was charged
(token and cost limits reserve an estimate, then settle with the metered usage). Counts are integers
(tokens, requests, micro-dollars). This module does no I/O; the backends do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = [
    "Acquired",
    "Counters",
    "CountersUnavailableError",
    "Window",
    "WindowState",
    "fixed_retry_after",
    "sliding_count",
    "sliding_retry_after",
]


@dataclass(frozen=True, slots=True)
class Window:
    """One counted window: `key` names the counter (scope included), `seconds` its length.

    Fixed windows count from the start of the current period (`floor(now / seconds)`) and reset at
    its end. Sliding windows weigh the previous period by the part of it still inside the window
    (`prev * (1 - elapsed / seconds) + current`), which smooths the burst a fixed window allows at
    its edge at the cost of one more counter read.
    """

    key: str
    seconds: int
    limit: int
    sliding: bool = False


class WindowState(NamedTuple):
    """A window as a client should see it after the call: limit, what remains, seconds until reset.

    A NamedTuple, like `Acquired`, not a frozen dataclass: one or two are made per limited request, and
    a frozen dataclass's `__init__` (one `object.__setattr__` per field) cost more than the counting."""

    limit: int
    remaining: int
    reset_after: float


class Acquired(NamedTuple):
    """The outcome of one `acquire`.

    `allowed`: every window had room and was charged. Otherwise nothing was charged and
    `retry_after` is the wait until the tightest window has room again (`math.inf` when the amount
    is larger than the limit itself: no wait helps). `slots` name the exact counters charged, for
    `adjust`. `degraded` is set when the backend was unreachable and the fail-open switch let the
    call through uncounted (then `states` is empty).
    """

    allowed: bool
    states: tuple[WindowState, ...]
    retry_after: float
    slots: tuple[str, ...]
    degraded: bool = False


class CountersUnavailableError(Exception):
    """The counter backend could not answer (Redis down or too slow) and the switch says fail closed."""


class Counters(Protocol):
    """Where limit counts live: one instance per gateway process, shared by every route's policies."""

    #: "memory" or "redis": the `backend` label of the failure metric
    backend: str
    #: in-process: `acquire_nowait` answers at once (the limit policies then await nothing)
    is_local: bool
    #: how many times the backend was unreachable, all operations together
    unavailable_total: int
    #: failed calls by operation ("acquire": a request let through or refused by the fail switch,
    #: "adjust": a settle lost), read by the metrics endpoint at scrape time
    failures: dict[str, int]
    #: the fail switch, "open" or "closed" (in-process counters cannot fail: "open")
    fail_mode: str

    async def acquire(self, windows: Sequence[Window], amounts: Sequence[int], scope: str = "") -> Acquired:
        """Charge `amounts[i]` to `windows[i]` for every i if all have room, else charge nothing.

        Each counter's key is `scope + window.key`: windows are compiled once, the scope (who is
        counted) is per request. Raises CountersUnavailableError when the backend is down and
        configured to fail closed.
        """
        ...

    def acquire_nowait(self, windows: Sequence[Window], amounts: Sequence[int], scope: str = "") -> Acquired:
        """`acquire` done at once; only for counters with `is_local` (others raise NotImplementedError)."""
        ...

    def adjust_nowait(self, slots: Sequence[str], deltas: Sequence[int]) -> bool:
        """`adjust` done at once when it needs no I/O (in-process counters); False when it must be awaited."""
        ...

    async def adjust(self, slots: Sequence[str], deltas: Sequence[int]) -> None:
        """Add `deltas[i]` (may be negative) to the counter `slots[i]` charged by an earlier acquire.

        A slot whose window has already expired is left alone. Never raises: a lost correction only
        makes one window slightly off, and the request it belongs to has already been answered.
        """
        ...

    async def aclose(self) -> None: ...


def sliding_count(prev: int, current: int, elapsed: float, seconds: int) -> float:
    """The weighted count of a sliding window `elapsed` seconds into the current period."""
    return prev * max(0.0, 1.0 - elapsed / seconds) + current


def fixed_retry_after(limit: int, amount: int, elapsed: float, seconds: int) -> float:
    """Wait until a fixed window has room for `amount`: its reset, or never when `amount > limit`."""
    if amount > limit:
        return math.inf
    return seconds - elapsed


def sliding_retry_after(prev: int, current: int, limit: int, amount: int, elapsed: float, seconds: int) -> float:
    """Wait until a sliding window has room for `amount` (prev decays in this period, current in the next)."""
    if amount > limit:
        return math.inf
    room = limit - amount - current
    if room >= 0:  # the previous period's share decays enough within this period
        if prev <= 0:
            return 0.0
        return max(0.0, seconds * (1.0 - room / prev) - elapsed)
    # wait for the period to end; then `current` is the previous period and decays in turn
    return (seconds - elapsed) + seconds * max(0.0, 1.0 - (limit - amount) / current)

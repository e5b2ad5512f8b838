"""`FailureBackoff`: slow down a client that keeps presenting bad credentials (admin tokens, gateway keys).

Pure bookkeeping: no I/O, no logging, no clock of its own beyond `time.monotonic` (injectable), and
bounded memory. The caller decides what a "client" is (the peer IP, usually) and what to answer.

How a caller uses it (the control plane's admin-token middleware and the gateway's key check):

    backoff = FailureBackoff()                      # one per listener, shared by its requests
    wait = backoff.retry_after(client)              # before checking the credential
    if wait is not None:
        answer 429 with `Retry-After: retry_after_header(wait)`; do not check, do not log each one
    if credential is bad:
        blocked = backoff.record_failure(client)    # float seconds when this failure starts a block
        log the failure (with `fingerprint(presented)`, never the value); answer 401 as usual
        (or already 429 when `blocked` is not None)

Policy: `max_failures` failures within `window` seconds (counted from the first one) block the client
for `block` seconds; each further block of the same client, while it is still remembered, doubles
(up to `max_block`). A success does not reset the count: a client holding one valid key must not be
able to keep guessing others by interleaving it. At most `max_clients` clients are remembered; past
that the least recently seen one is forgotten (an attacker rotating addresses gets a fresh count,
memory stays bounded). Not thread-safe: use one instance per event loop.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_FAILURES = 10
DEFAULT_WINDOW = 60.0
DEFAULT_BLOCK = 30.0
DEFAULT_MAX_BLOCK = 900.0
DEFAULT_MAX_CLIENTS = 10_000


@dataclass(slots=True)
class _Client:
    window_start: float
    failures: int = 0
    blocked_until: float = 0.0
    strikes: int = 0  # blocks so far: each one doubles the next


class FailureBackoff:
    """Counts credential failures per client key and says when a client must wait (see the module doc).

    Parameters are keyword-only: `max_failures` (failures allowed per `window` before a block),
    `window` and `block` in seconds, `max_block` (cap of the doubling), `max_clients` (memory bound),
    `clock` (monotonic seconds; tests pass a fake).
    """

    def __init__(
        self,
        *,
        max_failures: int = DEFAULT_MAX_FAILURES,
        window: float = DEFAULT_WINDOW,
        block: float = DEFAULT_BLOCK,
        max_block: float = DEFAULT_MAX_BLOCK,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or max_clients < 1 or window <= 0 or block <= 0 or max_block < block:
            raise ValueError("backoff needs max_failures >= 1, max_clients >= 1, window > 0, 0 < block <= max_block")
        self.max_failures = max_failures
        self.window = window
        self.block = block
        self.max_block = max_block
        self.max_clients = max_clients
        self._clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def __len__(self) -> int:
        """How many clients are remembered now (bounded by `max_clients`)."""
        return len(self._clients)

    def retry_after(self, client: str) -> float | None:
        """Seconds `client` must still wait, or None when it may present a credential now. O(1)."""
        state = self._clients.get(client)
        if state is None:
            return None
        wait = state.blocked_until - self._clock()
        return wait if wait > 0 else None

    def record_failure(self, client: str) -> float | None:
        """Count one failed credential of `client`; returns the block's length when this failure starts one."""
        now = self._clock()
        state = self._clients.get(client)
        if state is None:
            self._forget_stale(now)
            state = self._clients[client] = _Client(window_start=now)
        else:
            self._clients.move_to_end(client)
            if now - state.window_start > self.window:
                state.window_start, state.failures = now, 0
        state.failures += 1
        if state.failures < self.max_failures:
            return None
        length = min(self.block * 2.0**state.strikes, self.max_block)
        state.strikes += 1
        state.blocked_until = now + length
        state.window_start, state.failures = now + length, 0
        return length

    def _forget_stale(self, now: float) -> None:
        """Drop clients nobody needs to remember (oldest first), then the oldest one if still full."""
        clients = self._clients
        while clients:
            client, state = next(iter(clients.items()))
            # remembered while blocked, within its window, or while a repeat would still double the block
            if max(state.blocked_until + self.max_block, state.window_start + self.window) > now:
                break
            del clients[client]
        while len(clients) >= self.max_clients:
            clients.popitem(last=False)


def retry_after_header(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))

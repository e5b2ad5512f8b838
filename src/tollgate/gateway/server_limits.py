"""What one client may make the data-plane server hold: sizes, timeouts and the connection cap.

`ServerLimits` is the configuration (defaults documented in docs/operations.md); `ConnectionSlots`
enforces the connection cap for one listener. Neither parses HTTP: `server.py` does.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Protocol

#: Request line plus headers of one request, in bytes (answered with 431 beyond it).
DEFAULT_MAX_HEAD = 64 * 1024
#: Hard cap on a request body read into memory, whatever a route allows.
DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: Seconds from a request's first byte (or from the accept) to the end of its headers.
DEFAULT_HEADER_TIMEOUT = 15.0
#: Seconds an idle keep-alive connection is kept open between two requests.
DEFAULT_KEEPALIVE_TIMEOUT = 60.0
#: Seconds a request body may make no progress while the handler waits for it.
DEFAULT_BODY_TIMEOUT = 60.0
#: File descriptors left for everything but client connections (upstreams, store, logs) when the
#: connection cap is derived from the open-file limit.
_FD_RESERVE = 128


def default_max_connections() -> int:
    """Half of what the open-file limit leaves after a reserve, since each client connection may
    hold one upstream connection too; so client connections alone can never make upstream
    connects fail with EMFILE."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(16, (soft - _FD_RESERVE) // 2)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds of the data-plane listener; `max_connections=0` derives the cap from `ulimit -n`.

    Timeouts are in seconds. A route's own `maxRequestBytes` applies below `max_body`."""

    max_head: int = DEFAULT_MAX_HEAD
    max_body: int = DEFAULT_MAX_BODY
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = 0

    def connection_cap(self) -> int:
        return self.max_connections if self.max_connections > 0 else default_max_connections()


class _Evictable(Protocol):
    def evict(self) -> None: ...


class ConnectionSlots:
    """Open connections of one listener, capped: at the cap, the connection that has waited longest
    without a request in progress (idle keep-alive, or still sending its head) is closed to make
    room; only when every connection is busy is the new one refused (503, `server.py`).

    `idle` keeps insertion order, so its first entry is the longest-waiting one. Event-loop only.
    """

    __slots__ = ("cap", "idle", "open", "refused")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open = 0
        self.refused = 0
        self.idle: dict[_Evictable, None] = {}

    def admit(self) -> bool:
        """Count a new connection in; False when the cap is reached and nobody can be evicted."""
        if self.open >= self.cap:
            if not self.idle:
                self.refused += 1
                return False
            oldest = next(iter(self.idle))
            del self.idle[oldest]
            oldest.evict()  # counted out now: its connection_lost comes later and must not count again
            self.open -= 1
        self.open += 1
        return True

    def leave(self, conn: _Evictable) -> None:
        self.idle.pop(conn, None)
        self.open -= 1

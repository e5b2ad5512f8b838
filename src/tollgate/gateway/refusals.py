"""Requests refused for a missing or wrong key: always counted, recorded as usage rows only up to a rate.

Anyone can send unauthenticated requests as fast as the network allows; one usage row each (with a
path of up to the header limit) would let them grow the database without bound. So refusals are
counted in memory (`total`, `unrecorded`), a token bucket lets at most `rows_per_second` of them
(bursts up to `burst`) through as usage rows with the path cut to `path_limit` characters, and the
rest are summed up in one warning per `log_interval` seconds. Authenticated requests are not
affected: their rows are bounded by the keys the operator issued.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from tollgate.gateway.exchange import Exchange, record
from tollgate.usage.sink import UsageSink

if TYPE_CHECKING:
    from tollgate.gateway.app import GatewayState

__all__ = ["DEFAULT_REFUSED_ROWS_PER_SECOND", "REFUSED_PATH_LIMIT", "RefusalLog"]

log = logging.getLogger("tollgate.gateway")

#: Usage rows per second for refused requests (per gateway process); the rest are only counted.
DEFAULT_REFUSED_ROWS_PER_SECOND = 5.0
#: Characters of a refused request's path kept in its usage row.
REFUSED_PATH_LIMIT = 256
DEFAULT_LOG_INTERVAL = 60.0


class RefusalLog:
    """Counts refused requests and records a bounded sample of them; one per gateway process."""

    __slots__ = (
        "_burst",
        "_last",
        "_next_log",
        "_rate",
        "_since_log",
        "_tokens",
        "log_interval",
        "total",
        "unrecorded",
    )

    def __init__(
        self,
        rows_per_second: float = DEFAULT_REFUSED_ROWS_PER_SECOND,
        *,
        burst: float | None = None,
        log_interval: float = DEFAULT_LOG_INTERVAL,
    ) -> None:
        self._rate = rows_per_second
        self._burst = burst if burst is not None else max(1.0, rows_per_second * 2)
        self._tokens = self._burst
        self._last = time.monotonic()
        self.log_interval = log_interval
        self._next_log = self._last + log_interval
        self._since_log = 0
        #: refused requests since start, and how many of them got no usage row
        self.total = 0
        self.unrecorded = 0

    def refused(self, ex: Exchange, state: GatewayState) -> None:
        """Count one refused exchange; queue its (path-truncated) usage row if the rate allows."""
        self.total += 1
        now = time.monotonic()
        tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            _submit(state.usage, ex, state.name)
        else:
            self._tokens = tokens
            self.unrecorded += 1
            self._since_log += 1
        if now >= self._next_log:
            self._next_log = now + self.log_interval
            if self._since_log:
                log.warning(
                    "%d requests refused for a missing or invalid API key were not recorded individually "
                    "in the last %.0f s (%d refused since start)",
                    self._since_log,
                    self.log_interval,
                    self.total,
                )
                self._since_log = 0


def _submit(sink: UsageSink, ex: Exchange, gateway: str) -> None:
    sink.submit(record(ex, gateway, (time.time() - ex.started) * 1000.0, REFUSED_PATH_LIMIT))

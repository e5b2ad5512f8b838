"""Retention of raw usage records: the usage writer prunes what is older than TOLLGATE_USAGE_RETENTION.

Only raw records go; the hourly and daily roll-ups stay, so summaries of old periods remain whole.
Pruning runs between the writer's batches, one bounded chunk at a time, never on the request path.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

logger = logging.getLogger(__name__)

RETENTION_ENV = "TOLLGATE_USAGE_RETENTION"
#: How often a caught-up writer looks for newly expired records.
DEFAULT_INTERVAL = 3600.0
#: Records deleted per chunk: one short transaction, so a batch waiting behind it waits little.
DEFAULT_CHUNK = 5000

_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class PrunableStore(Protocol):
    def prune_usage(self, before: float, *, batch: int = ..., max_rows: int | None = ...) -> int: ...


def parse_retention(text: str | None) -> timedelta | None:
    """'90d', '12h', '2w', '30m' -> how long raw records are kept; None (keep forever) for '', '0' or 'off'.

    ValueError for anything else, naming the variable.
    """
    value = (text or "").strip().lower()
    if value in ("", "0", "off", "forever"):
        return None
    match = _DURATION.match(value)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{RETENTION_ENV}={text!r}: use a number and a unit (30m, 12h, 90d, 2w), or 'off'")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class UsageRetention:
    """Deletes raw records older than `keep`; one per writer process, `tick()` after each batch.

    A tick deletes at most one chunk. While expired records remain, every tick takes another chunk
    (a first run over months of backlog is spread over many batches); once caught up, it waits
    `interval` seconds. A failing prune is logged (exception type only) and retried an interval later.
    """

    def __init__(
        self,
        keep: timedelta | None,
        *,
        interval: float = DEFAULT_INTERVAL,
        chunk: int = DEFAULT_CHUNK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keep = keep
        self._interval = interval
        self._chunk = chunk
        self._clock = clock
        self._next = 0.0
        self._backlog = False

    @classmethod
    def from_env(cls) -> UsageRetention:
        """From TOLLGATE_USAGE_RETENTION; an invalid value is logged and means "keep everything".

        The writer must keep writing whatever the setting says: refusing to start would lose usage.
        """
        try:
            return cls(parse_retention(os.environ.get(RETENTION_ENV)))
        except ValueError as exc:
            logger.error("%s; raw usage records are kept", exc)
            return cls(None)

    def tick(self, store: PrunableStore) -> int:
        """Prune one chunk if one is due; returns how many records were deleted."""
        if self.keep is None:
            return 0
        now = self._clock()
        if not self._backlog and now < self._next:
            return 0
        try:
            deleted = store.prune_usage(now - self.keep.total_seconds(), batch=self._chunk, max_rows=self._chunk)
        except Exception as exc:  # the store is down or busy: the next interval tries again
            logger.warning("usage retention: pruning failed (%s)", type(exc).__name__)
            self._backlog = False
            self._next = now + self._interval
            return 0
        self._backlog = deleted >= self._chunk
        if not self._backlog:
            self._next = now + self._interval
        return deleted

"""Liveness and readiness on the data port, under the prefix no context may use (`/_tollgate`).

Live: the process answers HTTP. Ready: a routing snapshot is loaded and the store answered the
node's revision poll within the last `STORE_FRESHNESS` seconds. Answered from values the node
keeps anyway (it polls the store a few times a second): a probe never touches the store, and only
a request no route matched pays the one prefix test that reaches this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from tollgate.resources.models import RESERVED_CONTEXT_PREFIX
from tollgate.types import HeaderList

__all__ = ["LIVE_PATH", "PROBE_PREFIX", "READY_PATH", "STORE_FRESHNESS", "Readiness", "probe_response"]

#: The store must have answered this recently for the node to call itself ready (both ports).
STORE_FRESHNESS = 5.0
PROBE_PREFIX = RESERVED_CONTEXT_PREFIX + "/"
LIVE_PATH = f"{RESERVED_CONTEXT_PREFIX}/live"
READY_PATH = f"{RESERVED_CONTEXT_PREFIX}/ready"
_HEADERS: HeaderList = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
_LIVE = orjson.dumps({"status": "live"})


class Readiness:
    """What readiness depends on, kept up to date by the node; event loop only.

    `snapshot_loaded` becomes true once a routing snapshot compiled from the store is in place;
    `store_ok()` is called whenever the store answered (the node's revision poll).
    """

    __slots__ = ("_clock", "revision", "snapshot_loaded", "store_ok_at")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.snapshot_loaded = False
        self.revision = -1
        self.store_ok_at: float | None = None

    def loaded(self, revision: int) -> None:
        self.snapshot_loaded = True
        self.revision = revision

    def store_ok(self) -> None:
        self.store_ok_at = self._clock()

    def store_age(self) -> float | None:
        """Seconds since the store last answered, None if it never did."""
        return None if self.store_ok_at is None else self._clock() - self.store_ok_at

    def check(self) -> tuple[bool, dict[str, object]]:
        """(ready, the checks as the probe reports them)."""
        age = self.store_age()
        store_ok = age is not None and age <= STORE_FRESHNESS
        checks: dict[str, object] = {
            "snapshot": {"ok": self.snapshot_loaded, "revision": self.revision if self.snapshot_loaded else None},
            "store": {"ok": store_ok, "lastOkSecondsAgo": None if age is None else round(age, 3)},
        }
        return self.snapshot_loaded and store_ok, checks


def probe_response(method: str, path: str, readiness: Readiness) -> tuple[int, HeaderList, bytes] | None:
    """The answer to a probe path (GET or HEAD), or None when `path` is no probe (then: 404 as usual)."""
    if path == LIVE_PATH:
        status, body = 200, _LIVE
    elif path == READY_PATH:
        ok, checks = readiness.check()
        status, body = (200 if ok else 503), orjson.dumps({"status": "ready" if ok else "not ready", "checks": checks})
    else:
        return None
    if method not in ("GET", "HEAD"):
        return 405, [*_HEADERS, (b"allow", b"GET, HEAD")], orjson.dumps({"error": "method not allowed"})
    return status, _HEADERS, body

"""Liveness and readiness of the management API, under the reserved `/_tollgate` prefix (no auth).

Live: the process answers HTTP. Ready: the store answered within the last `STORE_FRESHNESS` seconds
(checked with one cheap query at most once a second, so probes never load the database) and, in a
node, the node has finished starting (its configuration applied, its routing snapshot loaded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tollgate.gateway.probes import LIVE_PATH, READY_PATH, STORE_FRESHNESS
from tollgate.store import Store

__all__ = ["CHECK_INTERVAL", "LIVE_PATH", "READY_PATH", "STORE_FRESHNESS", "StoreProbe", "health_router"]

#: At most one store check per this many seconds, however often the probes come.
CHECK_INTERVAL = 1.0


class StoreProbe:
    """Remembers when the store last answered; shared by every readiness request of one app."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at = -CHECK_INTERVAL
        self._ok_at: float | None = None
        self._error: str | None = None

    def check(self) -> tuple[bool, dict[str, Any]]:
        """(reachable recently, details); queries the store only if the last check is a second old."""
        now = self._clock()
        with self._lock:
            if now - self._checked_at >= CHECK_INTERVAL:
                self._checked_at = now
                try:
                    self._store.current_revision()
                except Exception as exc:  # any driver error: not reachable (the type only: no DSN in it)
                    self._error = type(exc).__name__
                else:
                    self._ok_at, self._error = now, None
            ok_at, error = self._ok_at, self._error
        fresh = ok_at is not None and now - ok_at <= STORE_FRESHNESS
        details: dict[str, Any] = {"ok": fresh, "lastOkSecondsAgo": None if ok_at is None else round(now - ok_at, 3)}
        if error is not None:
            details["error"] = error
        return fresh, details


def health_router(store: Store, started: Callable[[], bool] | None = None) -> APIRouter:
    """The two probe routes; `started` (the node's readiness flag) is also required for ready, if given."""
    router = APIRouter(tags=["health"])
    probe = StoreProbe(store)

    @router.get(LIVE_PATH, summary="Liveness: the management API answers")
    def live() -> dict[str, str]:
        return {"status": "live"}

    @router.get(
        READY_PATH,
        summary="Readiness: the store answered recently and the node has started",
        responses={503: {"description": "Not ready; the body says which check failed."}},
    )
    def ready(request: Request) -> JSONResponse:
        store_ok, store_details = probe.check()
        checks: dict[str, Any] = {"store": store_details}
        ok = store_ok
        if started is not None:
            checks["node"] = {"ok": started()}
            ok = ok and started()
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    return router

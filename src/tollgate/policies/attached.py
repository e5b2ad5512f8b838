"""The base of Tollgate's built-in policies as attached to a route: the optional path scope, the
client API name, background settling, and per-request state slots.

A policy attached with `paths` acts only on requests whose path below the context (and method)
matches one of them; without `paths` it acts on every request, at the cost of nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import TYPE_CHECKING

from tollgate.policies.base import Policy

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["AttachedPolicy", "PathScope", "client_api_name"]

log = logging.getLogger("tollgate.policies")


class PathScope:
    """Compiled `paths: [{path, methods}]` of an attachment (`*` one segment, `**` any)."""

    __slots__ = ("_rules",)

    def __init__(self, rules: list[tuple[re.Pattern[str], frozenset[str]]]) -> None:
        self._rules = tuple(rules)

    def matches(self, method: str, path: str) -> bool:
        return any((not methods or method in methods) and regex.match(path) for regex, methods in self._rules)


def client_api_name(ex: Exchange) -> str | None:
    client = ex.client_api
    return client.name if client is not None else None


class AttachedPolicy(Policy):
    """A built-in policy: `scope` (set by the attachment compiler) limits which requests it acts on."""

    scope: PathScope | None = None

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def applies(self, ex: Exchange) -> bool:
        """Whether this attachment acts on `ex` (its path below the context and method are in scope)."""
        scope = self.scope
        if scope is None:
            return True
        route = ex.route
        path = ex.sub_path or (ex.path[len(route.context) :] if route is not None else ex.path) or "/"
        return scope.matches(ex.method, path)

    def spawn(self, work: Coroutine[object, object, None]) -> None:
        """Run `work` off the request path (completion hooks are synchronous); failures are logged."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: background settle failed: %r", self.name, task.exception())

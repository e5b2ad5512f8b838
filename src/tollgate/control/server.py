"""Serving the management API with uvicorn inside the node's own event loop, on its own port.

The node expects `start_control_server(node, store, host, port) -> (server, bound_port)` where
`server` has `close()` and `await wait_closed()`. We bind the socket ourselves (port 0 works, and a
busy port fails here with OSError rather than inside uvicorn), and leave signals to the node. The
node binds first (`tollgate.listen.bind_listener`) and passes `sock`, so nothing is stored before both ports are held.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import uvicorn

from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.control.guard import DEFAULT_ADMIN_MAX_BODY
from tollgate.listen import bind_listener
from tollgate.store import Store

if TYPE_CHECKING:
    from tollgate.node import Node

_STARTUP_TIMEOUT = 10.0


class _InLoopServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the node that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ControlServer:
    """Handle on the running API: `close()` asks uvicorn to stop; `wait_closed()` waits until it has."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], sock: socket.socket) -> None:
        self._server = server
        self._task = task
        self._sock = sock

    def close(self) -> None:
        self._server.should_exit = True

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sock.close()


def _node_metrics(node: Node) -> Callable[[], bytes]:
    """/metrics of a node: its writer child's traffic metrics and its own gauges, read at scrape time."""
    from tollgate.usage.metrics_export import node_registry, render

    return lambda: render(node_registry(node, node.metrics_dir))


async def start_control_server(
    node: Node | None,
    store: Store,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    max_body: int = DEFAULT_ADMIN_MAX_BODY,
) -> tuple[ControlServer, int]:
    """Start the management API on `host:port` (0 = any free port), or on `sock` if the caller bound it;
    returns the handle and the bound port. Request bodies over `max_body` bytes get 413.

    On first start (no stored token and no TOLLGATE_ADMIN_TOKEN) a token of the admin user "admin" is
    created and printed once to stderr; only its hash is kept. Without `sock`, the port is bound before that.
    """
    if sock is None:
        sock = bind_listener(host, port, "management API")
    auth = AdminAuth(store)
    if not auth.has_env_token:
        token = await asyncio.to_thread(store.ensure_admin_token)
        if token is not None:
            print(f"Admin token for the management API (shown once): {token}", file=sys.stderr, flush=True)
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(
        create_app(
            store,
            auth=auth,
            max_body=max_body,
            started=node.ready.is_set if node is not None else None,
            metrics=_node_metrics(node) if node is not None else None,
        ),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="control-api")
    async with asyncio.timeout(_STARTUP_TIMEOUT):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the management API stopped during startup")
            await asyncio.sleep(0.01)
    return ControlServer(server, task, sock), bound

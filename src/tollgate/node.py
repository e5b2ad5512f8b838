"""One Tollgate process: wires the store, the data plane, the usage recorder and the control plane.

The data plane never reads the store on the request path. This module is the only place that
moves data between them: it loads the deployed ResourceSet, follows the store's revision (so a
change made by any node reaches this one within a second), flushes usage records and key
last-use times, and heartbeats the gateway record.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from tollgate.gateway.app import GatewayState, server_ssl_context, start_gateway_server
from tollgate.gateway.isolation import Problems, apply_isolating
from tollgate.gateway.server_limits import ServerLimits
from tollgate.gateway.tracing import Tracing
from tollgate.listen import bind_listener
from tollgate.resources.loader import load_documents
from tollgate.resources.resource_set import ResourceSet
from tollgate.store import Store
from tollgate.usage.metrics_export import (
    make_metrics_dir,
    remove_metrics_dir,
    serve_metrics_port,
    traffic_metrics_enabled,
)
from tollgate.usage.recorder import UsageRecorder
from tollgate.usage.traces import require_otel, sample_ratio, traces_enabled
from tollgate.usage.writer_process import METRICS_DIR_ENV, UsageWriterProcess

log = logging.getLogger("tollgate.node")

Role = Literal["all", "gateway", "control"]
#: How often a gateway checks the store revision; changes apply within this (well under a second).
DEFAULT_POLL_INTERVAL = 0.25
#: Largest management API request body (bytes); the same value as `control.guard.DEFAULT_ADMIN_MAX_BODY`,
#: repeated here so a gateway-only node does not import the control plane (FastAPI) to know it.
DEFAULT_ADMIN_MAX_BODY = 16 * 1024 * 1024
_KEY_USE_FLUSH_INTERVAL = 5.0
_HEARTBEAT_INTERVAL = 5.0
_DRAIN_GRACE = 30.0
_CLOSE_WAIT = 5.0
_USAGE_CLOSE_WAIT = 30.0


class _Listener(Protocol):
    """A started server: the data plane's asyncio server or the management API's."""

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


@dataclass
class NodeConfig:
    db_url: str
    role: Role = "all"
    config_paths: list[Path] = field(default_factory=list)
    gateway_name: str = "default"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    admin_host: str = "127.0.0.1"
    admin_port: int = 9090
    tls_cert: str | None = None
    tls_key: str | None = None
    poll_interval: float = DEFAULT_POLL_INTERVAL
    #: management API request bodies above this many bytes get 413 (control.guard.DEFAULT_ADMIN_MAX_BODY)
    admin_max_body: int = DEFAULT_ADMIN_MAX_BODY
    #: called with (name, value) for every generated API key, shown once
    on_new_key: Callable[[str, str, str], None] | None = None
    #: data-plane sizes, timeouts and connection cap (`serve --max-connections` etc.)
    server_limits: ServerLimits = field(default_factory=ServerLimits)
    #: reverse proxies in front of the data plane whose forwarding headers name the client (`--trusted-hops`)
    trusted_hops: int = 0


class Node:
    """Runs until `stop()` is called or SIGINT/SIGTERM arrives."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.store: Store | None = None
        self.state: GatewayState | None = None
        self.recorder: UsageRecorder | None = None
        self.usage_writer: UsageWriterProcess | None = None
        self._servers: list[_Listener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.gateway_port: int | None = None
        #: store revision last applied (or found unappliable), and what it could not serve, by (kind, name)
        self.applied_revision = -1
        self.problems: Problems = {}
        self._problems_reported = False
        self.admin_port: int | None = None
        self.metrics_dir: str | None = None
        #: unix time the routing snapshot in use was swapped in (0: none yet), for the snapshot age metric
        self.snapshot_applied_at = 0.0

    @property
    def public_url(self) -> str:
        cfg = self.config
        if cfg.public_url:
            return cfg.public_url.rstrip("/")
        scheme = "https" if cfg.tls_cert else "http"
        host = "127.0.0.1" if cfg.host in ("0.0.0.0", "::", "") else cfg.host
        return f"{scheme}://{host}:{self.gateway_port or cfg.port}"

    def _bind_ports(self) -> dict[str, socket.socket]:
        """Hold every port this node serves before anything is opened, applied or stored (ListenError)."""
        cfg = self.config
        held: dict[str, socket.socket] = {}
        try:
            if cfg.role in ("all", "gateway"):
                held["gateway"] = bind_listener(cfg.host, cfg.port, "data plane")
            if cfg.role in ("all", "control"):
                held["control"] = bind_listener(cfg.admin_host, cfg.admin_port, "management API")
        except BaseException:
            for sock in held.values():
                sock.close()
            raise
        return held

    async def start(self) -> None:
        """Bind the ports, open the store, apply `config_paths`, then start the planes this node runs.

        A busy port raises ListenError before the store is touched (nothing stored, no admin token).
        """
        held = self._bind_ports()
        try:
            await self._start(held)
        finally:
            for sock in held.values():  # what no server took over (the start failed half-way)
                sock.close()

    async def _start(self, held: dict[str, socket.socket]) -> None:
        cfg = self.config
        store = self.store = await asyncio.to_thread(Store.open, cfg.db_url)
        for path in cfg.config_paths:
            docs = await asyncio.to_thread(load_documents, path)
            result = await asyncio.to_thread(
                functools.partial(store.apply_documents, docs, gateway=cfg.gateway_name, create_gateway=True)
            )
            for line in result.summary_lines():
                log.info("%s", line)
            if cfg.on_new_key is not None:
                for key_name, target, value in result.new_keys:
                    cfg.on_new_key(key_name, target, value)
        if "gateway" in held:
            await self._start_gateway(store, held.pop("gateway"))
        if "control" in held:
            await self._start_control(store, held.pop("control"))
        # Everything loaded so far lives as long as the process: keep the cyclic GC from rescanning it,
        # and collect the young generation less often (the data plane makes few reference cycles).
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)
        self.ready.set()

    async def _start_gateway(self, store: Store, sock: socket.socket) -> None:
        cfg = self.config
        if traffic_metrics_enabled():  # the writer child keeps its metrics here; /metrics reads them
            self.metrics_dir = make_metrics_dir()
        env = {METRICS_DIR_ENV: self.metrics_dir} if self.metrics_dir else {}
        self.usage_writer = UsageWriterProcess(cfg.db_url, env=env)
        # Started now, not on the first batch: its imports (the store) cost a second or more of CPU,
        # which must not compete with the first requests on a small machine.
        await self.usage_writer.start()
        if cfg.role == "gateway":
            serve_metrics_port(self, self.metrics_dir, cfg.admin_host)
        recorder = self.recorder = UsageRecorder(self.usage_writer)
        state = self.state = GatewayState(cfg.gateway_name, recorder, trusted_hops=cfg.trusted_hops)
        if traces_enabled():
            require_otel()
            state.tracing = Tracing(sample_ratio())
        resources = await asyncio.to_thread(store.load_resource_set, cfg.gateway_name)
        state.readiness.store_ok()
        self._apply(state, resources)
        tls = server_ssl_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert and cfg.tls_key else None
        server = await start_gateway_server(state, cfg.host, cfg.port, tls, sock=sock, limits=cfg.server_limits)
        self._servers.append(server)
        self.gateway_port = server.sockets[0].getsockname()[1]
        await asyncio.to_thread(store.register_gateway, cfg.gateway_name, self.public_url)
        await self._report_problems(store)
        self._tasks += [
            asyncio.create_task(recorder.run(), name="usage-recorder"),
            asyncio.create_task(self._follow_store(store, state), name="follow-store"),
            asyncio.create_task(self._flush_key_use(store, state), name="key-use"),
            asyncio.create_task(self._heartbeat(store), name="heartbeat"),
        ]
        log.info("gateway %s serving on %s", cfg.gateway_name, self.public_url)

    async def _start_control(self, store: Store, sock: socket.socket) -> None:
        # Imported here: a gateway-only node never loads FastAPI (half a second of start-up).
        from tollgate.control.server import start_control_server

        cfg = self.config
        server, port = await start_control_server(
            self, store, cfg.admin_host, cfg.admin_port, sock=sock, max_body=cfg.admin_max_body
        )
        self._servers.append(server)
        self.admin_port = port
        log.info("management API on http://%s:%d", self.config.admin_host, port)

    def _apply(self, state: GatewayState, resources: ResourceSet) -> None:
        """Swap in `resources`, leaving out what cannot be built (logged once, reported to the store).

        Even a set that cannot be applied at all counts as seen: it is not retried every poll (a new
        revision is), and the last good snapshot keeps serving.
        """
        self.applied_revision = resources.revision
        try:
            problems = apply_isolating(state, resources)
        except Exception as exc:
            log.error(
                "store revision %d cannot be applied (%s); still serving revision %d",
                resources.revision,
                type(exc).__name__,
                state.snapshot.revision,
            )
            return
        self.snapshot_applied_at = time.time()
        state.readiness.loaded(resources.revision)
        for (kind, name), reason in sorted(problems.items()):
            if self.problems.get((kind, name)) != reason:
                log.error("%s %r is not served on gateway %s: %s", kind, name, self.config.gateway_name, reason)
        if problems != self.problems:
            self.problems = problems
            self._problems_reported = False

    async def _report_problems(self, store: Store) -> None:
        if not self._problems_reported:
            await asyncio.to_thread(store.report_problems, self.config.gateway_name, self.problems)
            self._problems_reported = True

    async def _follow_store(self, store: Store, state: GatewayState) -> None:
        """Poll the store revision; on change compile and swap a new snapshot; report what is not served."""
        unreachable = False
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                revision = await asyncio.to_thread(store.current_revision)
                state.readiness.store_ok()
                if revision != self.applied_revision:
                    resources = await asyncio.to_thread(store.load_resource_set, self.config.gateway_name)
                    self._apply(state, resources)
                    log.info("applied store revision %d", resources.revision)
                await self._report_problems(store)
                if unreachable:
                    log.info("the store is reachable again")
                    unreachable = False
            except Exception as exc:  # the store may be briefly unreachable: keep serving the last snapshot
                if not unreachable:
                    log.warning("could not refresh from the store: %s", type(exc).__name__)
                unreachable = True

    async def _flush_key_use(self, store: Store, state: GatewayState) -> None:
        while True:
            await asyncio.sleep(_KEY_USE_FLUSH_INTERVAL)
            await self._write_key_use(store, state)

    async def _write_key_use(self, store: Store, state: GatewayState) -> None:
        used = state.take_key_usage()
        if used:
            stamps = {key_id: datetime.fromtimestamp(ts, UTC) for key_id, ts in used.items()}
            try:
                await asyncio.to_thread(store.record_key_use, stamps)
            except Exception as exc:
                log.warning("could not record key use: %s", type(exc).__name__)

    async def _heartbeat(self, store: Store) -> None:
        while True:
            await asyncio.sleep(_HEARTBEAT_INTERVAL)
            try:
                status = "degraded" if self.problems else "ready"
                await asyncio.to_thread(store.heartbeat, self.config.gateway_name, status)
            except Exception as exc:
                log.warning("gateway heartbeat failed: %s", type(exc).__name__)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        await self.start()
        await self._stopping.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop accepting, let requests and streams in flight finish (bounded), flush usage and key use."""
        for server in self._servers:
            server.close()
        if self.state is not None and not await self.state.drain(_DRAIN_GRACE):
            log.warning("%d requests still in flight after %.0f s; stopping anyway", self.state.inflight, _DRAIN_GRACE)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CLOSE_WAIT):
                for server in self._servers:
                    await server.wait_closed()
        if self.recorder is not None:
            # before the tasks are cancelled: the flush loop ends after the batch it is writing is acknowledged
            try:
                async with asyncio.timeout(_USAGE_CLOSE_WAIT):
                    await self.recorder.aclose()
            except TimeoutError:
                self.recorder.discard(f"not stored within {_USAGE_CLOSE_WAIT:.0f} s of shutdown")
            stats = self.recorder.stats()
            log.info("usage records: %d written, %d dropped, %d lost", stats.written, stats.dropped, stats.lost)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.usage_writer is not None:
            await self.usage_writer.aclose()
            remove_metrics_dir(self.metrics_dir)
        if self.store is not None and self.state is not None:
            await self._write_key_use(self.store, self.state)
            self.state.pools.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)

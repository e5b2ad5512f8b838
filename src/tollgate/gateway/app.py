"""The gateway process's data-plane state and listener.

`GatewayState` holds the one mutable reference of the data plane, the current Snapshot, plus
the sinks the relay writes to. Swapping in a new snapshot is one assignment: requests already
running keep the snapshot they matched against. Nothing here touches the store; the node
(`tollgate.node`) feeds ResourceSets in.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from tollgate.gateway.relay import Relay
from tollgate.gateway.server import protocol_factory
from tollgate.gateway.server_limits import ServerLimits
from tollgate.gateway.snapshot import Snapshot, compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.resources.resource_set import ResourceSet
from tollgate.usage.sink import UsageSink

DEFAULT_PORT = 8080


class GatewayState:
    """What the relay reads per request: the snapshot, the gateway's name, the usage sink."""

    __slots__ = ("draining", "inflight", "key_last_used", "name", "pools", "snapshot", "usage")

    def __init__(self, name: str, usage: UsageSink) -> None:
        self.name = name
        self.usage = usage
        self.pools = PoolRegistry()
        self.snapshot = Snapshot({})
        #: key id -> unix time of its last use; flushed to the store off the request path
        self.key_last_used: dict[str, float] = {}
        #: requests being answered right now (streams included), for a graceful shutdown
        self.inflight = 0
        #: set at shutdown: connections close after their current response
        self.draining = False

    async def drain(self, grace: float) -> bool:
        """Stop keeping connections alive and wait (up to `grace` s) for requests in flight; True if all ended."""
        self.draining = True
        deadline = asyncio.get_running_loop().time() + grace
        while self.inflight and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return self.inflight == 0

    def apply(self, resources: ResourceSet) -> Snapshot:
        """Compile and swap in a new snapshot (call from the event loop thread)."""
        snapshot = compile_snapshot(resources, self.pools)
        self.snapshot = snapshot
        return snapshot

    def take_key_usage(self) -> dict[str, float]:
        used, self.key_last_used = self.key_last_used, {}
        return used


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS for the Invoke URLs (`https://`): modern protocol versions only."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def start_gateway_server(
    state: GatewayState,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    ssl_context: ssl.SSLContext | None = None,
    max_body: int | None = None,
    sock: socket.socket | None = None,
    limits: ServerLimits | None = None,
) -> asyncio.Server:
    """Listen for Invoke URL traffic; returns the started server (close it to stop accepting).

    With `sock` (already bound, e.g. by `tollgate.listen.bind_listener`), `host` and `port` are ignored.
    `limits` bounds sizes, timeouts and connections (defaults in `server_limits.py`); `max_body`
    overrides just its body cap.
    """
    loop = asyncio.get_running_loop()
    if sock is not None:
        return await loop.create_server(
            protocol_factory(Relay(state), max_body, limits), sock=sock, ssl=ssl_context, backlog=2048
        )
    return await loop.create_server(
        protocol_factory(Relay(state), max_body, limits), host, port, ssl=ssl_context, backlog=2048, reuse_address=True
    )

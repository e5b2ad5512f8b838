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

from tollgate.gateway.failover import RoutingCounters
from tollgate.gateway.probes import Readiness
from tollgate.gateway.refusals import RefusalLog
from tollgate.gateway.relay import Relay
from tollgate.gateway.server import protocol_factory
from tollgate.gateway.server_limits import ConnectionSlots, ServerLimits
from tollgate.gateway.snapshot import Snapshot, compile_snapshot
from tollgate.gateway.targets import TargetHealth
from tollgate.gateway.tracing import Tracing
from tollgate.gateway.upstream import PoolRegistry
from tollgate.gateway.upstream_errors import UpstreamErrorCounts
from tollgate.policies.services import PolicyServices
from tollgate.resources.resource_set import ResourceSet
from tollgate.security.backoff import DEFAULT_MAX_FAILURES, FailureBackoff
from tollgate.usage.sink import UsageSink

DEFAULT_PORT = 8080


#: Reverse proxies in front of the gateway whose `X-Forwarded-For`/`Forwarded` entries are believed.
DEFAULT_TRUSTED_HOPS = 0


#: Wrong keys one address may present per back-off window over all key ids (10x the per-key-id bar).
ADDRESS_MAX_FAILURES = 10 * DEFAULT_MAX_FAILURES


class GatewayState:
    """What the relay reads per request: the snapshot, the gateway's name, the usage sink.

    Parameters:
        trusted_hops: how many reverse proxies stand in front of the gateway; the client address is
            taken from their forwarding headers (see `gateway/forwarding.py`), else from the socket.
    """

    __slots__ = (
        "address_backoff",
        "backoff",
        "backoff_active",
        "connections",
        "draining",
        "health",
        "inflight",
        "key_last_used",
        "name",
        "policy_services",
        "pools",
        "readiness",
        "refusals",
        "routing_counters",
        "snapshot",
        "streams",
        "tracing",
        "trusted_hops",
        "upstream_errors",
        "usage",
    )

    def __init__(self, name: str, usage: UsageSink, *, trusted_hops: int = DEFAULT_TRUSTED_HOPS) -> None:
        self.name = name
        self.usage = usage
        self.trusted_hops = trusted_hops
        self.pools = PoolRegistry()
        #: limit counters (in-process, or Redis with TOLLGATE_REDIS_URL) and prices, kept across snapshots
        self.policy_services = PolicyServices.from_env()
        #: passive health of targets by provider name, carried from one snapshot to the next
        self.health: dict[str, TargetHealth] = {}
        #: rotation positions and retry budgets of multi-provider proxies by name, carried likewise
        self.routing_counters: dict[str, RoutingCounters] = {}
        #: requests refused for a bad key: counted, and recorded only up to a rate
        self.refusals = RefusalLog()
        #: clients that keep presenting bad keys are answered 429 for a while: per (address, key id) ...
        self.backoff = FailureBackoff()
        #: ... and per address over all key ids, with a higher bar, so rotating made-up key ids to
        #: dodge the first count still ends in a block
        self.address_backoff = FailureBackoff(max_failures=ADDRESS_MAX_FAILURES)
        #: set at the first wrong key: until then the relay skips the back-off lookup altogether
        self.backoff_active = False
        self.snapshot = Snapshot({})
        #: what the data port's readiness probe reports: snapshot loaded, store answered recently
        self.readiness = Readiness()
        #: key id -> unix time of its last use; flushed to the store off the request path
        self.key_last_used: dict[str, float] = {}
        #: requests being answered right now (streams included), for a graceful shutdown
        self.inflight = 0
        #: of those, streams being relayed right now
        self.streams = 0
        #: the data port's open connections (set when the listener starts)
        self.connections: ConnectionSlots | None = None
        #: upstream failures by (provider, kind), failover attempts included
        self.upstream_errors = UpstreamErrorCounts()
        #: W3C trace context per request when tracing is on (`TOLLGATE_TRACES`); None: off, no cost
        self.tracing: Tracing | None = None
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
        snapshot = compile_snapshot(resources, self.pools, self.health, self.policy_services, self.routing_counters)
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
    limits = limits or ServerLimits()
    state.connections = ConnectionSlots(limits.connection_cap())
    factory = protocol_factory(Relay(state), max_body, limits, state.connections)
    # A TLS handshake is bounded like a request head: a client that stalls it holds a descriptor
    # outside the connection cap (the protocol only sees connections whose handshake is done).
    handshake = limits.header_timeout if ssl_context is not None else None
    if sock is not None:
        return await loop.create_server(
            factory, sock=sock, backlog=2048, ssl=ssl_context, ssl_handshake_timeout=handshake
        )
    return await loop.create_server(
        factory, host, port, backlog=2048, reuse_address=True, ssl=ssl_context, ssl_handshake_timeout=handshake
    )

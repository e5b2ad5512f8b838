"""Reaching an upstream through an outbound HTTP proxy (a provider's `proxy`, `HTTPS_PROXY`-style).

https upstreams go through a CONNECT tunnel, TLS runs inside it end to end; http upstreams are sent
to the proxy in absolute form (`upstream.py` builds the target). A proxy that wants credentials gets
`Proxy-Authorization: Basic` from a Secret (the provider's `proxyCredential`, never the URL): on
CONNECT for https, on every request for http. No SOCKS.
"""

from __future__ import annotations

import asyncio
import base64
from typing import cast
from urllib.parse import urlsplit

from tollgate.errors import UpstreamConnectError

#: Bytes of a proxy's answer to CONNECT we are willing to read.
_MAX_CONNECT_REPLY = 16 * 1024


def parse_proxy_url(url: str) -> tuple[str, int]:
    """(host, port) of an `http://host[:port]` proxy URL; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("proxy URL must look like http://host:port")
    if parts.username or parts.password:
        raise ValueError("proxy URL must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("proxy URL must not have a path or query")
    return parts.hostname, parts.port or 80


class _TunnelReply(asyncio.Protocol):
    """Reads the proxy's reply to CONNECT; nothing else arrives before our TLS handshake."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.done: asyncio.Future[None] = loop.create_future()
        self._buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self._buf += data  # bounded by _MAX_CONNECT_REPLY
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _MAX_CONNECT_REPLY:
                self.done.set_exception(UpstreamConnectError("upstream proxy sent an oversized CONNECT reply"))
            return
        status_line = self._buf.split(b"\r\n", 1)[0].split(None, 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1.") or status_line[1] != b"200":
            code = status_line[1].decode("latin-1", "replace")[:3] if len(status_line) > 1 else "?"
            self.done.set_exception(UpstreamConnectError(f"upstream proxy refused the tunnel (status {code})"))
            return
        if self.transport is not None:
            self.transport.pause_reading()  # the TLS layer takes over the stream from here
        self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(UpstreamConnectError("upstream proxy closed the connection during CONNECT"))


def basic_proxy_authorization(credential: str) -> bytes:
    """The `Proxy-Authorization` value for a `user:password` credential (RFC 7617 Basic)."""
    if ":" not in credential or any(c in credential for c in "\r\n"):
        raise ValueError("a proxy credential must look like user:password")
    return b"Basic " + base64.b64encode(credential.encode())


async def open_tunnel(
    loop: asyncio.AbstractEventLoop,
    proxy: tuple[str, int],
    host: str,
    port: int,
    authorization: bytes | None = None,
) -> asyncio.Transport:
    """A transport to `proxy` on which `CONNECT host:port` succeeded; the caller starts TLS on it."""
    transport, reply = await loop.create_connection(lambda: _TunnelReply(loop), proxy[0], proxy[1])
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    auth = b"proxy-authorization: %s\r\n" % authorization if authorization else b""
    transport.write(
        b"CONNECT %s HTTP/1.1\r\nhost: %s\r\n%s\r\n" % (authority.encode("idna"), authority.encode("idna"), auth)
    )
    try:
        await reply.done
    except BaseException:
        transport.close()
        raise
    return transport

"""Tests for gateway/upstream_proxy.py: upstreams reached through a tiny real forward proxy on
loopback (CONNECT tunnels for https, absolute-form requests for http)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import pytest

from tests.gateway.gw_helpers import RawUpstream
from tests.gateway.test_upstream import FAST, get
from tollgate.errors import UpstreamConnectError
from tollgate.gateway.upstream import UpstreamPool, split_base_url
from tollgate.gateway.upstream_proxy import basic_proxy_authorization, parse_proxy_url
from tollgate.mock.certs import self_signed_cert


class TinyProxy:
    """A forward proxy: `CONNECT host:port` opens a tunnel; any other request line is sent on to
    the host it names, as is, and the connection piped from there. Records what it was asked."""

    def __init__(self, refuse_connect: int | None = None, require: bytes | None = None) -> None:
        self.refuse_connect = refuse_connect
        #: the Proxy-Authorization value it wants (407 without it); only a connection's first request is read
        self.require = require
        self.authorizations: list[bytes | None] = []
        self.first_lines: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> TinyProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0]
            self.first_lines.append(line)
            method, target, _ = line.split(b" ", 2)
            fields = dict(f.split(b": ", 1) for f in head[:-4].split(b"\r\n")[1:])
            self.authorizations.append(fields.get(b"proxy-authorization"))
            if self.require is not None and fields.get(b"proxy-authorization") != self.require:
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                return
            if method == b"CONNECT":
                if self.refuse_connect is not None:
                    writer.write(b"HTTP/1.1 %d Nope\r\ncontent-length: 0\r\n\r\n" % self.refuse_connect)
                    await writer.drain()
                    return
                host, port = target.rsplit(b":", 1)
                up_reader, up_writer = await asyncio.open_connection(host.decode(), int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                authority = target.split(b"/")[2]
                host, port = authority.rsplit(b":", 1)
                up_reader, up_writer = await asyncio.open_connection(host.decode(), int(port))
                up_writer.write(head)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


@pytest.fixture
async def proxy() -> TinyProxy:
    p = await TinyProxy().start()
    yield p  # type: ignore[misc]
    await p.close()


@pytest.fixture
async def upstream() -> RawUpstream:
    up = await RawUpstream().start()
    yield up  # type: ignore[misc]
    await up.close()


def test_proxy_url_must_be_plain_http() -> None:
    assert parse_proxy_url("http://proxy.internal:3128") == ("proxy.internal", 3128)
    assert parse_proxy_url("http://proxy") == ("proxy", 80)
    for bad in ("https://p:1", "socks5://p:1", "http://user:pw@p:1", "http://p:1/path", "p:3128"):
        with pytest.raises(ValueError):
            parse_proxy_url(bad)
    with pytest.raises(ValueError):
        split_base_url("https://api.example.com/v1", proxy="http://u:p@proxy:3128")


async def test_http_upstream_through_the_proxy_in_absolute_form(proxy: TinyProxy, upstream: RawUpstream) -> None:
    origin, _ = split_base_url(upstream.url, proxy=proxy.url)
    pool = UpstreamPool(origin)
    for _ in range(3):
        assert await get(pool, "/v1/models?x=1") == (200, b'{"ok":true}')
    target = f"http://127.0.0.1:{upstream.port}/v1/models?x=1"
    assert proxy.first_lines == [f"GET {target} HTTP/1.1".encode()]
    assert [r.target for r in upstream.requests] == [target] * 3
    assert upstream.requests[0].headers["host"] == f"127.0.0.1:{upstream.port}"
    assert proxy.connections == 1  # kept alive through the proxy
    pool.close()


async def test_https_upstream_through_a_connect_tunnel(proxy: TinyProxy, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    up = await RawUpstream(ssl=ctx).start()
    try:
        origin, _ = split_base_url(up.url, str(cert), proxy=proxy.url)
        pool = UpstreamPool(origin)
        for _ in range(3):
            assert await get(pool, "/v1/chat/completions", body=b"{}") == (200, b'{"ok":true}')
        assert proxy.first_lines == [f"CONNECT 127.0.0.1:{up.port} HTTP/1.1".encode()]
        assert [r.target for r in up.requests] == ["/v1/chat/completions"] * 3  # origin form inside TLS
        assert (proxy.connections, up.connections) == (1, 1)
        pool.close()
    finally:
        await up.close()


async def test_proxy_refusing_the_tunnel_is_a_connect_error(tmp_path: Path) -> None:
    proxy = await TinyProxy(refuse_connect=403).start()
    try:
        origin, _ = split_base_url("https://127.0.0.1:9/v1", proxy=proxy.url)
        with pytest.raises(UpstreamConnectError, match=r"proxy refused the tunnel \(status 403\)"):
            await UpstreamPool(origin).request("GET", "/x", [], b"", b"", FAST)
    finally:
        await proxy.close()


async def test_unreachable_proxy_is_a_connect_error() -> None:
    origin, _ = split_base_url("https://api.example.com", proxy="http://127.0.0.1:9")
    with pytest.raises(UpstreamConnectError, match="unreachable during connect"):
        await UpstreamPool(origin).request("GET", "/x", [], b"", b"", FAST)


LOGIN = basic_proxy_authorization("gw:pa55word")


def test_proxy_credentials_become_a_basic_authorization() -> None:
    assert LOGIN == b"Basic Z3c6cGE1NXdvcmQ="  # base64("gw:pa55word")
    for bad in ("no-colon", "a:b\r\nx-injected: 1"):
        with pytest.raises(ValueError, match="user:password"):
            basic_proxy_authorization(bad)
    origin, _ = split_base_url("https://api.example.com/v1", proxy="http://p:3128", proxy_authorization=LOGIN)
    assert "pa55" not in repr(origin) and "Z3c6" not in repr(origin)  # never in a log line


async def test_https_through_a_proxy_that_wants_credentials(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    up = await RawUpstream(ssl=ctx).start()
    proxy = await TinyProxy(require=LOGIN).start()
    try:
        origin, _ = split_base_url(up.url, str(cert), proxy=proxy.url, proxy_authorization=LOGIN)
        pool = UpstreamPool(origin)
        assert await get(pool, "/v1/chat/completions", body=b"{}") == (200, b'{"ok":true}')
        assert proxy.authorizations == [LOGIN]  # on CONNECT
        assert "proxy-authorization" not in up.requests[0].headers  # never inside the tunnel, to the vendor
        pool.close()
        anonymous, _ = split_base_url(up.url, str(cert), proxy=proxy.url)
        with pytest.raises(UpstreamConnectError, match=r"proxy refused the tunnel \(status 407\)"):
            await UpstreamPool(anonymous).request("GET", "/x", [], b"", b"", FAST)
    finally:
        await proxy.close()
        await up.close()


async def test_http_through_a_proxy_that_wants_credentials(upstream: RawUpstream) -> None:
    proxy = await TinyProxy(require=LOGIN).start()
    try:
        origin, _ = split_base_url(upstream.url, proxy=proxy.url, proxy_authorization=LOGIN)
        pool = UpstreamPool(origin)
        for _ in range(2):
            assert await get(pool, "/v1/models") == (200, b'{"ok":true}')
        assert proxy.authorizations == [LOGIN]  # one connection: the proxy read its first request
        # absolute form: every request carries it (this proxy passes later requests through as they are)
        assert [r.headers["proxy-authorization"] for r in upstream.requests[1:]] == [LOGIN.decode()]
        pool.close()
    finally:
        await proxy.close()

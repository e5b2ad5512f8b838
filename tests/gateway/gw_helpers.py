"""Shared parts of the gateway tests: resource builders, a list-backed usage sink, a gateway on a
loopback port, and a tiny raw asyncio HTTP/1.1 upstream whose connections the tests can count.

Everything is real sockets on 127.0.0.1; nothing here mocks the code under test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tollgate.gateway.app import GatewayState, start_gateway_server
from tollgate.gateway.server_limits import ServerLimits
from tollgate.resources.keys import KeyRecord, generate_key
from tollgate.resources.models import LLMProvider, LLMProxy, ProviderTemplate
from tollgate.resources.resource_set import ResourceSet
from tollgate.usage.record import UsageRecord

#: bound on any single wait in these tests
WAIT = 5.0


class ListSink:
    """A UsageSink that keeps every record in a list."""

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    def submit(self, record: UsageRecord) -> None:
        self.records.append(record)


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def provider(
    name: str, template: str, context: str, upstream_url: str | None, secret: str | None = None, **spec: Any
) -> LLMProvider:
    """An LLMProvider; `secret` names a Secret in the ResourceSet's `secrets` map."""
    body: dict[str, Any] = {"template": template, "context": context, **spec}
    if upstream_url is not None:
        body["upstreamUrl"] = upstream_url
    if secret is not None:
        body["credential"] = {"secret": secret}
    return LLMProvider.model_validate(_doc("LLMProvider", name, body))


def proxy(name: str, provider_name: str, context: str, **spec: Any) -> LLMProxy:
    return LLMProxy.model_validate(_doc("LLMProxy", name, {"provider": provider_name, "context": context, **spec}))


def template(name: str, spec: dict[str, Any]) -> ProviderTemplate:
    return ProviderTemplate.model_validate(_doc("ProviderTemplate", name, spec))


def new_key(
    kind: str, target: str, *, expires_at: datetime | None = None, revoked: bool = False
) -> tuple[str, KeyRecord]:
    """(value, record) of a fresh key for one provider or proxy."""
    key = generate_key()
    record = KeyRecord(
        id=key.id,
        name=f"k-{key.id}",
        target_kind=kind,
        target_name=target,
        secret_hash=key.secret_hash,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
        revoked_at=datetime.now(UTC) if revoked else None,
    )
    return key.value, record


def resource_set(
    providers: list[LLMProvider],
    proxies: list[LLMProxy] | None = None,
    keys: list[KeyRecord] | None = None,
    secrets: dict[str, str] | None = None,
    templates: list[ProviderTemplate] | None = None,
    revision: int = 1,
) -> ResourceSet:
    return ResourceSet(
        templates={t.metadata.name: t for t in templates or []},
        providers={p.metadata.name: p for p in providers},
        proxies={p.metadata.name: p for p in proxies or []},
        keys=list(keys or []),
        secrets=dict(secrets or {}),
        revision=revision,
    )


@dataclass
class RunningGateway:
    state: GatewayState
    server: asyncio.Server
    sink: ListSink
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def close(self) -> None:
        self.server.close()
        self.state.pools.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await self.server.wait_closed()


async def start_gateway(
    resources: ResourceSet, max_body: int | None = None, limits: ServerLimits | None = None
) -> RunningGateway:
    sink = ListSink()
    state = GatewayState("test-gw", sink)
    state.apply(resources)
    server = await start_gateway_server(state, "127.0.0.1", 0, max_body=max_body, limits=limits)
    port = server.sockets[0].getsockname()[1]
    return RunningGateway(state, server, sink, f"http://127.0.0.1:{port}")


# --- a raw upstream ------------------------------------------------------------------------------


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    reader: asyncio.StreamReader | None = None

    async def wait_closed(self, timeout: float = WAIT) -> None:
        """Return when the client closes its side (or after `timeout`): a hung upstream that still notices."""
        assert self.reader is not None
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass


async def read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    """One HTTP/1.1 request with a Content-Length body (or none); None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return RawRequest(method, target, headers, body)


def response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X"]
    for name, value in (headers or {"content-type": "application/json"}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


#: a raw upstream's per-connection behaviour: (upstream, request, writer) -> keep the connection?
RawHandler = Callable[["RawUpstream", RawRequest, asyncio.StreamWriter], Awaitable[bool]]


async def ok_handler(up: RawUpstream, req: RawRequest, writer: asyncio.StreamWriter) -> bool:
    writer.write(response(200, b'{"ok":true}'))
    await writer.drain()
    return True


@dataclass
class RawUpstream:
    """A raw keep-alive HTTP/1.1 server on loopback; counts connections and records requests."""

    handler: RawHandler = ok_handler
    ssl: Any = None
    connections: int = 0
    open_connections: int = 0
    requests: list[RawRequest] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    async def start(self) -> RawUpstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        self.writers.append(writer)
        try:
            while True:
                req = await read_request(reader)
                if req is None:
                    break
                req.reader = reader
                self.requests.append(req)
                if not await self.handler(self, req, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_connections -= 1
            self.closed.set()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self.server.wait_closed()


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)

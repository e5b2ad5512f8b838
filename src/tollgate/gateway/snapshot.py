"""Compiles a ResourceSet into an immutable routing Snapshot: context -> Route, everything prebuilt.

All per-route work that does not depend on the request (adapter, auth table, credential headers,
header strip set, upstream pool, allow-list) happens here, once per config change. A new snapshot
replaces the old one by swapping one reference; requests in flight keep the one they started with.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from urllib.parse import quote

from tollgate.gateway.auth import AuthCheck, KeyEntry
from tollgate.gateway.upstream import Origin, PoolRegistry, Timeout, UpstreamPool, split_base_url
from tollgate.providers.base import ProviderAdapter
from tollgate.providers.registry import BUILTIN_TEMPLATES, build_adapter
from tollgate.resources.models import InboundSecurity, LLMProvider, SecretRef, TemplateSpec
from tollgate.resources.resource_set import ResourceSet
from tollgate.types import HeaderList

log = logging.getLogger("tollgate.gateway")

#: Client credential headers never forwarded upstream (the provider's credential replaces them).
CLIENT_CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key", b"api-key", b"x-goog-api-key"})
#: Hop-by-hop and framing headers the gateway sets itself.
HOP_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"expect",
        b"accept-encoding",
    }
)


@dataclass(frozen=True, slots=True)
class Route:
    """Everything the relay needs for one deployed provider or proxy."""

    context: str
    kind: str  # "LLMProvider" or "LLMProxy"
    name: str
    provider: str
    proxy: str | None
    adapter: ProviderAdapter
    auth: AuthCheck
    pool: UpstreamPool | None  # None when the route cannot serve (see `unavailable`)
    base_path: str
    upstream_headers: bytes  # credential + fixed header lines, preformatted, sent with every request
    default_headers: HeaderList  # added only when the client sent none of that name
    credential_query: str  # "name=value" appended to the upstream query, or ""
    strip_headers: frozenset[bytes]
    strip_query: frozenset[str]
    models: frozenset[str] | None
    timeout: Timeout
    max_body: int
    unavailable: str | None = None


class Snapshot:
    """Immutable routing table. `match` costs one dict lookup per distinct context depth."""

    __slots__ = ("_depths", "revision", "routes")

    def __init__(self, routes: dict[str, Route], revision: int = 0) -> None:
        self.routes = routes
        self.revision = revision
        self._depths = tuple(sorted({ctx.count("/") for ctx in routes}, reverse=True))

    def match(self, path: str) -> Route | None:
        """The route whose context is the longest segment-wise prefix of `path`."""
        routes = self.routes
        for depth in self._depths:
            end = 0
            for _ in range(depth):
                end = path.find("/", end + 1)
                if end < 0:
                    break
            if end < 0:
                # fewer separators than the depth: the whole path may equal a context exactly
                if path.count("/") == depth:
                    route = routes.get(path)
                    if route is not None:
                        return route
                continue
            route = routes.get(path[:end])
            if route is not None:
                return route
        return None


def _template_spec(name: str, resources: ResourceSet) -> TemplateSpec | None:
    custom = resources.templates.get(name)
    if custom is not None:
        return custom.spec
    return BUILTIN_TEMPLATES.get(name)


def _resolve_secret(ref: SecretRef | None, resources: ResourceSet) -> str | None:
    if ref is None:
        return None
    if ref.secret is not None:
        return resources.secrets.get(ref.secret)
    assert ref.env is not None
    return os.environ.get(ref.env)


def _auth_check(security: InboundSecurity, adapter: ProviderAdapter, keys: dict[str, KeyEntry]) -> AuthCheck:
    name = security.name.lower().encode() if security.location == "header" else b""
    return AuthCheck(
        enabled=security.enabled,
        location=security.location,
        name=name,
        query_name=security.name,
        value_prefix=security.value_prefix.encode(),
        vendor_headers=tuple(adapter.client_key_headers) if security.accept_vendor_headers else (),
        keys=keys,
    )


@dataclass(frozen=True, slots=True)
class _Upstream:
    adapter: ProviderAdapter
    pool: UpstreamPool | None
    base_path: str
    upstream_headers: HeaderList
    credential_query: str
    credential_names: frozenset[bytes]
    unavailable: str | None


def _compile_upstream(provider: LLMProvider, resources: ResourceSet, pools: PoolRegistry) -> _Upstream | None:
    spec = provider.spec
    template = _template_spec(spec.template, resources)
    if template is None:
        log.error("provider %s: unknown template %s; not routed", provider.metadata.name, spec.template)
        return None
    adapter = build_adapter(spec.template, template)
    unavailable: str | None = None
    pool: UpstreamPool | None = None
    base_path = ""
    base_url = spec.upstream_url or template.base_url or adapter.default_base_url
    if base_url is None:
        unavailable = "the provider has no upstream URL configured"
    else:
        origin, base_path = split_base_url(base_url, spec.ca_bundle, spec.proxy)
        pool = pools.get(origin, spec.max_connections)
    headers: HeaderList = []
    query = ""
    secret = _resolve_secret(spec.credential, resources)
    if spec.credential is not None and secret is None:
        unavailable = "the provider's upstream credential is not available"
        log.error("provider %s: upstream credential not found; requests get 503", provider.metadata.name)
    elif secret is not None:
        cred_headers, cred_query = adapter.upstream_credential(secret)
        headers.extend(cred_headers)
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in cred_query)
    names = frozenset(name for name, _ in headers)
    return _Upstream(adapter, pool, base_path, headers, query, names, unavailable)


def _key_tables(resources: ResourceSet) -> dict[tuple[str, str], dict[str, KeyEntry]]:
    tables: dict[tuple[str, str], dict[str, KeyEntry]] = {}
    for key in resources.keys:
        if key.revoked_at is not None:
            continue
        expires = key.expires_at.timestamp() if key.expires_at is not None else None
        tables.setdefault((key.target_kind, key.target_name), {})[key.id] = KeyEntry(key.id, key.secret_hash, expires)
    return tables


def compile_snapshot(resources: ResourceSet, pools: PoolRegistry) -> Snapshot:
    """Build every route of the deployed providers and proxies. Never raises for one bad resource:
    it is left out (or answers 503) and logged, so one mistake cannot take the gateway down."""
    tables = _key_tables(resources)
    upstreams: dict[str, _Upstream] = {}
    routes: dict[str, Route] = {}
    for name, provider in resources.providers.items():
        upstream = _compile_upstream(provider, resources, pools)
        if upstream is None:
            continue
        upstreams[name] = upstream
        routes[provider.spec.context] = _route(
            provider.spec.context,
            "LLMProvider",
            name,
            name,
            None,
            provider,
            provider.spec.security,
            upstream,
            tables.get(("LLMProvider", name), {}),
        )
    for name, proxy in resources.proxies.items():
        provider_name = proxy.spec.provider
        upstream = upstreams.get(provider_name)
        base = resources.providers.get(provider_name)
        if upstream is None or base is None:
            log.error("proxy %s: provider %s is not deployed; not routed", name, provider_name)
            continue
        routes[proxy.spec.context] = _route(
            proxy.spec.context,
            "LLMProxy",
            name,
            provider_name,
            name,
            base,
            proxy.spec.security,
            upstream,
            tables.get(("LLMProxy", name), {}),
        )
    return Snapshot(routes, resources.revision)


def _route(
    context: str,
    kind: str,
    name: str,
    provider_name: str,
    proxy: str | None,
    provider: LLMProvider,
    security: InboundSecurity,
    upstream: _Upstream,
    keys: dict[str, KeyEntry],
) -> Route:
    adapter = upstream.adapter
    # a custom template's own client key headers carry the gateway key too: never forwarded
    strip = set(HOP_HEADERS | CLIENT_CREDENTIAL_HEADERS | upstream.credential_names) | set(adapter.client_key_headers)
    strip_query: set[str] = set(getattr(adapter, "client_key_query_params", ()))
    if security.location == "header":
        strip.add(security.name.lower().encode())
    else:
        strip_query.add(security.name)
    spec = provider.spec
    models = frozenset(spec.models) if spec.models else None
    timeout = Timeout(spec.timeouts.connect, spec.timeouts.first_byte, spec.timeouts.idle, spec.timeouts.pool)
    return Route(
        context=context,
        kind=kind,
        name=name,
        provider=provider_name,
        proxy=proxy,
        adapter=adapter,
        auth=_auth_check(security, adapter, keys),
        pool=upstream.pool,
        base_path=upstream.base_path,
        upstream_headers=b"".join(
            b"%s: %s\r\n" % (n, v) for n, v in [*upstream.upstream_headers, (b"accept-encoding", b"identity")]
        ),
        default_headers=list(adapter.default_headers),
        credential_query=upstream.credential_query,
        strip_headers=frozenset(strip),
        strip_query=frozenset(strip_query),
        models=models,
        timeout=timeout,
        max_body=spec.max_request_bytes,
        unavailable=upstream.unavailable,
    )


__all__ = ["Origin", "Route", "Snapshot", "compile_snapshot"]

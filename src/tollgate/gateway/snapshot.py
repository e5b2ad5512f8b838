"""Compiles a ResourceSet into an immutable routing Snapshot: context -> Route, everything prebuilt.

All per-route work that does not depend on the request (client API, targets with their backend,
translator, pool and credential, auth table, header strip set, allow-list, policy chain) happens
here, once per config change. A new snapshot replaces the old one by swapping one reference;
requests in flight keep the one they started with.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from urllib.parse import quote

from tollgate.errors import ResourceValidationError
from tollgate.gateway.auth import AuthCheck, KeyEntry
from tollgate.gateway.failover import FailoverSettings, Routing, RoutingCounters
from tollgate.gateway.selection import build_selector
from tollgate.gateway.targets import Target, TargetHealth
from tollgate.gateway.upstream import Origin, PoolRegistry, Timeout, UpstreamPool, split_base_url
from tollgate.gateway.upstream_proxy import basic_proxy_authorization
from tollgate.policies.attach import build_policies
from tollgate.policies.base import Policy, PolicyChain
from tollgate.policies.key_limits import build_key_chain, key_limits_policy, parse_key_limits
from tollgate.policies.services import PolicyServices
from tollgate.providers.base import ClientAPI
from tollgate.providers.model_map import ModelMapTranslator
from tollgate.providers.pairs import client_api_named
from tollgate.providers.registry import BUILTIN_TEMPLATES, build_template
from tollgate.providers.template import Template
from tollgate.providers.translators import translator_for
from tollgate.resources.models import (
    InboundSecurity,
    LLMProvider,
    PolicyRef,
    ProviderSpec,
    ProxySpec,
    SecretRef,
    TemplateSpec,
)
from tollgate.resources.resource_set import ResourceSet
from tollgate.resources.routing import CircuitBreakerSpec, FailoverSpec, RoutingSpec
from tollgate.types import HeaderList

log = logging.getLogger("tollgate.gateway")

#: Why a target whose pool cannot be built answers 503 (the detail is in the log and the node's status
#: report, not in answers to clients).
UPSTREAM_SETUP_FAILED = "the provider's upstream connection cannot be set up"
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
#: Client-supplied forwarding headers: never passed to a vendor as they came (spoofable, and client
#: addresses are not the vendor's business); the gateway derives the client address itself.
FORWARDING_HEADERS = frozenset(
    {b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-port", b"x-real-ip"}
)


@dataclass(frozen=True, slots=True)
class Route:
    """Everything the relay needs for one deployed provider or proxy, prebuilt.

    `client_api` is what the route's clients speak; `targets` are the upstreams a request may go to
    (the provider's, then a proxy's fallbacks), each with the translator from `client_api` to its
    backend; `chain` holds the policies compiled per phase. `strip_headers` are never forwarded
    (client credentials, hop-by-hop and framing headers, the target's own credential names).
    """

    context: str
    provider: str
    proxy: str | None
    client_api: ClientAPI
    auth: AuthCheck
    targets: tuple[Target, ...]
    chain: PolicyChain
    strip_headers: frozenset[bytes]
    models: frozenset[str] | None
    max_body: int
    #: selection and failover among several targets (a proxy with fallbacks or routing settings); None
    #: for a route with one target and no settings, which then pays nothing for them
    routing: Routing | None = None


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


def _proxy_authorization(spec: ProviderSpec, resources: ResourceSet) -> bytes | None:
    """The outbound proxy's `Proxy-Authorization` value, or None when it needs none; ValueError
    (the provider answers 503, and says why) when its credential is missing or malformed."""
    if spec.proxy_credential is None:
        return None
    credential = _resolve_secret(spec.proxy_credential, resources)
    if credential is None:
        raise ValueError("the outbound proxy's credential is not available")
    return basic_proxy_authorization(credential)


def _auth_check(security: InboundSecurity, client: ClientAPI, keys: dict[str, KeyEntry]) -> AuthCheck:
    name = security.name.lower().encode() if security.location == "header" else b""
    return AuthCheck(
        enabled=security.enabled,
        location=security.location,
        name=name,
        query_name=security.name,
        value_prefix=security.value_prefix.encode(),
        vendor_headers=tuple(client.client_key_headers) if security.accept_vendor_headers else (),
        keys=keys,
    )


@dataclass(frozen=True, slots=True)
class _Upstream:
    """What a provider compiles to, before it is paired with a route's client API and strip set."""

    template: Template
    pool: UpstreamPool | None
    base_path: str
    fixed_headers: bytes
    credential_query: str
    credential_names: frozenset[bytes]
    timeout: Timeout
    health: TargetHealth
    unavailable: str | None


def _compile_upstream(
    provider: LLMProvider, resources: ResourceSet, pools: PoolRegistry, health: dict[str, TargetHealth]
) -> _Upstream | None:
    spec = provider.spec
    template_spec = _template_spec(spec.template, resources)
    if template_spec is None:
        log.error("provider %s: unknown template %s; not routed", provider.metadata.name, spec.template)
        return None
    template = build_template(spec.template, template_spec)
    unavailable: str | None = None
    pool: UpstreamPool | None = None
    base_path = ""
    base_url = spec.upstream_url or template_spec.base_url or template.default_base_url
    if base_url is None:
        unavailable = "the provider has no upstream URL configured"
    else:
        try:
            proxy_auth = _proxy_authorization(spec, resources)
            origin, base_path = split_base_url(base_url, spec.ca_bundle, spec.proxy, proxy_auth)
            pool = pools.get(origin, spec.max_connections)
        except (OSError, ValueError) as exc:  # a CA bundle gone or unreadable (ssl.SSLError is an OSError)
            unavailable = UPSTREAM_SETUP_FAILED
            log.error("provider %s: upstream cannot be set up (%s); requests get 503", provider.metadata.name, exc)
    headers: HeaderList = []
    query = ""
    secret = _resolve_secret(spec.credential, resources)
    if spec.credential is not None and secret is None:
        unavailable = "the provider's upstream credential is not available"
        log.error("provider %s: upstream credential not found; requests get 503", provider.metadata.name)
    elif secret is not None:
        cred_headers, cred_query = template.backend.upstream_credential(secret)
        headers.extend(cred_headers)
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in cred_query)
    names = frozenset(name for name, _ in headers)
    fixed = b"".join(b"%s: %s\r\n" % (n, v) for n, v in [*headers, (b"accept-encoding", b"identity")])
    timeout = Timeout(spec.timeouts.connect, spec.timeouts.first_byte, spec.timeouts.idle, spec.timeouts.pool)
    # Health survives config changes while the provider keeps its name (a new snapshot is not a recovery).
    target_health = health.setdefault(provider.metadata.name, TargetHealth())
    return _Upstream(template, pool, base_path, fixed, query, names, timeout, target_health, unavailable)


KeyTables = dict[tuple[str, str], dict[str, KeyEntry]]
KeyChains = dict[tuple[str, str], dict[str, PolicyChain]]


def _key_tables(resources: ResourceSet, services: PolicyServices) -> tuple[KeyTables, KeyChains]:
    """Per target: the key table, and the compiled chains of the keys that carry their own limits.

    A key whose stored limits cannot be built (written by another version) is left out of the table:
    refused, rather than let through without the limits its owner set."""
    tables: KeyTables = {}
    chains: KeyChains = {}
    for key in resources.keys:
        if key.revoked_at is not None:
            continue
        target = (key.target_kind, key.target_name)
        if key.limits:
            try:
                limits = parse_key_limits(f"APIKey/{key.name}", key.limits)  # type: ignore[arg-type]
            except ResourceValidationError as exc:
                log.error("API key %s (%s): limits not built at %s; key refused", key.name, key.id, exc.field)
                continue
            chains.setdefault(target, {})[key.id] = build_key_chain(key.id, limits, services)
        expires = key.expires_at.timestamp() if key.expires_at is not None else None
        tables.setdefault(target, {})[key.id] = KeyEntry(key.id, key.secret_hash, expires)
    return tables, chains


def _with_key_limits(policies: tuple[Policy, ...], chains: dict[str, PolicyChain] | None) -> tuple[Policy, ...]:
    """THE place of key limits in the policy order: first, before the provider's and the proxy's own."""
    policy = key_limits_policy(chains) if chains else None
    return policies if policy is None else (policy, *policies)


def compile_snapshot(
    resources: ResourceSet,
    pools: PoolRegistry,
    health: dict[str, TargetHealth] | None = None,
    services: PolicyServices | None = None,
    counters: dict[str, RoutingCounters] | None = None,
) -> Snapshot:
    """Build every route of the deployed providers and proxies. Never raises for one bad resource:
    it is left out (or answers 503) and logged, so one mistake cannot take the gateway down.

    `health` carries targets' passive health from one snapshot to the next (by provider name), and
    `counters` the rotation positions and retry budgets of multi-provider proxies (by proxy name), so
    a configuration change elsewhere neither restarts a rotation nor refills a budget.
    """
    services = PolicyServices() if services is None else services
    baselines: dict[str, tuple[Policy, ...]] = {}
    health = {} if health is None else health
    counters = {} if counters is None else counters
    tables, key_chains = _key_tables(resources, services)
    upstreams: dict[str, _Upstream] = {}
    routes: dict[str, Route] = {}
    targets: dict[str, Target] = {}  # provider -> its target, for policies that call a provider (embeddings)
    for name, provider in resources.providers.items():
        upstream = _compile_upstream(provider, resources, pools, health)
        if upstream is None:
            continue
        policies = _policies("LLMProvider", name, provider.spec.policies, services, targets)
        if policies is None:
            continue
        upstreams[name] = upstream
        baselines[name] = policies
        route = _route(
            provider.spec.context,
            name,
            None,
            provider,
            provider.spec.security,
            upstream,
            tables.get(("LLMProvider", name), {}),
            provider.spec.client_api,
            _with_key_limits(policies, key_chains.get(("LLMProvider", name))),
        )
        if route is not None:
            routes[provider.spec.context] = route
            targets[name] = route.targets[0]
    for name, proxy in resources.proxies.items():
        provider_name = proxy.spec.provider
        upstream = upstreams.get(provider_name)
        base = resources.providers.get(provider_name)
        if upstream is None or base is None:
            log.error("proxy %s: provider %s is not deployed; not routed", name, provider_name)
            continue
        own = _policies("LLMProxy", name, proxy.spec.policies, services, targets)
        if own is None:
            continue
        route = _route(
            proxy.spec.context,
            provider_name,
            name,
            base,
            proxy.spec.security,
            upstream,
            tables.get(("LLMProxy", name), {}),
            proxy.spec.client_api or _proxy_client_api(proxy.spec, upstreams, resources),
            # THE policy order: the key's own limits, the provider's baseline, then the proxy's
            _with_key_limits(baselines[provider_name] + own, key_chains.get(("LLMProxy", name))),
        )
        if route is not None and proxy.spec.fallbacks:
            route = _with_fallbacks(route, proxy.spec.fallbacks, upstreams, resources)
        if route is not None and _routes_several(proxy.spec):
            carried = counters.setdefault(name, RoutingCounters())
            route = dataclasses.replace(route, routing=_routing(proxy.spec, route.targets, carried))
        if route is not None:
            routes[proxy.spec.context] = route
    return Snapshot(routes, resources.revision)


def _policies(
    kind: str, name: str, refs: list[PolicyRef], services: PolicyServices, targets: dict[str, Target]
) -> tuple[Policy, ...] | None:
    """The built policies of one document, or None (logged; the route is left out) when one cannot be built.

    A provider's policies are built once and shared by its own route and every proxy on it, so its
    counters are shared too."""
    try:
        return build_policies(kind, name, refs, services, targets)
    except ResourceValidationError as exc:  # the field path only: a param value may be a secret
        log.error("%s %s: policy not built (%s is invalid); not routed", kind, name, exc.field)
        return None


def _route(
    context: str,
    provider_name: str,
    proxy: str | None,
    provider: LLMProvider,
    security: InboundSecurity,
    upstream: _Upstream,
    keys: dict[str, KeyEntry],
    client_api: str | None = None,
    policies: tuple[Policy, ...] = (),
) -> Route | None:
    """The route; None (logged) when its `clientApi` cannot be translated to the provider's backend."""
    backend = upstream.template.backend
    client = upstream.template.client if client_api is None else client_api_named(client_api)
    # a custom template's own client key headers carry the gateway key too: never forwarded
    strip = set(HOP_HEADERS | CLIENT_CREDENTIAL_HEADERS | FORWARDING_HEADERS | upstream.credential_names)
    strip |= set(client.client_key_headers)
    strip_query: set[str] = set(client.client_key_query_params)
    if security.location == "header":
        strip.add(security.name.lower().encode())
    else:
        strip_query.add(security.name)
    translator = translator_for(client, backend)
    if translator is None:  # only a clientApi can pair halves of different vendors
        log.error("%s: no translation from the %s API to a %s backend; not routed", context, client.name, backend.name)
        return None
    if provider.spec.model_map:
        translator = ModelMapTranslator(translator, provider.spec.model_map)
    target = Target(
        name=provider_name,
        backend=backend,
        translator=translator,
        pool=upstream.pool,
        base_path=upstream.base_path,
        fixed_headers=upstream.fixed_headers,
        default_headers=list(backend.default_headers),
        credential_query=upstream.credential_query,
        strip_query=frozenset(strip_query),
        timeout=upstream.timeout,
        health=upstream.health,
        unavailable=upstream.unavailable,
    )
    spec = provider.spec
    return Route(
        context=context,
        provider=provider_name,
        proxy=proxy,
        client_api=client,
        auth=_auth_check(security, client, keys),
        targets=(target,),
        chain=PolicyChain.compile(policies),
        strip_headers=frozenset(strip),
        models=frozenset(spec.models) if spec.models else None,
        max_body=spec.max_request_bytes,
    )


def _with_fallbacks(
    route: Route, fallbacks: list[str], upstreams: dict[str, _Upstream], resources: ResourceSet
) -> Route:
    """The proxy's route with its fallback providers as further targets, tried in order before the
    first byte: each with the translator from the route's client API to its backend (a provider that
    cannot be paired or is not deployed is left out, logged), its credential and its health."""
    targets = list(route.targets)
    strip = set(route.strip_headers)
    for name in fallbacks:
        upstream, provider = upstreams.get(name), resources.providers.get(name)
        if upstream is None or provider is None or any(t.name == name for t in targets):
            log.error("%s: fallback provider %s is not deployed (or repeated); left out", route.context, name)
            continue
        backend = upstream.template.backend
        translator = translator_for(route.client_api, backend)
        if translator is None:
            log.error(
                "%s: no translation from the %s API to fallback %s; left out",
                route.context,
                route.client_api.name,
                name,
            )
            continue
        if provider.spec.model_map:
            translator = ModelMapTranslator(translator, provider.spec.model_map)
        strip |= upstream.credential_names
        targets.append(
            Target(
                name=name,
                backend=backend,
                translator=translator,
                pool=upstream.pool,
                base_path=upstream.base_path,
                fixed_headers=upstream.fixed_headers,
                default_headers=list(backend.default_headers),
                credential_query=upstream.credential_query,
                strip_query=route.targets[0].strip_query,
                timeout=upstream.timeout,
                health=upstream.health,
                unavailable=upstream.unavailable,
            )
        )
    return dataclasses.replace(route, targets=tuple(targets), strip_headers=frozenset(strip))


def _proxy_client_api(spec: ProxySpec, upstreams: dict[str, _Upstream], resources: ResourceSet) -> str | None:
    """The client API of a proxy that names none: its provider's, unless its providers speak different
    APIs, then OpenAI's (the one every backend can be translated to)."""
    own: set[str] = set()
    for name in (spec.provider, *spec.fallbacks):
        provider, upstream = resources.providers.get(name), upstreams.get(name)
        if provider is not None and upstream is not None:
            own.add(provider.spec.client_api or upstream.template.client.name)
    if len(own) > 1:
        return "openai"
    base = resources.providers.get(spec.provider)
    return base.spec.client_api if base is not None else None


def _routes_several(spec: ProxySpec) -> bool:
    return (
        bool(spec.fallbacks)
        or spec.routing is not None
        or spec.failover is not None
        or (spec.circuit_breaker is not None)
    )


def _routing(spec: ProxySpec, targets: tuple[Target, ...], counters: RoutingCounters) -> Routing:
    """The proxy's compiled selection strategy, failover settings, breaker settings and retry budget."""
    failover = spec.failover or FailoverSpec()
    breaker = spec.circuit_breaker or CircuitBreakerSpec()
    routing = spec.routing or RoutingSpec()
    settings = FailoverSettings(
        retry_statuses=frozenset(spec.retry_statuses),
        max_attempts=failover.max_attempts,
        backoff_initial=failover.backoff.initial,
        backoff_max=failover.backoff.max,
        max_retry_after=failover.max_retry_after,
        failures=breaker.failures,
        suspend_for=breaker.suspend_for,
        max_suspend=breaker.max_suspend,
        smoothing=routing.smoothing,
        decay=routing.decay,
    )
    counters.budget.configure(failover.budget.ratio, failover.budget.min_per_second)
    return Routing(targets, build_selector(spec.routing, targets, counters), settings, counters.budget)


__all__ = ["FORWARDING_HEADERS", "UPSTREAM_SETUP_FAILED", "Origin", "Route", "Snapshot", "compile_snapshot"]

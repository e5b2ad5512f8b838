"""Applying a ResourceSet when some of its resources cannot be built: the others still apply.

`compile_snapshot` is all or nothing; one provider that raises while being built (a CA bundle file
gone since it was applied, say) would keep every later change, a key revocation included, from
reaching the data plane. `apply_isolating` compiles the whole set first (the usual, cheap path) and
only when that fails compiles each provider, then each proxy, on its own to find the ones that
break, leaves them out and applies the rest. Routes the snapshot keeps but cannot serve (503: no
credential, an upstream that cannot be set up) count too. What is not served, and why, goes back
to the node, which reports it (`get gateways`, `describe`).
"""

from __future__ import annotations

import dataclasses
import logging

from tollgate.gateway.app import GatewayState
from tollgate.gateway.snapshot import UPSTREAM_SETUP_FAILED, Snapshot, compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.resources.buildable import ca_bundle_problem
from tollgate.resources.resource_set import ResourceSet

log = logging.getLogger("tollgate.gateway")

#: (kind, name) of a deployed provider or proxy -> why it is not served.
Problems = dict[tuple[str, str], str]


def apply_isolating(state: GatewayState, resources: ResourceSet) -> Problems:
    """Swap in a snapshot of `resources` minus what cannot be built; returns what was left out and why.

    `resources.unloadable` (documents the store could not read) is included in the result. Raises
    only if even the remainder fails to compile; the state then keeps its current snapshot.
    """
    problems: Problems = dict(resources.unloadable)
    try:
        snapshot = state.apply(resources)
        problems.update(unserved_routes(snapshot, resources))
        return problems
    except Exception as exc:  # isolate below; the reason of each culprit is recorded there
        log.warning("revision %d does not compile as a whole (%s); isolating", resources.revision, type(exc).__name__)
    providers = dict(resources.providers)
    proxies = dict(resources.proxies)
    for name, provider in resources.providers.items():
        reason = _build_problem(dataclasses.replace(resources, providers={name: provider}, proxies={}))
        if reason is not None and provider.spec.ca_bundle is not None:
            bundle = ca_bundle_problem(provider.spec.ca_bundle)
            reason = f"spec.caBundle: {bundle}" if bundle is not None else reason
        if reason is not None:
            problems[("LLMProvider", name)] = reason
            del providers[name]
    for name, proxy in resources.proxies.items():
        base = providers.get(proxy.spec.provider)
        if base is None:
            if ("LLMProvider", proxy.spec.provider) in problems:
                problems[("LLMProxy", name)] = f"its provider {proxy.spec.provider!r} cannot be served"
                del proxies[name]
            continue
        probe = dataclasses.replace(resources, providers={proxy.spec.provider: base}, proxies={name: proxy})
        reason = _build_problem(probe)
        if reason is not None:
            problems[("LLMProxy", name)] = reason
            del proxies[name]
    remainder = dataclasses.replace(resources, providers=providers, proxies=proxies)
    problems.update(unserved_routes(state.apply(remainder), remainder))
    return problems


def unserved_routes(snapshot: Snapshot, resources: ResourceSet) -> Problems:
    """Routes of `snapshot` none of whose targets can serve (they answer 503), with the reason; a
    provider's unusable `caBundle` is named precisely (the 503 itself says less)."""
    problems: Problems = {}
    for route in snapshot.routes.values():
        reasons = [target.unavailable for target in route.targets]
        if not reasons or any(reason is None for reason in reasons):
            continue
        reason = "; ".join(sorted({r for r in reasons if r is not None}))
        provider = resources.providers.get(route.provider)
        bundle = provider.spec.ca_bundle if provider is not None else None
        if reason == UPSTREAM_SETUP_FAILED and bundle is not None:
            detail = ca_bundle_problem(bundle)
            reason = f"spec.caBundle: {detail}" if detail is not None else reason
        key = ("LLMProxy", route.proxy) if route.proxy is not None else ("LLMProvider", route.provider)
        problems[key] = reason
    return problems


def _build_problem(resources: ResourceSet) -> str | None:
    """Why `resources` (one provider, maybe one proxy) does not compile, or None. Throwaway pools."""
    try:
        compile_snapshot(resources, PoolRegistry())
    except Exception as exc:
        return describe_build_error(exc)
    return None


def describe_build_error(exc: BaseException) -> str:
    """A reason fit for logs and the API: file errors say which file; anything else gives its type only
    (an arbitrary message might quote a credential)."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot be built: {exc.strerror or type(exc).__name__}: {exc.filename!r}"
    return f"cannot be built: {type(exc).__name__}"

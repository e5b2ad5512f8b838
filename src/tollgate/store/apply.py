"""Applying documents in one transaction: integrity against the store, dependency order, deploy, prune.

This is what `tollgate serve --config` and the management API's bulk apply run, once per chunk of a
large batch (`Store.apply_documents` splits it). Within one call either every document is applied
(and, if asked, every provider and proxy deployed) or none is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from tollgate.errors import (
    ResourceConflictError,
    ResourceNotFoundError,
    ResourceValidationError,
    raise_validation_errors,
)
from tollgate.resources.buildable import build_errors
from tollgate.resources.contexts import Placed, first_conflict
from tollgate.resources.integrity import integrity_errors
from tollgate.resources.keys import key_from_value
from tollgate.resources.models import APIKey, Gateway, LLMProvider, LLMProxy, ProviderSpec, ProxySpec, Resource, Secret
from tollgate.resources.selectors import Selector
from tollgate.store import bulk, deployment_rows, key_rows, resource_rows
from tollgate.store.crypto import SecretCipher
from tollgate.store.records import DEPLOYABLE_KINDS, STORED_KINDS, ApplyReport, ApplyResult, Outcome
from tollgate.store.tx import WriteTx, to_utc

#: Dependencies first: a provider names a secret and a template, a proxy a provider, a key its target.
APPLY_ORDER = {"Gateway": 0, "Secret": 1, "ProviderTemplate": 2, "LLMProvider": 3, "LLMProxy": 4, "APIKey": 5}


def check_against_store(conn: Connection, docs: Sequence[Resource], known_templates: Mapping[str, str | None]) -> None:
    """Integrity of the store's contents with `docs` applied over them (same kind and name replaces).

    Only the stored resources `docs` can collide with are read: the ones they name (templates,
    providers, proxies, secrets) and the ones serving their contexts, all by index. The store was
    consistent before, so only errors about `docs` are reported.
    """
    incoming = {(doc.kind, doc.metadata.name) for doc in docs}
    wanted: dict[str, set[str]] = {"ProviderTemplate": set(), "LLMProvider": set(), "LLMProxy": set()}
    secrets: set[str] = set()
    contexts: set[str] = set()
    for doc in docs:
        if isinstance(doc, LLMProvider):
            wanted["ProviderTemplate"].add(doc.spec.template)
            secrets.update(doc.spec.secret_refs().values())
        elif isinstance(doc, LLMProxy):
            wanted["LLMProvider"].add(doc.spec.provider)
            wanted["LLMProvider"].update(doc.spec.fallbacks)
        elif isinstance(doc, APIKey):
            wanted[doc.spec.target.kind].add(doc.spec.target.name)
        context = resource_rows.context_of(doc)
        if context is not None:
            contexts.add(context)
    templates = resource_rows.fetch_named(conn, "ProviderTemplate", wanted["ProviderTemplate"])
    existing = {kind: resource_rows.existing_names(conn, kind, wanted[kind]) for kind in DEPLOYABLE_KINDS}
    others = [t for t in templates if (t.kind, t.metadata.name) not in incoming]
    labels = {f"{kind} {name!r}" for kind, name in incoming}
    errors = integrity_errors(
        [*others, *docs],
        known_templates=known_templates,
        secret_names=resource_rows.existing_secrets(conn, secrets),
        existing=existing,
    )
    owners = resource_rows.context_owners(conn, contexts)
    for doc in docs:
        context = resource_rows.context_of(doc)
        owner = owners.get(context) if context is not None else None
        if owner is not None and owner != (doc.kind, doc.metadata.name) and owner not in incoming:
            errors.append(
                ResourceValidationError(
                    f"{doc.kind} {doc.metadata.name!r}",
                    "spec.context",
                    f"{context!r} is already the context of {owner[0]} {owner[1]!r}",
                )
            )
    raise_validation_errors([e for e in errors if e.document in labels])


def ensure_deployable_gateway(tx: WriteTx, gateway: str, *, create: bool) -> None:
    """Deploying names a gateway: it must exist (or be `default`), unless `create` says to make it."""
    if deployment_rows.gateway_exists(tx.conn, gateway):
        return
    if not create and gateway != deployment_rows.DEFAULT_GATEWAY:
        raise ResourceNotFoundError(
            f"no gateway named {gateway!r}: create it first (PUT /gateways/{gateway}, a Gateway document, "
            "or --create-gateway), or check the name"
        )
    deployment_rows.ensure_gateway(tx, gateway)


def apply_documents(
    tx: WriteTx,
    cipher: SecretCipher,
    docs: Sequence[Resource],
    *,
    known_templates: Mapping[str, str | None],
    gateway: str,
    deploy: bool,
    redeploy: bool = False,
    create_gateway: bool = False,
) -> ApplyReport:
    """Validate, then apply `docs` in dependency order and deploy providers/proxies to `gateway` if asked.

    Environment lookups (Secret `fromEnv`, APIKey `valueFromEnv`) are resolved before anything is
    written, and their errors are collected with the integrity errors' kind of message. A document
    carrying `metadata.resourceVersion` is applied only over exactly that version (409 otherwise).
    """
    check_against_store(tx.conn, docs, known_templates)
    raise_validation_errors(build_errors(docs))
    env_values = resolve_env(docs)
    ordered = sorted(docs, key=lambda d: APPLY_ORDER[d.kind])
    stored = bulk.upsert_many(tx, [doc for doc in ordered if doc.kind in STORED_KINDS])
    results: list[ApplyResult] = []
    for doc in ordered:
        if isinstance(doc, Secret):
            value = doc.spec.value if doc.spec.value is not None else env_values[(doc.kind, doc.metadata.name)]
            outcome = resource_rows.put_secret(tx, cipher, doc.metadata.name, value)
            results.append(ApplyResult(doc.kind, doc.metadata.name, outcome))
        elif isinstance(doc, APIKey):
            results.append(_apply_key(tx, doc, env_values.get((doc.kind, doc.metadata.name))))
        elif isinstance(doc, Gateway):
            outcome = deployment_rows.register(tx, doc.metadata.name, doc.spec.base_url)
            results.append(ApplyResult(doc.kind, doc.metadata.name, outcome))
        elif doc.kind in STORED_KINDS:
            outcome, version = stored[(doc.kind, doc.metadata.name)]
            results.append(ApplyResult(doc.kind, doc.metadata.name, outcome, resource_version=str(version)))
    deployable = [doc for doc in ordered if doc.kind in DEPLOYABLE_KINDS]
    if deploy and deployable:
        ensure_deployable_gateway(tx, gateway, create=create_gateway)
        check_shadowing(tx.conn, gateway, deployable)  # once for the batch, indexed
        bulk.deploy_many(tx, gateway, deployable)
    if redeploy:
        for live_gateway, live_docs in bulk.live_gateways(tx.conn, deployable).items():
            if deploy and live_gateway == gateway:
                continue  # just deployed there, current documents and all
            check_shadowing(tx.conn, live_gateway, live_docs)
            bulk.deploy_many(tx, live_gateway, live_docs)
    return ApplyReport(results)


def deploy_current(tx: WriteTx, gateway: str, kind: str, name: str, *, shadowing_checked: bool = False) -> Outcome:
    """Deploy the stored document of a provider or proxy; a proxy's provider must be live there first.

    `shadowing_checked` says the caller already ran `check_shadowing` for this document's batch.
    """
    if kind not in DEPLOYABLE_KINDS:
        raise ValueError(f"only {' and '.join(DEPLOYABLE_KINDS)} can be deployed, not {kind}")
    resource = resource_rows.fetch_required(tx.conn, kind, name)
    provider = getattr(resource.spec, "provider", None)
    if provider is not None and deployment_rows.live_one(tx.conn, gateway, "LLMProvider", provider) is None:
        raise ResourceValidationError(
            f"LLMProxy {name!r}",
            "spec.provider",
            f"LLMProvider {provider!r} is not deployed on gateway {gateway!r}; deploy it first",
        )
    context = resource_rows.context_of(resource)
    other = deployment_rows.live_at_context(tx.conn, gateway, context, exclude=(kind, name))
    if other is not None:
        raise ResourceConflictError(
            f"{kind} {name!r}: context {context!r} is already served on gateway {gateway!r} by {other[0]} {other[1]!r}"
        )
    check_shadowing(tx.conn, gateway, [resource])
    _, outcome = deployment_rows.deploy(tx, gateway, kind, name, resource_rows.document(resource))
    return outcome


def delete_stored(tx: WriteTx, kind: str, name: str, *, expected: int | None = None) -> None:
    """Delete a template, provider or proxy: undeployed everywhere, its keys revoked.

    Refuses (ResourceConflictError) a provider some proxy uses (as its provider or a fallback), a
    template some provider uses, or a stale `expected` resourceVersion.
    """
    label = f"{kind} {name!r}"
    current = resource_rows.version_of(tx.conn, kind, name)
    if current is None:
        raise ResourceNotFoundError(f"no {kind} named {name!r}")
    resource_rows.check_version(label, current, expected)
    users: list[str] = []
    if kind == "LLMProvider":
        users = [
            f"LLMProxy {p.metadata.name!r}"
            for p in resource_rows.fetch_all(tx.conn, "LLMProxy")
            if isinstance(p, LLMProxy) and (p.spec.provider == name or name in p.spec.fallbacks)
        ]
    elif kind == "ProviderTemplate":
        users = [
            f"LLMProvider {p.metadata.name!r}"
            for p in resource_rows.fetch_all(tx.conn, "LLMProvider")
            if isinstance(p, LLMProvider) and p.spec.template == name
        ]
    if users:
        raise ResourceConflictError(f"cannot delete {label}: it is used by {', '.join(users)}")
    if kind in DEPLOYABLE_KINDS:
        deployment_rows.undeploy_everywhere(tx, kind, name)
        key_rows.revoke_for_target(tx, kind, name)
    resource_rows.remove(tx, kind, name)


#: Deletion order of a prune: users before what they use.
PRUNE_ORDER = ("LLMProxy", "LLMProvider", "ProviderTemplate")


def prune_candidates(conn: Connection, selector: Selector, keep: Sequence[Resource]) -> list[tuple[str, str]]:
    """(kind, name) of stored resources the selector matches that `keep` does not name, in deletion order."""
    kept = {(doc.kind, doc.metadata.name) for doc in keep}
    found = [item for item in resource_rows.labelled(conn, selector.matches_metadata) if item not in kept]
    return sorted(found, key=lambda item: (PRUNE_ORDER.index(item[0]), item[1]))


def prune(tx: WriteTx, selector: Selector, keep: Sequence[Resource]) -> list[ApplyResult]:
    """Delete what the labelled set no longer names (see `prune_candidates`)."""
    results: list[ApplyResult] = []
    for kind, name in prune_candidates(tx.conn, selector, keep):
        delete_stored(tx, kind, name)
        results.append(ApplyResult(kind, name, "deleted"))
    return results


def check_shadowing(conn: Connection, gateway: str, resources: Sequence[Resource]) -> None:
    """ResourceConflictError when a context of `resources` nests with another one live on `gateway`
    (or in `resources`) and the inner one does not allow it (see `resources.contexts`). Once per batch;
    the live deployments it reads are only those nesting with the batch's contexts (by index)."""
    new = [
        Placed(r.kind, r.metadata.name, r.spec.context, r.spec.allow_shadowing)
        for r in resources
        if isinstance(r.spec, ProviderSpec | ProxySpec)
    ]
    if not new:
        return
    incoming = {(p.kind, p.name) for p in new}
    nested = deployment_rows.nested_live(conn, gateway, [p.context for p in new])
    refusal = first_conflict(new, [p for p in nested if (p.kind, p.name) not in incoming], gateway)
    if refusal is not None:
        raise ResourceConflictError(refusal)


def _apply_key(tx: WriteTx, doc: APIKey, value: str | None) -> ApplyResult:
    """Re-applying the same key document keeps its key; a new target or env value replaces the key."""
    name, target = doc.metadata.name, doc.spec.target
    expires_at = to_utc(doc.spec.expires_at)
    target_label = f"{target.kind}/{target.name}"
    limits = doc.spec.limits.model_dump(mode="json", by_alias=True) if doc.spec.limits is not None else None
    existing = key_rows.live_by_name(tx.conn, name)
    if existing is not None and (existing.target_kind, existing.target_name) == (target.kind, target.name):
        same_value = value is None or key_from_value(value).secret_hash == existing.secret_hash
        if same_value:
            if existing.expires_at == expires_at and existing.limits == limits:
                return ApplyResult(doc.kind, name, "unchanged", target=target_label)
            key_rows.update_key(tx, existing.id, expires_at=expires_at, limits=limits)
            return ApplyResult(doc.kind, name, "changed", target=target_label)
    if existing is not None:
        key_rows.revoke(tx, existing.id)
    _, key_value = key_rows.create(
        tx,
        target_kind=target.kind,
        target_name=target.name,
        name=name,
        expires_at=expires_at,
        value=value,
        limits=limits,
    )
    outcome: Outcome = "created" if existing is None else "changed"
    return ApplyResult(doc.kind, name, outcome, key_value=key_value if value is None else None, target=target_label)


def resolve_env(docs: Sequence[Resource]) -> dict[tuple[str, str], str]:
    values: dict[tuple[str, str], str] = {}
    errors: list[ResourceValidationError] = []
    for doc in docs:
        label = f"{doc.kind} {doc.metadata.name!r}"
        if isinstance(doc, Secret) and doc.spec.from_env is not None:
            value = os.environ.get(doc.spec.from_env)
            if not value:
                errors.append(
                    ResourceValidationError(
                        label, "spec.fromEnv", f"environment variable {doc.spec.from_env} is not set"
                    )
                )
            else:
                values[(doc.kind, doc.metadata.name)] = value
        elif isinstance(doc, APIKey) and doc.spec.value_from_env is not None:
            var = doc.spec.value_from_env
            value = os.environ.get(var)
            if not value:
                errors.append(
                    ResourceValidationError(label, "spec.valueFromEnv", f"environment variable {var} is not set")
                )
                continue
            try:
                key_from_value(value)
            except ValueError as exc:
                errors.append(
                    ResourceValidationError(label, "spec.valueFromEnv", f"the value of {var} is not usable: {exc}")
                )
                continue
            values[(doc.kind, doc.metadata.name)] = value
    raise_validation_errors(errors)
    return values

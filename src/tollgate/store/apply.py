"""Applying a batch of documents in one transaction: integrity against the store, dependency order, deploy.

This is what `tollgate serve --config` and the management API's bulk apply run. Either every
document is applied (and, if asked, every provider and proxy deployed) or none is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from tollgate.errors import ResourceConflictError, ResourceValidationError, raise_validation_errors
from tollgate.resources.buildable import build_errors
from tollgate.resources.contexts import Placed, first_conflict
from tollgate.resources.integrity import integrity_errors
from tollgate.resources.keys import key_from_value
from tollgate.resources.models import APIKey, Gateway, ProviderSpec, ProxySpec, Resource, Secret
from tollgate.store import deployment_rows, key_rows, resource_rows
from tollgate.store.crypto import SecretCipher
from tollgate.store.records import DEPLOYABLE_KINDS, STORED_KINDS, ApplyReport, ApplyResult, Outcome
from tollgate.store.tx import WriteTx, to_utc

#: Dependencies first: a provider names a secret and a template, a proxy a provider, a key its target.
APPLY_ORDER = {"Gateway": 0, "Secret": 1, "ProviderTemplate": 2, "LLMProvider": 3, "LLMProxy": 4, "APIKey": 5}


def check_against_store(conn: Connection, docs: Sequence[Resource], known_templates: Mapping[str, str | None]) -> None:
    """Integrity of the store's contents with `docs` applied over them (same kind and name replaces)."""
    incoming = {(doc.kind, doc.metadata.name) for doc in docs}
    stored = [r for r in resource_rows.fetch_all(conn) if (r.kind, r.metadata.name) not in incoming]
    errors = integrity_errors(
        [*stored, *docs], known_templates=known_templates, secret_names=resource_rows.secret_names(conn)
    )
    raise_validation_errors(errors)


def apply_documents(
    tx: WriteTx,
    cipher: SecretCipher,
    docs: Sequence[Resource],
    *,
    known_templates: Mapping[str, str | None],
    gateway: str,
    deploy: bool,
    redeploy: bool = False,
) -> ApplyReport:
    """Validate, then apply `docs` in dependency order and deploy providers/proxies to `gateway` if asked.

    Environment lookups (Secret `fromEnv`, APIKey `valueFromEnv`) are resolved before anything is
    written, and their errors are collected with the integrity errors' kind of message.
    """
    check_against_store(tx.conn, docs, known_templates)
    raise_validation_errors(build_errors(docs))
    env_values = _resolve_env(docs)
    results: list[ApplyResult] = []
    for doc in sorted(docs, key=lambda d: APPLY_ORDER[d.kind]):
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
            results.append(ApplyResult(doc.kind, doc.metadata.name, resource_rows.upsert(tx, doc)))
    if deploy:
        deployable = [doc for doc in sorted(docs, key=lambda d: APPLY_ORDER[d.kind]) if doc.kind in DEPLOYABLE_KINDS]
        check_shadowing(tx.conn, gateway, deployable)  # once for the batch, indexed (not once per document)
        for doc in deployable:
            deploy_current(tx, gateway, doc.kind, doc.metadata.name, shadowing_checked=True)
    if redeploy:
        for doc in sorted(docs, key=lambda d: APPLY_ORDER[d.kind]):
            if doc.kind in DEPLOYABLE_KINDS:
                for live in deployment_rows.live_everywhere(tx.conn, doc.kind, doc.metadata.name):
                    deploy_current(tx, live.gateway, doc.kind, doc.metadata.name)
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
    context = getattr(resource.spec, "context", None)
    for other in deployment_rows.live(tx.conn, gateway):
        if (other.kind, other.name) != (kind, name) and deployment_rows.context_of(other.spec) == context:
            raise ResourceConflictError(
                f"{kind} {name!r}: context {context!r} is already served on gateway {gateway!r} "
                f"by {other.kind} {other.name!r}"
            )
    if not shadowing_checked:
        check_shadowing(tx.conn, gateway, [resource])
    _, outcome = deployment_rows.deploy(tx, gateway, kind, name, resource_rows.document(resource))
    return outcome


def check_shadowing(conn: Connection, gateway: str, resources: Sequence[Resource]) -> None:
    """ResourceConflictError when a context of `resources` nests with another one live on `gateway`
    (or in `resources`) and the inner one does not allow it (see `resources.contexts`)."""
    new = [
        Placed(r.kind, r.metadata.name, r.spec.context, r.spec.allow_shadowing)
        for r in resources
        if isinstance(r.spec, ProviderSpec | ProxySpec)
    ]
    if not new:
        return
    incoming = {(p.kind, p.name) for p in new}
    others: list[Placed] = []
    for live in deployment_rows.live(conn, gateway):
        context = deployment_rows.context_of(live.spec)
        if context is None or (live.kind, live.name) in incoming:
            continue
        spec = live.spec.get("spec")
        allow = isinstance(spec, dict) and spec.get("allowShadowing") is True
        others.append(Placed(live.kind, live.name, context, allow))
    refusal = first_conflict(new, others, gateway)
    if refusal is not None:
        raise ResourceConflictError(refusal)


def _apply_key(tx: WriteTx, doc: APIKey, value: str | None) -> ApplyResult:
    """Re-applying the same key document keeps its key; a new target or env value replaces the key."""
    name, target = doc.metadata.name, doc.spec.target
    expires_at = to_utc(doc.spec.expires_at)
    target_label = f"{target.kind}/{target.name}"
    existing = key_rows.live_by_name(tx.conn, name)
    if existing is not None and (existing.target_kind, existing.target_name) == (target.kind, target.name):
        same_value = value is None or key_from_value(value).secret_hash == existing.secret_hash
        if same_value:
            if existing.expires_at == expires_at:
                return ApplyResult(doc.kind, name, "unchanged", target=target_label)
            key_rows.set_expiry(tx, existing.id, expires_at)
            return ApplyResult(doc.kind, name, "changed", target=target_label)
    if existing is not None:
        key_rows.revoke(tx, existing.id)
    _, key_value = key_rows.create(
        tx, target_kind=target.kind, target_name=target.name, name=name, expires_at=expires_at, value=value
    )
    outcome: Outcome = "created" if existing is None else "changed"
    return ApplyResult(doc.kind, name, outcome, key_value=key_value if value is None else None, target=target_label)


def _resolve_env(docs: Sequence[Resource]) -> dict[tuple[str, str], str]:
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

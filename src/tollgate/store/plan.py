"""Dry runs: what applying documents would do, computed in one read transaction, writing nothing.

Validation is the apply's own (`apply.check_against_store`, env lookups, resourceVersion checks), and
each result carries the stored document and the one applying would store, for `tollgate diff`.
Secret values never appear: both sides show a placeholder saying whether the value would change.
Not checked here: deployment conflicts on the target gateway (a context taken by a deployment whose
resource was changed since it was deployed): the real apply still refuses those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, select

from tollgate.errors import raise_validation_errors
from tollgate.resources.buildable import build_errors
from tollgate.resources.keys import key_from_value
from tollgate.resources.models import API_VERSION, APIKey, Gateway, Resource, Secret
from tollgate.resources.selectors import Selector
from tollgate.store import apply as applying
from tollgate.store import key_rows, resource_rows
from tollgate.store.crypto import SecretCipher
from tollgate.store.records import STORED_KINDS, ApplyReport, ApplyResult, Outcome
from tollgate.store.schema import gateways, secrets
from tollgate.store.tx import to_utc
from tollgate.types import JSONObject

HIDDEN = "(hidden)"
HIDDEN_NEW = "(hidden, new value)"


def plan_documents(
    conn: Connection,
    cipher: SecretCipher,
    docs: Sequence[Resource],
    *,
    known_templates: Mapping[str, str | None],
    prune: Selector | None = None,
) -> ApplyReport:
    """What `apply_documents` (and a prune by `prune`) would report, with before/after documents."""
    applying.check_against_store(conn, docs, known_templates)
    raise_validation_errors(build_errors(docs))
    env_values = applying.resolve_env(docs)
    results: list[ApplyResult] = []
    for doc in sorted(docs, key=lambda d: applying.APPLY_ORDER[d.kind]):
        if doc.kind in STORED_KINDS:
            results.append(_plan_stored(conn, doc))
        elif isinstance(doc, Secret):
            value = doc.spec.value if doc.spec.value is not None else env_values[(doc.kind, doc.metadata.name)]
            results.append(_plan_secret(conn, cipher, doc.metadata.name, value))
        elif isinstance(doc, APIKey):
            results.append(_plan_key(conn, doc, env_values.get((doc.kind, doc.metadata.name))))
        elif isinstance(doc, Gateway):
            results.append(_plan_gateway(conn, doc))
    if prune is not None:
        for kind, name in applying.prune_candidates(conn, prune, docs):
            current = resource_rows.fetch_required(conn, kind, name)
            results.append(ApplyResult(kind, name, "deleted", before=_shown(current), after=None))
    return ApplyReport(results)


def _shown(resource: Resource) -> JSONObject:
    return resource_rows.document(resource)


def _outcome(before: JSONObject | None, after: JSONObject) -> Outcome:
    if before is None:
        return "created"
    return "unchanged" if resource_rows.canonical(before) == resource_rows.canonical(after) else "changed"


def _plan_stored(conn: Connection, doc: Resource) -> ApplyResult:
    label = f"{doc.kind} {doc.metadata.name!r}"
    current = resource_rows.fetch(conn, doc.kind, doc.metadata.name)
    expected = resource_rows.expected_version(doc)
    stored_version = None if current is None else resource_rows.expected_version(current)
    resource_rows.check_version(label, stored_version, expected)
    before = None if current is None else _shown(current)
    after = _shown(doc)
    return ApplyResult(doc.kind, doc.metadata.name, _outcome(before, after), before=before, after=after)


def _secret_doc(name: str, value: str) -> JSONObject:
    return {"apiVersion": API_VERSION, "kind": "Secret", "metadata": {"name": name}, "spec": {"value": value}}


def _plan_secret(conn: Connection, cipher: SecretCipher, name: str, value: str) -> ApplyResult:
    row = conn.execute(select(secrets.c.ciphertext).where(secrets.c.name == name)).first()
    if row is None:
        return ApplyResult("Secret", name, "created", before=None, after=_secret_doc(name, HIDDEN_NEW))
    same = cipher.decrypt(name, row.ciphertext) == value
    after = _secret_doc(name, HIDDEN if same else HIDDEN_NEW)
    return ApplyResult(
        "Secret", name, "unchanged" if same else "changed", before=_secret_doc(name, HIDDEN), after=after
    )


def _key_doc(name: str, target_kind: str, target_name: str, expires: str | None) -> JSONObject:
    spec: JSONObject = {"target": {"kind": target_kind, "name": target_name}}
    if expires is not None:
        spec["expiresAt"] = expires
    return {"apiVersion": API_VERSION, "kind": "APIKey", "metadata": {"name": name}, "spec": spec}


def _plan_key(conn: Connection, doc: APIKey, value: str | None) -> ApplyResult:
    name, target = doc.metadata.name, doc.spec.target
    expires = to_utc(doc.spec.expires_at)
    after = _key_doc(name, target.kind, target.name, expires.isoformat() if expires else None)
    label = f"{target.kind}/{target.name}"
    existing = key_rows.live_by_name(conn, name)
    if existing is None:
        return ApplyResult(doc.kind, name, "created", target=label, before=None, after=after)
    old_expiry = existing.expires_at.isoformat() if existing.expires_at else None
    before = _key_doc(name, existing.target_kind, existing.target_name, old_expiry)
    same_value = value is None or key_from_value(value).secret_hash == existing.secret_hash
    same = (existing.target_kind, existing.target_name) == (target.kind, target.name) and same_value
    outcome: Outcome = "unchanged" if same and existing.expires_at == expires else "changed"
    return ApplyResult(doc.kind, name, outcome, target=label, before=before, after=after)


def _plan_gateway(conn: Connection, doc: Gateway) -> ApplyResult:
    row = conn.execute(select(gateways.c.base_url).where(gateways.c.name == doc.metadata.name)).first()
    after: JSONObject = {
        "apiVersion": API_VERSION,
        "kind": "Gateway",
        "metadata": {"name": doc.metadata.name},
        "spec": {"baseUrl": doc.spec.base_url},
    }
    before: JSONObject | None = None
    if row is not None:
        before = {**after, "spec": {"baseUrl": row.base_url}}
    return ApplyResult("Gateway", doc.metadata.name, _outcome(before, after), before=before, after=after)

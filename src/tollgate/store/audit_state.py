"""What a management API change touched, read as JSON documents for the audit log's before and after.

A `Selector` names things of one kind (by name or id, or by a filter for things whose id the server
assigns, such as new API keys); `read` returns each found thing's document under a stable key. Secret
values are never read (a secret is its name and when it last changed); key and token hashes neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, select

from tollgate.errors import ResourceNotFoundError
from tollgate.resources.keys import KeyRecord
from tollgate.resources.models import Resource
from tollgate.store import deployment_rows, key_rows, resource_rows, token_rows, user_rows
from tollgate.store.records import STORED_KINDS
from tollgate.store.schema import secrets
from tollgate.store.tx import to_utc
from tollgate.types import JSONObject

#: Replaces every secret value in an audit document.
MASK = "***"
#: Up to this many names of one kind are read one by one; more are picked out of one scan.
_ONE_BY_ONE = 50


#: A selector `where` that means every thing of the kind (a prune can delete any of them).
EVERY: tuple[tuple[str, str], ...] = (("every", "yes"),)


@dataclass(frozen=True, slots=True)
class Selector:
    """Things of `kind`: those in `names` (names, or ids for APIKey and Token), or all matching `where`."""

    kind: str
    names: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = field(default=())


def resource_document(resource: Resource) -> JSONObject:
    """A template, provider or proxy as the API's GET shows it (resourceVersion included, where kept)."""
    return cast(JSONObject, resource.model_dump(mode="json", by_alias=True))


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def value_fingerprint(secret_hash: bytes) -> str:
    """Changes when a key's or token's value is regenerated; reveals nothing (a hash of a 256-bit secret's hash)."""
    return hashlib.sha256(b"tollgate-audit:" + secret_hash).hexdigest()[:12]


def key_document(key: KeyRecord) -> JSONObject:
    return {
        "id": key.id,
        "name": key.name,
        "target": f"{key.target_kind}/{key.target_name}",
        "masked": key.masked,
        "valueFingerprint": value_fingerprint(key.secret_hash),
        "metadata": dict(key.metadata),
        "expiresAt": _time(key.expires_at),
        "revokedAt": _time(key.revoked_at),
    }


def token_document(token: token_rows.TokenRecord) -> JSONObject:
    return {
        "id": token.id,
        "name": token.name,
        "kind": token.kind,
        "user": token.user,
        "expiresAt": _time(token.expires_at),
        "revokedAt": _time(token.revoked_at),
        "rotatedAt": _time(token.rotated_at),
    }


def user_document(user: user_rows.UserRecord) -> JSONObject:
    return {
        "name": user.name,
        "kind": user.kind,
        "role": user.role,
        "password": MASK if user.has_password else None,
        "disabled": not user.is_active,
        "updatedAt": _time(user.updated_at),
    }


def _keys(conn: Connection, selector: Selector) -> dict[str, JSONObject]:
    where = dict(selector.where)
    if selector.where == EVERY:
        return {k.id: key_document(k) for k in key_rows.fetch_all(conn)}
    if selector.names:
        found = [k for k in key_rows.fetch_all(conn) if k.id in selector.names]
    else:
        found = key_rows.fetch_all(conn, target_kind=where.get("target_kind"), target_name=where.get("target_name"))
    found = [k for k in found if "name" not in where or k.name == where["name"]]
    return {k.id: key_document(k) for k in found}


def _secrets(conn: Connection, names: Sequence[str]) -> dict[str, JSONObject]:
    rows = conn.execute(select(secrets.c.name, secrets.c.updated_at).where(secrets.c.name.in_(names)))
    return {r.name: {"name": r.name, "value": MASK, "updatedAt": _time(to_utc(r.updated_at))} for r in rows}


def _deployments(conn: Connection, selector: Selector) -> dict[str, JSONObject]:
    where = dict(selector.where)
    live = deployment_rows.live(conn, where.get("gateway"), where.get("kind"))
    return {
        f"{d.gateway}/{d.kind}/{d.name}": {"gateway": d.gateway, "kind": d.kind, "name": d.name, "revision": d.revision}
        for d in live
        if not selector.names or d.name in selector.names
    }


def _tokens(conn: Connection, selector: Selector) -> dict[str, JSONObject]:
    user = dict(selector.where).get("user")
    user_id = None
    if user is not None:
        try:
            user_id = user_rows.fetch(conn, user).id
        except ResourceNotFoundError:
            return {}
    found = token_rows.fetch_all(conn, user_id)
    return {t.id: token_document(t) for t in found if not selector.names or t.id in selector.names}


def read_one(conn: Connection, selector: Selector) -> dict[str, JSONObject]:
    """The current documents of what `selector` names, keyed by name (or id); absent things are left out."""
    kind, names = selector.kind, selector.names
    if kind in STORED_KINDS:
        wanted = set(names)
        if selector.where == EVERY:
            return {d.metadata.name: resource_document(d) for d in resource_rows.fetch_all(conn, kind)}
        if len(wanted) > _ONE_BY_ONE:  # a large apply: one scan of the kind beats thousands of lookups
            found = [d for d in resource_rows.fetch_all(conn, kind) if d.metadata.name in wanted]
        else:
            found = [d for d in (resource_rows.fetch(conn, kind, n) for n in names) if d is not None]
        return {d.metadata.name: resource_document(d) for d in found}
    if kind == "Secret":
        return _secrets(conn, names)
    if kind == "APIKey":
        return _keys(conn, selector)
    if kind == "Gateway":
        gateways = deployment_rows.all_gateways(conn)
        return {g.name: {"name": g.name, "baseUrl": g.base_url} for g in gateways if g.name in names}
    if kind == "Deployment":
        return _deployments(conn, selector)
    if kind == "User":
        return {u.name: user_document(u) for u in user_rows.fetch_all(conn) if u.name in names}
    if kind == "Token":
        return _tokens(conn, selector)
    return {}


def read(conn: Connection, selectors: Sequence[Selector]) -> dict[tuple[str, str], JSONObject]:
    """Every selector's documents, keyed by (kind, name or id), read in the caller's one transaction."""
    state: dict[tuple[str, str], JSONObject] = {}
    for selector in selectors:
        for key, doc in read_one(conn, selector).items():
            state[(selector.kind, key)] = doc
    return state

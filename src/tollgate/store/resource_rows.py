"""Rows of the `resources` and `secrets` tables: documents in and out, canonical comparison, encryption.

A document is stored as its metadata and spec, dumped with aliases and defaults, so comparing two
canonical JSON texts tells "changed" from "unchanged" whatever spelling the input used. The
resourceVersion is not part of the stored metadata: it lives in its own column and is put back on read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from tollgate.errors import ResourceConflictError, ResourceNotFoundError
from tollgate.resources.models import KINDS, Resource
from tollgate.store.crypto import SecretCipher
from tollgate.store.records import STORED_KINDS, Outcome
from tollgate.store.schema import resources, secrets
from tollgate.store.tx import WriteTx
from tollgate.types import JSONObject


def document(resource: Resource) -> JSONObject:
    """The full document as JSON-ready data (aliases, defaults included, no resourceVersion): what
    the store and deployment snapshots keep."""
    return cast(JSONObject, resource.model_dump(mode="json", by_alias=True, exclude={"metadata": {"resource_version"}}))


def context_of(resource: Resource) -> str | None:
    context = getattr(resource.spec, "context", None)
    return context if isinstance(context, str) else None


def check_version(label: str, current: int | None, expected: int | None) -> None:
    """Optimistic concurrency: 409 unless the caller's resourceVersion is the stored one."""
    if expected is None:
        return
    if current is None:
        raise ResourceConflictError(f"{label} does not exist (any more): resourceVersion {expected} is stale")
    if current != expected:
        raise ResourceConflictError(
            f"{label} was changed by someone else: resourceVersion {expected} is stale (now {current}); "
            "read it again and reapply your change"
        )


def canonical(data: object) -> bytes:
    """One spelling of a JSON value (sorted keys, no spaces), for telling changed from unchanged."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def from_document(data: JSONObject) -> Resource:
    """A model back from a stored document (it was valid when stored)."""
    kind = data.get("kind")
    return KINDS[str(kind)].model_validate(data)


def _from_row(kind: str, metadata: JSONObject, spec: JSONObject, version: int | None = None) -> Resource:
    meta = metadata if version is None else {**metadata, "resourceVersion": str(version)}
    return KINDS[kind].model_validate({"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": meta, "spec": spec})


def expected_version(resource: Resource) -> int | None:
    """The resourceVersion a document carries (the caller's precondition), if any."""
    version = resource.metadata.resource_version
    return None if version is None else int(version)


def upsert(tx: WriteTx, resource: Resource, *, expected: int | None = None) -> Outcome:
    """Create or replace a template, provider or proxy; bumps generation and revision only on a change.

    With `expected` (a resourceVersion), the stored row must have exactly that version, else 409.
    """
    if resource.kind not in STORED_KINDS:
        raise ValueError(f"{resource.kind} is not stored in the resources table")
    data = document(resource)
    meta, spec = data["metadata"], data["spec"]
    row = tx.conn.execute(
        select(
            resources.c.id, resources.c.metadata, resources.c.spec, resources.c.generation, resources.c.resource_version
        ).where(resources.c.kind == resource.kind, resources.c.name == resource.metadata.name)
    ).first()
    label = f"{resource.kind} {resource.metadata.name!r}"
    check_version(label, None if row is None else int(row.resource_version), expected)
    if row is None:
        tx.conn.execute(
            insert(resources).values(
                kind=resource.kind,
                name=resource.metadata.name,
                metadata=meta,
                spec=spec,
                generation=1,
                created_at=tx.now,
                updated_at=tx.now,
                resource_version=tx.bump(),
                context=context_of(resource),
            )
        )
        return "created"
    if canonical({"m": row.metadata, "s": row.spec}) == canonical({"m": meta, "s": spec}):
        return "unchanged"
    tx.conn.execute(
        update(resources)
        .where(resources.c.id == row.id)
        .values(
            metadata=meta,
            spec=spec,
            generation=row.generation + 1,
            updated_at=tx.now,
            resource_version=tx.bump(),
            context=context_of(resource),
        )
    )
    return "changed"


def version_of(conn: Connection, kind: str, name: str) -> int | None:
    row = conn.execute(
        select(resources.c.resource_version).where(resources.c.kind == kind, resources.c.name == name)
    ).first()
    return None if row is None else int(row.resource_version)


def fetch(conn: Connection, kind: str, name: str) -> Resource | None:
    row = conn.execute(
        select(resources.c.metadata, resources.c.spec, resources.c.resource_version).where(
            resources.c.kind == kind, resources.c.name == name
        )
    ).first()
    return None if row is None else _from_row(kind, row.metadata, row.spec, row.resource_version)


def fetch_named(conn: Connection, kind: str, names: Iterable[str]) -> list[Resource]:
    """The stored resources of one kind among `names` (IN queries of at most 500 names each)."""
    wanted = sorted(set(names))
    found: list[Resource] = []
    for start in range(0, len(wanted), 500):
        query = select(resources.c.metadata, resources.c.spec, resources.c.resource_version).where(
            resources.c.kind == kind, resources.c.name.in_(wanted[start : start + 500])
        )
        found += [_from_row(kind, r.metadata, r.spec, r.resource_version) for r in conn.execute(query)]
    return found


def existing_names(conn: Connection, kind: str, names: Iterable[str]) -> set[str]:
    """Which of `names` exist as stored resources of `kind` (by index, no documents read)."""
    wanted = sorted(set(names))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        query = select(resources.c.name).where(
            resources.c.kind == kind, resources.c.name.in_(wanted[start : start + 500])
        )
        found |= set(conn.execute(query).scalars())
    return found


def context_owners(conn: Connection, contexts: Iterable[str]) -> dict[str, tuple[str, str]]:
    """context -> (kind, name) of the stored provider or proxy serving it, for `contexts` (by index)."""
    wanted = sorted(set(contexts))
    owners: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), 500):
        query = select(resources.c.kind, resources.c.name, resources.c.context).where(
            resources.c.context.in_(wanted[start : start + 500])
        )
        owners.update({row.context: (row.kind, row.name) for row in conn.execute(query)})
    return owners


def fetch_page(
    conn: Connection,
    kind: str,
    *,
    after: str | None,
    limit: int,
    matches: Callable[[JSONObject], bool] | None = None,
) -> tuple[list[Resource], str | None]:
    """Up to `limit` resources of `kind` named after `after`, by name, whose metadata `matches`;
    and the cursor of the next page (None on the last one). Rows are read in name-ordered batches."""
    found: list[Resource] = []
    cursor = after
    batch = max(limit, 100)
    while True:
        query = select(resources.c.name, resources.c.metadata, resources.c.spec, resources.c.resource_version).where(
            resources.c.kind == kind
        )
        if cursor is not None:
            query = query.where(resources.c.name > cursor)
        rows: list[Any] = list(conn.execute(query.order_by(resources.c.name).limit(batch)))
        for row in rows:
            cursor = row.name
            if matches is None or matches(row.metadata):
                found.append(_from_row(kind, row.metadata, row.spec, row.resource_version))
            if len(found) == limit:
                more = conn.execute(
                    select(resources.c.name).where(resources.c.kind == kind, resources.c.name > cursor).limit(1)
                ).first()
                return found, (cursor if more is not None else None)
        if len(rows) < batch:
            return found, None


def fetch_required(conn: Connection, kind: str, name: str) -> Resource:
    resource = fetch(conn, kind, name)
    if resource is None:
        raise ResourceNotFoundError(f"no {kind} named {name!r}")
    return resource


def fetch_all(conn: Connection, kind: str | None = None) -> list[Resource]:
    query = select(resources.c.kind, resources.c.metadata, resources.c.spec, resources.c.resource_version).order_by(
        resources.c.kind, resources.c.name
    )
    if kind is not None:
        query = query.where(resources.c.kind == kind)
    return [_from_row(row.kind, row.metadata, row.spec, row.resource_version) for row in conn.execute(query)]


def labelled(conn: Connection, matches: Callable[[JSONObject], bool]) -> list[tuple[str, str]]:
    """(kind, name) of every stored resource whose metadata `matches` (a label selector)."""
    query = select(resources.c.kind, resources.c.name, resources.c.metadata).order_by(
        resources.c.kind, resources.c.name
    )
    return [(row.kind, row.name) for row in conn.execute(query) if matches(row.metadata)]


def remove(tx: WriteTx, kind: str, name: str) -> None:
    result = tx.conn.execute(delete(resources).where(resources.c.kind == kind, resources.c.name == name))
    if result.rowcount == 0:
        raise ResourceNotFoundError(f"no {kind} named {name!r}")
    tx.bump()


def put_secret(tx: WriteTx, cipher: SecretCipher, name: str, value: str) -> Outcome:
    """Store a secret encrypted; "unchanged" when it already decrypts to the same value."""
    row = tx.conn.execute(select(secrets.c.ciphertext).where(secrets.c.name == name)).first()
    if row is not None and cipher.decrypt(name, row.ciphertext) == value:
        return "unchanged"
    blob = cipher.encrypt(name, value)
    if row is None:
        tx.conn.execute(insert(secrets).values(name=name, ciphertext=blob, created_at=tx.now, updated_at=tx.now))
    else:
        tx.conn.execute(update(secrets).where(secrets.c.name == name).values(ciphertext=blob, updated_at=tx.now))
    tx.bump()
    return "created" if row is None else "changed"


def existing_secrets(conn: Connection, names: Iterable[str]) -> set[str]:
    """Which of `names` are stored secrets (by index)."""
    wanted = sorted(set(names))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        query = select(secrets.c.name).where(secrets.c.name.in_(wanted[start : start + 500]))
        found |= set(conn.execute(query).scalars())
    return found


def secret_names(conn: Connection) -> list[str]:
    return list(conn.execute(select(secrets.c.name).order_by(secrets.c.name)).scalars())


def decrypt_secrets(conn: Connection, cipher: SecretCipher, names: set[str]) -> dict[str, str]:
    """Plain values of the named secrets that exist. Only `load_resource_set` calls this."""
    if not names:
        return {}
    rows = conn.execute(select(secrets.c.name, secrets.c.ciphertext).where(secrets.c.name.in_(sorted(names))))
    return {row.name: cipher.decrypt(row.name, row.ciphertext) for row in rows}


def reencrypt_secrets(tx: WriteTx, cipher: SecretCipher) -> int:
    """Re-encrypt every secret not yet under the newest key; returns how many were rewritten."""
    count = 0
    for row in tx.conn.execute(select(secrets.c.name, secrets.c.ciphertext)).all():
        if cipher.is_current(row.ciphertext):
            continue
        blob = cipher.encrypt(row.name, cipher.decrypt(row.name, row.ciphertext))
        tx.conn.execute(update(secrets).where(secrets.c.name == row.name).values(ciphertext=blob, updated_at=tx.now))
        count += 1
    return count


def delete_secret(tx: WriteTx, name: str) -> None:
    tx.conn.execute(delete(secrets).where(secrets.c.name == name))
    tx.bump()

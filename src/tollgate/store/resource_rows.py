"""Rows of the `resources` and `secrets` tables: documents in and out, canonical comparison, encryption.

A document is stored as its metadata and spec, dumped with aliases and defaults, so comparing two
canonical JSON texts tells "changed" from "unchanged" whatever spelling the input used.
"""

from __future__ import annotations

import json
from typing import cast

from sqlalchemy import Connection, delete, insert, select, update

from tollgate.errors import ResourceNotFoundError
from tollgate.resources.models import KINDS, Resource
from tollgate.store.crypto import SecretCipher
from tollgate.store.records import STORED_KINDS, Outcome
from tollgate.store.schema import resources, secrets
from tollgate.store.tx import WriteTx
from tollgate.types import JSONObject


def document(resource: Resource) -> JSONObject:
    """The full document as JSON-ready data (aliases, defaults included): what snapshots keep."""
    return cast(JSONObject, resource.model_dump(mode="json", by_alias=True))


def canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def from_document(data: JSONObject) -> Resource:
    """A model back from a stored document (it was valid when stored)."""
    kind = data.get("kind")
    return KINDS[str(kind)].model_validate(data)


def _from_row(kind: str, metadata: JSONObject, spec: JSONObject) -> Resource:
    return KINDS[kind].model_validate(
        {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": metadata, "spec": spec}
    )


def upsert(tx: WriteTx, resource: Resource) -> Outcome:
    """Create or replace a template, provider or proxy; bumps generation and revision only on a change."""
    if resource.kind not in STORED_KINDS:
        raise ValueError(f"{resource.kind} is not stored in the resources table")
    data = document(resource)
    meta, spec = data["metadata"], data["spec"]
    row = tx.conn.execute(
        select(resources.c.id, resources.c.metadata, resources.c.spec, resources.c.generation).where(
            resources.c.kind == resource.kind, resources.c.name == resource.metadata.name
        )
    ).first()
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
            )
        )
        tx.bump()
        return "created"
    if canonical({"m": row.metadata, "s": row.spec}) == canonical({"m": meta, "s": spec}):
        return "unchanged"
    tx.conn.execute(
        update(resources)
        .where(resources.c.id == row.id)
        .values(metadata=meta, spec=spec, generation=row.generation + 1, updated_at=tx.now)
    )
    tx.bump()
    return "changed"


def fetch(conn: Connection, kind: str, name: str) -> Resource | None:
    row = conn.execute(
        select(resources.c.metadata, resources.c.spec).where(resources.c.kind == kind, resources.c.name == name)
    ).first()
    return None if row is None else _from_row(kind, row.metadata, row.spec)


def fetch_required(conn: Connection, kind: str, name: str) -> Resource:
    resource = fetch(conn, kind, name)
    if resource is None:
        raise ResourceNotFoundError(f"no {kind} named {name!r}")
    return resource


def fetch_all(conn: Connection, kind: str | None = None) -> list[Resource]:
    query = select(resources.c.kind, resources.c.metadata, resources.c.spec).order_by(
        resources.c.kind, resources.c.name
    )
    if kind is not None:
        query = query.where(resources.c.kind == kind)
    return [_from_row(row.kind, row.metadata, row.spec) for row in conn.execute(query)]


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

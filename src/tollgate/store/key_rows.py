"""Rows of the `api_keys` table: only the SHA-256 of a key's secret part is ever stored.

The value of a new key leaves this module once, in the return value of `create`; lists and errors
show the masked form (`tg_<id>_****`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, or_, select, update

from tollgate.errors import ResourceConflictError, ResourceNotFoundError
from tollgate.resources.keys import KeyRecord, NewKey, generate_key, key_from_value, regenerated_key
from tollgate.store.schema import api_keys
from tollgate.store.tx import WriteTx, to_utc


def _record(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        target_kind=row.target_kind,
        target_name=row.target_name,
        secret_hash=bytes(row.secret_hash),
        created_at=to_utc(row.created_at) or row.created_at,
        expires_at=to_utc(row.expires_at),
        revoked_at=to_utc(row.revoked_at),
        last_used_at=to_utc(row.last_used_at),
        metadata=dict(row.metadata or {}),
        limits=dict(row.limits) if row.limits else None,
    )


def create(
    tx: WriteTx,
    *,
    target_kind: str,
    target_name: str,
    name: str,
    expires_at: datetime | None,
    value: str | None,
    metadata: Mapping[str, str] | None = None,
    limits: Mapping[str, object] | None = None,
) -> tuple[KeyRecord, str]:
    """Insert a key (generated, or from `value`, which must have the key format); returns it and its value."""
    new: NewKey = generate_key() if value is None else key_from_value(value)
    if tx.conn.execute(select(api_keys.c.id).where(api_keys.c.id == new.id)).first() is not None:
        raise ResourceConflictError(f"an API key with id {new.id} already exists")
    tx.conn.execute(
        api_keys.insert().values(
            id=new.id,
            name=name,
            target_kind=target_kind,
            target_name=target_name,
            secret_hash=new.secret_hash,
            created_at=tx.now,
            expires_at=expires_at,
            metadata=dict(metadata or {}),
            limits=dict(limits) if limits else None,
        )
    )
    tx.bump()
    row = tx.conn.execute(select(api_keys).where(api_keys.c.id == new.id)).one()
    return _record(row), new.value


def fetch(conn: Connection, key_id: str) -> KeyRecord:
    row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise ResourceNotFoundError(f"no API key with id {key_id!r}")
    return _record(row)


def fetch_all(
    conn: Connection,
    *,
    target_kind: str | None = None,
    target_name: str | None = None,
    live_at: datetime | None = None,
) -> list[KeyRecord]:
    """Keys, optionally of one target; with `live_at`, only those neither revoked nor expired then."""
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if target_kind is not None:
        query = query.where(api_keys.c.target_kind == target_kind)
    if target_name is not None:
        query = query.where(api_keys.c.target_name == target_name)
    if live_at is not None:
        query = query.where(
            api_keys.c.revoked_at.is_(None), or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > live_at)
        )
    return [_record(row) for row in conn.execute(query)]


def live_by_name(conn: Connection, name: str) -> KeyRecord | None:
    """The newest unrevoked key of that name (APIKey documents are matched by name)."""
    row = conn.execute(
        select(api_keys)
        .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
        .order_by(api_keys.c.created_at.desc())
    ).first()
    return None if row is None else _record(row)


def revoke(tx: WriteTx, key_id: str) -> KeyRecord:
    """Revoke a key (idempotent: revoking twice keeps the first time)."""
    record = fetch(tx.conn, key_id)
    if record.revoked_at is None:
        tx.conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=tx.now))
        tx.bump()
    return fetch(tx.conn, key_id)


def revoke_for_target(tx: WriteTx, target_kind: str, target_name: str) -> int:
    result = tx.conn.execute(
        update(api_keys)
        .where(
            api_keys.c.target_kind == target_kind,
            api_keys.c.target_name == target_name,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=tx.now)
    )
    if result.rowcount:
        tx.bump()
    return int(result.rowcount)


#: Sentinel for `update`: leave this field as it is.
UNCHANGED: object = object()


def update_key(
    tx: WriteTx,
    key_id: str,
    *,
    name: str | None = None,
    expires_at: datetime | object | None = UNCHANGED,
    metadata: Mapping[str, str] | None = None,
    limits: Mapping[str, object] | object | None = UNCHANGED,
) -> KeyRecord:
    """Change a key's name, expiry (None clears it), metadata or limits (None clears them); its value stays."""
    record = fetch(tx.conn, key_id)
    values: dict[str, object] = {}
    if name is not None and name != record.name:
        values["name"] = name
    if expires_at is not UNCHANGED and expires_at != record.expires_at:
        values["expires_at"] = expires_at
    if metadata is not None and dict(metadata) != record.metadata:
        values["metadata"] = dict(metadata)
    if limits is not UNCHANGED:
        new_limits = dict(limits) if isinstance(limits, Mapping) and limits else None
        if new_limits != record.limits:
            values["limits"] = new_limits
    if values:
        tx.conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))
        tx.bump()
    return fetch(tx.conn, key_id)


def regenerate(tx: WriteTx, key_id: str) -> tuple[KeyRecord, str]:
    """A new secret for the same key id (refused for a revoked key); the old value stops working."""
    record = fetch(tx.conn, key_id)
    if record.revoked_at is not None:
        raise ResourceConflictError(f"API key {key_id} is revoked: create a new key instead")
    new = regenerated_key(key_id)
    tx.conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(secret_hash=new.secret_hash))
    tx.bump()
    return fetch(tx.conn, key_id), new.value


def remove(tx: WriteTx, key_id: str) -> None:
    """Delete a key record for good (it stops working at once, like a revoked one)."""
    result = tx.conn.execute(delete(api_keys).where(api_keys.c.id == key_id))
    if result.rowcount == 0:
        raise ResourceNotFoundError(f"no API key with id {key_id!r}")
    tx.bump()


def record_use(conn: Connection, last_used: Mapping[str, datetime]) -> None:
    """Set last-use times in bulk; never moves a time backwards. Not a configuration change: no bump."""
    if not last_used:
        return
    used = bindparam("used_at", type_=api_keys.c.last_used_at.type)
    statement = (
        update(api_keys)
        .where(
            api_keys.c.id == bindparam("key_id"), or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < used)
        )
        .values(last_used_at=used)
    )
    conn.execute(statement, [{"key_id": key_id, "used_at": at} for key_id, at in last_used.items()])

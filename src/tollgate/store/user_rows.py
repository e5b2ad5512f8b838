"""Rows of the `users` table: named people and service accounts of the management API, with a role.

A person may have a password (argon2id hash, `passwords`); a service account only has tokens. The
role decides what the user's tokens may do (`control.permissions`); this module does not interpret it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import Row

from tollgate.errors import ResourceConflictError, ResourceNotFoundError
from tollgate.store.schema import users
from tollgate.store.tx import to_utc

#: The user that the first start's token (and tokens from before users existed) belongs to.
INITIAL_ADMIN = "admin"
_ID_BYTES = 6


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user without its password hash (`has_password` says whether one is set)."""

    id: str
    name: str
    kind: str
    role: str
    has_password: bool
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


def _record(row: Row[tuple[object, ...]]) -> UserRecord:
    return UserRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        role=row.role,
        has_password=row.password_hash is not None,
        created_at=to_utc(row.created_at) or row.created_at,
        updated_at=to_utc(row.updated_at) or row.updated_at,
        disabled_at=to_utc(row.disabled_at),
    )


def fetch(conn: Connection, name: str) -> UserRecord:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise ResourceNotFoundError(f"no user named {name!r}")
    return _record(row)


def fetch_by_id(conn: Connection, user_id: str) -> UserRecord | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return _record(row) if row is not None else None


def fetch_all(conn: Connection) -> list[UserRecord]:
    return [_record(row) for row in conn.execute(select(users).order_by(users.c.name))]


def password_hash(conn: Connection, name: str) -> tuple[UserRecord, str | None] | None:
    """The user and its password hash, for a login (None when there is no such user)."""
    row = conn.execute(select(users).where(users.c.name == name)).first()
    return (_record(row), row.password_hash) if row is not None else None


def insert_user(
    conn: Connection, now: datetime, name: str, kind: str, role: str, password_hash: str | None
) -> UserRecord:
    if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
        raise ResourceConflictError(f"a user named {name!r} already exists")
    user_id = secrets.token_hex(_ID_BYTES)
    values = {
        "id": user_id,
        "name": name,
        "kind": kind,
        "role": role,
        "password_hash": password_hash,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(insert(users).values(**values))
    return fetch(conn, name)


def change(conn: Connection, now: datetime, name: str, **values: object) -> UserRecord:
    """Set columns of one user (role, password_hash, disabled_at) and its `updated_at`."""
    result = conn.execute(update(users).where(users.c.name == name).values(updated_at=now, **values))
    if result.rowcount == 0:
        raise ResourceNotFoundError(f"no user named {name!r}")
    return fetch(conn, name)


def remove(conn: Connection, name: str) -> None:
    if conn.execute(delete(users).where(users.c.name == name)).rowcount == 0:
        raise ResourceNotFoundError(f"no user named {name!r}")


def active_admins(conn: Connection) -> int:
    query = select(func.count()).select_from(users).where(users.c.role == "admin", users.c.disabled_at.is_(None))
    return int(conn.execute(query).scalar_one())


def find_or_create_admin(conn: Connection, now: datetime) -> str:
    """The id of the user "admin" (created as an admin person without password if absent)."""
    found = conn.execute(select(users.c.id).where(users.c.name == INITIAL_ADMIN)).first()
    if found is not None:
        return str(found.id)
    return insert_user(conn, now, INITIAL_ADMIN, "user", "admin", None).id

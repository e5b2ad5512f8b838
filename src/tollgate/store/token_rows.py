"""Rows of the `admin_tokens` table: management API tokens of users, kept only as SHA-256 hashes.

A token reads `tga_<id>_<secret>`; the value leaves this module once, from `create` or `rotate`.
Verification hashes the presented secret and compares in constant time against the row its id names,
then checks revocation, expiry and the owner's state in the same read: a change takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from tollgate.errors import ResourceConflictError, ResourceNotFoundError
from tollgate.store.schema import admin_tokens, users
from tollgate.store.tx import to_utc
from tollgate.store.user_rows import UserRecord, fetch_by_id

ADMIN_TOKEN_PREFIX = "tga_"
_ID_BYTES = 6
_SECRET_BYTES = 32
#: `last_used_at` is written at most this often per token (a write per API call would queue writers).
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token: never the value. `kind` is "api" or "session"; `user` is the owner's name."""

    id: str
    name: str
    kind: str
    user_id: str
    user: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _new_secret() -> tuple[str, bytes]:
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return secret, _hash(secret)


#: Tokens with their owner's name (a token whose user is gone is not listed: it is deleted with the user).
_WITH_USER = select(*admin_tokens.c, users.c.name.label("user_name")).select_from(
    admin_tokens.join(users, users.c.id == admin_tokens.c.user_id)
)


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        name=row.name,
        kind=row.kind or "api",
        user_id=row.user_id,
        user=row.user_name,
        created_at=to_utc(row.created_at) or row.created_at,
        expires_at=to_utc(row.expires_at),
        revoked_at=to_utc(row.revoked_at),
        rotated_at=to_utc(row.rotated_at),
        last_used_at=to_utc(row.last_used_at),
    )


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(admin_tokens)).scalar_one())


def create(
    conn: Connection, now: datetime, user_id: str, name: str, *, kind: str = "api", expires_at: datetime | None = None
) -> tuple[TokenRecord, str]:
    """Insert a new token of `user_id`; returns its record and its value (shown once)."""
    token_id = secrets.token_hex(_ID_BYTES)
    secret, digest = _new_secret()
    values = {"id": token_id, "name": name, "token_hash": digest, "created_at": now}
    conn.execute(insert(admin_tokens).values(user_id=user_id, kind=kind, expires_at=expires_at, **values))
    return fetch(conn, token_id), f"{ADMIN_TOKEN_PREFIX}{token_id}_{secret}"


def fetch(conn: Connection, token_id: str) -> TokenRecord:
    row = conn.execute(_WITH_USER.where(admin_tokens.c.id == token_id)).first()
    if row is None:
        raise ResourceNotFoundError(f"no token with id {token_id!r}")
    return _record(row)


def fetch_all(conn: Connection, user_id: str | None = None) -> list[TokenRecord]:
    """Tokens (of one user if given), oldest first; revoked and expired ones included."""
    query = _WITH_USER.order_by(admin_tokens.c.created_at, admin_tokens.c.id)
    if user_id is not None:
        query = query.where(admin_tokens.c.user_id == user_id)
    return [_record(row) for row in conn.execute(query)]


def revoke(conn: Connection, now: datetime, token_id: str) -> TokenRecord:
    """Revoke (idempotent: the first revocation time is kept)."""
    fetch(conn, token_id)
    where = (admin_tokens.c.id == token_id) & admin_tokens.c.revoked_at.is_(None)
    conn.execute(update(admin_tokens).where(where).values(revoked_at=now))
    return fetch(conn, token_id)


def revoke_all_of(conn: Connection, now: datetime, user_id: str) -> None:
    where = (admin_tokens.c.user_id == user_id) & admin_tokens.c.revoked_at.is_(None)
    conn.execute(update(admin_tokens).where(where).values(revoked_at=now))


def delete_all_of(conn: Connection, user_id: str) -> None:
    conn.execute(delete(admin_tokens).where(admin_tokens.c.user_id == user_id))


def rotate(conn: Connection, now: datetime, token_id: str, expires_at: datetime | None) -> tuple[TokenRecord, str]:
    """A new secret for the same id: the old value stops working at once. Refused for a revoked token."""
    if fetch(conn, token_id).revoked_at is not None:
        raise ResourceConflictError(f"token {token_id!r} is revoked: create a new one instead")
    secret, digest = _new_secret()
    changes: dict[str, object] = {"token_hash": digest, "rotated_at": now}
    if expires_at is not None:
        changes["expires_at"] = expires_at
    conn.execute(update(admin_tokens).where(admin_tokens.c.id == token_id).values(**changes))
    return fetch(conn, token_id), f"{ADMIN_TOKEN_PREFIX}{token_id}_{secret}"


def split(value: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token value, else None."""
    head = len(ADMIN_TOKEN_PREFIX) + 2 * _ID_BYTES
    if not value.startswith(ADMIN_TOKEN_PREFIX) or len(value) <= head + 1 or value[head] != "_":
        return None
    return value[len(ADMIN_TOKEN_PREFIX) : head], value[head + 1 :]


def verify(conn: Connection, value: str, now: datetime) -> tuple[TokenRecord, UserRecord] | None:
    """The token and its user when `value` is a live token of an enabled user; None otherwise."""
    parts = split(value)
    if parts is None:
        return None
    token_id, secret = parts
    row = conn.execute(select(admin_tokens.c.token_hash).where(admin_tokens.c.id == token_id)).first()
    expected = bytes(row.token_hash) if row is not None else _hash("")
    if not hmac.compare_digest(_hash(secret), expected) or row is None:
        return None
    token = fetch(conn, token_id)
    user = fetch_by_id(conn, token.user_id)
    if token.status(now) != "active" or user is None or not user.is_active:
        return None
    return token, user


def touch(conn: Connection, token: TokenRecord, now: datetime) -> None:
    """Record a use of `token`, unless one was recorded less than `LAST_USED_RESOLUTION` ago."""
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        conn.execute(update(admin_tokens).where(admin_tokens.c.id == token.id).values(last_used_at=now))

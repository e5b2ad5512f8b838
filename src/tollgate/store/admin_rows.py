"""Rows of the `admin_tokens` table: management API credentials, kept only as SHA-256 hashes.

A token reads `tga_<id>_<secret>`; the value leaves this module once, from `create`. Verification
hashes the presented secret and compares in constant time against the row its id names.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Connection, func, insert, select

from tollgate.store.schema import admin_tokens
from tollgate.store.tx import WriteTx

ADMIN_TOKEN_PREFIX = "tga_"
_ID_BYTES = 6
_SECRET_BYTES = 32


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(admin_tokens)).scalar_one())


def create(tx: WriteTx, name: str) -> str:
    """Insert a new token and return its value (shown once). Not a configuration change: no bump."""
    token_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    tx.conn.execute(insert(admin_tokens).values(id=token_id, name=name, token_hash=_hash(secret), created_at=tx.now))
    return f"{ADMIN_TOKEN_PREFIX}{token_id}_{secret}"


def verify(conn: Connection, value: str) -> bool:
    """Whether `value` is a stored token; malformed values are simply not."""
    head = len(ADMIN_TOKEN_PREFIX) + 2 * _ID_BYTES
    if not value.startswith(ADMIN_TOKEN_PREFIX) or len(value) <= head + 1 or value[head] != "_":
        return False
    token_id, secret = value[len(ADMIN_TOKEN_PREFIX) : head], value[head + 1 :]
    row = conn.execute(select(admin_tokens.c.token_hash).where(admin_tokens.c.id == token_id)).first()
    expected = bytes(row.token_hash) if row is not None else _hash("")
    return hmac.compare_digest(_hash(secret), expected) and row is not None

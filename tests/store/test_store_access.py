"""Users and tokens in the store: the migration that introduced them, hashing, and use stamps."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from tollgate.store import Store, schema
from tollgate.store.engine import build_engine
from tollgate.store.migrations import MIGRATIONS
from tollgate.store.token_rows import LAST_USED_RESOLUTION
from tollgate.store.urls import engine_url

_OLD_SECRET = "an-old-admin-token-secret-from-version-2"


def _version_2_database(db_url: str) -> None:
    """A database as version 2 left it: every table but the new ones, admin_tokens without owners."""
    engine = build_engine(engine_url(db_url))
    old_tables = [t for t in schema.metadata.sorted_tables if t.name not in ("users", "audit_log", "admin_tokens")]
    digest = hashlib.sha256(_OLD_SECRET.encode()).digest()
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=old_tables)
        conn.execute(
            text(
                "CREATE TABLE admin_tokens (id VARCHAR(12) PRIMARY KEY, name VARCHAR(63) NOT NULL, "
                "token_hash BYTEA NOT NULL, created_at TIMESTAMP WITH TIME ZONE NOT NULL)".replace(
                    "BYTEA", "BLOB" if engine.dialect.name == "sqlite" else "BYTEA"
                )
            )
        )
        conn.execute(schema.revision.insert().values(id=1, value=0))
        now = datetime.now(UTC)
        conn.execute(
            schema.schema_version.insert(), [{"version": 1, "applied_at": now}, {"version": 2, "applied_at": now}]
        )
        conn.execute(
            text(
                "INSERT INTO admin_tokens (id, name, token_hash, created_at) VALUES ('0123456789ab', 'initial', :h, :t)"
            ),
            {"h": digest, "t": now},
        )
    engine.dispose()


def test_version_2_tokens_keep_working_as_the_admin_users(db_url: str, key_file: Path) -> None:
    _version_2_database(db_url)
    old_token = f"tga_0123456789ab_{_OLD_SECRET}"
    with Store.open(db_url, secret_key_file=key_file) as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
        identity = store.access.authenticate(old_token)
        assert identity is not None
        assert (identity.user.name, identity.user.role, identity.token.name) == ("admin", "admin", "initial")
        assert store.ensure_admin_token() is None  # a token exists: the first-start token is not made again
        assert [u.name for u in store.access.list_users()] == ["admin"]
    with Store.open(db_url, secret_key_file=key_file) as again:  # idempotent
        assert again.schema_version() == MIGRATIONS[-1][0] and again.access.authenticate(old_token) is not None


def test_last_use_is_stamped_at_most_once_a_minute(store: Store) -> None:
    store.access.create_user("ci", "service", "viewer")
    record, value = store.access.create_token("ci", "main")
    assert record.last_used_at is None
    first = store.access.authenticate(value)
    assert first is not None
    stamped = store.access.get_token(record.id).last_used_at
    assert stamped is not None and datetime.now(UTC) - stamped < timedelta(seconds=5)
    assert store.access.authenticate(value) is not None
    assert store.access.get_token(record.id).last_used_at == stamped  # within the resolution: no write
    assert timedelta(minutes=1) == LAST_USED_RESOLUTION


def test_authenticate_refuses_malformed_and_unknown_values(store: Store) -> None:
    store.access.create_user("ci", "service", "viewer")
    _record, value = store.access.create_token("ci", "main")
    for bad in (
        "",
        "tga_",
        "tga_short",
        value[:-1] + ("A" if value[-1] != "A" else "B"),
        "tga_ffffffffffff_" + value[17:],
    ):
        assert store.access.authenticate(bad) is None
    assert store.access.authenticate(value) is not None

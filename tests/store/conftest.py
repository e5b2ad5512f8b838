"""A fresh store per test on each backend: SQLite in a temp dir, PostgreSQL in a throwaway schema."""

from __future__ import annotations

import getpass
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tollgate.store import Store

#: Default: the local server as the current OS user (root on CI machines), database `test`.
PG_URL = os.environ.get("TOLLGATE_TEST_PG_URL", f"postgresql://{getpass.getuser()}@127.0.0.1:5432/test")
KNOWN_TEMPLATES: dict[str, str | None] = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "azure-openai": None,
    "openai-compatible": None,
}


def _pg_conninfo() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_available() -> str | None:
    try:
        with psycopg.connect(_pg_conninfo(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {make_url(PG_URL).host}:{make_url(PG_URL).port} unreachable ({type(exc).__name__})"


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOLLGATE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TOLLGATE_SECRET_KEY_FILE", raising=False)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema (dropped afterwards)."""
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    schema = f"tg_test_{secrets.token_hex(6)}"
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(PG_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'tollgate.db'}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "secret.key"


@pytest.fixture
def store(db_url: str, key_file: Path) -> Iterator[Store]:
    with Store.open(db_url, secret_key_file=key_file, known_templates=KNOWN_TEMPLATES) as opened:
        yield opened

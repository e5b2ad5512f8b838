"""Management API fixtures: a fresh store on SQLite and PostgreSQL (the store tests' fixtures) and a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.store.conftest import KNOWN_TEMPLATES, _no_key_env, db_url, key_file, pg_schema_url
from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.store import Store

__all__ = ["_no_key_env", "db_url", "key_file", "pg_schema_url"]

ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture
def store(db_url: str, key_file: Path) -> Iterator[Store]:
    with Store.open(db_url, secret_key_file=key_file, known_templates=KNOWN_TEMPLATES) as opened:
        yield opened


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app(store, auth=AdminAuth(store, env_token=ADMIN_TOKEN))
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, raise_server_exceptions=False) as tc:
        yield tc

"""The console in-process (Starlette TestClient over `create_app`, SQLite): an admin user `ann` with a
password and a provider `p1`; helpers to read a form's CSRF token and to sign in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.store.conftest import KNOWN_TEMPLATES, key_file
from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.store import Store

__all__ = ["key_file"]

ADMIN_TOKEN = "console-test-admin-token-0123456789"
PASSWORD = "a long enough password"


@pytest.fixture
def app_client(tmp_path: Path, key_file: Path) -> Iterator[TestClient]:
    with Store.open(f"sqlite:///{tmp_path / 'c.db'}", secret_key_file=key_file, known_templates=KNOWN_TEMPLATES) as st:
        app = create_app(st, auth=AdminAuth(st, env_token=ADMIN_TOKEN))
        with TestClient(app, follow_redirects=False) as client:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            client.post("/api/v1/users", json={"name": "ann", "role": "admin", "password": PASSWORD}, headers=admin)
            doc = {"metadata": {"name": "p1"}, "spec": {"template": "openai", "context": "/p1"}}
            assert client.put("/api/v1/providers/p1", json=doc, headers=admin).status_code == 200
            yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def _sign_in(client: TestClient) -> str:
    page = client.get("/console/login")
    answer = client.post(
        "/console/login", data={"csrf_token": _csrf(page.text), "username": "ann", "password": PASSWORD}
    )
    assert answer.status_code == 303
    return answer.headers["set-cookie"]

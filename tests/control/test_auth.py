"""Admin authentication: bearer token from the environment or the store (hashed), 401 otherwise."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.control.conftest import ADMIN_TOKEN
from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.store import Store


def test_missing_and_wrong_tokens_are_401(client: TestClient) -> None:
    response = client.get("/api/v1/providers", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "unauthorized"
    assert client.get("/api/v1/providers", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/providers", headers={"Authorization": f"Basic {ADMIN_TOKEN}"}).status_code == 401
    assert client.get("/api/v1/providers").status_code == 200


def test_health_and_openapi_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz", headers={"Authorization": ""}).json() == {"status": "ok"}
    spec = client.get("/openapi.json", headers={"Authorization": ""}).json()
    assert "/api/v1/apply" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_first_start_token_is_stored_hashed_and_works(store: Store) -> None:
    token = store.ensure_admin_token()
    assert token is not None and token.startswith("tga_")
    assert store.ensure_admin_token() is None  # created once only
    assert store.verify_admin_token(token)
    assert not store.verify_admin_token(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not store.verify_admin_token("tga_short")
    app = create_app(store, auth=AdminAuth(store, env_token=""))
    with TestClient(app) as tc:
        assert tc.get("/api/v1/keys", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert tc.get("/api/v1/keys", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 401

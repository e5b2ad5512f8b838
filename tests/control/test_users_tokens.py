"""Users, tokens and logins over the API: changes take effect on the very next call, on both backends."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tollgate.store import Store
from tollgate.store.schema import admin_tokens, users

PASSWORD = "correct horse battery staple"


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _service(client: TestClient, name: str, role: str) -> str:
    """A service account with one token; returns the token's value."""
    assert client.post("/api/v1/users", json={"name": name, "role": role, "kind": "service"}).status_code == 201
    created = client.post("/api/v1/tokens", json={"name": "main", "user": name})
    assert created.status_code == 201
    value: str = created.json()["value"]
    return value


def test_whoami_for_the_env_token_and_a_user_token(client: TestClient) -> None:
    assert client.get("/api/v1/whoami").json() == {
        "user": "env:TOLLGATE_ADMIN_TOKEN",
        "kind": "env",
        "role": "admin",
        "tokenId": "env",
        "permissions": ["*"],
    }
    token = _service(client, "ci", "operator")
    me = client.get("/api/v1/whoami", headers=_as(token)).json()
    assert me["user"] == "ci" and me["kind"] == "service" and me["role"] == "operator"
    assert me["tokenId"] == token[4:16]
    assert me["permissions"] == [
        "audit:read",
        "deployments:read",
        "deployments:write",
        "gateways:read",
        "gateways:write",
        "keys:read",
        "keys:write",
        "providers:read",
        "proxies:read",
        "secrets:read",
        "templates:read",
        "usage:read",
    ]


def test_tokens_are_stored_as_sha256_and_shown_once(client: TestClient, store: Store) -> None:
    token = _service(client, "ci", "viewer")
    token_id, secret = token[4:16], token[17:]
    with store._engine.connect() as conn:
        row = conn.execute(select(admin_tokens).where(admin_tokens.c.id == token_id)).one()
    assert bytes(row.token_hash) == hashlib.sha256(secret.encode()).digest()
    listed = client.get("/api/v1/tokens", params={"user": "ci"})
    assert listed.status_code == 200 and token not in listed.text and secret not in listed.text
    assert [t["id"] for t in listed.json()] == [token_id]
    assert "value" not in listed.json()[0]


def test_revoke_takes_effect_on_the_next_call(client: TestClient) -> None:
    token = _service(client, "ci", "viewer")
    assert client.get("/api/v1/providers", headers=_as(token)).status_code == 200
    revoked = client.post(f"/api/v1/tokens/{token[4:16]}/revoke", headers=_as(token))  # own token: self-service
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = client.get("/api/v1/providers", headers=_as(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "unauthorized"


def test_rotate_refuses_the_old_value_at_once_and_keeps_the_id(client: TestClient) -> None:
    old = _service(client, "ci", "viewer")
    rotated = client.post(f"/api/v1/tokens/{old[4:16]}/rotate", json={}, headers=_as(old))
    assert rotated.status_code == 200
    new = rotated.json()["value"]
    assert new.startswith(f"tga_{old[4:16]}_") and new != old
    assert rotated.json()["rotatedAt"] is not None
    assert client.get("/api/v1/whoami", headers=_as(old)).status_code == 401
    assert client.get("/api/v1/whoami", headers=_as(new)).json()["tokenId"] == old[4:16]
    client.post(f"/api/v1/tokens/{old[4:16]}/revoke")
    again = client.post(f"/api/v1/tokens/{old[4:16]}/rotate", json={})
    assert again.status_code == 409  # a revoked token stays revoked


def test_expiry_takes_effect_when_it_passes(client: TestClient) -> None:
    assert client.post("/api/v1/users", json={"name": "ci", "role": "viewer", "kind": "service"}).status_code == 201
    expires = datetime.now(UTC) + timedelta(seconds=2)
    body = {"name": "short", "user": "ci", "expiresAt": expires.isoformat()}
    created = client.post("/api/v1/tokens", json=body).json()
    assert created["status"] == "active"
    assert client.get("/api/v1/whoami", headers=_as(created["value"])).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)  # until the expiry has passed
    assert client.get("/api/v1/whoami", headers=_as(created["value"])).status_code == 401
    assert client.get(f"/api/v1/tokens/{created['id']}").json()["status"] == "expired"
    past = client.post("/api/v1/tokens", json={**body, "expiresAt": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422
    assert past.json()["error"]["errors"][0]["field"] == "expiresAt"


def test_role_change_and_disable_apply_to_existing_tokens_at_once(client: TestClient) -> None:
    token = _service(client, "ci", "viewer")
    document = {"metadata": {"name": "openai"}, "spec": {"template": "openai", "context": "/openai"}}
    assert client.put("/api/v1/providers/openai", json=document, headers=_as(token)).status_code == 403
    assert client.patch("/api/v1/users/ci", json={"role": "publisher"}).json()["role"] == "publisher"
    assert client.put("/api/v1/providers/openai", json=document, headers=_as(token)).status_code == 200
    assert client.patch("/api/v1/users/ci", json={"disabled": True}).json()["disabled"] is True
    assert client.get("/api/v1/whoami", headers=_as(token)).status_code == 401
    assert client.patch("/api/v1/users/ci", json={"disabled": False}).status_code == 200
    assert client.get("/api/v1/whoami", headers=_as(token)).status_code == 200
    assert client.delete("/api/v1/users/ci").status_code == 204
    assert client.get("/api/v1/whoami", headers=_as(token)).status_code == 401
    assert client.get("/api/v1/tokens", params={"all": "true"}).json() == []


def test_the_last_enabled_admin_cannot_be_removed(client: TestClient) -> None:
    assert client.post("/api/v1/users", json={"name": "root", "role": "admin", "kind": "service"}).status_code == 201
    for attempt in (
        client.patch("/api/v1/users/root", json={"role": "viewer"}),
        client.patch("/api/v1/users/root", json={"disabled": True}),
        client.delete("/api/v1/users/root"),
    ):
        assert attempt.status_code == 409
        assert attempt.json()["error"]["message"] == "refused: user 'root' is the last enabled admin"
    assert client.get("/api/v1/users/root").json()["role"] == "admin"
    assert client.post("/api/v1/users", json={"name": "root2", "role": "admin", "kind": "service"}).status_code == 201
    assert client.delete("/api/v1/users/root").status_code == 204


def test_users_see_only_their_own_tokens(client: TestClient) -> None:
    mine = _service(client, "me", "viewer")
    theirs = _service(client, "them", "viewer")
    listed = client.get("/api/v1/tokens", headers=_as(mine)).json()
    assert [t["user"] for t in listed] == ["me"]
    peek = client.get(f"/api/v1/tokens/{theirs[4:16]}", headers=_as(mine))
    assert peek.status_code == 403 and peek.json()["error"]["errors"][0]["field"] == "tokens:read"
    steal = client.post("/api/v1/tokens", json={"name": "x", "user": "them"}, headers=_as(mine))
    assert steal.status_code == 403 and steal.json()["error"]["errors"][0]["field"] == "tokens:write"
    kill = client.post(f"/api/v1/tokens/{theirs[4:16]}/revoke", headers=_as(mine))
    assert kill.status_code == 403
    assert client.get("/api/v1/whoami", headers=_as(theirs)).status_code == 200
    own = client.post("/api/v1/tokens", json={"name": "laptop"}, headers=_as(mine))
    assert own.status_code == 201 and own.json()["user"] == "me"
    env_without_user = client.post("/api/v1/tokens", json={"name": "x"})
    assert env_without_user.status_code == 422


def test_login_gives_a_session_token_and_refuses_alike(client: TestClient, store: Store) -> None:
    body = {"name": "alice", "role": "publisher", "kind": "user", "password": PASSWORD}
    assert client.post("/api/v1/users", json=body).status_code == 201
    with store._engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.name == "alice")).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in stored
    anon = {"Authorization": ""}
    session = client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD}, headers=anon)
    assert session.status_code == 200
    data = session.json()
    assert data["kind"] == "session" and data["role"] == "publisher" and data["user"] == "alice"
    lifetime = datetime.fromisoformat(data["expiresAt"]) - datetime.fromisoformat(data["createdAt"])
    assert lifetime == timedelta(hours=12)
    assert client.get("/api/v1/whoami", headers=_as(data["value"])).json()["user"] == "alice"
    wrong = client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD + "x"}, headers=anon)
    nobody = client.post("/api/v1/login", json={"username": "bob", "password": PASSWORD}, headers=anon)
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    assert wrong.json()["error"]["message"] == "invalid username or password"
    assert client.post(f"/api/v1/tokens/{data['id']}/revoke", headers=_as(data["value"])).status_code == 200
    assert client.get("/api/v1/whoami", headers=_as(data["value"])).status_code == 401  # logged out


def test_service_accounts_and_disabled_users_cannot_log_in(client: TestClient) -> None:
    service = {"name": "bot", "role": "viewer", "kind": "service", "password": PASSWORD}
    refused = client.post("/api/v1/users", json=service)
    assert refused.status_code == 422 and refused.json()["error"]["errors"][0]["field"] == "password"
    person = {"name": "carol", "role": "viewer", "kind": "user", "password": PASSWORD}
    assert client.post("/api/v1/users", json=person).status_code == 201
    client.patch("/api/v1/users/carol", json={"disabled": True})
    login = client.post(
        "/api/v1/login", json={"username": "carol", "password": PASSWORD}, headers={"Authorization": ""}
    )
    assert login.status_code == 401


def test_people_change_their_own_password_with_the_current_one(client: TestClient) -> None:
    person = {"name": "dave", "role": "viewer", "kind": "user", "password": PASSWORD}
    assert client.post("/api/v1/users", json=person).status_code == 201
    session = client.post("/api/v1/login", json={"username": "dave", "password": PASSWORD}).json()["value"]
    new = "another long password"
    wrong = client.put(
        "/api/v1/users/dave/password", json={"password": new, "currentPassword": "nope"}, headers=_as(session)
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["errors"][0]["field"] == "currentPassword"
    right = {"password": new, "currentPassword": PASSWORD}
    assert client.put("/api/v1/users/dave/password", json=right, headers=_as(session)).status_code == 200
    assert client.post("/api/v1/login", json={"username": "dave", "password": PASSWORD}).status_code == 401
    assert client.post("/api/v1/login", json={"username": "dave", "password": new}).status_code == 200
    short = client.put("/api/v1/users/dave/password", json={"password": "short"})
    assert short.status_code == 422


def test_first_start_token_belongs_to_the_admin_user(store: Store) -> None:
    from tollgate.control.app import create_app
    from tollgate.control.auth import AdminAuth

    token = store.ensure_admin_token()
    assert token is not None and store.ensure_admin_token() is None
    app = create_app(store, auth=AdminAuth(store, env_token=""))
    with TestClient(app, headers=_as(token)) as tc:
        me = tc.get("/api/v1/whoami").json()
        assert (me["user"], me["role"], me["kind"]) == ("admin", "admin", "user")
        assert [(t["name"], t["user"]) for t in tc.get("/api/v1/tokens").json()] == [("initial", "admin")]


def test_a_request_is_authenticated_once(store: Store) -> None:
    """The guard verifies before the body is read and hands the principal on: one store lookup per call."""
    from tollgate.control.app import create_app
    from tollgate.control.auth import AdminAuth, Principal

    class CountingAuth(AdminAuth):
        calls = 0

        def authenticate(self, token: str) -> Principal | None:
            CountingAuth.calls += 1
            return super().authenticate(token)

    store.access.create_user("ci", "service", "viewer")
    _record, value = store.access.create_token("ci", "main")
    app = create_app(store, auth=CountingAuth(store, env_token=""))
    with TestClient(app, headers=_as(value)) as tc:
        assert tc.get("/api/v1/whoami").json()["user"] == "ci"
        assert tc.put("/api/v1/secrets/x", json={"value": "sk-0123456789"}).status_code == 403
    assert CountingAuth.calls == 2

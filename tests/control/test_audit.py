"""The audit log over the API: who, when, what, with exact before/after documents and masked secrets;
filters, cursor pages and exports. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.control.docs import V1, provider, proxy, secret

SECRET_VALUE = "sk-PLAINTEXT-never-in-the-audit-0123"


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _entries(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit", params={"limit": "1000", **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _summary(entries: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(e["actor"], e["action"], e["kind"], e["name"]) for e in entries]


def _publisher(client: TestClient) -> tuple[str, str]:
    """A publisher service account's token: (value, id)."""
    assert client.post("/api/v1/users", json={"name": "pub", "role": "publisher", "kind": "service"}).status_code == 201
    token = client.post("/api/v1/tokens", json={"name": "ci", "user": "pub"}).json()
    return token["value"], token["id"]


def test_create_update_delete_with_exact_documents_and_who(client: TestClient) -> None:
    token, token_id = _publisher(client)
    first = provider(models=["gpt-4o"])
    assert client.put("/api/v1/providers/openai", json=first, headers=_as(token)).status_code == 200
    created_doc = client.get("/api/v1/providers/openai").json()
    second = provider(models=["gpt-4o", "gpt-4o-mini"])
    assert client.put("/api/v1/providers/openai", json=second, headers=_as(token)).json()["outcome"] == "changed"
    changed_doc = client.get("/api/v1/providers/openai").json()
    assert client.put("/api/v1/providers/openai", json=second, headers=_as(token)).json()["outcome"] == "unchanged"
    assert client.delete("/api/v1/providers/openai", headers=_as(token)).status_code == 204

    entries = _entries(client, kind="LLMProvider")
    assert _summary(entries) == [
        ("pub", "delete", "LLMProvider", "openai"),
        ("pub", "update", "LLMProvider", "openai"),
        ("pub", "create", "LLMProvider", "openai"),
    ]
    deleted, updated, created = entries
    assert created["before"] is None and created["after"] == created_doc
    assert updated["before"] == created_doc and updated["after"] == changed_doc
    assert updated["after"]["spec"]["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert deleted["before"] == changed_doc and deleted["after"] is None
    for entry in entries:
        assert entry["actorTokenId"] == token_id and entry["actorUserId"] is not None
        assert entry["method"] in ("PUT", "DELETE") and entry["path"] == "/api/v1/providers/openai"
    assert token not in client.get("/api/v1/audit/export").text  # the token itself is never recorded


def test_refused_and_failed_changes_are_not_recorded(client: TestClient) -> None:
    before = len(_entries(client))
    viewer = client.post("/api/v1/users", json={"name": "v", "role": "viewer", "kind": "service"})
    assert viewer.status_code == 201
    token = client.post("/api/v1/tokens", json={"name": "t", "user": "v"}).json()["value"]
    assert len(_entries(client)) == before + 2  # the user and its token
    assert client.put("/api/v1/providers/openai", json=provider(), headers=_as(token)).status_code == 403
    assert client.put("/api/v1/proxies/team", json=proxy()).status_code == 422  # provider missing
    assert client.delete("/api/v1/providers/ghost").status_code == 404
    assert len(_entries(client)) == before + 2


def test_secret_values_are_masked_everywhere(client: TestClient) -> None:
    assert client.put("/api/v1/secrets/openai-key", json={"value": SECRET_VALUE}).status_code == 200
    header_template = {
        "apiVersion": V1,
        "kind": "ProviderTemplate",
        "metadata": {"name": "inhouse"},
        "spec": {"baseUrl": "http://127.0.0.1:9", "defaultHeaders": {"Authorization": SECRET_VALUE, "x-team": "red"}},
    }
    documents = [secret("second", SECRET_VALUE), header_template]
    assert client.post("/api/v1/apply", json={"documents": documents}).status_code == 200
    assert client.put("/api/v1/secrets/openai-key", json={"value": SECRET_VALUE + "-2"}).status_code == 200
    entries = _entries(client)
    assert _summary(entries) == [
        ("env:TOLLGATE_ADMIN_TOKEN", "update", "Secret", "openai-key"),
        ("env:TOLLGATE_ADMIN_TOKEN", "create", "ProviderTemplate", "inhouse"),
        ("env:TOLLGATE_ADMIN_TOKEN", "create", "Secret", "second"),
        ("env:TOLLGATE_ADMIN_TOKEN", "create", "Secret", "openai-key"),
    ]
    rotated, template, second, first = entries
    assert first["before"] is None
    assert first["after"] == {"name": "openai-key", "value": "***", "updatedAt": first["after"]["updatedAt"]}
    assert rotated["before"] == first["after"]
    assert rotated["after"]["value"] == "***" and rotated["after"]["updatedAt"] > rotated["before"]["updatedAt"]
    assert template["after"]["spec"]["defaultHeaders"] == {"Authorization": "***", "x-team": "red"}
    assert second["after"]["value"] == "***"
    assert (first["actorTokenId"], first["actorUserId"]) == ("env", None)
    for fmt in ("jsonl", "csv"):
        exported = client.get("/api/v1/audit/export", params={"format": fmt}).text
        assert SECRET_VALUE not in exported and "***" in exported


def test_deploy_undeploy_keys_and_side_effects(client: TestClient) -> None:
    assert client.post("/api/v1/apply", json={"documents": [provider(), proxy()]}).status_code == 200
    deployed = client.post("/api/v1/deployments", json={"kind": "LLMProvider", "name": "openai"})
    assert deployed.status_code == 200
    key = client.post("/api/v1/keys", json={"name": "k", "target": {"kind": "LLMProvider", "name": "openai"}}).json()
    assert client.post(f"/api/v1/keys/{key['id']}/revoke").status_code == 200
    assert client.post(f"/api/v1/keys/{key['id']}/revoke").status_code == 200  # idempotent: no second entry
    assert client.delete("/api/v1/proxies/team").status_code == 204
    assert client.delete("/api/v1/providers/openai").status_code == 204  # undeployed everywhere
    summary = _summary(_entries(client))
    admin = "env:TOLLGATE_ADMIN_TOKEN"
    assert summary == [  # newest first; one request's entries in the order recorded: the thing, then side effects
        (admin, "undeploy", "Deployment", "default/LLMProvider/openai"),
        (admin, "delete", "LLMProvider", "openai"),
        (admin, "delete", "LLMProxy", "team"),
        (admin, "revoke", "APIKey", key["id"]),
        (admin, "create", "APIKey", key["id"]),
        (admin, "deploy", "Deployment", "default/LLMProvider/openai"),
        (admin, "create", "LLMProxy", "team"),
        (admin, "create", "LLMProvider", "openai"),
    ]
    entries = {(e["action"], e["kind"]): e for e in _entries(client)}
    assert entries[("deploy", "Deployment")]["after"] == {
        "gateway": "default",
        "kind": "LLMProvider",
        "name": "openai",
        "revision": 1,
    }
    revoke = entries[("revoke", "APIKey")]
    assert revoke["before"]["revokedAt"] is None and revoke["after"]["revokedAt"] is not None
    assert revoke["after"]["masked"] == f"tg_{key['id']}_****" and key["value"] not in json.dumps(revoke)


def test_users_and_tokens_are_audited_without_secrets(client: TestClient) -> None:
    body = {"name": "alice", "role": "viewer", "kind": "user", "password": "correct horse battery staple"}
    assert client.post("/api/v1/users", json=body).status_code == 201
    token = client.post("/api/v1/tokens", json={"name": "laptop", "user": "alice"}).json()
    rotated = client.post(f"/api/v1/tokens/{token['id']}/rotate", json={}).json()
    assert client.patch("/api/v1/users/alice", json={"role": "operator"}).status_code == 200
    login = client.post("/api/v1/login", json={"username": "alice", "password": body["password"]}).json()
    summary = _summary(_entries(client))
    admin = "env:TOLLGATE_ADMIN_TOKEN"
    assert summary == [
        ("alice", "login", "Token", login["id"]),
        (admin, "update", "User", "alice"),
        (admin, "rotate", "Token", token["id"]),
        (admin, "create", "Token", token["id"]),
        (admin, "create", "User", "alice"),
    ]
    exported = client.get("/api/v1/audit/export").text
    for value in (body["password"], token["value"], rotated["value"], login["value"]):
        assert value not in exported
    role_change = _entries(client, kind="User", action="update")[0]
    assert (role_change["before"]["role"], role_change["after"]["role"]) == ("viewer", "operator")
    assert role_change["after"]["password"] == "***"


def test_filters_cursor_pages_and_exports(client: TestClient) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    for index in range(5):
        assert client.put(f"/api/v1/secrets/s{index}", json={"value": f"value-{index}-0123456789"}).status_code == 200
    names: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/audit", params=params).json()
        names += [e["name"] for e in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert names == ["s4", "s3", "s2", "s1", "s0"] and pages == 3
    assert [e["name"] for e in _entries(client, since=start.isoformat())] == names
    assert _entries(client, until=start.isoformat()) == []
    assert _entries(client, actor="nobody") == []
    assert [e["name"] for e in _entries(client, kind="Secret", name="s2")] == ["s2"]
    for bad in ("abc", "²", "9" * 30):  # not digits, a digit int() refuses, past a 64-bit id
        assert client.get("/api/v1/audit", params={"cursor": bad}).status_code == 422, bad

    lines = client.get("/api/v1/audit/export").text.splitlines()
    assert [json.loads(line) for line in lines] == _entries(client)
    exported = client.get("/api/v1/audit/export", params={"format": "csv", "kind": "Secret"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["name"] for r in rows] == names
    assert json.loads(rows[0]["after"])["value"] == "***" and rows[0]["before"] == "null"
    assert list(rows[0]) == [
        "id",
        "time",
        "actor",
        "actorUserId",
        "actorTokenId",
        "action",
        "kind",
        "name",
        "method",
        "path",
        "before",
        "after",
    ]

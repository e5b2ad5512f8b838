"""The audit log of the second-round operations: prune, dry runs, key update/regenerate/delete and
gateway deletion, with exact actions and documents. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.control.docs import provider

ADMIN = "env:TOLLGATE_ADMIN_TOKEN"


def team(name: str, context: str, owner: str = "a") -> dict[str, Any]:
    doc = provider(name, context)
    doc["metadata"]["labels"] = {"team": owner}
    return doc


def _apply(client: TestClient, *docs: dict[str, Any], **options: Any) -> None:
    response = client.post("/api/v1/apply", json={"documents": list(docs), **options})
    assert response.status_code == 200, response.text


def _entries(client: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/audit", params={"limit": "1000"}).json()["items"]
    return items


def test_a_dry_run_records_nothing_and_a_prune_records_each_deletion(client: TestClient) -> None:
    _apply(client, team("a1", "/a1"), team("a2", "/a2"), team("a3", "/a3"), team("b1", "/b1", owner="b"))
    assert len(_entries(client)) == 4
    _apply(client, team("a1", "/a1"), dryRun=True, prune=True, selector="team=a")
    assert len(_entries(client)) == 4
    doomed = client.get("/api/v1/providers/a3").json()
    _apply(client, team("a1", "/a1"), team("a2", "/a2"), prune=True, selector="team=a")
    newest = _entries(client)[0]
    assert (newest["actor"], newest["action"], newest["kind"], newest["name"]) == (ADMIN, "delete", "LLMProvider", "a3")
    assert newest["before"] == doomed and newest["after"] is None
    assert len(_entries(client)) == 5


def test_key_update_regenerate_delete_and_gateway_delete(client: TestClient) -> None:
    _apply(client, provider())
    key = client.post("/api/v1/keys", json={"name": "k", "target": {"kind": "LLMProvider", "name": "openai"}}).json()
    patch = {"name": "renamed", "metadata": {"team": "red"}}
    assert client.patch(f"/api/v1/keys/{key['id']}", json=patch).status_code == 200
    regenerated = client.post(f"/api/v1/keys/{key['id']}/regenerate")
    assert regenerated.status_code == 200
    assert client.delete(f"/api/v1/keys/{key['id']}").status_code == 204
    assert client.put("/api/v1/gateways/edge", json={"baseUrl": "http://127.0.0.1:8081"}).status_code == 200
    assert client.delete("/api/v1/gateways/edge").status_code == 200
    entries = _entries(client)
    assert [(e["action"], e["kind"], e["name"]) for e in entries[:6]] == [
        ("delete", "Gateway", "edge"),
        ("create", "Gateway", "edge"),
        ("delete", "APIKey", key["id"]),
        ("regenerate", "APIKey", key["id"]),
        ("update", "APIKey", key["id"]),
        ("create", "APIKey", key["id"]),
    ]
    deleted, regenerate, update = entries[2], entries[3], entries[4]
    assert (update["before"]["name"], update["after"]["name"]) == ("k", "renamed")
    assert (update["before"]["metadata"], update["after"]["metadata"]) == ({}, {"team": "red"})
    assert regenerate["before"]["valueFingerprint"] != regenerate["after"]["valueFingerprint"]
    assert regenerate["before"]["masked"] == regenerate["after"]["masked"] == f"tg_{key['id']}_****"
    assert deleted["after"] is None and deleted["before"]["name"] == "renamed"
    exported = client.get("/api/v1/audit/export").text
    assert key["value"] not in exported and regenerated.json()["value"] not in exported

"""Apply, API keys, gateways and deployments over the API: outcomes, one-time values, history, restore."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.control.docs import api_key, provider, proxy, secret


def _apply(client: TestClient, *docs: dict[str, object], gateway: str | None = "g1") -> list[dict[str, object]]:
    response = client.post("/api/v1/apply", json={"documents": list(docs), "gateway": gateway, "createGateway": True})
    assert response.status_code == 200, response.text
    results: list[dict[str, object]] = response.json()["results"]
    return results


def test_apply_reports_created_changed_unchanged_and_keys_once(client: TestClient) -> None:
    first = _apply(client, secret(), provider(credential={"secret": "openai-key"}), proxy(), api_key())
    assert [(r["kind"], r["outcome"]) for r in first] == [
        ("Secret", "created"),
        ("LLMProvider", "created"),
        ("LLMProxy", "created"),
        ("APIKey", "created"),
    ]
    key = first[-1]["key"]
    assert isinstance(key, str) and key.startswith("tg_")
    again = _apply(client, secret(), provider(credential={"secret": "openai-key"}), proxy(), api_key())
    assert {r["outcome"] for r in again} == {"unchanged"} and all(r["key"] is None for r in again)
    changed = _apply(client, proxy(context="/team2"))
    assert changed[0]["outcome"] == "changed"
    live = {d["name"]: d for d in client.get("/api/v1/deployments", params={"gateway": "g1"}).json()}
    assert live["team"]["context"] == "/team2" and live["team"]["revision"] == 2
    assert "sk-PLAINTEXT" not in client.get("/api/v1/deployments").text


def test_apply_collects_every_invalid_document(client: TestClient) -> None:
    bad = provider(context="nope")
    response = client.post("/api/v1/apply", json={"documents": [bad, {"kind": "Nope"}, proxy(provider_name="x")]})
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["error"]["errors"]]
    assert fields == ["spec.context", "kind"]
    assert client.get("/api/v1/providers").json() == []


def test_keys_create_list_masked_and_revoke(client: TestClient) -> None:
    _apply(client, provider())
    created = client.post("/api/v1/keys", json={"name": "k1", "target": {"kind": "LLMProvider", "name": "openai"}})
    assert created.status_code == 201
    body = created.json()
    assert body["value"].startswith(f"tg_{body['id']}_") and body["status"] == "active"
    listed = client.get("/api/v1/keys").json()
    assert listed[0]["masked"] == f"tg_{body['id']}_****" and "value" not in listed[0]
    assert body["value"] not in client.get("/api/v1/keys").text
    revoked = client.post(f"/api/v1/keys/{body['id']}/revoke").json()
    assert revoked["status"] == "revoked" and revoked["revokedAt"]
    assert client.get(f"/api/v1/keys/{body['id']}").json()["status"] == "revoked"
    assert client.get("/api/v1/keys/000000000000").status_code == 404
    missing = client.post("/api/v1/keys", json={"name": "k2", "target": {"kind": "LLMProxy", "name": "ghost"}})
    assert missing.status_code == 404


def test_deploy_undeploy_history_restore_and_invoke_url(client: TestClient) -> None:
    _apply(client, provider(), proxy(), gateway=None)
    assert client.put("/api/v1/gateways/g1", json={"baseUrl": "http://gw.example:8080"}).json()["outcome"] == "created"
    deployed = client.post("/api/v1/deployments", json={"gateway": "g1", "kind": "LLMProvider", "name": "openai"})
    assert deployed.json()["outcome"] == "created"
    assert deployed.json()["deployment"]["invokeUrl"] == "http://gw.example:8080/openai"
    early = client.post(
        "/api/v1/deployments", json={"gateway": "g2", "kind": "LLMProxy", "name": "team", "createGateway": True}
    )
    assert early.status_code == 422 and "deploy it first" in early.json()["error"]["message"]
    client.put("/api/v1/providers/openai", json=provider(models=["gpt-4o"]))  # redeployed where live
    history = client.get("/api/v1/deployments/g1/LLMProvider/openai/history").json()
    assert [h["revision"] for h in history] == [1, 2] and history[0]["invokeUrl"] is None
    restored = client.post("/api/v1/deployments/g1/LLMProvider/openai/restore", json={"revision": 1}).json()
    assert restored["revision"] == 3 and restored["live"]
    assert client.get("/api/v1/providers/openai").json()["spec"]["models"] == []
    undeployed = client.delete("/api/v1/deployments/g1/LLMProvider/openai")
    assert undeployed.status_code == 200 and undeployed.json()["live"] is False
    assert client.delete("/api/v1/deployments/g1/LLMProvider/openai").status_code == 404
    assert client.get("/api/v1/deployments/g1/LLMProxy/team/history").status_code == 404
    assert client.delete("/api/v1/deployments/g1/Secret/openai").status_code == 422
    gateways = client.get("/api/v1/gateways").json()
    assert [(g["name"], g["baseUrl"]) for g in gateways] == [("g1", "http://gw.example:8080")]
    assert client.get("/api/v1/gateways/none").status_code == 404


def test_two_deployments_on_a_gateway_cannot_share_a_context(client: TestClient) -> None:
    _apply(client, provider())  # deployed on g1 at /openai
    client.put("/api/v1/providers/openai?redeploy=false", json=provider(context="/moved"))
    client.put("/api/v1/providers/other", json=provider("other", context="/openai"))
    response = client.post("/api/v1/deployments", json={"gateway": "g1", "kind": "LLMProvider", "name": "other"})
    assert response.status_code == 409 and "already served on gateway 'g1'" in response.json()["error"]["message"]
    assert client.post("/api/v1/deployments", json={"kind": "LLMProvider", "name": "other"}).status_code == 200

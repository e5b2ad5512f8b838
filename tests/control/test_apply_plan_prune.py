"""Dry runs (what would change, with before/after documents), prune by label selector, key and gateway
operations over the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.control.docs import api_key, provider, proxy, secret
from tollgate.resources.keys import hash_secret, split_key
from tollgate.store import Store


def team(name: str, context: str, owner: str = "a") -> dict[str, Any]:
    doc = provider(name, context)
    doc["metadata"]["labels"] = {"team": owner}
    return doc


def _apply(client: TestClient, *docs: dict[str, Any], **options: Any) -> Any:
    response = client.post("/api/v1/apply", json={"documents": list(docs), **options})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_dry_run_reports_before_and_after_and_writes_nothing(client: TestClient, store: Store) -> None:
    _apply(client, secret(), provider(credential={"secret": "openai-key"}))
    revision = store.current_revision()
    results = _apply(
        client,
        secret(value="sk-NEW-PLAINTEXT-0123"),
        provider(credential={"secret": "openai-key"}, models=["gpt-4o"]),
        proxy(),
        dryRun=True,
    )
    assert [(r["kind"], r["name"], r["outcome"]) for r in results] == [
        ("Secret", "openai-key", "changed"),
        ("LLMProvider", "openai", "changed"),
        ("LLMProxy", "team", "created"),
    ]
    assert store.current_revision() == revision and store.list_resources("LLMProxy") == []
    secret_item, provider_item, proxy_item = results
    assert secret_item["before"]["spec"] == {"value": "(hidden)"}
    assert secret_item["after"]["spec"] == {"value": "(hidden, new value)"}
    assert "sk-NEW" not in str(results) and "sk-PLAINTEXT" not in str(results)
    assert provider_item["before"]["spec"]["models"] == [] and provider_item["after"]["spec"]["models"] == ["gpt-4o"]
    assert "resourceVersion" not in provider_item["before"]["metadata"]
    assert proxy_item["before"] is None and proxy_item["after"]["spec"]["context"] == "/team"
    refused = client.post("/api/v1/apply", json={"documents": [proxy(provider_name="ghost")], "dryRun": True})
    assert refused.status_code == 422 and refused.json()["error"]["errors"][0]["field"] == "spec.provider"


def test_prune_deletes_what_the_labelled_set_no_longer_names(client: TestClient, store: Store) -> None:
    _apply(client, team("a1", "/a1"), team("a2", "/a2"), team("a3", "/a3"), team("b1", "/b1", owner="b"))
    plan = _apply(client, team("a1", "/a1"), team("a2", "/a2"), dryRun=True, prune=True, selector="team=a")
    assert [(r["name"], r["outcome"]) for r in plan] == [("a1", "unchanged"), ("a2", "unchanged"), ("a3", "deleted")]
    assert plan[2]["after"] is None and plan[2]["before"]["metadata"]["name"] == "a3"
    assert {p.metadata.name for p in store.list_resources("LLMProvider")} == {"a1", "a2", "a3", "b1"}
    done = _apply(client, team("a1", "/a1"), team("a2", "/a2"), gateway="default", prune=True, selector="team=a")
    assert [(r["name"], r["outcome"]) for r in done] == [("a1", "unchanged"), ("a2", "unchanged"), ("a3", "deleted")]
    assert {p.metadata.name for p in store.list_resources("LLMProvider")} == {"a1", "a2", "b1"}
    no_selector = client.post("/api/v1/apply", json={"documents": [], "prune": True})
    assert no_selector.status_code == 422 and no_selector.json()["error"]["errors"][0]["field"] == "selector"


def test_prune_will_not_delete_a_provider_another_proxy_still_uses(client: TestClient, store: Store) -> None:
    _apply(client, team("a1", "/a1"), proxy("keeper", "a1", "/keeper"))
    response = client.post("/api/v1/apply", json={"documents": [], "prune": True, "selector": "team=a"})
    assert response.status_code == 409 and "LLMProxy 'keeper'" in response.json()["error"]["message"]
    assert [p.metadata.name for p in store.list_resources("LLMProvider")] == ["a1"]


def test_keys_update_regenerate_delete(client: TestClient, store: Store) -> None:
    _apply(client, provider(), proxy())
    created = client.post(
        "/api/v1/keys", json={"name": "app", "target": {"kind": "LLMProxy", "name": "team"}, "metadata": {"team": "x"}}
    ).json()
    key_id, old_value = created["id"], created["value"]
    assert created["metadata"] == {"team": "x"}
    updated = client.patch(
        f"/api/v1/keys/{key_id}", json={"name": "app-2", "expiresAt": "2099-01-01T00:00:00Z", "metadata": {"t": "y"}}
    ).json()
    assert (updated["name"], updated["expiresAt"][:10], updated["metadata"]) == ("app-2", "2099-01-01", {"t": "y"})
    cleared = client.patch(f"/api/v1/keys/{key_id}", json={"expiresAt": None}).json()
    assert cleared["expiresAt"] is None and cleared["name"] == "app-2" and cleared["metadata"] == {"t": "y"}
    regenerated = client.post(f"/api/v1/keys/{key_id}/regenerate").json()
    new_value = regenerated["value"]
    assert regenerated["id"] == key_id and new_value != old_value and new_value.startswith(f"tg_{key_id}_")
    stored = store.get_key(key_id)
    assert stored.secret_hash == hash_secret(split_key(new_value)[1])  # type: ignore[index]
    assert stored.secret_hash != hash_secret(split_key(old_value)[1])  # type: ignore[index]
    assert [k.id for k in store.load_resource_set("default").keys] == []  # not deployed: nothing served
    assert client.delete(f"/api/v1/keys/{key_id}").status_code == 204
    assert client.get(f"/api/v1/keys/{key_id}").status_code == 404
    assert client.delete(f"/api/v1/keys/{key_id}").status_code == 404
    revoked = client.post("/api/v1/keys", json={"name": "r", "target": {"kind": "LLMProxy", "name": "team"}}).json()
    client.post(f"/api/v1/keys/{revoked['id']}/revoke")
    assert client.post(f"/api/v1/keys/{revoked['id']}/regenerate").status_code == 409


def test_gateways_delete_force_unknown_and_base_urls(client: TestClient, store: Store) -> None:
    typo = client.post("/api/v1/apply", json={"documents": [provider()], "gateway": "prdo"})
    assert typo.status_code == 404 and "no gateway named 'prdo'" in typo.json()["error"]["message"]
    assert store.list_resources("LLMProvider") == []  # nothing half-applied
    assert client.put("/api/v1/gateways/edge", json={"baseUrl": "http://edge.example:8080/"}).status_code == 200
    _apply(client, provider(), proxy(), api_key(), gateway="edge")
    in_use = client.delete("/api/v1/gateways/edge")
    assert in_use.status_code == 409 and "still serves 2 deployment(s)" in in_use.json()["error"]["message"]
    forced = client.delete("/api/v1/gateways/edge", params={"force": "true"})
    assert [(d["kind"], d["name"], d["live"]) for d in forced.json()] == [
        ("LLMProvider", "openai", True),
        ("LLMProxy", "team", True),
    ]
    assert store.list_deployments("edge") == [] and client.get("/api/v1/gateways/edge").status_code == 404
    assert client.delete("/api/v1/gateways/edge").status_code == 404
    for url in ("http://0", "http://0.0.0.0:8080", "http://[::]:80", "http://gw:0", "ftp://gw", "http://gw/?q=1"):
        response = client.put("/api/v1/gateways/bad", json={"baseUrl": url})
        assert response.status_code == 422, url
        assert response.json()["error"]["errors"][0]["field"] == "baseUrl", url
    assert client.put("/api/v1/gateways/ok", json={"baseUrl": "https://gw.example/llm/"}).status_code == 200
    assert client.get("/api/v1/gateways/ok").json()["baseUrl"] == "https://gw.example/llm"

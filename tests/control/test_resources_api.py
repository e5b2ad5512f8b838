"""Templates, providers, proxies and secrets over the API: idempotent PUT, 404, 409, 422 naming the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.control.docs import provider, proxy, secret
from tollgate.store import Store


def test_put_is_idempotent_and_get_returns_the_document(client: TestClient) -> None:
    assert client.put("/api/v1/providers/openai", json=provider()).json()["outcome"] == "created"
    assert client.put("/api/v1/providers/openai", json=provider()).json()["outcome"] == "unchanged"
    assert client.put("/api/v1/providers/openai", json=provider(models=["gpt-4o"])).json()["outcome"] == "changed"
    body = client.get("/api/v1/providers/openai").json()
    assert body["spec"]["models"] == ["gpt-4o"] and body["spec"]["upstreamUrl"] == "http://127.0.0.1:9/openai"
    assert [p["metadata"]["name"] for p in client.get("/api/v1/providers").json()] == ["openai"]


def test_invalid_document_is_422_naming_resource_field_and_reason(client: TestClient) -> None:
    response = client.put("/api/v1/providers/openai", json=provider(context="no-slash"))
    assert response.status_code == 422
    detail = response.json()["error"]["errors"][0]
    assert detail["field"] == "spec.context" and "LLMProvider" in detail["resource"] and detail["reason"]
    typo = provider()
    typo["spec"]["contxt"] = "/x"
    detail = client.put("/api/v1/providers/openai", json=typo).json()["error"]["errors"]
    assert any(d["field"] == "spec.contxt" and "unknown field" in d["reason"] for d in detail)
    mismatch = client.put("/api/v1/providers/other", json=provider())
    assert mismatch.status_code == 422 and mismatch.json()["error"]["errors"][0]["field"] == "metadata.name"
    assert client.put("/api/v1/providers/openai", content=b"{not json").status_code == 422
    assert client.put("/api/v1/providers/BAD_NAME", json=provider()).status_code == 422


def test_proxy_cannot_name_a_missing_provider(client: TestClient) -> None:
    response = client.put("/api/v1/proxies/team", json=proxy(provider_name="ghost"))
    assert response.status_code == 422
    assert response.json()["error"]["errors"][0]["field"] == "spec.provider"
    assert "ghost" in response.json()["error"]["message"]


def test_provider_in_use_cannot_be_deleted(client: TestClient) -> None:
    client.put("/api/v1/providers/openai", json=provider())
    client.put("/api/v1/proxies/team", json=proxy())
    response = client.delete("/api/v1/providers/openai")
    assert response.status_code == 409 and "LLMProxy 'team'" in response.json()["error"]["message"]
    assert client.delete("/api/v1/proxies/team").status_code == 204
    assert client.delete("/api/v1/providers/openai").status_code == 204
    assert client.get("/api/v1/providers/openai").status_code == 404
    assert client.delete("/api/v1/providers/openai").status_code == 404


def test_context_collision_between_resources_is_rejected(client: TestClient) -> None:
    client.put("/api/v1/providers/openai", json=provider())
    response = client.put("/api/v1/providers/other", json=provider("other"))
    assert response.status_code == 422 and response.json()["error"]["errors"][0]["field"] == "spec.context"


def test_templates_list_builtins_and_custom(client: TestClient) -> None:
    template = {"apiVersion": "tollgate.dev/v1", "kind": "ProviderTemplate", "metadata": {"name": "mine"}}
    template["spec"] = {"baseUrl": "http://127.0.0.1:9"}
    assert client.put("/api/v1/templates/mine", json=template).json()["outcome"] == "created"
    names = {(t["name"], t["builtin"]) for t in client.get("/api/v1/templates").json()}
    assert ("openai", True) in names and ("mine", False) in names
    assert client.get("/api/v1/templates/mine").json()["spec"]["baseUrl"] == "http://127.0.0.1:9"
    assert client.get("/api/v1/templates/openai").status_code == 404


def test_secret_values_are_write_only(client: TestClient) -> None:
    value = "sk-PLAINTEXT-never-shown-0123"
    assert client.put("/api/v1/secrets/openai-key", json={"value": value}).json()["outcome"] == "created"
    assert client.put("/api/v1/secrets/openai-key", json={"value": value}).json()["outcome"] == "unchanged"
    client.put("/api/v1/providers/openai", json=provider(credential={"secret": "openai-key"}))
    listed = client.get("/api/v1/secrets")
    one = client.get("/api/v1/secrets/openai-key")
    assert listed.json() == [{"name": "openai-key", "usedBy": ["LLMProvider/openai"]}]
    for response in (listed, one, client.get("/api/v1/providers/openai")):
        assert value not in response.text
    assert client.delete("/api/v1/secrets/openai-key").status_code == 409
    assert client.get("/api/v1/secrets/none").status_code == 404


def test_secret_rotation_reencrypts_with_a_new_key_and_values_still_resolve(client: TestClient, store: Store) -> None:
    client.put("/api/v1/secrets/openai-key", json={"value": "upstream-credential-1"})
    client.put("/api/v1/secrets/other", json={"value": "upstream-credential-2"})
    client.put("/api/v1/providers/openai", json=provider(credential={"secret": "openai-key"}))
    store.deploy("default", "LLMProvider", "openai")
    response = client.post("/api/v1/secrets/rotate", json={"newKey": True, "retireOldKeys": True})
    assert response.status_code == 200 and response.json() == {"reencrypted": 2}
    assert store.load_resource_set("default").secrets == {"openai-key": "upstream-credential-1"}
    assert "upstream-credential" not in response.text


def test_nul_characters_are_422_not_500(client: TestClient) -> None:
    doc = provider()
    doc["metadata"]["description"] = "a\x00b"
    assert client.put("/api/v1/providers/openai", json=doc).status_code == 422
    response = client.post("/api/v1/apply", json={"documents": [secret(value="x"), doc]})
    assert response.status_code == 422 and response.json()["error"]["errors"][0]["field"] == "metadata.description"


def test_proxy_fallbacks_and_routing_are_checked_and_a_fallback_in_use_cannot_be_deleted(client: TestClient) -> None:
    client.put("/api/v1/providers/openai", json=provider())
    client.put("/api/v1/providers/claude", json=provider(name="claude", context="/claude"))
    team = proxy()
    team["spec"].update(fallbacks=["claude", "ghost"])
    response = client.put("/api/v1/proxies/team", json=team)
    assert response.status_code == 422
    assert [(e["field"], e["reason"]) for e in response.json()["error"]["errors"]] == [
        ("spec.fallbacks.1", "no LLMProvider named 'ghost' exists")
    ]
    team["spec"].update(fallbacks=["claude"], routing={"strategy": "weighted", "weights": {"claude": 1001}})
    response = client.put("/api/v1/proxies/team", json=team)
    assert response.status_code == 422
    assert [(e["field"], e["reason"]) for e in response.json()["error"]["errors"]] == [
        ("spec.routing.weights.claude", "input should be less than or equal to 1000")
    ]
    team["spec"]["routing"] = {"strategy": "weighted", "weights": {"claude": 3}}
    assert client.put("/api/v1/proxies/team", json=team).json()["outcome"] == "created"  # claude is in the store
    refused = client.delete("/api/v1/providers/claude")
    assert refused.status_code == 409
    assert "cannot delete LLMProvider 'claude': it is used by LLMProxy 'team'" in refused.json()["error"]["message"]

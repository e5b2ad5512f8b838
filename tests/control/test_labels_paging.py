"""Labels and annotations on resources, label-selector lists, cursor pagination on every list."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.control.docs import provider, proxy


def labelled(name: str, **labels: str) -> dict[str, Any]:
    doc = provider(name, f"/{name}")
    doc["metadata"]["labels"] = labels
    doc["metadata"]["annotations"] = {"owner.example.com/ticket": "OPS-1 free text, any characters"}
    return doc


def test_labels_filter_lists_and_annotations_round_trip(client: TestClient) -> None:
    for name, team, tier in [("a1", "a", "prod"), ("a2", "a", "dev"), ("b1", "b", "prod"), ("c1", "", "")]:
        labels = {"team": team, "tier": tier} if team else {}
        assert client.put(f"/api/v1/providers/{name}", json=labelled(name, **labels)).status_code == 200

    def names(selector: str) -> list[str]:
        response = client.get("/api/v1/providers", params={"labelSelector": selector})
        assert response.status_code == 200, response.text
        return [p["metadata"]["name"] for p in response.json()]

    assert names("team=a") == ["a1", "a2"]
    assert names("team=a,tier!=dev") == ["a1"]
    assert names("tier in (prod, dev),team!=a") == ["b1"]
    assert names("!team") == ["c1"]
    assert names("team") == ["a1", "a2", "b1"]
    assert names("") == ["a1", "a2", "b1", "c1"]
    doc = client.get("/api/v1/providers/a1").json()
    assert doc["metadata"]["labels"] == {"team": "a", "tier": "prod"}
    assert doc["metadata"]["annotations"] == {"owner.example.com/ticket": "OPS-1 free text, any characters"}
    bad = client.get("/api/v1/providers", params={"labelSelector": "team=a=b"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "labelSelector"
    invalid = client.put("/api/v1/providers/x", json=labelled("x", **{"bad key!": "v"}))
    assert invalid.status_code == 422 and invalid.json()["error"]["errors"][0]["field"].startswith("metadata.labels")


def _walk(client: TestClient, path: str, limit: int, **params: str) -> list[list[Any]]:
    pages: list[list[Any]] = []
    query: dict[str, str] = {"limit": str(limit), **params}
    while True:
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in response.headers
            return pages
        assert response.headers["Link"].endswith('>; rel="next"') and f"after={cursor}" in response.headers["Link"]
        query["after"] = cursor


def test_every_list_pages_with_a_cursor(client: TestClient) -> None:
    for n in range(7):
        client.put(f"/api/v1/providers/p{n}", json=provider(f"p{n}", f"/p{n}"))
        client.put(f"/api/v1/proxies/x{n}", json=proxy(f"x{n}", f"p{n}", f"/x{n}"))
        client.put(f"/api/v1/secrets/s{n}", json={"value": "v"})
        client.post("/api/v1/keys", json={"name": f"k{n}", "target": {"kind": "LLMProxy", "name": f"x{n}"}})
        client.put(f"/api/v1/gateways/g{n}", json={"baseUrl": f"http://g{n}.example"})
        client.post("/api/v1/deployments", json={"gateway": "g0", "kind": "LLMProvider", "name": f"p{n}"})
    pages = _walk(client, "/api/v1/providers", 3)
    assert [[p["metadata"]["name"] for p in page] for page in pages] == [["p0", "p1", "p2"], ["p3", "p4", "p5"], ["p6"]]
    assert [len(p) for p in _walk(client, "/api/v1/proxies", 4)] == [4, 3]
    assert [len(p) for p in _walk(client, "/api/v1/secrets", 5)] == [5, 2]
    keys = _walk(client, "/api/v1/keys", 2)
    assert [len(p) for p in keys] == [2, 2, 2, 1] and [k["name"] for p in keys for k in p] == [
        f"k{n}" for n in range(7)
    ]
    assert [len(p) for p in _walk(client, "/api/v1/gateways", 6)] == [6, 1]
    assert [len(p) for p in _walk(client, "/api/v1/deployments", 7)] == [7]
    assert [len(p) for p in _walk(client, "/api/v1/templates", 3)] == [3, 1]  # 4 built-in in the tests
    filtered = _walk(client, "/api/v1/providers", 2, labelSelector="!team")
    assert [len(p) for p in filtered] == [2, 2, 2, 1]
    assert client.get("/api/v1/providers", params={"limit": "0"}).status_code == 422
    assert client.get("/api/v1/providers", params={"limit": "1001"}).status_code == 422

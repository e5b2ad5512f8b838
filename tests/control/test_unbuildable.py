"""Resources that cannot be built into a route are refused when applied (422 naming resource and
field), and what a gateway reports it cannot serve shows in /gateways and /deployments."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tollgate.mock.certs import self_signed_cert
from tollgate.store import Store

PROVIDER = {"metadata": {"name": "p"}, "spec": {"template": "openai", "context": "/p"}}


def with_bundle(path: str) -> dict[str, object]:
    return {**PROVIDER, "spec": {**PROVIDER["spec"], "caBundle": path}}  # type: ignore[dict-item]


def test_a_missing_ca_bundle_is_refused_with_the_field_named(client: TestClient, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    response = client.put("/api/v1/providers/p", json=with_bundle(missing))
    assert response.status_code == 422
    assert response.json()["error"]["errors"] == [
        {"resource": "LLMProvider 'p'", "field": "spec.caBundle", "reason": f"file '{missing}' does not exist"}
    ]
    bulk = client.post(
        "/api/v1/apply",
        json={"documents": [{"apiVersion": "tollgate.dev/v1", "kind": "LLMProvider", **with_bundle(missing)}]},
    )
    assert bulk.status_code == 422
    assert bulk.json()["error"]["errors"][0]["field"] == "spec.caBundle"
    assert client.get("/api/v1/providers").json() == []


def test_other_unusable_bundles_are_refused_and_a_good_one_is_accepted(client: TestClient, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    reasons = {
        str(junk): f"file '{junk}' holds no PEM certificate",
        str(tmp_path): f"'{tmp_path}' is not a file",
        "relative.pem": "must be an absolute path (got 'relative.pem'): a relative one depends on where each node runs",
    }
    for path, reason in reasons.items():
        response = client.put("/api/v1/providers/p", json=with_bundle(path))
        assert response.status_code == 422, path
        assert response.json()["error"]["errors"][0]["reason"] == reason
    cert, _ = self_signed_cert(tmp_path)
    assert client.put("/api/v1/providers/p", json=with_bundle(str(cert))).status_code == 200


def test_reported_problems_show_in_gateways_and_deployments(client: TestClient, store: Store) -> None:
    assert client.put("/api/v1/providers/p", json=PROVIDER).status_code == 200
    assert (
        client.post("/api/v1/deployments", json={"gateway": "default", "kind": "LLMProvider", "name": "p"}).status_code
        == 200
    )
    store.register_gateway("default", "http://127.0.0.1:8080")
    store.report_problems("default", {("LLMProvider", "p"): "spec.caBundle: file '/x.pem' does not exist"})
    store.heartbeat("default", "degraded")
    (gateway,) = client.get("/api/v1/gateways").json()
    assert gateway["status"] == "degraded"
    assert [(p["kind"], p["name"], p["reason"]) for p in gateway["problems"]] == [
        ("LLMProvider", "p", "spec.caBundle: file '/x.pem' does not exist")
    ]
    assert client.get("/api/v1/gateways/default").json()["problems"] == gateway["problems"]
    (deployment,) = client.get("/api/v1/deployments").json()
    assert deployment["problem"] == "spec.caBundle: file '/x.pem' does not exist"
    store.report_problems("default", {})
    assert client.get("/api/v1/gateways").json()[0]["problems"] == []
    assert client.get("/api/v1/deployments").json()[0]["problem"] is None

"""Apply jobs over the API: 202 with a job, its progress, result or per-document errors, its audit
entries, and who may read it. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.control.docs import provider, proxy

ENV_ACTOR = "env:TOLLGATE_ADMIN_TOKEN"


def _batch(count: int) -> list[dict[str, Any]]:
    """`count` providers then as many proxies on them: over one chunk, so written in several."""
    providers = [provider(f"p{i:03d}", f"/p{i:03d}") for i in range(count)]
    return providers + [proxy(f"x{i:03d}", f"p{i:03d}", f"/x{i:03d}") for i in range(count)]


def _wait(client: TestClient, job_id: str, **headers: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        response = client.get(f"/api/v1/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _submit(client: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post("/api/v1/apply", params={"async": "true"}, json=body, headers=headers)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    return job


def _count(client: TestClient, **params: str) -> int:
    response = client.get("/api/v1/audit", params={"limit": "1000", "actor": ENV_ACTOR, **params})
    return len(response.json()["items"])


def test_an_async_apply_answers_202_then_reports_its_result_and_audit(client: TestClient) -> None:
    job = _submit(client, {"documents": _batch(160), "gateway": "default"})
    assert job["state"] in ("queued", "running")
    assert (job["kind"], job["total"], job["user"], job["result"], job["error"]) == (
        "apply",
        320,
        ENV_ACTOR,
        None,
        None,
    )

    final = _wait(client, job["id"])
    assert (final["state"], final["done"], final["total"], final["error"]) == ("succeeded", 320, 320, None)
    results = [(r["kind"], r["name"], r["outcome"]) for r in final["result"]["results"]]
    expected = [("LLMProvider", f"p{i:03d}", "created") for i in range(160)]
    assert results == expected + [("LLMProxy", f"x{i:03d}", "created") for i in range(160)]
    assert final["startedAt"] is not None and final["finishedAt"] is not None
    live = client.get("/api/v1/deployments", params={"limit": "1000"}).json()
    assert len(live) == 320
    # the job records its changes as a direct apply does: each document and each deployment, once
    assert _count(client, kind="LLMProvider", action="create") == 160
    assert _count(client, kind="LLMProxy", action="create") == 160
    assert _count(client, kind="Deployment", action="deploy") == 320
    again = _wait(client, _submit(client, {"documents": _batch(160), "gateway": "default"})["id"])
    assert {r["outcome"] for r in again["result"]["results"]} == {"unchanged"}
    assert _count(client, kind="LLMProvider") == 160  # nothing changed, nothing recorded


def test_a_failed_job_carries_the_errors_a_direct_apply_answers(client: TestClient) -> None:
    documents = _batch(120)
    documents[5] = provider("p005", "no-slash")
    documents[130] = proxy("x010", "ghost", "/x010")
    direct = client.post("/api/v1/apply", json={"documents": documents})
    assert direct.status_code == 422
    assert len(direct.json()["error"]["errors"]) == 1  # the loader's error first: references are checked after

    final = _wait(client, _submit(client, {"documents": documents})["id"])
    assert (final["state"], final["done"], final["result"]) == ("failed", 0, None)
    assert final["error"] == direct.json()["error"]
    assert final["error"]["errors"] == [
        {
            "resource": "document 6 (LLMProvider 'p005')",
            "field": "spec.context",
            "reason": "must look like '/name' or '/a/b' (letters, digits, '.', '_', '~', '-')",
        }
    ]
    documents[5] = provider("p005", "/p005")
    final = _wait(client, _submit(client, {"documents": documents})["id"])
    assert final["state"] == "failed" and final["error"]["status"] == 422
    assert [(e["resource"], e["field"]) for e in final["error"]["errors"]] == [("LLMProxy 'x010'", "spec.provider")]
    assert client.get("/api/v1/providers").json() == []  # validated whole before the first chunk


def test_jobs_are_readable_by_their_submitter_only(client: TestClient) -> None:
    assert client.post("/api/v1/users", json={"name": "pub", "role": "publisher", "kind": "service"}).status_code == 201
    token = client.post("/api/v1/tokens", json={"name": "ci", "user": "pub"}).json()["value"]
    as_pub = {"Authorization": f"Bearer {token}"}
    mine = _wait(client, _submit(client, {"documents": _batch(3)})["id"])
    theirs = _wait(client, _submit(client, {"documents": [provider("pub1", "/pub1")]}, **as_pub)["id"], **as_pub)
    assert theirs["user"] == "pub" and theirs["state"] == "succeeded"

    refused = client.get(f"/api/v1/jobs/{mine['id']}", headers=as_pub)
    assert refused.status_code == 404 and "no job" in refused.json()["error"]["message"]
    assert client.get(f"/api/v1/jobs/{theirs['id']}").status_code == 404
    assert [j["id"] for j in client.get("/api/v1/jobs", headers=as_pub).json()] == [theirs["id"]]
    listed = client.get("/api/v1/jobs").json()
    assert [(j["id"], j["state"], j["result"]) for j in listed] == [(mine["id"], "succeeded", None)]


def test_a_malformed_request_is_refused_at_once_without_a_job(client: TestClient) -> None:
    refused = client.post("/api/v1/apply", params={"async": "true"}, json={"documents": "none"})
    assert refused.status_code == 422
    assert refused.json()["error"]["errors"] == [
        {"resource": "request body", "field": "documents", "reason": "Input should be a valid list"}
    ]
    garbled = client.post("/api/v1/apply", params={"async": "true"}, content=b"{", headers={"Content-Type": "x"})
    assert garbled.status_code == 400
    assert client.post("/api/v1/apply", params={"async": "true"}).status_code == 422  # no body at all
    assert client.get("/api/v1/jobs").json() == []
    assert client.get("/api/v1/jobs/job_0123456789abcdef").status_code == 404
    assert client.get("/api/v1/jobs/not-a-job").status_code == 422

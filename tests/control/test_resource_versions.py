"""resourceVersion and ETag: every document carries one; stale PUT and DELETE get 409; HTTP rules."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.control.docs import provider
from tollgate.store import Store


def test_get_carries_the_version_as_etag_and_it_moves_only_on_change(client: TestClient, store: Store) -> None:
    created = client.put("/api/v1/providers/openai", json=provider())
    version = created.json()["resourceVersion"]
    assert created.headers["ETag"] == f'"{version}"' and version == str(store.current_revision())
    read = client.get("/api/v1/providers/openai")
    assert read.headers["ETag"] == f'"{version}"' and read.json()["metadata"]["resourceVersion"] == version
    again = client.put("/api/v1/providers/openai", json=provider(), headers={"If-Match": f'"{version}"'})
    assert again.json() == {"kind": "LLMProvider", "name": "openai", "outcome": "unchanged", "resourceVersion": version}
    changed = client.put("/api/v1/providers/openai", json=provider(models=["a"]), headers={"If-Match": version})
    assert changed.json()["outcome"] == "changed" and int(changed.json()["resourceVersion"]) == int(version) + 1
    listed = client.get("/api/v1/providers").json()
    assert listed[0]["metadata"]["resourceVersion"] == changed.json()["resourceVersion"]


def test_a_stale_version_is_409_in_header_or_body(client: TestClient) -> None:
    first = client.put("/api/v1/providers/openai", json=provider()).json()["resourceVersion"]
    client.put("/api/v1/providers/openai", json=provider(models=["theirs"]))  # someone else's change
    stale = client.put("/api/v1/providers/openai", json=provider(models=["mine"]), headers={"If-Match": f'"{first}"'})
    assert stale.status_code == 409
    assert f"resourceVersion {first} is stale" in stale.json()["error"]["message"]
    body = provider(models=["mine"])
    body["metadata"]["resourceVersion"] = first
    assert client.put("/api/v1/providers/openai", json=body).status_code == 409
    assert client.get("/api/v1/providers/openai").json()["spec"]["models"] == ["theirs"]
    missing = client.put("/api/v1/providers/ghost", json=provider("ghost", "/ghost"), headers={"If-Match": '"3"'})
    assert missing.status_code == 409 and "does not exist" in missing.json()["error"]["message"]
    assert client.put("/api/v1/providers/openai", json=provider(), headers={"If-Match": "*"}).status_code == 200


def test_header_and_body_versions_that_disagree_are_409_and_must_be_well_formed(client: TestClient) -> None:
    version = client.put("/api/v1/providers/openai", json=provider()).json()["resourceVersion"]
    body = provider()
    body["metadata"]["resourceVersion"] = version
    other = str(int(version) + 5)
    disagree = client.put("/api/v1/providers/openai", json=body, headers={"If-Match": f'"{other}"'})
    # two preconditions, at most one current: a failed precondition (409), as for a stale one
    assert disagree.status_code == 409
    assert disagree.json()["error"]["message"] == (
        f"LLMProvider 'openai': If-Match asks for version {other} and resourceVersion for {version}: at most one "
        "of them is current; read the resource again"
    )
    deleting = client.delete(
        "/api/v1/providers/openai", params={"resourceVersion": version}, headers={"If-Match": f'"{other}"'}
    )
    assert deleting.status_code == 409 and "at most one of them is current" in deleting.json()["error"]["message"]
    assert client.get("/api/v1/providers/openai").status_code == 200
    bad = client.put("/api/v1/providers/openai", json=provider(), headers={"If-Match": "abc"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "If-Match"


def test_delete_with_a_stale_version_is_409_and_with_the_current_one_works(client: TestClient) -> None:
    first = client.put("/api/v1/providers/openai", json=provider()).json()["resourceVersion"]
    now = client.put("/api/v1/providers/openai", json=provider(models=["x"])).json()["resourceVersion"]
    assert client.delete("/api/v1/providers/openai", headers={"If-Match": f'"{first}"'}).status_code == 409
    assert client.delete(f"/api/v1/providers/openai?resourceVersion={first}").status_code == 409
    assert client.get("/api/v1/providers/openai").status_code == 200
    assert client.delete(f"/api/v1/providers/openai?resourceVersion={now}").status_code == 204
    assert client.get("/api/v1/providers/openai").status_code == 404


def test_unparsable_body_is_400_and_unsupported_method_is_405_with_allow(client: TestClient) -> None:
    response = client.put(
        "/api/v1/providers/openai", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["type"] == "bad_request"
    trace = client.request("TRACE", "/api/v1/providers/openai")
    assert trace.status_code == 405 and trace.headers["Allow"] == "DELETE, GET, HEAD, PUT"
    assert client.request("PATCH", "/api/v1/providers").headers["Allow"] == "GET, HEAD"
    assert client.request("TRACE", "/api/v1/keys/0123456789ab").headers["Allow"] == "DELETE, GET, HEAD, PATCH"

"""Secrets, audit, keys and gateways screens in-process: what each shows (never a secret value) and
what its forms do through the API."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.console.inprocess import ADMIN_TOKEN, _csrf, _sign_in, app_client, key_file

__all__ = ["app_client", "key_file"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VALUE = "sk-upstream-value-never-shown"


def test_a_secret_is_written_never_shown_refused_delete_while_used_and_rotated(app_client: TestClient) -> None:
    _sign_in(app_client)
    csrf = _csrf(app_client.get("/console/secrets").text)
    assert (
        app_client.post("/console/secrets", data={"csrf_token": csrf, "name": "up", "value": VALUE}).status_code == 303
    )
    doc = {"metadata": {"name": "p2"}, "spec": {"template": "openai", "context": "/p2", "credential": {"secret": "up"}}}
    assert app_client.put("/api/v1/providers/p2", json=doc, headers=ADMIN).status_code == 200
    page = app_client.get("/console/secrets")
    assert VALUE not in page.text
    assert "<td>up</td><td>LLMProvider/p2</td>" in page.text
    refused = app_client.post("/console/secrets/delete", data={"csrf_token": csrf, "name": "up"})
    assert refused.status_code == 409
    assert app_client.get("/api/v1/secrets/up", headers=ADMIN).status_code == 200
    rotated = app_client.post("/console/secrets/rotate", data={"csrf_token": csrf, "new_key": "on"})
    assert rotated.headers["location"] == "/console/secrets?reencrypted=1"
    assert "1 secrets re-encrypted with the newest key." in app_client.get(rotated.headers["location"]).text


def test_the_audit_log_shows_who_changed_what(app_client: TestClient) -> None:
    _sign_in(app_client)
    csrf = _csrf(app_client.get("/console/secrets").text)
    app_client.post("/console/secrets", data={"csrf_token": csrf, "name": "s1", "value": VALUE})
    page = app_client.get("/console/audit?actor=ann&kind=Secret")
    rows = re.findall(
        r"<tr>\s*<td>[^<]+</td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", page.text
    )
    assert rows == [("ann", "create", "Secret", "s1")]
    assert VALUE not in page.text


def test_the_keys_page_lists_every_key_masked_and_revokes(app_client: TestClient) -> None:
    _sign_in(app_client)
    created = app_client.post(
        "/api/v1/keys", json={"name": "k9", "target": {"kind": "LLMProvider", "name": "p1"}}, headers=ADMIN
    ).json()
    page = app_client.get("/console/keys")
    assert created["masked"] in page.text
    assert created["value"] not in page.text
    answer = app_client.post("/console/keys/revoke", data={"csrf_token": _csrf(page.text), "key_id": created["id"]})
    assert answer.status_code == 303
    assert app_client.get(f"/api/v1/keys/{created['id']}", headers=ADMIN).json()["status"] == "revoked"


def test_gateways_without_any_say_how_to_start_one(app_client: TestClient) -> None:
    _sign_in(app_client)
    page = app_client.get("/console/gateways")
    assert "<h2>No gateway yet</h2>" in page.text
    app_client.put("/api/v1/gateways/edge", json={"baseUrl": "https://edge.example.test"}, headers=ADMIN)
    page = app_client.get("/console/gateways")
    assert "<td>edge</td>" in page.text
    assert "<code>https://edge.example.test</code>" in page.text


def test_usage_without_traffic_says_what_to_do_and_exports_through_the_api(app_client: TestClient) -> None:
    _sign_in(app_client)
    page = app_client.get("/console/usage?range=7d&model=gpt-4o%2Bmini")
    assert "<h2>No requests in this range</h2>" in page.text
    assert 'href="/console/usage/export?format=csv&amp;model=gpt-4o%2Bmini&amp;range=7d"' in page.text
    export = app_client.get("/console/usage/export?format=csv&model=gpt-4o%2Bmini&range=7d")
    assert export.status_code == 200
    assert export.headers["content-disposition"] == 'attachment; filename="tollgate-usage.csv"'
    assert export.headers["content-type"].startswith("text/csv")
    assert export.text.splitlines()[0].startswith("id,time,requestId,gateway,provider,proxy,keyId,")
    assert len(export.text.splitlines()) == 1  # the header: no record

"""The permission matrix, operation by operation: each role allowed (exact status) or refused (403 naming
the permission), on SQLite and PostgreSQL; and every operation of the API is in the table.

Each role gets a fresh store, set up by the env admin token, and runs the whole table in order with a
service account's token of that role. The table's roles are written out by hand, not derived from
`control.permissions`, so a change of the matrix must change this file too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.control.docs import V1, api_key, provider, proxy, secret

ALL = frozenset({"admin", "operator", "publisher", "viewer"})
ADMIN = frozenset({"admin"})
PUBLISH = frozenset({"admin", "publisher"})
OPERATE = frozenset({"admin", "operator"})


def template(name: str) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": "ProviderTemplate",
        "metadata": {"name": name},
        "spec": {"baseUrl": "http://127.0.0.1:9"},
    }


@dataclass(frozen=True)
class Op:
    """One call: `status` for the roles in `roles`; 403 naming `permission` (or `permission[role]`) for the rest."""

    method: str
    template: str
    status: int
    roles: frozenset[str]
    permission: str | Mapping[str, str]
    body: Any = None
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    #: Checked only once the API serves it (operations another branch is adding).
    optional: bool = False


MATRIX: list[Op] = [
    Op("GET", "/templates", 200, ALL, "templates:read"),
    Op("GET", "/templates/{name}", 200, ALL, "templates:read", params={"name": "tpl"}),
    Op("PUT", "/templates/{name}", 200, PUBLISH, "templates:write", template("tpl2"), {"name": "tpl2"}),
    Op("DELETE", "/templates/{name}", 204, PUBLISH, "templates:write", params={"name": "tpl-del"}),
    Op("GET", "/providers", 200, ALL, "providers:read"),
    Op("GET", "/providers/{name}", 200, ALL, "providers:read", params={"name": "openai"}),
    Op("PUT", "/providers/{name}", 200, PUBLISH, "providers:write", provider("p2", "/p2"), {"name": "p2"}),
    Op("DELETE", "/providers/{name}", 204, PUBLISH, "providers:write", params={"name": "prov-del"}),
    Op("GET", "/proxies", 200, ALL, "proxies:read"),
    Op("GET", "/proxies/{name}", 200, ALL, "proxies:read", params={"name": "team"}),
    Op("PUT", "/proxies/{name}", 200, PUBLISH, "proxies:write", proxy("x2", context="/x2"), {"name": "x2"}),
    Op("DELETE", "/proxies/{name}", 204, PUBLISH, "proxies:write", params={"name": "proxy-del"}),
    Op("GET", "/secrets", 200, ALL, "secrets:read"),
    Op("GET", "/secrets/{name}", 200, ALL, "secrets:read", params={"name": "openai-key"}),
    Op("PUT", "/secrets/{name}", 200, ADMIN, "secrets:write", {"value": "sk-new-0123456789"}, {"name": "s2"}),
    Op("DELETE", "/secrets/{name}", 204, ADMIN, "secrets:write", params={"name": "secret-del"}),
    Op("POST", "/secrets/rotate", 200, ADMIN, "secrets:write", {}),
    Op("GET", "/keys", 200, ALL, "keys:read"),
    Op("GET", "/keys/{key_id}", 200, ALL, "keys:read"),
    Op("POST", "/keys", 201, OPERATE, "keys:write", {"name": "k2", "target": {"kind": "LLMProxy", "name": "team"}}),
    Op("PATCH", "/keys/{key_id}", 200, OPERATE, "keys:write", {"name": "k1b"}, optional=True),
    Op("POST", "/keys/{key_id}/regenerate", 200, OPERATE, "keys:write", {}, optional=True),
    Op("POST", "/keys/{key_id}/revoke", 200, OPERATE, "keys:write", {}),
    Op("DELETE", "/keys/{key_id}", 204, OPERATE, "keys:write", optional=True),
    Op("GET", "/gateways", 200, ALL, "gateways:read"),
    Op("GET", "/gateways/{name}", 200, ALL, "gateways:read", params={"name": "default"}),
    Op(
        "PUT",
        "/gateways/{name}",
        200,
        OPERATE,
        "gateways:write",
        {"baseUrl": "http://127.0.0.1:8081"},
        {"name": "edge"},
    ),
    Op("DELETE", "/gateways/{name}", 200, OPERATE, "gateways:write", params={"name": "edge"}, optional=True),
    Op("GET", "/deployments", 200, ALL, "deployments:read"),
    Op("POST", "/deployments", 200, OPERATE, "deployments:write", {"kind": "LLMProxy", "name": "idle"}),
    Op(
        "GET",
        "/deployments/{gateway}/{kind}/{name}/history",
        200,
        ALL,
        "deployments:read",
        params={"gateway": "default", "kind": "LLMProxy", "name": "team"},
    ),
    Op(
        "DELETE",
        "/deployments/{gateway}/{kind}/{name}",
        200,
        OPERATE,
        "deployments:write",
        params={"gateway": "default", "kind": "LLMProxy", "name": "dep"},
    ),
    Op(
        "POST",
        "/deployments/{gateway}/{kind}/{name}/restore",
        200,
        OPERATE,
        "deployments:write",
        {"revision": 1},
        {"gateway": "default", "kind": "LLMProxy", "name": "team"},
    ),
    Op("POST", "/apply", 200, PUBLISH, "providers:write", {"documents": [provider("ap", "/ap")]}),
    Op("POST", "/apply", 200, ADMIN, "secrets:write", {"documents": [secret("as", "sk-applied-0123456789")]}),
    Op("POST", "/apply", 200, OPERATE, "keys:write", {"documents": [api_key("ak", "LLMProxy", "team")]}),
    Op(
        "POST",
        "/apply",
        200,
        ADMIN,
        {"operator": "proxies:write", "publisher": "deployments:write", "viewer": "deployments:write"},
        {"documents": [proxy("ax", context="/ax")], "gateway": "default"},
    ),
    Op("GET", "/users", 200, ADMIN, "users:read"),
    Op("GET", "/users/{name}", 200, ADMIN, "users:read", params={"name": "person"}),
    Op("POST", "/users", 201, ADMIN, "users:write", {"name": "new-user", "role": "viewer", "kind": "service"}),
    Op("PATCH", "/users/{name}", 200, ADMIN, "users:write", {"role": "publisher"}, {"name": "patchme"}),
    Op("DELETE", "/users/{name}", 204, ADMIN, "users:write", params={"name": "doomed"}),
    Op(
        "PUT",
        "/users/{name}/password",
        200,
        ADMIN,
        "users:write",
        {"password": "a-long-password-1"},
        {"name": "person"},
    ),
    Op("GET", "/whoami", 200, ALL, ""),
    Op("GET", "/policies", 200, ALL, ""),  # the catalogue of built-in policies: any authenticated caller
    Op("GET", "/tokens", 200, ALL, ""),
    Op("GET", "/jobs", 200, ALL, ""),  # one's own apply jobs
    Op("GET", "/jobs/{job_id}", 200, ALL, "", params={"job_id": "{job}"}),
    Op("POST", "/tokens", 201, ALL, "", {"name": "mine"}),
    Op("GET", "/tokens/{token_id}", 200, ALL, "", params={"token_id": "{spare}"}),
    Op("POST", "/tokens/{token_id}/rotate", 200, ALL, "", {}, {"token_id": "{spare}"}),
    Op("POST", "/tokens/{token_id}/revoke", 200, ALL, "", {}, {"token_id": "{spare}"}),
    Op("GET", "/tokens", 200, ADMIN, "tokens:read", query={"all": "true"}),
    Op("GET", "/tokens", 200, ADMIN, "tokens:read", query={"user": "bystander"}),
    Op("POST", "/tokens", 201, ADMIN, "tokens:write", {"name": "theirs", "user": "bystander"}),
    Op("GET", "/tokens/{token_id}", 200, ADMIN, "tokens:read", params={"token_id": "{other}"}),
    Op("POST", "/tokens/{token_id}/rotate", 200, ADMIN, "tokens:write", {}, {"token_id": "{other}"}),
    Op("POST", "/tokens/{token_id}/revoke", 200, ADMIN, "tokens:write", {}, {"token_id": "{other}"}),
    Op("GET", "/usage/records", 200, ALL, "usage:read"),
    Op("GET", "/usage/export", 200, ALL, "usage:read"),
    Op("GET", "/usage/summary", 200, ALL, "usage:read"),
    Op("GET", "/usage/prices", 200, ALL, "usage:read"),
    Op("GET", "/audit", 200, ALL, "audit:read"),
    Op("GET", "/audit/export", 200, ALL, "audit:read", query={"format": "csv"}),
]


def _world(admin: TestClient, role: str) -> dict[str, str]:
    """Everything the table touches, made by the env admin; returns the ids and the role's token."""
    documents = [
        secret(),
        secret("secret-del", "sk-doomed-0123456789"),
        template("tpl"),
        template("tpl-del"),
        provider(credential={"secret": "openai-key"}),
        provider("prov-del", "/prov-del"),
        proxy(),
        proxy("proxy-del", context="/proxy-del"),
        proxy("dep", context="/dep"),
    ]
    assert admin.post("/api/v1/apply", json={"documents": documents, "gateway": "default"}).status_code == 200
    idle = admin.post("/api/v1/apply", json={"documents": [proxy("idle", context="/idle")]})
    assert idle.status_code == 200
    key = admin.post("/api/v1/keys", json={"name": "k1", "target": {"kind": "LLMProxy", "name": "team"}}).json()
    for name, kind, user_role in [
        (f"as-{role}", "service", role),
        ("bystander", "service", "viewer"),
        ("person", "user", "viewer"),
        ("patchme", "service", "viewer"),
        ("doomed", "service", "viewer"),
    ]:
        created = admin.post("/api/v1/users", json={"name": name, "kind": kind, "role": user_role})
        assert created.status_code == 201, created.text
    token = admin.post("/api/v1/tokens", json={"name": "main", "user": f"as-{role}"}).json()
    spare = admin.post("/api/v1/tokens", json={"name": "spare", "user": f"as-{role}"}).json()
    other = admin.post("/api/v1/tokens", json={"name": "ci", "user": "bystander"}).json()
    as_role = {"Authorization": f"Bearer {token['value']}"}
    job = admin.post(
        "/api/v1/apply", params={"async": "true"}, json={"documents": []}, headers=as_role
    )  # needs nothing
    assert job.status_code == 202, job.text
    ids = {"key_id": key["id"], "token": token["value"], "spare": spare["id"], "other": other["id"]}
    return {**ids, "job": job.json()["id"]}


def _call(client: TestClient, op: Op, ids: Mapping[str, str], token: str) -> Any:
    params = {k: v.format(**ids) for k, v in op.params.items()}
    path = "/api/v1" + op.template.format(**{**ids, **params})
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {token}"}, "params": dict(op.query)}
    if op.body is not None:
        kwargs["json"] = op.body
    return client.request(op.method, path, **kwargs)


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_is_allowed_or_refused_per_operation(client: TestClient, role: str) -> None:
    ids = _world(client, role)
    served = _served(client)
    got: list[tuple[str, str, int, str]] = []
    want: list[tuple[str, str, int, str]] = []
    for op in MATRIX:
        if op.optional and (op.method, "/api/v1" + op.template) not in served:
            continue
        response = _call(client, op, ids, ids["token"])
        permission = op.permission if isinstance(op.permission, str) else op.permission.get(role, "")
        if role in op.roles:
            want.append((op.method, op.template, op.status, ""))
        else:
            want.append((op.method, op.template, 403, permission))
        named = response.json()["error"]["errors"][0]["field"] if response.status_code == 403 else ""
        got.append((op.method, op.template, response.status_code, named))
    assert got == want


def test_refusals_are_403_in_the_error_shape_and_change_nothing(client: TestClient) -> None:
    ids = _world(client, "viewer")
    response = _call(client, MATRIX[6], ids, ids["token"])  # PUT /providers/p2
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "status": 403,
            "type": "forbidden",
            "message": "permission denied: providers:write is not granted to role 'viewer'",
            "errors": [
                {"resource": "permission", "field": "providers:write", "reason": "not granted to role 'viewer'"}
            ],
        }
    }
    assert client.get("/api/v1/providers/p2").status_code == 404
    entries = client.get("/api/v1/audit", params={"actor": "as-viewer"}).json()["items"]
    assert entries == []


def _served(client: TestClient) -> set[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return {(m.upper(), path) for path, ops in spec["paths"].items() if path.startswith("/api/v1") for m in ops}


def test_every_operation_of_the_api_is_in_the_matrix_and_documents_its_permission(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    covered = {(op.method, "/api/v1" + op.template) for op in MATRIX} | {("POST", "/api/v1/login")}
    served = _served(client)
    missing = sorted(served - covered)
    assert missing == [], f"add a row to MATRIX in {__file__} for each of: {missing}"
    by_operation = {(op.method, "/api/v1" + op.template): op for op in MATRIX if not op.query}
    by_operation = {k: op for k, op in by_operation.items() if k in served}
    for (method, path), op in by_operation.items():
        operation = spec["paths"][path][method.lower()]
        own = ("/api/v1/tokens", "/api/v1/whoami", "/api/v1/policies", "/api/v1/jobs")
        if path.startswith(own) or path.endswith("/password"):
            assert operation["x-permission"] == "self", (method, path)  # own account: anyone; others': admin
            assert set(operation["x-roles"]) == ALL
        elif isinstance(op.permission, str):
            assert set(operation["x-roles"]) == set(op.roles), (method, path)
            assert f"Needs `{op.permission}`" in operation["description"]
    assert "x-permission" not in spec["paths"]["/api/v1/login"]["post"]
    assert set(spec["paths"]["/api/v1/apply"]["post"]["x-roles"]) == {"admin", "operator", "publisher"}

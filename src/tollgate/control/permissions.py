"""Roles and the permission matrix of the management API: which role may call which operation.

A permission reads `<area>:<read|write>`; an operation's permission is derived once from its path
(the collection after /api/v1) and method (GET reads, anything else writes), with the exceptions in
`_OVERRIDES`. So a new endpoint is covered the day it is added, and an unknown area is admin-only.
`apply` needs the write permission of each document's kind (and deployments:write to deploy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

Role = Literal["admin", "operator", "publisher", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "operator", "publisher", "viewer")
API_PREFIX = "/api/v1"

#: Every authenticated caller: `whoami`, its own tokens and its own password.
SELF = "self"
#: POST /apply: the write permission of each document's kind, decided from the body.
BY_DOCUMENTS = "apply"

#: Areas every role may read (never a secret value: the API returns none).
READ_AREAS = ("templates", "providers", "proxies", "secrets", "keys", "gateways", "deployments", "usage", "audit")
_READS = frozenset(f"{area}:read" for area in READ_AREAS)
ROLE_PERMISSIONS: Mapping[Role, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "operator": _READS | {"deployments:write", "keys:write", "gateways:write"},
    "publisher": _READS | {"templates:write", "providers:write", "proxies:write"},
    "viewer": _READS,
}
ROLE_SUMMARY: Mapping[Role, str] = {
    "admin": "everything, including users, tokens of others and secrets",
    "operator": "deploy and undeploy, API keys, gateways; reads everything",
    "publisher": "templates, providers and proxies (no secrets, no keys, no deploys); reads everything",
    "viewer": "reads everything (never a secret value)",
}
#: Document kind -> area, for apply.
KIND_AREAS = {
    "ProviderTemplate": "templates",
    "LLMProvider": "providers",
    "LLMProxy": "proxies",
    "Secret": "secrets",
    "APIKey": "keys",
    "Gateway": "gateways",
}
#: (method, path) -> permission where the rule of thumb does not fit.
_OVERRIDES: Mapping[tuple[str, str], str] = {
    ("POST", "/apply"): BY_DOCUMENTS,
    ("GET", "/whoami"): SELF,
    ("GET", "/tokens"): SELF,
    ("POST", "/tokens"): SELF,
    ("GET", "/tokens/{token_id}"): SELF,
    ("POST", "/tokens/{token_id}/revoke"): SELF,
    ("POST", "/tokens/{token_id}/rotate"): SELF,
    ("PUT", "/users/{name}/password"): SELF,
    # one's own apply jobs (a job is visible to its submitter only)
    ("GET", "/jobs"): SELF,
    ("GET", "/jobs/{job_id}"): SELF,
    # the catalogue of built-in policies and their parameter schemas: no resource, nothing secret
    ("GET", "/policies"): SELF,
}


def grants(role: str, permission: str) -> bool:
    """Whether `role` has `permission` (SELF: every role; admin: everything)."""
    held = ROLE_PERMISSIONS.get(role, frozenset())  # type: ignore[call-overload]
    return permission == SELF or "*" in held or permission in held


def roles_with(permission: str) -> list[Role]:
    return [role for role in ROLES if grants(role, permission)]


def roles_for(permission: str) -> list[Role]:
    """The roles that may call an operation needing `permission` (apply: those with any document write)."""
    if permission == BY_DOCUMENTS:
        writes = document_permissions(KIND_AREAS, deploys=False)
        return [role for role in ROLES if any(grants(role, p) for p in writes)]
    return roles_with(permission)


def relative(path: str) -> str:
    """A path template below /api/v1 (routers see "/providers/{name}", the OpenAPI document the full path)."""
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path


def route_permission(method: str, path: str) -> str:
    """The permission an operation needs, from its method and path template (e.g. /providers/{name})."""
    path = relative(path)
    override = _OVERRIDES.get((method, path))
    if override is not None:
        return override
    collection = path.strip("/").split("/")[0]
    return f"{collection}:{'read' if method in ('GET', 'HEAD') else 'write'}"


def document_permissions(kinds: Iterable[str], deploys: bool) -> list[str]:
    """What an apply of documents of `kinds` needs (unknown kinds are left to validation's 422)."""
    needed = {f"{KIND_AREAS[kind]}:write" for kind in kinds if kind in KIND_AREAS}
    if deploys:
        needed.add("deployments:write")
    return sorted(needed)


def describe(permission: str) -> str:
    """One sentence for the OpenAPI document: what an operation needs and which roles have it."""
    if permission == SELF:
        return "Any authenticated user (account operations act on the caller's own account; others' need admin)."
    if permission == BY_DOCUMENTS:
        return (
            "Needs the write permission of each document's kind (templates/providers/proxies:write: admin, "
            "publisher; secrets:write: admin; keys:write and gateways:write: admin, operator), and "
            "deployments:write (admin, operator) when `gateway` is given."
        )
    return f"Needs `{permission}`: roles {', '.join(roles_with(permission))}."

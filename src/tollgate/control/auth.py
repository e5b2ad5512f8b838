"""Who is calling the management API, and may they: bearer tokens to a `Principal`, then its role checked.

Accepted tokens: env TOLLGATE_ADMIN_TOKEN (when set; an admin with no user behind it, compared in
constant time) and the stored tokens of users (hashed; the first one is created on first start and
printed once). Every request reads the store, so a revocation, rotation, expiry or role change takes
effect on the next call. Anything else is a 401; a valid token whose role lacks the operation's
permission (`permissions`) is a 403 naming the permission.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tollgate.control import permissions
from tollgate.control.body import json_body
from tollgate.errors import AccessDeniedError
from tollgate.store import Store
from tollgate.store.audit_log import Actor

ADMIN_TOKEN_ENV = "TOLLGATE_ADMIN_TOKEN"
#: The token id audit entries show for TOLLGATE_ADMIN_TOKEN (it has no stored record).
ENV_TOKEN_ID = "env"

_bearer = HTTPBearer(auto_error=False, description="A user's token: Authorization: Bearer <token>")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: user name and id (None for the env token), token id, role, account kind."""

    name: str
    user_id: str | None
    token_id: str
    role: str
    kind: str

    @property
    def actor(self) -> Actor:
        return Actor(name=self.name, user_id=self.user_id, token_id=self.token_id)

    def may(self, permission: str) -> bool:
        return permissions.grants(self.role, permission)

    def require(self, permission: str) -> None:
        """Raise AccessDeniedError (403) unless the role grants `permission`."""
        if not self.may(permission):
            raise AccessDeniedError(permission, self.role)


#: The principal of TOLLGATE_ADMIN_TOKEN.
ENV_ADMIN = Principal(name=f"env:{ADMIN_TOKEN_ENV}", user_id=None, token_id=ENV_TOKEN_ID, role="admin", kind="env")


class AdminAuth:
    """Turns presented tokens into principals: the environment's token, then the store's. Shared, immutable."""

    def __init__(self, store: Store, env_token: str | None = None) -> None:
        self._store = store
        self._env_token = (env_token if env_token is not None else os.environ.get(ADMIN_TOKEN_ENV, "")).encode()

    @property
    def has_env_token(self) -> bool:
        return bool(self._env_token)

    def authenticate(self, token: str) -> Principal | None:
        """The caller behind `token`, or None. Blocking (reads the store): call it from a worker thread."""
        if self._env_token and hmac.compare_digest(token.encode(), self._env_token):
            return ENV_ADMIN
        identity = self._store.access.authenticate(token)
        if identity is None:
            return None
        user = identity.user
        return Principal(name=user.name, user_id=user.id, token_id=identity.token.id, role=user.role, kind=user.kind)

    def is_valid(self, token: str) -> bool:
        return self.authenticate(token) is not None


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """FastAPI dependency: the caller, or 401 unless the request carries a valid bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing token: send 'Authorization: Bearer <token>'")
    verified = getattr(request.state, "principal", None)  # set by `AdminGuard` for this very request
    if isinstance(verified, Principal):
        return verified
    auth: AdminAuth = request.app.state.auth
    principal = await run_in_threadpool(auth.authenticate, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "invalid, expired or revoked token")
    return principal


async def require_permission(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """FastAPI dependency of every guarded route: 403 unless the caller's role grants the route's permission."""
    route = request.scope["route"]
    permission = permissions.route_permission(request.method, route.path_format)
    if permission == permissions.BY_DOCUMENTS:
        for needed in permissions.document_permissions(*await _document_kinds(request)):
            principal.require(needed)
    else:
        principal.require(permission)
    return principal


async def _document_kinds(request: Request) -> tuple[list[str], bool]:
    """The kinds of an apply body's documents and whether it deploys (malformed bodies: left to validation)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        return [], False
    documents = body.get("documents")
    kinds = [str(d.get("kind")) for d in documents if isinstance(d, dict)] if isinstance(documents, list) else []
    if body.get("prune"):  # a prune may delete templates, providers and proxies the documents do not name
        kinds += ["ProviderTemplate", "LLMProvider", "LLMProxy"]
    return kinds, body.get("gateway") is not None


#: What a route function declares to learn who is calling (resolved once per request, already checked).
PrincipalDep = Annotated[Principal, Depends(require_permission)]

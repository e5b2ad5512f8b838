"""Admin authentication of the management API: a bearer token, compared in constant time.

Accepted tokens: env TOLLGATE_ADMIN_TOKEN (when set) and every token in the store (kept only as a
hash; the first one is created on first start and printed once). Anything else is a 401.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tollgate.store import Store

ADMIN_TOKEN_ENV = "TOLLGATE_ADMIN_TOKEN"

_bearer = HTTPBearer(auto_error=False, description="Admin token: Authorization: Bearer <token>")


class AdminAuth:
    """Verifies admin tokens against the environment's token and the store's hashes. Shared, immutable."""

    def __init__(self, store: Store, env_token: str | None = None) -> None:
        self._store = store
        self._env_token = (env_token if env_token is not None else os.environ.get(ADMIN_TOKEN_ENV, "")).encode()

    @property
    def has_env_token(self) -> bool:
        return bool(self._env_token)

    def is_valid(self, token: str) -> bool:
        presented = token.encode()
        if self._env_token and hmac.compare_digest(presented, self._env_token):
            return True
        return self._store.verify_admin_token(token)


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """FastAPI dependency: 401 unless the request carries a valid admin bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing admin token: send 'Authorization: Bearer <token>'")
    auth: AdminAuth = request.app.state.auth
    if not auth.is_valid(credentials.credentials):
        raise HTTPException(401, "invalid admin token")

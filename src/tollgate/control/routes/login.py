"""Password login: a person's name and password exchanged for a session token (what the console uses).

The one operation that needs no token. A wrong name, a wrong password, a service account and a
disabled user all get the same 401, after the same argon2 work, so the answer reveals nothing.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException

from tollgate.control.access_schemas import LoginRequest, LoginResponse
from tollgate.control.deps import StoreDep
from tollgate.control.routes.users import token_info
from tollgate.store.access import DEFAULT_SESSION_TTL
from tollgate.store.audit_log import Actor, Change
from tollgate.store.audit_state import token_document

router = APIRouter(tags=["users"])


@router.post("/login")
def login(store: StoreDep, body: LoginRequest) -> LoginResponse:
    """A session token (kind session, 12 h at most) for the user's own calls; revoke it to log out."""
    ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else DEFAULT_SESSION_TTL
    session = store.access.login(body.username, body.password, ttl)
    if session is None:
        raise HTTPException(401, "invalid username or password")
    record, value = session
    user = store.access.get_user(record.user)
    actor = Actor(name=user.name, user_id=user.id, token_id=record.id)
    entry = Change("login", "Token", record.id, None, token_document(record))
    store.audit.append(actor, "POST", "/api/v1/login", [entry])
    return LoginResponse(**token_info(record).model_dump(), value=value, role=user.role)  # type: ignore[arg-type]

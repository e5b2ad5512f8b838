"""Password login: a person's name and password exchanged for a session token (what the console uses).

The one operation under /api/v1 that needs no token. A wrong name, a wrong password, a service
account and a disabled user all get the same 401 after the same argon2 work, so the answer reveals
nothing; failures count against the client in the management API's `FailureBackoff` (429 when blocked).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from tollgate.control.access_schemas import LoginRequest, LoginResponse
from tollgate.control.deps import StoreDep
from tollgate.control.routes.users import token_info
from tollgate.security.backoff import FailureBackoff, retry_after_header
from tollgate.store.access import DEFAULT_SESSION_TTL
from tollgate.store.audit_log import Actor, Change
from tollgate.store.audit_state import token_document

router = APIRouter(tags=["users"])


@router.post("/login")
async def login(request: Request, store: StoreDep, body: LoginRequest) -> LoginResponse:
    """A session token (kind session, 12 h at most) for the user's own calls; revoke it to log out."""
    backoff: FailureBackoff = request.app.state.backoff
    client = request.client.host if request.client else "-"
    wait = backoff.retry_after(client)
    if wait is not None:
        raise HTTPException(429, "too many failed logins; retry later", {"Retry-After": retry_after_header(wait)})
    ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else DEFAULT_SESSION_TTL
    session = await run_in_threadpool(store.access.login, body.username, body.password, ttl)
    if session is None:
        backoff.record_failure(client)
        raise HTTPException(401, "invalid username or password")
    record, value = session
    user = await run_in_threadpool(store.access.get_user, record.user)
    actor = Actor(name=user.name, user_id=user.id, token_id=record.id)
    entry = Change("login", "Token", record.id, None, token_document(record))
    await run_in_threadpool(store.audit.append, actor, "POST", "/api/v1/login", [entry])
    return LoginResponse(**token_info(record).model_dump(), value=value, role=user.role)  # type: ignore[arg-type]

"""Users, service accounts and their tokens; `whoami`. Users are admin business; tokens are self-service.

Anyone may list, create, rotate and revoke their own tokens and change their own password (with the
current one); doing so for another user needs admin. A token's value is returned once, at creation
or rotation; the store keeps only its hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from tollgate.control.access_schemas import (
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenInfo,
    TokenRotate,
    UserCreate,
    UserInfo,
    UserUpdate,
    WhoAmI,
)
from tollgate.control.auth import PrincipalDep
from tollgate.control.deps import NameParam, StoreDep
from tollgate.control.permissions import ROLE_PERMISSIONS, Role
from tollgate.errors import ResourceValidationError
from tollgate.resources.models import NAME_PATTERN
from tollgate.store.token_rows import TokenRecord
from tollgate.store.user_rows import UserRecord

router = APIRouter()
TokenIdParam = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The 12-hex id of a token (tga_<id>_...).")]


def user_info(user: UserRecord) -> UserInfo:
    return UserInfo(
        name=user.name,
        kind=user.kind,  # type: ignore[arg-type]
        role=user.role,  # type: ignore[arg-type]
        has_password=user.has_password,
        disabled=not user.is_active,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def token_info(token: TokenRecord) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        name=token.name,
        kind=token.kind,  # type: ignore[arg-type]
        user=token.user,
        status=token.status(datetime.now(UTC)),  # type: ignore[arg-type]
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        rotated_at=token.rotated_at,
        last_used_at=token.last_used_at,
    )


# --- whoami --------------------------------------------------------------------------------------


@router.get("/whoami", tags=["users"])
def whoami(principal: PrincipalDep) -> WhoAmI:
    """The caller's user, role and token id, and what the role grants."""
    role: Role = principal.role  # type: ignore[assignment]
    return WhoAmI(
        user=principal.name,
        kind=principal.kind,  # type: ignore[arg-type]
        role=role,
        token_id=principal.token_id,
        permissions=sorted(ROLE_PERMISSIONS[role]),
    )


# --- users ---------------------------------------------------------------------------------------


@router.get("/users", tags=["users"])
def list_users(store: StoreDep) -> list[UserInfo]:
    return [user_info(u) for u in store.access.list_users()]


@router.post("/users", tags=["users"], status_code=201)
def create_user(store: StoreDep, body: UserCreate) -> UserInfo:
    """A person (kind user, optional password for `login`) or a service account (kind service, tokens only).

    A `password` with kind `service` is a 422: service accounts log in with tokens only.
    """
    return user_info(store.access.create_user(body.name, body.kind, body.role, body.password))


@router.get("/users/{name}", tags=["users"])
def get_user(store: StoreDep, name: NameParam) -> UserInfo:
    return user_info(store.access.get_user(name))


@router.patch("/users/{name}", tags=["users"])
def update_user(store: StoreDep, name: NameParam, body: UserUpdate) -> UserInfo:
    """Change the role or disable/enable; refused (409) if no enabled admin user would remain."""
    return user_info(store.access.update_user(name, role=body.role, disabled=body.disabled))


@router.delete("/users/{name}", tags=["users"], status_code=204)
def delete_user(store: StoreDep, name: NameParam) -> Response:
    """Delete a user and its tokens (refused, 409, for the last enabled admin)."""
    store.access.delete_user(name)
    return Response(status_code=204)


@router.put("/users/{name}/password", tags=["users"])
def set_password(store: StoreDep, principal: PrincipalDep, name: NameParam, body: PasswordChange) -> UserInfo:
    """Set a person's password: admins for anyone; users for themselves, giving the current one if set."""
    if name != principal.name or principal.user_id is None:
        principal.require("users:write")
    else:
        user = store.access.get_user(name)
        if user.has_password and not store.access.check_password(name, body.current_password or ""):
            raise ResourceValidationError(f"user {name!r}", "currentPassword", "does not match the current password")
    return user_info(store.access.set_password(name, body.password))


# --- tokens --------------------------------------------------------------------------------------


def _own_or_admin(principal: PrincipalDep, owner: str, verb: str) -> None:
    if owner != principal.name or principal.user_id is None:
        principal.require(f"tokens:{verb}")


@router.get("/tokens", tags=["tokens"])
def list_tokens(
    store: StoreDep,
    principal: PrincipalDep,
    user: Annotated[str | None, Query(pattern=NAME_PATTERN, description="Only this user's (admin).")] = None,
    all_users: Annotated[bool, Query(alias="all", description="Every user's tokens (admin).")] = False,
) -> list[TokenInfo]:
    """The caller's tokens (revoked and expired included), oldest first; `all` or `user` need admin."""
    if all_users:
        principal.require("tokens:read")
        return [token_info(t) for t in store.access.list_tokens()]
    owner = user or principal.name
    _own_or_admin(principal, owner, "read")
    return [token_info(t) for t in store.access.list_tokens(owner)]


@router.post("/tokens", tags=["tokens"], status_code=201)
def create_token(store: StoreDep, principal: PrincipalDep, body: TokenCreate) -> TokenCreated:
    """A new token for the caller (or, for admins, any user); the value is shown this once.

    `user` is required when the caller is `TOLLGATE_ADMIN_TOKEN`, which has no user of its own (else a 422).
    """
    owner = body.user or principal.name
    if principal.user_id is None and body.user is None:
        raise ResourceValidationError("token", "user", "TOLLGATE_ADMIN_TOKEN has no user: name one")
    _own_or_admin(principal, owner, "write")
    record, value = store.access.create_token(owner, body.name, expires_at=body.expires_at)
    return TokenCreated(**token_info(record).model_dump(), value=value)


@router.get("/tokens/{token_id}", tags=["tokens"])
def get_token(store: StoreDep, principal: PrincipalDep, token_id: TokenIdParam) -> TokenInfo:
    record = store.access.get_token(token_id)
    _own_or_admin(principal, record.user, "read")
    return token_info(record)


@router.post("/tokens/{token_id}/revoke", tags=["tokens"])
def revoke_token(store: StoreDep, principal: PrincipalDep, token_id: TokenIdParam) -> TokenInfo:
    """Revoke at once (idempotent): the next call with it is a 401."""
    _own_or_admin(principal, store.access.get_token(token_id).user, "write")
    return token_info(store.access.revoke_token(token_id))


@router.post("/tokens/{token_id}/rotate", tags=["tokens"])
def rotate_token(store: StoreDep, principal: PrincipalDep, token_id: TokenIdParam, body: TokenRotate) -> TokenCreated:
    """A new value for the same token id (the old value is refused at once); optionally a new expiry.

    `expiresAt`, when given, must be in the future (else a 422).
    """
    _own_or_admin(principal, store.access.get_token(token_id).user, "write")
    record, value = store.access.rotate_token(token_id, body.expires_at)
    return TokenCreated(**token_info(record).model_dump(), value=value)

"""Bodies of the users, tokens, login, whoami and audit operations (camelCase on the wire).

No model returns a password or a password hash; a token value appears only in `TokenCreated`, once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from tollgate.control.permissions import Role
from tollgate.control.schemas import APIModel
from tollgate.resources.models import NAME_PATTERN
from tollgate.store.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

UserKind = Literal["user", "service"]
TokenStatus = Literal["active", "expired", "revoked"]


def _future(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if aware <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return aware


class UserCreate(APIModel):
    #: A service account signs in with tokens only: the schema says so, not only the server.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"kind": {"const": "service"}}, "required": ["kind"]},
            "then": {"properties": {"password": {"type": "null"}}},
        }
    )

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    kind: UserKind = Field("user", description="'user': a person (may log in with a password); 'service': tokens only.")
    role: Role
    password: str | None = Field(
        None,
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description="Write-only: a person's login password.",
    )


class UserUpdate(APIModel):
    role: Role | None = None
    disabled: bool | None = Field(None, description="A disabled user's tokens are refused at once.")


class PasswordChange(APIModel):
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, description="Write-only.")
    current_password: str | None = Field(
        None, max_length=MAX_PASSWORD_LENGTH, description="Required when users change their own password."
    )


class UserInfo(APIModel):
    name: str
    kind: UserKind
    role: Role
    has_password: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime


class TokenCreate(APIModel):
    name: str = Field(pattern=NAME_PATTERN, max_length=63, description="What the token is for (e.g. ci-deploy).")
    user: str | None = Field(
        None, pattern=NAME_PATTERN, description="Owner (default: the caller); another user's needs admin."
    )
    expires_at: datetime | None = Field(None, description="UTC; must be in the future. None: never expires.")

    _check_expiry = field_validator("expires_at")(_future)


class TokenRotate(APIModel):
    expires_at: datetime | None = Field(None, description="A new expiry (default: keep the current one).")

    _check_expiry = field_validator("expires_at")(_future)


class TokenInfo(APIModel):
    id: str
    name: str
    kind: Literal["api", "session"]
    user: str
    status: TokenStatus
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenInfo):
    value: str = Field(description="The token itself (tga_...): shown this once, stored only as a hash.")


class LoginRequest(APIModel):
    username: str = Field(pattern=NAME_PATTERN, max_length=63)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    ttl_seconds: int | None = Field(None, ge=60, le=12 * 3600, description="Session length (default and most: 12 h).")


class LoginResponse(TokenCreated):
    role: Role


class WhoAmI(APIModel):
    user: str
    kind: Literal["user", "service", "env"]
    role: Role
    token_id: str
    permissions: list[str] = Field(description="What the role grants ('*' is everything).")


class AuditEntryInfo(APIModel):
    id: int
    time: datetime
    actor: str = Field(description="User name (env:TOLLGATE_ADMIN_TOKEN for the environment's token).")
    actor_user_id: str | None
    actor_token_id: str = Field(description="Id of the token used (never the token).")
    action: str
    kind: str
    name: str
    method: str
    path: str
    before: dict[str, Any] | None = Field(description="The document before the change (secret values masked).")
    after: dict[str, Any] | None = Field(description="The document after the change (secret values masked).")


class AuditPage(APIModel):
    items: list[AuditEntryInfo]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null at the end.")

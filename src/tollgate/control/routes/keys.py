"""Gateway API keys: create (the value is returned once), list (masked), read, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from tollgate.control.deps import StoreDep
from tollgate.control.schemas import DeployableKind, KeyCreate, KeyCreated, KeyInfo, KeyTargetRef
from tollgate.resources.keys import KeyRecord
from tollgate.resources.models import NAME_PATTERN

router = APIRouter(tags=["keys"])
KeyIdParam = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The 12-hex id of a key (tg_<id>_...).")]


def key_info(record: KeyRecord) -> KeyInfo:
    now = datetime.now(UTC)
    if record.revoked_at is not None:
        status = "revoked"
    elif record.expires_at is not None and record.expires_at <= now:
        status = "expired"
    else:
        status = "active"
    return KeyInfo(
        id=record.id,
        name=record.name,
        target=KeyTargetRef(kind=record.target_kind, name=record.target_name),  # type: ignore[arg-type]
        masked=record.masked,
        status=status,  # type: ignore[arg-type]
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
        revoked_at=record.revoked_at,
    )


@router.post("/keys", status_code=201)
def create_key(store: StoreDep, body: KeyCreate) -> KeyCreated:
    """Issue a key for an existing provider or proxy (404 if it does not exist). The value is shown once."""
    record, value = store.create_key(body.target.kind, body.target.name, body.name, body.expires_at)
    return KeyCreated(**key_info(record).model_dump(), value=value)


@router.get("/keys")
def list_keys(
    store: StoreDep,
    kind: Annotated[DeployableKind | None, Query(description="Only keys of this target kind.")] = None,
    target: Annotated[str | None, Query(pattern=NAME_PATTERN, description="Only keys of this target name.")] = None,
) -> list[KeyInfo]:
    """Every key, revoked and expired included, oldest first; masked, never the value."""
    return [key_info(record) for record in store.list_keys(kind, target)]


@router.get("/keys/{key_id}")
def get_key(store: StoreDep, key_id: KeyIdParam) -> KeyInfo:
    return key_info(store.get_key(key_id))


@router.post("/keys/{key_id}/revoke")
def revoke_key(store: StoreDep, key_id: KeyIdParam) -> KeyInfo:
    """Revoke at once (idempotent): every gateway refuses the key within a second."""
    return key_info(store.revoke_key(key_id))

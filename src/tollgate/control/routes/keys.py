"""Gateway API keys: create and regenerate (the value is returned once), list (masked), read, update,
revoke and delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from tollgate.control.deps import StoreDep
from tollgate.control.pagination import PAGE_HEADERS, AfterParam, LimitParam, page_of, set_next
from tollgate.control.schemas import DeployableKind, KeyCreate, KeyCreated, KeyInfo, KeyTargetRef, KeyUpdate
from tollgate.policies.windows import KeyLimits
from tollgate.resources.keys import KeyRecord
from tollgate.resources.models import NAME_PATTERN
from tollgate.store.key_rows import UNCHANGED

router = APIRouter(tags=["keys"])
KeyIdParam = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The 12-hex id of a key (tg_<id>_...).")]


def _limits(limits: KeyLimits | None) -> dict[str, object] | None:
    """What the store keeps of validated limits: their JSON form, camelCase (as an APIKey document has it)."""
    return limits.model_dump(mode="json", by_alias=True) if limits is not None else None


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
        metadata=record.metadata,
        limits=KeyLimits.model_validate(record.limits) if record.limits else None,
    )


@router.post("/keys", status_code=201)
def create_key(store: StoreDep, body: KeyCreate) -> KeyCreated:
    """Issue a key for an existing provider or proxy (404 if it does not exist). The value is shown once.

    `limits` (optional) are the key's own limits; 422 when they set nothing, repeat a window length, or
    give a `per` that is not a duration (`minute`, `90s`, `5m`, `1d`, seconds)."""
    record, value = store.create_key(
        body.target.kind,
        body.target.name,
        body.name,
        body.expires_at,
        metadata=body.metadata,
        limits=_limits(body.limits),
    )
    return KeyCreated(**key_info(record).model_dump(), value=value)


def _sort_key(record: KeyRecord) -> str:
    return f"{record.created_at.isoformat()}|{record.id}"


@router.get("/keys", responses={200: {"headers": PAGE_HEADERS}})
def list_keys(
    store: StoreDep,
    request: Request,
    response: Response,
    kind: Annotated[DeployableKind | None, Query(description="Only keys of this target kind.")] = None,
    target: Annotated[str | None, Query(pattern=NAME_PATTERN, description="Only keys of this target name.")] = None,
    after: AfterParam = None,
    limit: LimitParam = 500,
) -> list[KeyInfo]:
    """Every key, revoked and expired included, oldest first; masked, never the value."""
    page, cursor = page_of(store.list_keys(kind, target), _sort_key, after, limit)
    set_next(request, response, cursor, limit)
    return [key_info(record) for record in page]


@router.get("/keys/{key_id}")
def get_key(store: StoreDep, key_id: KeyIdParam) -> KeyInfo:
    return key_info(store.get_key(key_id))


@router.patch("/keys/{key_id}")
def update_key(store: StoreDep, key_id: KeyIdParam, body: KeyUpdate) -> KeyInfo:
    """Change the display name, expiry, metadata or limits (`limits: null` removes them); the key's value
    keeps working (until a new expiry). Gateways apply new limits within a second. `limits` are checked
    as on create (422 when they set nothing, repeat a window length, or give an unknown duration)."""
    expires = body.expires_at if "expires_at" in body.model_fields_set else UNCHANGED
    limits = _limits(body.limits) if "limits" in body.model_fields_set else UNCHANGED
    return key_info(store.update_key(key_id, name=body.name, expires_at=expires, metadata=body.metadata, limits=limits))


@router.post("/keys/{key_id}/regenerate")
def regenerate_key(store: StoreDep, key_id: KeyIdParam) -> KeyCreated:
    """A new value for the same key (id, name, target, expiry and metadata kept); the old value is refused
    by every gateway within a second. Shown once. 409 for a revoked key."""
    record, value = store.regenerate_key(key_id)
    return KeyCreated(**key_info(record).model_dump(), value=value)


@router.delete("/keys/{key_id}", status_code=204)
def delete_key(store: StoreDep, key_id: KeyIdParam) -> Response:
    """Remove the key for good: refused at once like a revoked key, and gone from lists."""
    store.delete_key(key_id)
    return Response(status_code=204)


@router.post("/keys/{key_id}/revoke")
def revoke_key(store: StoreDep, key_id: KeyIdParam) -> KeyInfo:
    """Revoke at once (idempotent): every gateway refuses the key within a second."""
    return key_info(store.revoke_key(key_id))

"""Secrets: names only out, values only in. A value is encrypted at rest and never returned or logged."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tollgate.control.deps import NameParam, StoreDep
from tollgate.control.pagination import PAGE_HEADERS, AfterParam, LimitParam, page_of, set_next
from tollgate.control.schemas import (
    OutcomeResponse,
    SecretInfo,
    SecretRotation,
    SecretRotationResult,
    SecretWrite,
)
from tollgate.errors import ResourceNotFoundError
from tollgate.resources.models import LLMProvider
from tollgate.store import Store

router = APIRouter(tags=["secrets"])


def _users(store: Store) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for provider in store.list_resources("LLMProvider"):
        if isinstance(provider, LLMProvider) and provider.spec.credential and provider.spec.credential.secret:
            users.setdefault(provider.spec.credential.secret, []).append(f"LLMProvider/{provider.metadata.name}")
    return users


@router.get("/secrets", response_model=list[SecretInfo], responses={200: {"headers": PAGE_HEADERS}})
def list_secrets(
    store: StoreDep, request: Request, response: Response, after: AfterParam = None, limit: LimitParam = 500
) -> list[SecretInfo]:
    """Secret names (a page at a time) and who uses each; never a value."""
    page, cursor = page_of(store.list_secrets(), lambda name: name, after, limit)
    set_next(request, response, cursor, limit)
    users = _users(store) if page else {}
    return [SecretInfo(name=name, used_by=users.get(name, [])) for name in page]


@router.post("/secrets/rotate", response_model=SecretRotationResult)
def rotate_secrets(store: StoreDep, body: SecretRotation) -> SecretRotationResult:
    """Re-encrypt every secret with the newest key, without downtime: old keys still decrypt until retired.

    With TOLLGATE_SECRET_KEY rings: add the new key at the end on every node, rotate, then drop the old one.
    """
    count = store.rotate_secrets(new_key=body.new_key, retire_old_keys=body.retire_old_keys)
    return SecretRotationResult(reencrypted=count)


@router.get("/secrets/{name}", response_model=SecretInfo)
def get_secret(store: StoreDep, name: NameParam) -> SecretInfo:
    """That the secret exists and who uses it; never its value."""
    if name not in store.list_secrets():
        raise ResourceNotFoundError(f"no Secret named {name!r}")
    return SecretInfo(name=name, used_by=_users(store).get(name, []))


@router.put("/secrets/{name}")
def put_secret(store: StoreDep, name: NameParam, body: SecretWrite) -> OutcomeResponse:
    """Create or replace a value (write-only); gateways read the new value at their next reload."""
    outcome = store.put_secret(name, body.value)
    return OutcomeResponse(kind="Secret", name=name, outcome=outcome)


@router.delete("/secrets/{name}", status_code=204)
def delete_secret(store: StoreDep, name: NameParam) -> Response:
    """Refused (409) while a provider's credential names it."""
    store.delete_secret(name)
    return Response(status_code=204)

"""Bulk apply: the same documents as the YAML files, idempotent; also dry runs (diff) and prune.

Each result says created / changed / unchanged (or deleted, for a prune); a newly generated API key's
value is returned once. Large batches are validated whole, then written in chunks (see `Store`).
"""

from __future__ import annotations

from fastapi import APIRouter

from tollgate.control.deps import StoreDep
from tollgate.control.routes.resources import selector_of
from tollgate.control.schemas import ApplyItem, ApplyRequest, ApplyResponse
from tollgate.control.strings import reject_nul
from tollgate.errors import ResourceValidationError, raise_validation_errors
from tollgate.resources.loader import parse_document
from tollgate.resources.models import Resource

router = APIRouter(tags=["apply"])


@router.post("/apply")
def apply_documents(store: StoreDep, body: ApplyRequest) -> ApplyResponse:
    """Validate every document (422 lists each bad one), then apply them; with `gateway`, deploy the
    providers and proxies there; with `redeploy`, changed ones are redeployed where live. With
    `dryRun`, nothing is written and each result has the `before` and `after` documents. With `prune`
    and a `selector`, stored resources of that set that the batch no longer names are deleted."""
    docs: list[Resource] = []
    errors: list[ResourceValidationError] = []
    for index, raw in enumerate(body.documents, start=1):
        try:
            reject_nul(raw, f"document {index}")
            docs.append(parse_document(raw, f"document {index}"))
        except ResourceValidationError as exc:
            errors.extend(getattr(exc, "errors", [exc]))
    selector = selector_of(body.selector) if body.prune else None
    if body.prune and (selector is None or selector.is_empty):
        errors.append(ResourceValidationError("request body", "selector", "prune needs a non-empty label selector"))
    raise_validation_errors(errors)
    report = store.apply_documents(
        docs,
        gateway=body.gateway or "default",
        deploy=body.gateway is not None,
        redeploy=body.redeploy,
        create_gateway=body.create_gateway,
        prune=selector,
        dry_run=body.dry_run,
    )
    return ApplyResponse(
        results=[
            ApplyItem(
                kind=r.kind,
                name=r.name,
                outcome=r.outcome,
                target=r.target,
                key=r.key_value,
                resource_version=r.resource_version,
                before=r.before,
                after=r.after,
            )
            for r in report.results
        ]
    )

"""Bulk apply: the same documents as the YAML files, in one transaction, idempotent.

Each result says created / changed / unchanged; a newly generated API key's value is returned once.
"""

from __future__ import annotations

from fastapi import APIRouter

from tollgate.control.deps import StoreDep
from tollgate.control.schemas import ApplyItem, ApplyRequest, ApplyResponse
from tollgate.control.strings import reject_nul
from tollgate.errors import ResourceValidationError, raise_validation_errors
from tollgate.resources.loader import parse_document
from tollgate.resources.models import Resource

router = APIRouter(tags=["apply"])


@router.post("/apply")
def apply_documents(store: StoreDep, body: ApplyRequest) -> ApplyResponse:
    """Validate every document (422 lists each bad one), then apply all or none; with `gateway`,
    deploy the providers and proxies there; with `redeploy`, changed ones are redeployed where live."""
    docs: list[Resource] = []
    errors: list[ResourceValidationError] = []
    for index, raw in enumerate(body.documents, start=1):
        try:
            reject_nul(raw, f"document {index}")
            docs.append(parse_document(raw, f"document {index}"))
        except ResourceValidationError as exc:
            errors.extend(getattr(exc, "errors", [exc]))
    raise_validation_errors(errors)
    report = store.apply_documents(
        docs, gateway=body.gateway or "default", deploy=body.gateway is not None, redeploy=body.redeploy
    )
    return ApplyResponse(
        results=[
            ApplyItem(kind=r.kind, name=r.name, outcome=r.outcome, target=r.target, key=r.key_value)
            for r in report.results
        ]
    )

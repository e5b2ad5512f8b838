"""One apply request, start to end: parse the documents, apply them, record the audit entries.

Shared by the synchronous `POST /apply` and apply jobs (`control.jobs`), and blocking: it runs in a
worker thread. It records its own audit entries (the hook in `control.audit` leaves /apply alone):
a job finishes after its request, and a large apply's before/after reads and comparisons belong off
the event loop. If a large apply fails after some of its chunks were committed, what those chunks
changed is still recorded before the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tollgate.control.audit import changes, plan
from tollgate.control.permissions import API_PREFIX
from tollgate.control.routes.resources import selector_of
from tollgate.control.schemas import ApplyItem, ApplyRequest, ApplyResponse
from tollgate.control.strings import reject_nul
from tollgate.errors import ResourceValidationError, raise_validation_errors
from tollgate.resources.loader import parse_document
from tollgate.resources.models import Resource
from tollgate.resources.selectors import Selector
from tollgate.store import Store
from tollgate.store.audit_log import Actor
from tollgate.store.records import ApplyReport

APPLY_PATH = f"{API_PREFIX}/apply"
#: progress(done, total): documents committed so far, of the batch.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ApplyCall:
    """What was asked (`raw` is the decoded body, for the audit plan) and by whom."""

    request: ApplyRequest
    raw: Mapping[str, Any]
    actor: Actor


def parse_documents(request: ApplyRequest) -> tuple[list[Resource], Selector | None]:
    """The documents as resources and the prune selector; one 422 naming every bad document."""
    docs: list[Resource] = []
    errors: list[ResourceValidationError] = []
    for index, raw in enumerate(request.documents, start=1):
        try:
            reject_nul(raw, f"document {index}")
            docs.append(parse_document(raw, f"document {index}"))
        except ResourceValidationError as exc:
            errors.extend(getattr(exc, "errors", [exc]))
    selector = selector_of(request.selector) if request.prune else None
    if request.prune and (selector is None or selector.is_empty):
        errors.append(ResourceValidationError("request body", "selector", "prune needs a non-empty label selector"))
    raise_validation_errors(errors)
    return docs, selector


def run_apply(store: Store, call: ApplyCall, progress: Progress | None = None) -> ApplyResponse:
    """Apply `call` and record what it changed; raises the store's errors (422, 404, 409) unchanged."""
    request = call.request
    docs, selector = parse_documents(request)

    def apply(report_progress: Progress | None) -> ApplyReport:
        return store.apply_documents(
            docs,
            gateway=request.gateway or "default",
            deploy=request.gateway is not None,
            redeploy=request.redeploy,
            create_gateway=request.create_gateway,
            prune=selector,
            dry_run=request.dry_run,
            progress=report_progress,
        )

    if request.dry_run:
        return _response(apply(progress))
    found = plan("POST", APPLY_PATH, {}, call.raw)
    assert found is not None  # /apply is always planned
    before = store.audit.snapshot(found.selectors)
    committed = 0

    def counted(done: int, total: int) -> None:
        nonlocal committed
        committed = done
        if progress is not None:
            progress(done, total)

    def record() -> None:
        after = store.audit.snapshot(found.selectors)
        store.audit.append(call.actor, "POST", APPLY_PATH, changes(found, before, after))

    try:
        report = apply(counted)
    except Exception:
        if committed:
            record()
        raise
    record()
    return _response(report)


def _response(report: ApplyReport) -> ApplyResponse:
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

"""Bulk apply: the same documents as the YAML files, idempotent; also dry runs (diff) and prune.

Each result says created / changed / unchanged (or deleted, for a prune); a newly generated API key's
value is returned once. Large batches are validated whole, then written in chunks (see `Store`).
With `async=true` the apply runs as a job (`control.jobs`): 202 at once, progress at /jobs/{id}.

The body is decoded once (`control.body`) and validated, applied and answered in worker threads: a
10,000-document body parsed and serialised on the event loop stalled every other request for seconds.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from tollgate.control.apply_run import ApplyCall, run_apply
from tollgate.control.auth import PrincipalDep
from tollgate.control.body import json_body, require_json
from tollgate.control.deps import StoreDep
from tollgate.control.permissions import API_PREFIX
from tollgate.control.routes.jobs import job_info, owner_of
from tollgate.control.schemas import ApplyRequest, ApplyResponse, JobInfo
from tollgate.store import Store

router = APIRouter(tags=["apply"])

#: The body's schema, under its own name in the OpenAPI components (`control.app` adds it there): the
#: route reads the body itself, so FastAPI does not see it as a parameter.
BODY_SCHEMAS = {
    "ApplyRequest": ApplyRequest.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
}
_BODY_REF = {"$ref": "#/components/schemas/ApplyRequest"}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobInfo,
        "description": "With `async=true`: the job, queued. Follow `Location` (GET /api/v1/jobs/{id}) until "
        "`state` is succeeded or failed.",
        "headers": {"Location": {"description": "The job's URL.", "schema": {"type": "string"}}},
    }
}
AsyncParam = Annotated[
    bool,
    Query(
        alias="async",
        description="Run as a job: answer 202 with the job at once instead of waiting (for large batches; "
        "`tollgate apply` does this and prints progress).",
    ),
]


def _validated(raw: object) -> ApplyRequest:
    try:
        return ApplyRequest.model_validate(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        raise RequestValidationError(errors, body=raw) from None


def _apply_json(store: Store, call: ApplyCall) -> bytes:
    return run_apply(store, call).model_dump_json(by_alias=True).encode()


@router.post(
    "/apply",
    response_model=ApplyResponse,
    responses=_ACCEPTED,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_REF}}}},
)
async def apply_documents(
    request: Request, store: StoreDep, principal: PrincipalDep, run_async: AsyncParam = False
) -> Response:
    """Validate every document (422 lists each bad one), then apply them; with `gateway`, deploy the
    providers and proxies there; with `redeploy`, changed ones are redeployed where live. With
    `dryRun`, nothing is written and each result has the `before` and `after` documents. With `prune`
    and a `selector`, stored resources of that set that the batch no longer names are deleted."""
    raw = require_json(request, await json_body(request))
    body = await run_in_threadpool(_validated, raw)
    assert isinstance(raw, dict)  # validated as an object
    call = ApplyCall(body, raw, principal.actor)
    if run_async:
        jobs = request.app.state.jobs
        job = jobs.submit(owner_of(principal), principal.name, len(body.documents), partial(run_apply, store, call))
        location = f"{API_PREFIX}/jobs/{job.id}"
        info = job_info(job, with_result=False).model_dump(mode="json", by_alias=True)
        return JSONResponse(info, status_code=202, headers={"Location": location})
    return Response(await run_in_threadpool(_apply_json, store, call), media_type="application/json")

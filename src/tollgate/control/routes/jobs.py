"""Apply jobs: their state, progress, and result or error (see `control.jobs`). A caller sees only their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from tollgate.control.auth import Principal, PrincipalDep
from tollgate.control.jobs import Job, JobRegistry
from tollgate.control.schemas import ErrorBody, JobInfo

router = APIRouter(tags=["jobs"])

JobIdParam = Annotated[str, Path(pattern=r"^job_[0-9a-f]{16}$", description="The id POST /apply?async=true gave.")]


def owner_of(principal: Principal) -> str:
    """Who a job belongs to: the user (any of their tokens), or the environment token."""
    return principal.user_id or f"token:{principal.token_id}"


def job_info(job: Job, *, with_result: bool = True) -> JobInfo:
    return JobInfo(
        id=job.id,
        state=job.state,
        done=job.done,
        total=job.total,
        user=job.user,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        result=job.result if with_result else None,
        error=ErrorBody.model_validate(job.error) if job.error is not None else None,
    )


def _registry(request: Request) -> JobRegistry:
    registry: JobRegistry = request.app.state.jobs
    return registry


@router.get("/jobs/{job_id}")
def get_job(job_id: JobIdParam, request: Request, principal: PrincipalDep) -> JobInfo:
    """An apply job of yours: `state`, `done` of `total` documents, then `result` or `error`. 404 for a job
    of someone else, one that finished over an hour ago, or one another node (or a restart) holds."""
    return job_info(_registry(request).get(job_id, owner_of(principal)))


@router.get("/jobs")
def list_jobs(request: Request, principal: PrincipalDep) -> list[JobInfo]:
    """Your apply jobs on this node, newest first (without results: read a job for its result)."""
    return [job_info(job, with_result=False) for job in _registry(request).of(owner_of(principal))]

"""Apply jobs: a large apply accepted with 202 and run in the background, its progress readable.

`POST /apply?async=true` answers at once with a job; the work (`apply_run.run_apply`) runs on one
worker thread, jobs in arrival order (they would queue on the store's write lock anyway), and
`GET /jobs/{id}` reports state, documents done of total, then the result or the error (with one
entry per bad document for a 422).

Jobs live in the memory of the node that accepted them, not in the store: the work itself is a
thread of that process, so a stored record could only ever say "interrupted" after a restart, and
progress written to the database after every chunk would contend with the writers the chunks make
room for. So: poll the node you posted to (behind a load balancer, use sticky sessions or address
one node), and a restart loses the record (what was committed stays, and is in the audit log).
Finished jobs are kept `KEEP_SECONDS`, at most `MAX_KEPT` of them. Only the caller who submitted a
job (same user, or the environment token) can read it: its result can hold new API key values.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tollgate.control.errors import error_body
from tollgate.control.schemas import ApplyResponse
from tollgate.errors import ResourceNotFoundError
from tollgate.gcpause import full_collections_paused

log = logging.getLogger("tollgate.control")

JobState = Literal["queued", "running", "succeeded", "failed"]
#: Finished jobs are forgotten after this many seconds, oldest first beyond `MAX_KEPT`.
KEEP_SECONDS = 3600
MAX_KEPT = 200
#: work(progress) -> result; progress(done, total).
Work = Callable[[Callable[[int, int], None]], ApplyResponse]


@dataclass(slots=True)
class Job:
    """One apply job. Mutated only by the worker thread (under the registry's lock for reads to agree)."""

    id: str
    owner: str
    user: str
    total: int
    work: Work | None
    state: JobState = "queued"
    done: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: ApplyResponse | None = None
    error: dict[str, Any] | None = None
    finished_clock: float = 0.0


class JobRegistry:
    """The node's apply jobs, run one at a time on a daemon worker thread started on first use."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, max_kept: int = MAX_KEPT) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._keep = keep_seconds
        self._max_kept = max_kept

    def submit(self, owner: str, user: str, total: int, work: Work) -> Job:
        """Queue `work` as a job of `owner` (a stable caller id) and return it (state "queued")."""
        job = Job(id=f"job_{secrets.token_hex(8)}", owner=owner, user=user, total=total, work=work)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
            if self._worker is None:
                self._worker = threading.Thread(target=self._run_forever, name="tollgate-apply-jobs", daemon=True)
                self._worker.start()
        self._queue.put(job)
        return job

    def get(self, job_id: str, owner: str) -> Job:
        """The job, if `owner` submitted it (ResourceNotFoundError otherwise: others' jobs do not exist)."""
        with self._lock:
            self._forget_old()
            job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise ResourceNotFoundError(
                f"no job {job_id!r} of yours on this node (jobs are kept in the node that accepted them, "
                f"for {self._keep // 60:.0f} minutes after they finish)"
            )
        return job

    def of(self, owner: str) -> list[Job]:
        """`owner`'s jobs, newest first."""
        with self._lock:
            self._forget_old()
            mine = [j for j in self._jobs.values() if j.owner == owner]
        return sorted(mine, key=lambda j: j.created_at, reverse=True)

    def _forget_old(self) -> None:
        now = time.monotonic()
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        finished.sort(key=lambda j: j.finished_clock)
        excess = len(finished) - self._max_kept
        for index, job in enumerate(finished):
            if index < excess or now - job.finished_clock > self._keep:
                del self._jobs[job.id]

    def _run_forever(self) -> None:
        while True:
            self._run(self._queue.get())

    def _run(self, job: Job) -> None:
        work, job.work = job.work, None  # drop the documents once the job has them
        assert work is not None

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        job.started_at = datetime.now(UTC)
        job.state = "running"
        try:
            with full_collections_paused():
                result = work(progress)
        except Exception as exc:  # the job's outcome is the API's answer to this error, not a crash
            job.error = error_body(exc)[1]
            job.state = "failed"
        else:
            job.result = result
            job.done = job.total
            job.state = "succeeded"
        job.finished_at = datetime.now(UTC)
        job.finished_clock = time.monotonic()

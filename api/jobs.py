"""Reindex jobs run in a background thread of this process, with progress you can poll.

Jobs live in memory: a job id is answered by the worker that started it. The reindex itself
is safe across processes (its file lock makes a second concurrent run fail with
`reindex_in_progress`, and a server follows a switched version by itself), so with several
workers, poll the one you started the job on or check the live version with `GET /readyz`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from assistant.errors import AssistantError, Conflict, NotFound
from knowledge.reindex import Reindexer

__all__ = ["Job", "JobRegistry"]

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed"]
_KEEP_FINISHED = 50


@dataclass
class Job:
    job_id: str
    full: bool
    check_only: bool
    status: JobStatus = "queued"
    stage: str = "queued"
    done: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobRegistry:
    def __init__(self, reindexer: Reindexer) -> None:
        self.reindexer = reindexer
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, *, full: bool, check_only: bool) -> Job:
        with self._lock:
            if any(j.status in ("queued", "running") for j in self._jobs.values()):
                raise Conflict(
                    "a reindex is already running; poll its job and try again when it has finished",
                    code="reindex_in_progress",
                )
            job = Job(job_id="j_" + uuid.uuid4().hex[:16], full=full, check_only=check_only)
            self._jobs[job.job_id] = job
            self._forget_old()
            thread = threading.Thread(
                target=self._run, args=(job,), name=f"reindex-{job.job_id}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFound(f"no reindex job {job_id!r} in this process", code="not_found")
            return Job(**job.__dict__)  # a copy: the thread keeps writing the original

    def _run(self, job: Job) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            with self._lock:
                job.stage, job.done, job.total = stage, done, total

        with self._lock:
            job.status = "running"
            job.started_at = datetime.now(UTC)
        try:
            report = self.reindexer.run(full=job.full, check_only=job.check_only, progress=progress)
        except AssistantError as exc:  # another process holds the reindex lock
            outcome: tuple[JobStatus, dict[str, Any] | None, str | None] = (
                "failed",
                None,
                f"{exc.code}: {exc.detail}",
            )
        except Exception as exc:
            log.exception("reindex job %s failed", job.job_id)
            outcome = ("failed", None, f"{type(exc).__name__}: the reindex failed; see the log")
        else:
            data = report.to_dict()
            outcome = (
                "failed" if report.failed else "succeeded",
                data,
                report.message if report.failed else None,
            )
        with self._lock:
            job.status, job.report, job.error = outcome
            job.finished_at = datetime.now(UTC)

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        for job in sorted(finished, key=lambda j: j.created_at)[:-_KEEP_FINISHED]:
            del self._jobs[job.job_id]

    def join(self, timeout_s: float) -> None:
        for thread in list(self._threads):
            thread.join(timeout=timeout_s)

"""In-memory stand-ins for the worker's AWS side, to time the worker's own CPU.

:class:`InMemoryJobStore` is a fake of our own :class:`~offpath.store.JobStore`
Protocol (not of boto3): the same transitions and conditions as
:class:`~offpath.store.DynamoDBJobStore`, in a dict. :class:`StubSqs` answers the
two SQS calls the worker makes itself (ChangeMessageVisibility and the DLQ's
SendMessage) and counts them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

from offpath.errors import JobNotCancellable, JobNotFound
from offpath.store import (
    FINAL_STATUSES,
    MAX_RESULT_BYTES,
    Claim,
    ClaimKind,
    Job,
    JobError,
    JobStatus,
    NewJob,
    utcnow,
)

_WAITING = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.FAILED})


class InMemoryJobStore:
    """:class:`~offpath.store.JobStore` in a dict (benchmarks only)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    def create(self, job: NewJob) -> Job | None:
        if job.job_id in self.jobs:
            return self.jobs[job.job_id]
        now = utcnow()
        self.jobs[job.job_id] = Job(
            job_id=job.job_id,
            task=job.task,
            status=job.status,
            attempts=0,
            created_at=now,
            updated_at=now,
            correlation_id=job.correlation_id,
            args_sha256=job.args_sha256,
        )
        return None

    def claim(
        self, job_id: str, task: str, lease_s: float, *, max_attempts: int | None = None
    ) -> Claim:
        now = utcnow()
        held = self.jobs.get(job_id)
        if held is not None and held.status in FINAL_STATUSES:
            return Claim(ClaimKind.DONE, held.attempts, held.status)
        lease_live = held is not None and held.lease_until is not None and held.lease_until > now
        if held is not None and held.status not in _WAITING and lease_live:
            return Claim(ClaimKind.BUSY, held.attempts, held.status, held.lease_until)
        attempts = (held.attempts if held else 0) + 1
        self.jobs[job_id] = Job(
            job_id=job_id,
            task=task,
            status=JobStatus.RUNNING,
            attempts=attempts,
            created_at=held.created_at if held else now,
            updated_at=now,
            started_at=now,
            lease_until=now + timedelta(seconds=lease_s),
        )
        return Claim(ClaimKind.CLAIMED, attempts, JobStatus.RUNNING)

    def succeed(self, job_id: str, attempt: int, result: Any) -> bool:
        # The real store's client-side work: the result encoded once, size-checked.
        encoded = json.dumps(result, default=str, separators=(",", ":"))
        if len(encoded.encode()) > MAX_RESULT_BYTES:
            encoded = json.dumps({"truncated": True})
        return self._finish(job_id, attempt, JobStatus.SUCCEEDED, result=json.loads(encoded))

    def fail(self, job_id: str, attempt: int, error: JobError, retry_in_s: int) -> bool:
        return self._finish(job_id, attempt, JobStatus.FAILED, last_error=error)

    def bury(
        self, job_id: str, error: JobError, attempt: int | None = None, reason: str = ""
    ) -> bool:
        held = self.jobs.get(job_id)
        if held is None:
            return False
        if held.status is JobStatus.DEAD and held.dead_letter_pending:
            return True  # a repeat of this bury (as DynamoDBJobStore.bury)
        changes = {"last_error": error, "dead_reason": reason or "-", "dead_letter_pending": True}
        return self._finish(job_id, attempt, JobStatus.DEAD, **changes)

    def dead_letter_sent(self, job_id: str) -> bool:
        held = self.jobs.get(job_id)
        if held is None or held.status is not JobStatus.DEAD:
            return False
        self.jobs[job_id] = replace(held, dead_letter_pending=False)
        return True

    def _finish(self, job_id: str, attempt: int | None, status: JobStatus, **changes: Any) -> bool:
        held = self.jobs.get(job_id)
        if held is None:
            return False
        if attempt is not None and (held.status != JobStatus.RUNNING or held.attempts != attempt):
            return False  # the same condition as DynamoDBJobStore._finish
        now = utcnow()
        finished = now if status in FINAL_STATUSES else None
        self.jobs[job_id] = replace(
            held, status=status, updated_at=now, finished_at=finished, lease_until=None, **changes
        )
        return True

    def get(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None

    def cancel(self, job_id: str) -> Job:
        held = self.get(job_id)
        if held.status is JobStatus.RUNNING:
            self.jobs[job_id] = replace(held, cancel_requested_at=utcnow())
            return self.jobs[job_id]
        if held.status not in _WAITING:
            raise JobNotCancellable(held)
        self.jobs[job_id] = replace(held, status=JobStatus.CANCELLED, finished_at=utcnow())
        return self.jobs[job_id]

    def finish_cancelled(self, job_id: str, attempt: int) -> bool:
        return self._finish(job_id, attempt, JobStatus.CANCELLED)

    def record_progress(self, job_id: str, attempt: int, fraction: float, note: str) -> bool | None:
        held = self.jobs.get(job_id)
        if held is None or held.status != JobStatus.RUNNING or held.attempts != attempt:
            return None
        self.jobs[job_id] = replace(held, progress=fraction, progress_note=note)
        return held.cancel_requested_at is not None

    def cancel_requested(self, job_id: str) -> bool:
        held = self.jobs.get(job_id)
        return held is not None and (
            held.cancel_requested_at is not None or held.status is JobStatus.CANCELLED
        )

    def requeue(self, job_id: str) -> bool:
        held = self.jobs.get(job_id)
        if held is None or held.status not in (JobStatus.DEAD, JobStatus.FAILED):
            return False
        self.jobs[job_id] = replace(
            held,
            status=JobStatus.QUEUED,
            attempts=0,
            updated_at=utcnow(),
            finished_at=None,
            lease_until=None,
        )
        return True

    def delete(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)


class StubSqs:
    """The SQS calls the worker makes itself, answered at once and counted."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def change_message_visibility(self, **params: Any) -> dict[str, Any]:
        self.calls["ChangeMessageVisibility"] += 1
        return {}

    def send_message(self, **params: Any) -> dict[str, Any]:
        self.calls["SendMessage"] += 1
        return {"MessageId": f"stub-{self.calls['SendMessage']}"}

"""The job endpoints' bodies, and the error bodies: what the OpenAPI document promises."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from offpath.producer import MAX_DELAY_S, MAX_SCHEDULE_S
from offpath.store import Job, JobStatus


class ErrorBody(BaseModel):
    """Every 4xx other than 422, and every 5xx: FastAPI's ``{"detail": ...}``."""

    detail: str = Field(description="What went wrong, in words.")


class FieldError(BaseModel):
    """One problem with the request, located like FastAPI's own validation errors."""

    loc: list[str | int] = Field(
        description='Where: ["body", "args", "user_id"], ["header", "Idempotency-Key"], ...'
    )
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="A stable error code, e.g. greater_than, unknown_task.")


class ValidationErrorBody(BaseModel):
    """A 422: the request is well formed HTTP but its content is not acceptable."""

    detail: list[FieldError]


class JobAccepted(BaseModel):
    """The handle of an enqueued job (202)."""

    job_id: str = Field(description="The job's id; the same idempotency key gives the same id.")
    status: JobStatus = Field(
        description='"queued" for a new job; for a repeated idempotency key, the job\'s status '
        'now; "scheduled" for a delay over 15 minutes.'
    )
    status_url: str | None = Field(
        description="Absolute path of the job's status (GET .../jobs/{job_id}) under the "
        "API's stage or base path; also sent as the Location header. Null when the API "
        "mounts no job endpoints."
    )
    durable: bool = Field(
        description="False for fire-and-forget tasks: no status record is kept, so "
        "status_url answers 404."
    )
    duplicate: bool = Field(
        description="True when an earlier request with the same key already created the job."
    )


def _text_instant(value: Any) -> Any:
    # Lax pydantic would read a number as a Unix time; the document promises an ISO
    # 8601 string, so that is all that is accepted.
    if not isinstance(value, str | datetime):
        raise ValueError("run_at must be an ISO 8601 date-time string with an offset")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_text_instant)]


class JobSubmission(BaseModel):
    """POST .../jobs: any registered task, by name."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, max_length=256, examples=["resize_image"])
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="The task's arguments by name, checked against its signature.",
        examples=[{"image_id": "img-1", "width": 640}],
    )
    delay_seconds: int = Field(
        default=0,
        strict=True,  # a JSON integer: lax mode would take `true` for 1
        ge=0,
        le=MAX_SCHEDULE_S,
        description=f"Start no sooner than this. Up to {MAX_DELAY_S} s it is an SQS delay; "
        "beyond, a one-off EventBridge Scheduler schedule (durable tasks only; the job "
        "shows `scheduled` with its `due_at`).",
    )
    run_at: Instant | None = Field(
        default=None,
        description="Start at this instant instead (ISO 8601 with an offset); excludes "
        "delay_seconds. Within 15 minutes it is an SQS delay, beyond a one-off schedule.",
        examples=["2026-06-01T08:00:00+02:00"],
    )

    callback_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="POST a signed webhook (Standard Webhooks) here when the job ends "
        "(succeeded, dead or cancelled). HTTPS, a public address and, if the stack has "
        "an allow-list, one of its hosts; anything else is a 422. Durable tasks only.",
        examples=["https://example.com/hooks/jobs"],
    )

    @model_validator(mode="after")
    def _one_start(self) -> JobSubmission:
        # Present together is refused whatever the values, as the document says.
        if {"run_at", "delay_seconds"} <= self.model_fields_set:
            raise ValueError("give delay_seconds or run_at, not both")
        return self


class JobErrorView(BaseModel):
    type: str = Field(description="The exception's class name.")
    message: str


class JobView(BaseModel):
    """A durable job's record."""

    job_id: str
    task: str
    status: JobStatus
    attempts: int = Field(description="Attempts started so far.")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    due_at: datetime | None = Field(description="When a scheduled job is due, if it is.")
    result: Any = Field(description="The task's return value (JSON) once it succeeded.")
    last_error: JobErrorView | None
    correlation_id: str | None
    progress: float | None = Field(
        description="How far the task said it is, 0.0 to 1.0 (JobContext.progress)."
    )
    progress_note: str | None = Field(description="The task's note with it.")
    progress_at: datetime | None
    cancel_requested_at: datetime | None = Field(
        description="When DELETE asked a running job to stop; it ends `cancelled` when "
        "its task next checks.",
    )

    @classmethod
    def from_job(cls, job: Job) -> JobView:
        error = job.last_error
        return cls(
            job_id=job.job_id,
            task=job.task,
            status=job.status,
            attempts=job.attempts,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            due_at=job.due_at,
            result=job.result,
            last_error=JobErrorView(type=error.type, message=error.message) if error else None,
            correlation_id=job.correlation_id,
            progress=job.progress,
            progress_note=job.progress_note,
            progress_at=job.progress_at,
            cancel_requested_at=job.cancel_requested_at,
        )

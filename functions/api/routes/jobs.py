"""POST /jobs (any task, by name) and GET /jobs/{job_id} (a job's status)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response

from functions.api.deps import JobQueueDep, ProducerDep, StoreDep
from functions.api.errors import arguments_error, field_error
from functions.api.responses import ACCEPTED, accepted, error_responses
from functions.api.schemas import JobAccepted, JobSubmission, JobView
from offpath.envelope import JOB_ID_PATTERN
from offpath.errors import InvalidArguments, JobNotCancellable, JobNotFound, UnknownTask
from offpath.producer import MAX_DELAY_S, job_id_for_key
from offpath.tasks import Task, TaskRegistry

router = APIRouter(prefix="/jobs", tags=["jobs"])

# A key sent to POST /jobs names one request, whatever its task: the job id comes
# from the key alone, so reusing it for another task meets the first job and is a
# 409, not a second job. (The producer's default scopes keys per task.)
IDEMPOTENCY_SCOPE = "POST /jobs"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="Makes retries safe: the same key gives the same job (202 with its "
        "current status) and never a second message; a repeat's delay_seconds is "
        "ignored. Reusing it for another task or other arguments is a 409. Durable "
        "tasks only.",
    ),
]
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="The id from the 202.")]


@router.post(
    "",
    status_code=202,
    summary="Enqueue any registered task",
    description="Internal: behind API Gateway this route requires SigV4 (AWS_IAM). "
    "Arguments are checked against the task's signature before anything is sent. "
    "Fire-and-forget tasks are accepted with a job id and status `queued`, but they "
    "keep no record: their `status_url` answers 404 (`durable` is false).",
    responses={**ACCEPTED, **error_responses(409, 413, 422, 503)},
)
async def submit_job(
    body: JobSubmission,
    queue: JobQueueDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    task = _task_named(queue.registry, body.task)
    job_id = None
    if idempotency_key is not None:
        if not task.options.durable:
            raise field_error(
                ("header", "Idempotency-Key"),
                f"{task.name} is fire-and-forget and keeps no record to deduplicate on",
                "idempotency_unsupported",
            )
        job_id = job_id_for_key(IDEMPOTENCY_SCOPE, idempotency_key)
    long_delay = body.delay_seconds > MAX_DELAY_S or (
        body.run_at is not None and (body.run_at - datetime.now(UTC)).total_seconds() > MAX_DELAY_S
    )
    if long_delay and not task.options.durable:
        raise field_error(
            ("body", "delay_seconds" if body.delay_seconds else "run_at"),
            f"{task.name} is fire-and-forget; delays over {MAX_DELAY_S} s need a durable task",
            "delay_unsupported",
        )
    try:
        queue.add(
            task,
            body.args,
            delay_s=body.delay_seconds,
            run_at=body.run_at,
            idempotency_key=idempotency_key,
            job_id=job_id,
        )
    except InvalidArguments as exc:
        raise arguments_error(exc, ("body", "args")) from exc
    (job,) = await queue.flush()
    return accepted(request, response, job)


@router.get(
    "/{job_id}",
    name="get_job",
    summary="A durable job's status",
    description="Fire-and-forget jobs keep no record: their ids answer 404.",
    responses=error_responses(404, 422),
)
def get_job(job_id: JobId, store: StoreDep) -> JobView:
    # A plain `def`: FastAPI runs it in a worker thread, since boto3 blocks.
    try:
        job = store.get(job_id)
    except JobNotFound:
        raise HTTPException(404, f"no job {job_id} (fire-and-forget jobs keep no record)") from None
    return JobView.from_job(job)


@router.delete(
    "/{job_id}",
    summary="Cancel a job that has not started",
    description="Internal: behind API Gateway this route requires SigV4 (AWS_IAM). A "
    "scheduled or queued job becomes `cancelled` and its one-off schedule, if any, is "
    "deleted; a message that still arrives is acknowledged without running. A job "
    "that started or finished answers 409.",
    responses=error_responses(404, 409, 422, 503),
)
def cancel_job(job_id: JobId, producer: ProducerDep) -> JobView:
    try:
        job = producer.cancel(job_id)
    except JobNotFound:
        raise HTTPException(404, f"no job {job_id} (fire-and-forget jobs keep no record)") from None
    except JobNotCancellable as exc:
        raise HTTPException(409, str(exc)) from None
    return JobView.from_job(job)


def _task_named(tasks: TaskRegistry, name: str) -> Task[Any, Any]:
    try:
        return tasks.get(name)
    except UnknownTask as exc:  # the client named it: its mistake, not ours
        raise field_error(("body", "task"), str(exc), "unknown_task") from exc

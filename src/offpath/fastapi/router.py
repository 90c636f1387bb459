"""The generic job endpoints, mounted under a prefix of the app's choosing.

- ``POST {prefix}`` enqueues any registered task by name (its OpenAPI body lists
  each task with its own arguments);
- ``GET {prefix}/{job_id}`` reads a durable job's record;
- ``DELETE {prefix}/{job_id}`` cancels a job (a running one is asked to stop).

POST and DELETE let a caller run any task: put them behind your API's auth (the
example's template requires SigV4 for them with ``Auth: Authorizer: AWS_IAM``).

Example:
    >>> app.include_router(jobs_router(), prefix="/internal/jobs")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response

from offpath.envelope import JOB_ID_PATTERN
from offpath.errors import (
    InvalidArguments,
    InvalidJobRequest,
    JobNotCancellable,
    JobNotFound,
    UnknownTask,
)
from offpath.fastapi.deps import JobQueueDep, ProducerDep, StoreDep
from offpath.fastapi.errors import arguments_error, field_error, job_request_error
from offpath.fastapi.openapi import SUBMIT_MARK
from offpath.fastapi.responses import ACCEPTED, GET_JOB_ROUTE, accepted, error_responses
from offpath.fastapi.schemas import JobAccepted, JobSubmission, JobView
from offpath.fastapi.waiting import MAX_WAIT_S, wait_for_change
from offpath.producer import job_id_for_key
from offpath.store import JobStatus
from offpath.tasks import Task, TaskRegistry

# A key sent to the POST names one request, whatever its task: the job id comes from
# the key alone, so reusing it for another task meets the first job and is a 409,
# not a second job. (The producer's default scopes keys per task.) Fixed, not the
# prefix: moving the endpoints must not change the ids keys map to.
IDEMPOTENCY_SCOPE = "POST /jobs"

# Where the parts of a submission land in a JobRequest, for the 422's `loc`.
_LOCATIONS = {
    "delay_s": ("body", "delay_seconds"),
    "run_at": ("body", "run_at"),
    "idempotency_key": ("header", "Idempotency-Key"),
    "callback_url": ("body", "callback_url"),
}

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


def jobs_router(*, tags: Sequence[str] = ("jobs",), cancel: bool = True) -> APIRouter:
    """A router with the job endpoints; include it with the prefix you want.

    Args:
        tags: the OpenAPI tags of its operations.
        cancel: serve ``DELETE {prefix}/{job_id}`` too.
    """
    router = APIRouter(tags=list(tags))
    router.add_api_route(
        "",
        submit_job,
        methods=["POST"],
        openapi_extra=SUBMIT_MARK,
        name="offpath_submit_job",
        status_code=202,
        summary="Enqueue any registered task",
        description="Arguments are checked against the task's signature before anything "
        "is sent. Fire-and-forget tasks are accepted with a job id and status `queued`, "
        "but they keep no record: their `status_url` answers 404 (`durable` is false).",
        responses={**ACCEPTED, **error_responses(409, 413, 422, 503)},
    )
    router.add_api_route(
        "/{job_id}",
        get_job,
        methods=["GET"],
        name=GET_JOB_ROUTE,
        summary="A durable job's status",
        description="Fire-and-forget jobs keep no record: their ids answer 404. With "
        f"`wait_s` (up to {MAX_WAIT_S}), the answer waits until the status changes or "
        "`wait_s` passes, whichever is first, and never past the API function's own "
        "time left: one request instead of a polling loop.",
        responses=error_responses(404, 422),
    )
    if cancel:
        router.add_api_route(
            "/{job_id}",
            cancel_job,
            methods=["DELETE"],
            name="offpath_cancel_job",
            summary="Cancel a job",
            description="A scheduled, queued or failed (awaiting its retry) job becomes "
            "`cancelled` (200) and its one-off schedule, if any, is deleted; a message "
            "that still arrives is acknowledged without running. A running job is asked "
            "to stop (202, still `running` with `cancel_requested_at`): its task sees it "
            "through `JobContext.cancelled()` and the job ends `cancelled`; a task that "
            "never checks finishes as it would have. A finished job answers 409.",
            responses={
                202: {"model": JobView, "description": "Running: asked to stop."},
                **error_responses(404, 409, 422, 503),
            },
        )
    return router


async def submit_job(
    body: JobSubmission,
    jobs: JobQueueDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    task = _task_named(jobs.registry, body.task)
    job_id = None
    if idempotency_key is not None and task.options.durable:
        job_id = job_id_for_key(IDEMPOTENCY_SCOPE, idempotency_key)
    try:
        jobs.add(
            task,
            body.args,
            delay_s=body.delay_seconds,
            run_at=body.run_at,
            idempotency_key=idempotency_key,
            job_id=job_id,
            callback_url=body.callback_url,
        )
        (job,) = await jobs.flush()
    except InvalidArguments as exc:
        raise arguments_error(exc, ("body", "args")) from exc
    except InvalidJobRequest as exc:
        raise job_request_error(exc, _LOCATIONS.get(exc.field, ("body",))) from exc
    return accepted(request, response, job)


WaitSeconds = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_WAIT_S,
        description="Wait up to this long for the status to change (0: answer now).",
    ),
]


# A plain `def`: FastAPI runs it in a worker thread, since boto3 blocks (and so may
# the wait below, without holding up the event loop).
def get_job(job_id: JobId, store: StoreDep, request: Request, wait_s: WaitSeconds = 0) -> JobView:
    try:
        job = store.get(job_id)
        if wait_s > 0:
            job = wait_for_change(store, job, _wait_budget_s(request, wait_s))
    except JobNotFound:
        raise HTTPException(404, f"no job {job_id} (fire-and-forget jobs keep no record)") from None
    return JobView.from_job(job)


def _wait_budget_s(request: Request, wait_s: float) -> float:
    """``wait_s``, cut to the Lambda invocation's time left (less a second to answer)."""
    context = request.scope.get("aws.context")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        left_s = float(remaining()) / 1000 - 1.0
        return max(0.0, min(wait_s, left_s))
    return wait_s


def cancel_job(job_id: JobId, producer: ProducerDep, response: Response) -> JobView:
    try:
        job = producer.cancel(job_id)
    except JobNotFound:
        raise HTTPException(404, f"no job {job_id} (fire-and-forget jobs keep no record)") from None
    except JobNotCancellable as exc:
        raise HTTPException(409, str(exc)) from None
    if job.status is JobStatus.RUNNING:
        response.status_code = 202  # asked to stop; it ends `cancelled` when it does
    return JobView.from_job(job)


def _task_named(tasks: TaskRegistry, name: str) -> Task[Any, Any]:
    try:
        return tasks.get(name)
    except UnknownTask as exc:  # the client named it: its mistake, not ours
        raise field_error(("body", "task"), str(exc), "unknown_task") from exc

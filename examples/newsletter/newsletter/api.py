"""The newsletter's FastAPI app: its own routes, plus offpath's, on offpath's public API."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict

from newsletter.tasks import Email, IssueId, remind, send_confirmation, send_issue
from offpath.errors import InvalidJobRequest
from offpath.fastapi import (
    ACCEPTED,
    JobAccepted,
    JobQueueDep,
    Offpath,
    accepted,
    error_responses,
    job_request_error,
    jobs_router,
)

logger = Logger(service="newsletter-api")
# Where the jobs live comes from the OFFPATH_* settings template.yaml gives the function.
offpath = Offpath(logger=logger)

app = FastAPI(title="Newsletter", version="1.0.0")
offpath.install(app)
# The generic endpoints, under a prefix of our own (SigV4 only: see template.yaml).
app.include_router(jobs_router(tags=["internal"]), prefix="/internal/jobs")


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class Issue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issue_id: IssueId
    subject: str
    send_at: AwareDatetime | None = None  # now, unless planned


@app.post(
    "/subscribers",
    status_code=202,
    responses={**ACCEPTED, **error_responses(422, 503)},
    summary="Subscribe: the confirmation email goes out in the background",
)
async def subscribe(
    body: Subscription, jobs: JobQueueDep, request: Request, response: Response
) -> JobAccepted:
    jobs.add_task(send_confirmation, body.email)
    (job,) = await jobs.flush()
    return accepted(request, response, job)


@app.post(
    "/issues",
    status_code=202,
    responses={**ACCEPTED, **error_responses(409, 422, 503)},
    summary="Send an issue now, or at send_at (a one-off schedule beyond 15 minutes)",
)
async def plan_issue(
    body: Issue, jobs: JobQueueDep, request: Request, response: Response
) -> JobAccepted:
    # One job per issue: planning it twice answers with the same job.
    jobs.add(
        send_issue,
        {"issue_id": body.issue_id, "subject": body.subject},
        run_at=body.send_at,
        idempotency_key=body.issue_id,
    )
    (job,) = await jobs.flush()
    return accepted(request, response, job)


@app.post(
    "/subscribers/{email}/reminder",
    status_code=202,
    responses={**ACCEPTED, **error_responses(422, 503)},
    summary="Remind a subscriber in a while",
)
async def plan_reminder(
    email: Annotated[str, Path(max_length=254)],
    jobs: JobQueueDep,
    request: Request,
    response: Response,
    in_minutes: Annotated[int, Query(ge=0)] = 60,
) -> JobAccepted:
    try:
        jobs.add(remind, {"email": email}, delay_s=in_minutes * 60)
    except InvalidJobRequest as exc:  # e.g. more than a year away: say which parameter
        raise job_request_error(exc, ("query", "in_minutes")) from exc
    (job,) = await jobs.flush()
    return accepted(request, response, job)

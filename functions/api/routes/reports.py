"""POST /reports: a durable job the client polls."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from functions.api.schemas import ReportRequest
from functions.shared.tasks import generate_report
from offpath.fastapi import ACCEPTED, JobAccepted, JobQueueDep, accepted, error_responses

router = APIRouter(tags=["reports"])


@router.post(
    "/reports",
    status_code=202,
    summary="Generate a monthly report in the background",
    responses={**ACCEPTED, **error_responses(413, 422, 503)},
)
async def request_report(
    body: ReportRequest, jobs: JobQueueDep, request: Request, response: Response
) -> JobAccepted:
    jobs.add_task(generate_report, body.user_id, body.month)
    (job,) = await jobs.flush()
    return accepted(request, response, job)

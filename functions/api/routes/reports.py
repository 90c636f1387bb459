"""POST /reports: a durable job the client polls."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from functions.api.deps import JobQueueDep
from functions.api.responses import ACCEPTED, accepted, error_responses
from functions.api.schemas import JobAccepted, ReportRequest
from functions.shared.tasks import generate_report

router = APIRouter(tags=["reports"])


@router.post(
    "/reports",
    status_code=202,
    summary="Generate a monthly report in the background",
    responses={**ACCEPTED, **error_responses(413, 422, 503)},
)
async def request_report(
    body: ReportRequest, queue: JobQueueDep, request: Request, response: Response
) -> JobAccepted:
    queue.add_task(generate_report, body.user_id, body.month)
    (job,) = await queue.flush()
    return accepted(request, response, job)

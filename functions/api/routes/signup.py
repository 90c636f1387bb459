"""POST /signup: answer at once, send the welcome email in the background."""

from __future__ import annotations

import secrets

from fastapi import APIRouter

from functions.api.schemas import SignupRequest, SignupResponse
from functions.shared.tasks import send_welcome_email
from offpath.fastapi import JobQueueDep, error_responses

router = APIRouter(tags=["users"])

# User ids stay below 2**53 so JavaScript clients read them exactly.
_MAX_USER_ID = 2**53 - 1


@router.post(
    "/signup",
    status_code=201,
    summary="Create a user; the welcome email follows",
    description="Creates a (simulated) user and enqueues `send_welcome_email`, a "
    "fire-and-forget task: no job record, no job id in the answer.",
    responses=error_responses(413, 422, 503),
)
async def sign_up(body: SignupRequest, jobs: JobQueueDep) -> SignupResponse:
    user_id = secrets.randbelow(_MAX_USER_ID) + 1
    # No flush here: JobQueueDep sends it after this returns, before the 201 leaves.
    jobs.add_task(send_welcome_email, body.email)
    return SignupResponse(user_id=user_id, email=body.email)

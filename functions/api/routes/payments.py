"""POST /payments/{payment_id}/charge: durable, and one job per payment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from functions.shared.tasks import charge_customer
from offpath.fastapi import ACCEPTED, JobAccepted, JobQueueDep, accepted, error_responses

router = APIRouter(tags=["payments"])

PaymentIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["pay_123"])
]


@router.post(
    "/payments/{payment_id}/charge",
    status_code=202,
    summary="Charge a payment in the background, at most once",
    description="The payment id is the idempotency key: charging the same payment "
    "again answers with the same job and its current status, and sends nothing.",
    responses={**ACCEPTED, **error_responses(422, 503)},
)
async def charge_payment(
    payment_id: PaymentIdPath, jobs: JobQueueDep, request: Request, response: Response
) -> JobAccepted:
    jobs.add(charge_customer, {"payment_id": payment_id}, idempotency_key=payment_id)
    (job,) = await jobs.flush()
    return accepted(request, response, job)

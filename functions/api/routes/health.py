"""GET /healthz: the function answers. No AWS call, so it is cheap to poll."""

from __future__ import annotations

from fastapi import APIRouter

from functions.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")

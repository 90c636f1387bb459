"""The example API: a thin producer that validates, enqueues and answers 202.

Building the app touches no AWS: clients come with the first request that needs
them (:mod:`functions.api.deps`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from functions.api.deps import request_correlation_id
from functions.api.errors import install_error_handlers
from functions.api.middleware import (
    ApiGatewayStage,
    BodyLimit,
    CorrelationId,
    JsonByDefault,
)
from functions.api.openapi import build_openapi
from functions.api.routes import health, jobs, payments, reports, signup
from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.tasks import registry

API_VERSION = "0.1.0"

DESCRIPTION = """\
Background jobs for a FastAPI app on AWS: routes validate a job, enqueue it to SQS
and answer **202** with a handle to poll (`GET /jobs/{job_id}`); a worker Lambda
runs it.

- **Durable** tasks keep a status record (`queued`, `running`, `succeeded`,
  `failed`, `dead`, `scheduled`, `cancelled`), are retried and dead-lettered.
- **Fire-and-forget** tasks (e.g. the welcome email) keep no record: they get a
  job id, but `GET /jobs/{job_id}` answers 404 for it.
- Every response carries `X-Correlation-Id`, which the enqueued jobs carry too.
- Errors: 422 bodies list each bad field (`loc`, `msg`, `type`); other errors are
  `{"detail": "..."}`.
"""


def create_app() -> FastAPI:
    app = FastAPI(
        title="offpath example API",
        version=API_VERSION,
        description=DESCRIPTION,
        # Declares X-Correlation-Id on every operation (the middleware resolves it).
        dependencies=[Depends(request_correlation_id)],
    )
    for module in (health, signup, reports, payments, jobs):
        app.include_router(module.router)
    install_error_handlers(app)
    # The last added runs first: stage, then correlation id, then the body limit
    # (so a 413 carries the correlation id). A body over one SQS message can never
    # become a job: it is refused from its Content-Length, before it is read.
    app.add_middleware(JsonByDefault)
    app.add_middleware(BodyLimit, max_bytes=SQS_MAX_MESSAGE_BYTES)
    app.add_middleware(CorrelationId)
    app.add_middleware(ApiGatewayStage)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        app.openapi_schema = build_openapi(app, registry)
    return app.openapi_schema


app = create_app()

"""The example API: a thin producer that validates, enqueues and answers 202.

It uses offpath's public FastAPI surface only (:mod:`offpath.fastapi`), as any app
would. Building the app touches no AWS: the producer is built on the first request
that needs it.
"""

from __future__ import annotations

from fastapi import FastAPI

from functions.api.routes import health, payments, reports, signup
from functions.api.telemetry import job_metrics, logger
from offpath.fastapi import Offpath, jobs_router

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

# Where the jobs live and the tasks come from the OFFPATH_* settings the template
# gives the function, read on the first request.
offpath = Offpath(logger=logger, metrics=job_metrics)


def create_app() -> FastAPI:
    app = FastAPI(title="offpath example API", version=API_VERSION, description=DESCRIPTION)
    for module in (health, signup, reports, payments):
        app.include_router(module.router)
    # POST /jobs and DELETE /jobs/{job_id} need SigV4 behind API Gateway (template.yaml).
    app.include_router(jobs_router(), prefix="/jobs")
    offpath.install(app)
    return app


app = create_app()

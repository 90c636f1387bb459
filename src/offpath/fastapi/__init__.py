"""offpath in a FastAPI app: enqueue jobs from routes, answer 202, poll them.

Install it once, then use the dependency in any route::

    from fastapi import FastAPI, Request, Response
    from offpath.fastapi import ACCEPTED, JobAccepted, JobQueueDep, Offpath, accepted, jobs_router

    offpath = Offpath()           # OFFPATH_* settings, read on the first request
    app = FastAPI()
    offpath.install(app)          # error handlers, middlewares, per-task OpenAPI
    app.include_router(jobs_router(), prefix="/jobs")   # optional: POST/GET/DELETE

    @app.post("/images", status_code=202, responses=ACCEPTED)
    async def resize(body: Resize, jobs: JobQueueDep, request: Request,
                     response: Response) -> JobAccepted:
        jobs.add_task(resize_image, body.image_id, body.width)     # checked now
        (job,) = await jobs.flush()                                # sent now
        return accepted(request, response, job)

Jobs a route adds and does not flush are sent after it returns and before the
response leaves (:data:`JobQueueDep`). Needs the ``fastapi`` extra
(``pip install "offpath[fastapi]"``); the worker never imports this package.
"""

from offpath.fastapi.deps import (
    CorrelationIdDep,
    JobQueueDep,
    Offpath,
    OffpathDep,
    ProducerDep,
    RegistryDep,
    StoreDep,
    offpath_of,
)
from offpath.fastapi.errors import (
    arguments_error,
    field_error,
    install_error_handlers,
    job_request_error,
)
from offpath.fastapi.jobqueue import JobQueue
from offpath.fastapi.middleware import (
    CORRELATION_HEADER,
    ApiGatewayStage,
    BodyLimit,
    CorrelationId,
    JsonByDefault,
    correlation_id_for,
)
from offpath.fastapi.openapi import build_openapi
from offpath.fastapi.responses import ACCEPTED, accepted, error_responses, status_url
from offpath.fastapi.router import jobs_router
from offpath.fastapi.schemas import (
    ErrorBody,
    FieldError,
    JobAccepted,
    JobSubmission,
    JobView,
    ValidationErrorBody,
)

__all__ = [
    "ACCEPTED",
    "CORRELATION_HEADER",
    "ApiGatewayStage",
    "BodyLimit",
    "CorrelationId",
    "CorrelationIdDep",
    "ErrorBody",
    "FieldError",
    "JobAccepted",
    "JobQueue",
    "JobQueueDep",
    "JobSubmission",
    "JobView",
    "JsonByDefault",
    "Offpath",
    "OffpathDep",
    "ProducerDep",
    "RegistryDep",
    "StoreDep",
    "ValidationErrorBody",
    "accepted",
    "arguments_error",
    "build_openapi",
    "correlation_id_for",
    "error_responses",
    "field_error",
    "install_error_handlers",
    "job_request_error",
    "jobs_router",
    "offpath_of",
    "status_url",
]

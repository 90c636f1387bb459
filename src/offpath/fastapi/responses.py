"""The 202 job handle, and the error responses a route declares in OpenAPI.

Example:
    >>> @app.post("/images", status_code=202, responses={**ACCEPTED, **error_responses(422)})
    ... async def resize(body: Resize, jobs: JobQueueDep, request: Request,
    ...                  response: Response) -> JobAccepted:  # doctest: +SKIP
    ...     jobs.add_task(resize_image, body.image_id, body.width)
    ...     (job,) = await jobs.flush()
    ...     return accepted(request, response, job)
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.routing import NoMatchFound

from offpath.fastapi.schemas import ErrorBody, JobAccepted, ValidationErrorBody
from offpath.producer import Enqueued

# The route name of GET .../jobs/{job_id} in jobs_router(): how a 202 finds the URL.
GET_JOB_ROUTE = "offpath_get_job"

_ERRORS: dict[int, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such job."},
    409: {
        "model": ErrorBody,
        "description": "The idempotency key already names a job of another task or with "
        "other arguments.",
    },
    413: {
        "model": ErrorBody,
        "description": "The body, or the job message built from it, is over the SQS "
        "message size limit (1 MiB).",
    },
    422: {
        "model": ValidationErrorBody,
        "description": "The request's content is not acceptable: each entry names the "
        "field (`loc`) and what is wrong with it (`msg`).",
    },
    503: {
        "model": ErrorBody,
        "description": "SQS or DynamoDB is failing; retry later (see Retry-After).",
    },
}

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Enqueued. Poll `status_url` (also the Location header).",
        "headers": {
            "Location": {
                "description": "The job's status URL (absolute path), when the API serves one.",
                "schema": {"type": "string"},
            }
        },
    }
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of the given error codes (404, 409, 413, 422, 503)."""
    return {code: _ERRORS[code] for code in status_codes}


def status_url(request: Request, job_id: str) -> str | None:
    """The job's status URL as an absolute path under the API's root (stage, base path);
    None when the app mounts no :func:`~offpath.fastapi.jobs_router`."""
    try:
        path = request.app.url_path_for(GET_JOB_ROUTE, job_id=job_id)
    except NoMatchFound:
        return None
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root}{path}"


def accepted(request: Request, response: Response, job: Enqueued) -> JobAccepted:
    """The 202 body for ``job``, with its Location header set when there is a status URL."""
    url = status_url(request, job.job_id)
    if url is not None:
        response.headers["Location"] = url
    return JobAccepted(
        job_id=job.job_id,
        status=job.status,
        status_url=url,
        durable=job.durable,
        duplicate=job.duplicate,
    )

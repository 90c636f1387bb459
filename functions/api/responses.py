"""The 202 job handle, and the error responses each route declares in OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from functions.api.schemas import ErrorBody, JobAccepted, ValidationErrorBody
from offpath.producer import Enqueued

_ERRORS: dict[int, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such job."},
    409: {
        "model": ErrorBody,
        "description": "The Idempotency-Key already names a job of another task or with "
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
                "description": "The job's status URL (absolute path).",
                "schema": {"type": "string"},
            }
        },
    }
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of the given error codes."""
    return {code: _ERRORS[code] for code in status_codes}


def status_url(request: Request, job_id: str) -> str:
    """GET /jobs/{job_id} as an absolute path under the API's root (stage, base path)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root}{request.app.url_path_for('get_job', job_id=job_id)}"


def accepted(request: Request, response: Response, job: Enqueued) -> JobAccepted:
    """The 202 body for ``job``, with its Location header set."""
    url = status_url(request, job.job_id)
    response.headers["Location"] = url
    return JobAccepted(
        job_id=job.job_id,
        status=job.status,
        status_url=url,
        durable=job.durable,
        duplicate=job.duplicate,
    )

"""How failures become HTTP responses: one place, two body shapes.

- 422 (the request's content): ``{"detail": [{"loc", "msg", "type"}]}``, FastAPI's
  own shape, without the echoed ``input`` (it can be a megabyte, or personal data);
- every other error: ``{"detail": "..."}``.

Status codes, and why:

- 409 an idempotency key reused for another task or other arguments: the body may be
  valid on its own, it conflicts with what the key already names;
- 413 a body or a job message over the SQS message limit;
- 422 anything wrong with the content: a task's arguments (each argument named), a
  delivery option the job cannot have (a long delay or an idempotency key on a
  fire-and-forget task), unknown task names, so a client has one code to look for;
- 500 a route enqueueing an unregistered function or calling a task with the wrong
  parameters: a bug in the API, logged with the details, never the client's fault;
- 503 SQS or DynamoDB failing after the client's retries: retry later.

The checks themselves are the sender's (:class:`~offpath.producer.JobRequest`); these
handlers only translate offpath's errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.errors import (
    DelayNotSupported,
    EnqueueError,
    IdempotencyNotSupported,
    InvalidArguments,
    InvalidJobRequest,
    PayloadTooLarge,
    StoreError,
    UnknownTask,
)
from offpath.producer import IdempotencyConflict

Loc = Sequence[str | int]


class ErrorLog(Protocol):
    """A logger's ``error`` (the standard library's, or Powertools')."""

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None: ...


def field_error(loc: Loc, msg: str, type_: str) -> RequestValidationError:
    """A 422 for one field, shaped like FastAPI's validation errors."""
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": type_}])


def arguments_error(exc: InvalidArguments, loc: Loc) -> RequestValidationError:
    """A 422 naming each bad argument under ``loc`` (e.g. ``("body", "args")``)."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        errors = [
            {"loc": (*loc, *e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in cause.errors(include_url=False, include_input=False)
        ]
        return RequestValidationError(errors)
    return field_error(loc, str(exc), "invalid_arguments")


def job_request_error(exc: InvalidJobRequest, loc: Loc) -> RequestValidationError:
    """A 422 for a delivery option the job cannot have, at the request's own ``loc``.

    Example:
        >>> try:  # doctest: +SKIP
        ...     jobs.add(task, args, delay_s=body.delay_seconds)
        ... except InvalidJobRequest as exc:
        ...     raise job_request_error(exc, ("body", "delay_seconds")) from exc
    """
    return field_error(loc, str(exc), error_type(exc))


def error_type(exc: InvalidJobRequest) -> str:
    """The stable 422 ``type`` of a refused job request."""
    if isinstance(exc, DelayNotSupported):
        return "delay_unsupported"
    if isinstance(exc, IdempotencyNotSupported):
        return "idempotency_unsupported"
    return "invalid_job_request"


def install_error_handlers(app: FastAPI, logger: ErrorLog | None = None) -> None:
    """Answer offpath's errors (and FastAPI's) with the bodies described above."""
    log: ErrorLog = logger or logging.getLogger("offpath.fastapi")

    async def server_bug(request: Request, exc: Exception) -> Response:
        return _bug(log, exc)

    async def invalid_arguments(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidArguments)
        if isinstance(exc.__cause__, TypeError):
            # The route called the task with parameters it does not have: no request
            # content can cause that, so it is a bug.
            return _bug(log, exc)
        # Values the client sent (through the route) that the task refuses.
        return validation_failed(arguments_error(exc, ("body",)).errors())

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.error("job service unavailable", exc_info=exc)
        return error(503, "the job service is unavailable; retry later", {"Retry-After": "1"})

    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InvalidArguments, invalid_arguments)
    app.add_exception_handler(InvalidJobRequest, _invalid_job_request)
    app.add_exception_handler(IdempotencyConflict, _conflict)
    app.add_exception_handler(PayloadTooLarge, _too_large)
    app.add_exception_handler(UnknownTask, server_bug)
    app.add_exception_handler(EnqueueError, unavailable)
    app.add_exception_handler(StoreError, unavailable)


def error(status_code: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A ``{"detail": "..."}`` response."""
    return JSONResponse({"detail": _text(detail)}, status_code=status_code, headers=headers)


def too_large(max_bytes: int = SQS_MAX_MESSAGE_BYTES) -> JSONResponse:
    """The 413 for a request body over what one job message can carry."""
    return error(413, too_large_detail(max_bytes))


def too_large_detail(max_bytes: int) -> str:
    return (
        f"the request body is over {max_bytes} bytes, the most one job message can "
        "carry; store large inputs in S3 and pass a reference"
    )


def validation_failed(errors: Iterable[Mapping[str, Any]]) -> JSONResponse:
    """A 422 with FastAPI's ``detail`` list (no echoed input)."""
    return JSONResponse({"detail": [_field(e) for e in errors]}, status_code=422)


async def _validation_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return validation_failed(exc.errors())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, ValueError | RecursionError):
        # FastAPI answers 400 when json.loads fails with something other than a
        # JSONDecodeError: a number over Python's 4300-digit limit, nesting past
        # the recursion limit. Both are bodies that are not acceptable JSON: 422.
        reason = "nested too deeply" if isinstance(cause, RecursionError) else str(cause)
        reason = reason.split(";")[0]  # drop Python's advice to raise the limit
        return validation_failed(
            [{"loc": ("body",), "msg": f"JSON decode error: {reason}", "type": "json_invalid"}]
        )
    if exc.status_code == 413:
        detail = exc.detail if str(exc.detail).startswith("the request body") else None
        return error(413, detail) if detail else too_large()
    if exc.status_code == 405:
        # Starlette's Allow names the methods of the first route that matched the path
        # only; a path served by several routes (GET and DELETE /jobs/{id}) needs all.
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed(request))}
    return await http_exception_handler(request, exc)


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at the request's path.

    Asked of each route through Starlette's own matching, with each method in turn:
    routers included in the app answer for their routes too.
    """
    methods = set()
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return sorted(methods)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _invalid_job_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidJobRequest)
    # The route did not say which part of its request carried the option: the job's
    # own field name locates it (routes can say better with job_request_error).
    return validation_failed(job_request_error(exc, ("job", exc.field)).errors())


async def _conflict(request: Request, exc: Exception) -> Response:
    return error(409, str(exc))


async def _too_large(request: Request, exc: Exception) -> Response:
    return error(413, str(exc))


def _bug(log: ErrorLog, exc: Exception) -> Response:
    log.error(f"bug in the API's use of a task: {exc}", exc_info=exc)
    return error(500, "Internal Server Error")


def _field(err: Mapping[str, Any]) -> dict[str, Any]:
    msg = str(err.get("msg", ""))
    ctx = err.get("ctx") or {}
    if err.get("type") == "json_invalid" and "error" in ctx:
        msg = f"{msg}: {ctx['error']}"
    loc = [p if isinstance(p, int) else _text(str(p)) for p in err.get("loc", ())]
    return {"loc": loc, "msg": _text(msg), "type": str(err.get("type", "value_error"))}


def _text(value: str) -> str:
    # Field names and messages can carry a client's lone surrogates, which UTF-8
    # (and so the JSON response) cannot encode: a 422 must never become a 500.
    return value.encode("utf-8", "replace").decode("utf-8")

"""How failures become HTTP responses: one place, two body shapes.

- 422 (the request's content): ``{"detail": [{"loc", "msg", "type"}]}``, FastAPI's
  own shape, without the echoed ``input`` (it can be a megabyte, or personal data);
- every other error: ``{"detail": "..."}``.

Status codes, and why:

- 409 an Idempotency-Key reused for another task or other arguments: the body may be
  valid on its own, it conflicts with what the key already names;
- 413 a body or a job message over the SQS message limit;
- 422 anything wrong with the content, unknown task names included, so a client
  has one code to look for: "fix the request";
- 500 a route enqueueing an unregistered function or calling a task with the wrong
  parameters: a bug in the API, logged with the details, never the client's fault;
- 503 SQS or DynamoDB failing after the client's retries: retry later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from functions.api.telemetry import logger
from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.errors import (
    EnqueueError,
    InvalidArguments,
    PayloadTooLarge,
    StoreError,
    UnknownTask,
)
from offpath.producer import IdempotencyConflict

Loc = Sequence[str | int]


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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InvalidArguments, _invalid_arguments)
    app.add_exception_handler(IdempotencyConflict, _conflict)
    app.add_exception_handler(PayloadTooLarge, _too_large)
    app.add_exception_handler(UnknownTask, _server_bug)
    app.add_exception_handler(EnqueueError, _unavailable)
    app.add_exception_handler(StoreError, _unavailable)


def error(status_code: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": _text(detail)}, status_code=status_code, headers=headers)


def too_large() -> JSONResponse:
    """The 413 for a request body over one SQS message."""
    return error(
        413,
        f"the request body is over {SQS_MAX_MESSAGE_BYTES} bytes, the most one job "
        "message can carry; store large inputs in S3 and pass a reference",
    )


def validation_failed(errors: Iterable[Mapping[str, Any]]) -> JSONResponse:
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
        return too_large()
    if exc.status_code == 405:
        # Starlette's Allow names the methods of the first route that matched the path
        # only; a path served by several routes (GET and DELETE /jobs/{id}) needs all.
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed(request))}
    return await http_exception_handler(request, exc)


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE and isinstance(route, APIRoute):
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _invalid_arguments(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidArguments)
    if isinstance(exc.__cause__, TypeError):
        # The route called the task with parameters it does not have: no request
        # content can cause that, so it is a bug.
        return _bug(exc)
    # Values the client sent (through the route) that the task refuses.
    request_error = arguments_error(exc, ("body",))
    return validation_failed(request_error.errors())


async def _conflict(request: Request, exc: Exception) -> Response:
    return error(409, str(exc))


async def _too_large(request: Request, exc: Exception) -> Response:
    return error(413, str(exc))


async def _server_bug(request: Request, exc: Exception) -> Response:
    return _bug(exc)


async def _unavailable(request: Request, exc: Exception) -> Response:
    logger.error("job service unavailable", exc_info=exc)
    return error(503, "the job service is unavailable; retry later", {"Retry-After": "1"})


def _bug(exc: Exception) -> Response:
    logger.error(f"bug in the API's use of a task: {exc}", exc_info=exc)
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

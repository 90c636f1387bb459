"""Small ASGI middlewares: correlation id, API Gateway's stage, request body limit.

Plain ASGI rather than ``BaseHTTPMiddleware``: no extra task per request, and the
scope they set is the one the routes see.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.fastapi.errors import too_large, too_large_detail

CORRELATION_HEADER = "X-Correlation-Id"

# Wide enough for UUIDs, API Gateway request ids ("YvOJfgUYIAMEMrA=") and trace
# ids; narrow enough that the value is safe in logs, headers and the envelope.
CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/@-]{0,127}")
# API Gateway's own request id: an HTTP API's is base64 ("+" or "/" may come first).
REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/@-]{1,128}")

# A stage or base path, as API Gateway allows them; anything else is ignored.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]+)+")


def correlation_id_for(scope: Scope) -> str:
    """The caller's X-Correlation-Id if valid, else API Gateway's request id, else new."""
    header = Headers(scope=scope).get(CORRELATION_HEADER)
    if header is not None and CORRELATION_ID.fullmatch(header):
        return header
    event = scope.get("aws.event") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    if isinstance(request_id, str) and REQUEST_ID.fullmatch(request_id):
        return request_id
    return uuid.uuid4().hex


def api_prefix(event: Mapping[str, Any]) -> str:
    """The path before the route in the public URL: ``/Prod`` for a REST API stage.

    REST APIs (and HTTP API payload 1.0) give the route's path in ``path`` and the
    whole one, stage or custom-domain base path included, in ``requestContext.path``.
    HTTP APIs (payload 2.0) put a named stage in front of ``rawPath``; the
    ``$default`` stage adds nothing.
    """
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        stage = context.get("stage")
        path = (context.get("http") or {}).get("path") or ""
        prefix = f"/{stage}" if isinstance(stage, str) and stage != "$default" else ""
        if not (path == prefix or path.startswith(f"{prefix}/")):
            prefix = ""
    else:
        full, route = context.get("path"), event.get("path")
        prefix = ""
        if isinstance(full, str) and isinstance(route, str) and full.endswith(route):
            prefix = full[: len(full) - len(route)].rstrip("/")
    return prefix if _PREFIX.fullmatch(prefix) else ""


class CorrelatedLog(Protocol):
    """A logger that stamps a correlation id on its lines (Powertools' ``Logger``)."""

    def set_correlation_id(self, value: str | None) -> None: ...


class CorrelationId:
    """Resolves the correlation id once: request state, logs, response header.

    With a ``logger`` (Powertools' ``Logger``), every line the request logs carries it;
    only a validated id ever reaches the logs.
    """

    def __init__(self, app: ASGIApp, logger: CorrelatedLog | None = None) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = correlation_id_for(scope)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        if self.logger is not None:
            self.logger.set_correlation_id(correlation_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class ApiGatewayStage:
    """Sets ``root_path`` from the Lambda event, so URLs the app builds carry the stage.

    Mangum leaves ``root_path`` empty; with a REST API the public URL is
    ``https://host/Prod/jobs/...`` while the event's path is ``/jobs/...``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = scope.get("aws.event")
        if scope["type"] == "http" and isinstance(event, Mapping) and not scope.get("root_path"):
            prefix = api_prefix(event)
            if prefix:
                scope["root_path"] = prefix
                # ASGI paths include root_path; only payload 2.0 paths already do.
                if event.get("version") != "2.0":
                    scope["path"] = prefix + scope["path"]
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with a JSON 413, from Content-Length if given.

    Not FastAPI's ``max_body_size``: Starlette's limiter swaps any response to a
    request with a large Content-Length for a text/plain 413, which is not the
    JSON error body the OpenAPI document promises.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = SQS_MAX_MESSAGE_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(self.max_bytes)(scope, receive, send)  # before reading a byte
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises an HTTPException from the body read as is.
                    raise HTTPException(413, too_large_detail(self.max_bytes))
            return message

        await self.app(scope, receive_within_limit, send)


# What `curl -d` and some HTTP clients send when nobody names a type.
_UNTYPED = {b"", b"application/x-www-form-urlencoded"}


class JsonByDefault:
    """Reads an untyped body as JSON: every route here takes JSON, nothing takes forms.

    ``curl -X POST .../images -d '{"image_id": "img-1"}'`` sends the form type; without
    this the request would be a 422 for a body that is plainly the JSON documented.
    A body that is not JSON still fails validation with a precise 422.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            if content_type.split(b";")[0].strip().lower() in _UNTYPED:
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)

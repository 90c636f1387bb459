"""API Gateway proxy events for ApiFunction, built from the samples in events/.

The samples are what ``sam local generate-event apigateway http-api-proxy`` and
``aws-proxy`` produce; each helper copies one and changes only what a test names,
with a fresh request id every time.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.support import EVENTS


@cache
def _sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def http_api_event(
    method: str = "POST",
    path: str = "/reports",
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    stage: str = "$default",
    base64_body: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event; a named stage prefixes the path, as on AWS."""
    event = copy.deepcopy(_sample("http-api-post-reports.json"))
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    context = event["requestContext"]
    context["http"].update(method=method, path=raw_path)
    context.update(stage=stage, requestId=_request_id())
    event.update(rawPath=raw_path, pathParameters={"proxy": path.lstrip("/")})
    event["headers"] = _with_body(event["headers"], body, headers)
    _set_body(event, body, base64_body)
    return event


def rest_api_event(
    method: str = "GET",
    path: str = "/healthz",
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    stage: str = "Prod",
) -> dict[str, Any]:
    """A REST API (aws-proxy) event: ``path`` is the route's, the stage is in the context."""
    event = copy.deepcopy(_sample("rest-api-get-healthz.json"))
    context = event["requestContext"]
    context.update(httpMethod=method, path=f"/{stage}{path}", stage=stage, requestId=_request_id())
    event.update(httpMethod=method, path=path, pathParameters={"proxy": path.lstrip("/")})
    event["headers"] = _with_body(event["headers"], body, headers)
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    _set_body(event, body, base64_body=False)
    return event


@dataclass(frozen=True)
class Reply:
    """A proxy integration's answer, decoded."""

    status: int
    headers: dict[str, str]
    body: Any


def reply(response: dict[str, Any]) -> Reply:
    raw = response.get("body") or ""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    body = json.loads(raw) if raw and "json" in headers.get("content-type", "") else raw
    return Reply(status=response["statusCode"], headers=headers, body=body)


def _request_id() -> str:
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode()


def _with_body(
    base: dict[str, str], body: str | None, extra: dict[str, str] | None
) -> dict[str, str]:
    headers = {k: v for k, v in base.items() if k.lower() not in ("content-length", "content-type")}
    if body is not None:
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body.encode()))
    headers.update(extra or {})
    return headers


def _set_body(event: dict[str, Any], body: str | None, base64_body: bool) -> None:
    if body is not None and base64_body:
        body = base64.b64encode(body.encode()).decode()
    event["body"] = body
    event["isBase64Encoded"] = base64_body

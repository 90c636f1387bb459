"""The HttpApi on localhost: HTTP requests in, API Gateway v2 events to the function.

Routes come from the template's ``HttpApi`` events and are matched as API Gateway
does: a method-specific route beats ``ANY``, literal segments beat ``{param}``, and
``{proxy+}`` takes what is left. Routes with ``AWS_IAM`` auth are not signature
checked locally; the event carries a local IAM identity instead (see docs).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from offpath.local.esm import InvocationFailed
from offpath.local.topology import RouteSpec

Invoke = Callable[[dict[str, Any]], Any]
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's request size limit
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form")


@dataclass(frozen=True)
class Route:
    spec: RouteSpec
    pattern: re.Pattern[str]
    score: tuple[int, int, int]

    @classmethod
    def compile(cls, spec: RouteSpec) -> Route:
        path = spec.path
        if path == "$default":
            return cls(spec, re.compile(r"^/.*$"), (-1, 0, 0))
        regex, literals, greedy = "", 0, 0
        for segment in path.strip("/").split("/") if path != "/" else []:
            if segment.endswith("+}"):
                regex += rf"/(?P<{segment[1:-2]}>.+)"
                greedy = 1
            elif segment.startswith("{"):
                regex += rf"/(?P<{segment[1:-1]}>[^/]+)"
            else:
                regex += "/" + re.escape(segment)
                literals += 1
        pattern = re.compile("^" + (regex or "/") + "/?$")
        return cls(spec, pattern, (literals, -greedy, int(spec.method != "ANY")))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.spec.method not in ("ANY", method):
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None

    @property
    def route_key(self) -> str:
        return (
            "$default" if self.spec.path == "$default" else f"{self.spec.method} {self.spec.path}"
        )


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route API Gateway would choose, and its path parameters."""
    best: tuple[Route, dict[str, str]] | None = None
    for route in routes:
        params = route.match(method, path)
        if params is not None and (best is None or route.score > best[0].score):
            best = (route, params)
    return best


def build_event(
    route: Route,
    params: dict[str, str],
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    host: str,
    source_ip: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    content_type = headers.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES) or _is_utf8(body)
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": method,
            "path": parts.path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex[:16] + "=",
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if route.spec.auth == "AWS_IAM":
        context["authorizer"] = {"iam": {"accountId": "123456789012", "userArn": "local"}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": not is_text,
        "stageVariables": None,
    }
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = body.decode() if is_text else base64.b64encode(body).decode()
    return event


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


class HttpApi:
    """A threaded HTTP server in front of one function's HttpApi routes."""

    def __init__(
        self,
        routes: list[RouteSpec],
        invoke: Invoke,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_request: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.routes = [Route.compile(r) for r in routes]
        self.invoke = invoke
        self.on_request = on_request
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpApi:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        host: str,
        source_ip: str,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request to one (status, headers, body), as API Gateway would answer."""
        if len(body) > MAX_PAYLOAD_BYTES:
            return (
                413,
                [("content-type", "application/json")],
                b'{"message":"Request Entity Too Large"}',
            )
        found = match_route(self.routes, method, urlsplit(target).path)
        if found is None:
            return _error(404, "Not Found")
        event = build_event(found[0], found[1], method, target, headers, body, host, source_ip)
        try:
            response = self.invoke(event)
        except InvocationFailed:
            return (
                500,
                [("content-type", "application/json")],
                b'{"message":"Internal Server Error"}',
            )
        return _translate(response)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                started = time.perf_counter()
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers: dict[str, str] = {}
                for key, value in self.headers.items():
                    key = key.lower()
                    headers[key] = f"{headers[key]},{value}" if key in headers else value
                status, out_headers, out_body = api.handle(
                    self.command,
                    self.path,
                    headers,
                    body,
                    self.headers.get("host", "localhost"),
                    self.client_address[0],
                )
                self.send_response(status)
                for key, value in out_headers:
                    self.send_header(key, value)
                self.send_header("content-length", str(len(out_body)))
                self.end_headers()
                self.wfile.write(out_body)
                if api.on_request:
                    api.on_request(self.command, self.path, status, time.perf_counter() - started)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # requests are logged by the emulator, once

        return Handler


def _error(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("content-type", "application/json")], json.dumps({"message": message}).encode()


def _translate(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda response (format 2.0) to HTTP, including the plain-JSON shorthand."""
    if not isinstance(response, dict) or "statusCode" not in response:
        text = response if isinstance(response, str) else json.dumps(response)
        return 200, [("content-type", "application/json")], text.encode()
    # Length and framing are the server's to set, as API Gateway sets them.
    hop = {"content-length", "transfer-encoding", "connection"}
    headers = [
        (k, str(v)) for k, v in (response.get("headers") or {}).items() if k.lower() not in hop
    ]
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.extend((key, str(v)) for v in values)
    headers.extend(("set-cookie", c) for c in response.get("cookies") or [])
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
    return int(response["statusCode"]), headers, body

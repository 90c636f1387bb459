"""The HttpApi on localhost: HTTP requests in, API Gateway v2 events to the function.

Routes come from the template's ``HttpApi`` events and are matched as API Gateway
does: a method-specific route beats ``ANY``, literal segments beat ``{param}``, and
``{proxy+}`` takes what is left. Routes with ``AWS_IAM`` auth are not signature
checked locally; the event carries a local IAM identity instead (see docs).

The event is payload format 2.0 as API Gateway builds it
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
``pathParameters`` URL-decoded while ``rawPath`` keeps the encoding, the
``x-forwarded-for``/``-port``/``-proto`` and ``x-amzn-trace-id`` headers API Gateway
adds, no ``multiValueHeaders`` (2.0 joins repeated headers with commas), a body that
is not UTF-8 text passed base64-encoded with ``isBase64Encoded: true``, and the whole
``authorizer.iam`` block on ``AWS_IAM`` routes. A method no route key can name
(API Gateway's are GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS and ANY) matches no
route, and gets API Gateway's JSON ``{"message":"Not Found"}``, never an HTML page.
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
from urllib.parse import parse_qsl, unquote, urlsplit

from offpath.local.esm import InvocationFailed
from offpath.local.topology import RouteSpec

Invoke = Callable[[dict[str, Any]], Any]
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's request size limit
ACCOUNT_ID = "123456789012"
# What a route key's method can be; ANY stands for these and nothing else.
ROUTE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form",
)
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


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
        if method not in ROUTE_METHODS or self.spec.method not in ("ANY", method):
            return None
        found = self.pattern.match(path)
        # Matched on the path as sent; the function gets the values decoded.
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None

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
    *,
    port: int = 80,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex[:16] + "="
    headers = {**headers, **_gateway_headers(headers, source_ip, port, now)}
    content_type = headers.get("content-type", "").lower()
    is_text = _is_utf8(body) and (not content_type or content_type.startswith(_TEXT_TYPES))
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
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
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if route.spec.auth == "AWS_IAM":
        context["authorizer"] = {"iam": _iam_identity(headers)}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": bool(body) and not is_text,
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


def _gateway_headers(
    headers: dict[str, str], source_ip: str, port: int, now: datetime
) -> dict[str, str]:
    """The headers API Gateway adds to every request it forwards."""
    forwarded = headers.get("x-forwarded-for")
    trace = f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}"
    return {
        "x-forwarded-for": f"{forwarded}, {source_ip}" if forwarded else source_ip,
        "x-forwarded-port": str(port),
        # API Gateway serves https only; locally the server is plain http.
        "x-forwarded-proto": "http",
        "x-amzn-trace-id": headers.get("x-amzn-trace-id") or trace,
    }


def _iam_identity(headers: dict[str, str]) -> dict[str, Any]:
    """``requestContext.authorizer.iam`` as API Gateway fills it for a SigV4 caller.

    The signature is not checked locally; the access key comes from the request's
    Authorization header when it has one.
    """
    found = _ACCESS_KEY.search(headers.get("authorization", ""))
    access_key = found.group(1) if found else "ASIALOCALDEVELOPER00"
    return {
        "accessKey": access_key,
        "accountId": ACCOUNT_ID,
        "callerId": "AIDALOCALDEVELOPER000",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/offpath-local",
        "userId": "AIDALOCALDEVELOPER000",
    }


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

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

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
        event = build_event(
            found[0], found[1], method, target, headers, body, host, source_ip, port=self.port
        )
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

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, CONNECT, PROPFIND...) is answered as API
                # Gateway answers it, not with http.server's own 501 page.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

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
    # Length and framing are the server's to set, as API Gateway sets them. Format
    # 2.0 has no multiValueHeaders: API Gateway ignores one in a response.
    hop = {"content-length", "transfer-encoding", "connection"}
    headers = [
        (k, str(v)) for k, v in (response.get("headers") or {}).items() if k.lower() not in hop
    ]
    headers.extend(("set-cookie", c) for c in response.get("cookies") or [])
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
    return int(response["statusCode"]), headers, body

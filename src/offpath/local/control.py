"""The running emulator's control API, for the CLI, and its dashboard.

``offpath dev`` serves it on loopback and records its address in
``.offpath/dev.json`` (:mod:`offpath.devstate`), so ``offpath invoke`` and ``offpath
schedules fire`` act on the same emulator. The same port serves the dashboard (``GET /``, see
:mod:`offpath.local.dashboard`).

Loopback is not a boundary a browser respects by itself: any page the developer
opens may send requests to ``127.0.0.1``. So every request must name a loopback
``Host`` (a DNS-rebinding page names its own), and a POST that carries an
``Origin`` must come from this server's own (a cross-site form carries the other
site's).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.exceptions import BotoCoreError

from offpath.devstate import STATE_FILE, DevState, call, read_state, write_state
from offpath.errors import OffpathError
from offpath.local.dashboard import Dashboard, Request, Response
from offpath.local.emulator import Emulator
from offpath.local.esm import InvocationFailed

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
# Never cached: every answer describes the emulator at one moment.
COMMON_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class ControlServer:
    """JSON over HTTP: invoke a function, fire a schedule, read invocations; the dashboard."""

    def __init__(
        self,
        emulator: Emulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        dashboard: Dashboard | None = None,
    ) -> None:
        self.emulator = emulator
        self.dashboard = dashboard or Dashboard(emulator)
        self.allowed_hosts = LOOPBACK_HOSTS | {host}
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.url}/"

    def state(self) -> DevState:
        """What ``offpath dev`` records for the CLI: addresses, and where the jobs live."""
        emulator = self.emulator
        provisioned = emulator.provisioned
        api = emulator.api_url or ""
        endpoints = emulator.endpoints.environment()
        if provisioned is None or not provisioned.has_jobs:
            return DevState(api, emulator.endpoint, self.url, endpoints=endpoints)
        location = provisioned.location
        worker = location.pool().function
        functions = provisioned.topology.functions
        environment = provisioned.environment(worker) if worker in functions else {}
        return DevState(api, emulator.endpoint, self.url, location, environment, endpoints)

    def start(self) -> ControlServer:
        self.dashboard.start()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.dashboard.stop()

    def refusal(self, method: str, headers: Message) -> str | None:
        """Why a request is refused (see the module docstring), or None."""
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hostname not in self.allowed_hosts:
            return f"refused: Host {host!r} is not this loopback server"
        origin = headers.get("origin")
        if method == "POST" and origin is not None and origin != f"http://{host}":
            return f"refused: a cross-origin request (from {origin})"
        return None

    def respond(self, method: str, target: str, headers: Message, raw: bytes) -> Response:
        """The response to one request: the dashboard's, else the control API's."""
        refused = self.refusal(method, headers)
        if refused:
            return Response.json({"error": refused}, 403)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError as exc:
            return Response.json({"error": f"invalid JSON: {exc}"}, 400)
        split = urlsplit(target)
        request = Request(
            method=method,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            wants_json="application/json" in headers.get("accept", ""),
            body=body,
        )
        try:
            response = self.dashboard.handle(request)
        except (OffpathError, BotoCoreError) as exc:
            # The AWS endpoint failed (or is going away at shutdown): the page says so.
            self.emulator.log(f"dashboard: {method} {split.path}: {exc}")
            return Response.json({"error": str(exc)}, 503)
        if response is not None:
            return response
        status, result = self.dispatch(method, split.path, body)
        return Response.json(result, status)

    def dispatch(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        emulator = self.emulator
        try:
            if method == "POST" and parts[:1] == ["invoke"] and len(parts) == 2:
                return 200, {"response": emulator.invoke(parts[1], body)}
            if method == "POST" and parts[:1] == ["schedules"] and parts[2:] == ["fire"]:
                return 200, {"response": emulator.fire(parts[1])}
            if parts == ["clock"] and method in ("GET", "POST"):
                if method == "POST":
                    emulator.advance(float(body.get("advance_s", 0)))
                return 200, {
                    "now": emulator.clock.now().isoformat(),
                    "offset_s": emulator.clock.offset_s,
                }
            if method == "GET" and parts == ["environments"]:
                return 200, emulator.function_environments()
            if method == "GET" and parts == ["invocations"]:
                # list() copies the deque in one step; iterating it while a poller
                # appends would raise.
                return 200, [asdict(i) for i in list(emulator.invocations)]
        except InvocationFailed as exc:
            return 502, {"error": str(exc)}
        except KeyError as exc:
            return 404, {"error": str(exc.args[0]) if exc.args else "not found"}
        except ValueError as exc:  # a clock moved backwards, a duration that is not one
            return 400, {"error": str(exc)}
        return 404, {"error": f"no route {method} {path}"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                response = control.respond(self.command, self.path, self.headers, raw)
                self.send_response(response.status)
                self.send_header("content-type", response.content_type)
                self.send_header("content-length", str(len(response.body)))
                for name, value in {**COMMON_HEADERS, **response.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


__all__ = ["STATE_FILE", "ControlServer", "call", "read_state", "write_state"]

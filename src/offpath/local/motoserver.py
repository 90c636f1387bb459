"""moto's server in its own process, with the emulator's clock and a request meter.

``python -m offpath.local.motoserver --port N`` serves moto's AWS APIs plus:

- ``POST /_offpath/clock {"advance_s": 3600}`` moves the clock every moto backend
  reads (visibility timeouts, delays, receive times); ``GET`` returns it;
- ``GET /_offpath/calls`` returns every AWS request served, by ``service:Operation``,
  and ``DELETE`` resets the count: the emulator's own count of the user's bill.

:class:`offpath.local.backends.MotoBackend` starts and stops it from Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from offpath.local.backends import MotoBackend, free_port
from offpath.local.clock import EmulatorClock
from offpath.local.shims.control import rest_operation

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
StartResponse = Callable[..., Any]


def operation_of(environ: dict[str, Any]) -> str:
    """``service:Operation`` of a request, as AWS would bill it."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope.group(1) if scope else "unknown"
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    return f"{service}:{rest_operation(service, method, path)}"


class EmulatorApp:
    """WSGI middleware in front of moto: the clock and the meter."""

    def __init__(self, app: Callable[..., Iterable[bytes]], clock: EmulatorClock) -> None:
        self.app = app
        self.clock = clock
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_offpath/"):
            return self._control(path, environ, start_response)
        if not path.startswith("/moto-api"):
            with self.lock:
                self.calls[operation_of(environ)] += 1
        return self.app(environ, start_response)

    def _control(
        self, path: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        body: Any
        if path == "/_offpath/clock":
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                self.clock.advance(float(request.get("advance_s", 0)))
            body = {"now": self.clock.now().isoformat(), "offset_s": self.clock.offset_s}
        elif path == "/_offpath/calls":
            with self.lock:
                body = dict(self.calls)
                if method == "DELETE":
                    self.calls.clear()
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "not found"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


def serve(host: str, port: int) -> None:  # pragma: no cover - runs in the child process
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    _exit_with_parent()
    clock = EmulatorClock()
    clock.install_in_moto()
    app = EmulatorApp(DomainDispatcherApplication(create_backend_app), clock)
    run_simple(host, port, app, threaded=True)


def _exit_with_parent() -> None:  # pragma: no cover - runs in the child process
    """Never outlive the emulator, even when it is killed with no chance to clean up."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


# The moto child is one of the emulator's backends; these names stay for callers.
MotoServer = MotoBackend
__all__ = ["EmulatorApp", "MotoServer", "free_port", "operation_of", "serve"]


def main() -> None:  # pragma: no cover - entry point of the child process
    parser = argparse.ArgumentParser(description="moto server with the offpath clock")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()

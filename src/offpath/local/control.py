"""The running emulator's control API, for the CLI (and the dashboard).

``offpath dev`` serves it on loopback and records its address in
``.offpath/dev.json``, so ``offpath invoke`` and ``offpath schedules fire`` act on
the same emulator.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from offpath.local.emulator import Emulator
from offpath.local.esm import InvocationFailed

STATE_FILE = Path(".offpath") / "dev.json"


class ControlServer:
    """JSON over HTTP: invoke a function, fire a schedule, read invocations."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ControlServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def dispatch(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        emulator = self.emulator
        try:
            if method == "POST" and parts[:1] == ["invoke"] and len(parts) == 2:
                return 200, {"response": emulator.invoke(parts[1], body)}
            if method == "POST" and parts[:1] == ["schedules"] and parts[2:] == ["fire"]:
                return 200, {"response": emulator.fire(parts[1])}
            if method == "POST" and parts == ["clock"]:
                emulator.advance(float(body.get("advance_s", 0)))
                return 200, {"now": emulator.clock.now().isoformat()}
            if method == "GET" and parts == ["invocations"]:
                return 200, [asdict(i) for i in emulator.invocations]
        except InvocationFailed as exc:
            return 502, {"error": str(exc)}
        except KeyError as exc:
            return 404, {"error": str(exc.args[0]) if exc.args else "not found"}
        return 404, {"error": f"no route {method} {path}"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                    status, result = control.dispatch(self.command, self.path, body)
                except ValueError as exc:
                    status, result = 400, {"error": f"invalid JSON: {exc}"}
                payload = json.dumps(result, default=str).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def write_state(state: dict[str, str], path: Path = STATE_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))


def read_state(path: Path = STATE_FILE) -> dict[str, str] | None:
    """The running ``offpath dev``'s addresses, or None if none answers."""
    if not path.exists():
        return None
    state: dict[str, str] = json.loads(path.read_text())
    try:
        call(state["control"], "GET", "/invocations")
    except OSError:
        return None
    return state


def call(base: str, method: str, path: str, body: Any = None) -> Any:
    """One control request; raises ``RuntimeError`` with the emulator's error."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(json.loads(exc.read()).get("error", str(exc))) from None

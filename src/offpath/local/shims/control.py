"""offpath's control routes as ASGI middleware, and a shiftable ``time`` module.

Standard library only: the launchers load this file into a backend's own process.
"""

from __future__ import annotations

import json
import re
import threading
import time as _real_time
import types
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


class ShiftedTime(types.ModuleType):
    """The ``time`` module, with ``time()`` running ``offset_s`` ahead.

    Put in place of ``time`` in a backend's service modules, it moves every
    timestamp they compare (visibility timeouts, delays, TTLs) with one number;
    sleeping and monotonic time stay real.
    """

    def __init__(self) -> None:
        super().__init__("time")
        self.offset_s = 0.0

    def time(self) -> float:
        return _real_time.time() + self.offset_s

    def time_ns(self) -> int:
        return _real_time.time_ns() + int(self.offset_s * 1e9)

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


# REST APIs name the operation by method and path, not by a header: the routes of
# the ones offpath calls (EventBridge Scheduler), so the meter counts them by name.
# (Standard library only, so not botocore's service model: see the module docstring.)
_REST_ROUTES: dict[str, list[tuple[str, re.Pattern[str], str]]] = {
    "scheduler": [
        (method, re.compile(pattern), operation)
        for method, pattern, operation in (
            ("POST", r"^/schedules/[^/]+$", "CreateSchedule"),
            ("GET", r"^/schedules/[^/]+$", "GetSchedule"),
            ("PUT", r"^/schedules/[^/]+$", "UpdateSchedule"),
            ("DELETE", r"^/schedules/[^/]+$", "DeleteSchedule"),
            ("GET", r"^/schedules/?$", "ListSchedules"),
            ("POST", r"^/schedule-groups/[^/]+$", "CreateScheduleGroup"),
            ("GET", r"^/schedule-groups/[^/]+$", "GetScheduleGroup"),
            ("DELETE", r"^/schedule-groups/[^/]+$", "DeleteScheduleGroup"),
            ("GET", r"^/schedule-groups/?$", "ListScheduleGroups"),
        )
    ],
}


def rest_operation(service: str, method: str, path: str) -> str:
    """The operation a REST request names, or ``METHOD path`` for a route not listed."""
    for route_method, pattern, operation in _REST_ROUTES.get(service, []):
        if method == route_method and pattern.match(path):
            return operation
    return f"{method} {path}"


def operation_of(headers: dict[str, str], method: str, path: str, query: str) -> str:
    """``service:Operation`` of a request, as AWS would bill it."""
    scope = _SCOPE.search(headers.get("authorization", ""))
    service = scope.group(1) if scope else "unknown"
    target = headers.get("x-amz-target", "")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    action = parse_qs(query).get("Action")
    if action:
        return f"{service}:{action[0]}"
    return f"{service}:{rest_operation(service, method, path)}"


class Meter:
    """The control routes' state and answers, for any server framework."""

    def __init__(self, clock: ShiftedTime) -> None:
        self.clock = clock
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        # Run after each move of the clock: a backend that re-queues in-flight
        # messages on a timer of its own does it at once, as if that timer ran.
        self.after_advance: list[Callable[[], None]] = []

    def count(self, operation: str) -> None:
        with self.lock:
            self.calls[operation] += 1

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """(status, JSON) for ``/_offpath/clock`` or ``/_offpath/calls``."""
        if path == "/_offpath/clock":
            if method == "POST":
                advance_s = float(json.loads(body or b"{}").get("advance_s", 0))
                if advance_s < 0:
                    return 400, {"error": "the clock only moves forward"}
                self.clock.offset_s += advance_s
                for hook in self.after_advance:
                    hook()
            return 200, {"now": self.clock.time(), "offset_s": self.clock.offset_s}
        if path == "/_offpath/calls":
            with self.lock:
                calls = dict(self.calls)
                if method == "DELETE":
                    self.calls.clear()
            return 200, calls
        return 404, {"error": "not found"}


class ControlMiddleware:
    """ASGI: counts every AWS request and serves ``/_offpath/clock`` and ``/_offpath/calls``."""

    def __init__(self, app: Asgi, meter: Meter) -> None:
        self.app = app
        self.meter = meter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith("/_offpath/"):
            await self._control(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        query = scope.get("query_string", b"").decode()
        self.meter.count(operation_of(headers, scope.get("method", ""), path, query))
        await self.app(scope, receive, send)

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = self.meter.answer(scope.get("method", ""), scope["path"], body)
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def exit_with_parent() -> None:
    """Never outlive the emulator, even when it is killed with no chance to clean up."""
    import os

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            _real_time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()

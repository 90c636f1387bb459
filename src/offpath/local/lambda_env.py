"""Lambda execution environments as child processes.

Each environment is one process that imports the handler on its first invocation
(the cold start) and keeps module state between invocations (warm), as Lambda
does. The parent enforces the function's Timeout by killing the process, and a
crash (even ``os._exit``) fails only that invocation: the environment is replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from offpath.invocation import clock_offset
from offpath.local.context import LocalContext
from offpath.local.esm import InvocationFailed


@dataclass(frozen=True)
class FunctionConfig:
    """What an environment needs to run a function."""

    name: str
    handler: str  # "package.module.function"
    code_root: str
    timeout_s: float
    memory_mb: int
    environment: dict[str, str]
    log_file: str | None = None  # None: the function's stdout and stderr are ours


@dataclass
class Invocation:
    """One finished invocation, for the log and the dashboard."""

    function: str
    request_id: str
    cold: bool
    duration_ms: float
    ok: bool
    records_in: int = 0
    failures_out: int = 0
    error: str | None = None
    at: float = field(default_factory=time.time)


def _environment_main(conn: Connection) -> None:  # pragma: no cover - the child process
    """The child: read its config, import on first use, serve invocations until closed."""
    config = FunctionConfig(**json.loads(conn.recv_bytes()))
    os.environ.update(config.environment)
    sys.path.insert(0, config.code_root)
    handler: Callable[[Any, Any], Any] | None = None
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError, KeyboardInterrupt):
            return
        cold = handler is None
        try:
            if handler is None:
                module_name, _, attr = config.handler.rpartition(".")
                handler = getattr(importlib.import_module(module_name), attr)
            context = LocalContext(
                function_name=config.name,
                timeout_s=config.timeout_s,
                memory_limit_in_mb=config.memory_mb,
                aws_request_id=request["request_id"],
                region=config.environment.get("AWS_REGION", "us-east-1"),
            )
            with clock_offset(request.get("clock_offset_s", 0.0)):
                response = handler(request["event"], context)
            # Lambda serialises the response as JSON; so do we, and fail as it does.
            reply = {"ok": True, "cold": cold, "response": response}
            payload = json.dumps(reply)
        except KeyboardInterrupt:
            return
        except BaseException as exc:  # noqa: BLE001 -- report every error as Lambda does
            payload = json.dumps(
                {
                    "ok": False,
                    "cold": cold,
                    "error": {
                        "errorType": type(exc).__name__,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_exception(exc),
                    },
                }
            )
        conn.send_bytes(payload.encode())


class ExecutionEnvironment:
    """One process for one function: cold on its first invocation, warm after.

    A plain child process (``python -m offpath.local.lambda_env``), not
    multiprocessing's spawn, so the user's ``__main__`` is never re-imported; it
    speaks JSON over a socket pair, never pickle.
    """

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        parent, child = socket.socketpair()
        log = open(config.log_file, "ab") if config.log_file else None  # noqa: SIM115
        try:
            self.process = subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
                [sys.executable, "-m", "offpath.local.lambda_env", str(child.fileno())],
                pass_fds=[child.fileno()],
                cwd=config.code_root,
                stdout=log,
                stderr=subprocess.STDOUT if log else None,
                # Line by line into the file, as Lambda ships lines to CloudWatch Logs.
                env={**os.environ, "PYTHONUNBUFFERED": "1"} if log else None,
            )
        finally:
            if log is not None:
                log.close()  # the child has its own descriptor
        child.close()
        self.parent = Connection(parent.detach())
        self.parent.send_bytes(json.dumps(dataclasses.asdict(config)).encode())
        self.invocations = 0

    def invoke(
        self, event: dict[str, Any], request_id: str, clock_offset_s: float = 0.0
    ) -> dict[str, Any]:
        """Run one invocation; raises :class:`InvocationFailed` on timeout or crash."""
        self.invocations += 1
        request = {"event": event, "request_id": request_id, "clock_offset_s": clock_offset_s}
        try:
            self.parent.send_bytes(json.dumps(request).encode())
            ready = self.parent.poll(self.config.timeout_s)
        except OSError:
            ready = True  # the process is gone: recv below reports it
        if not ready:
            self.kill()
            raise InvocationFailed(
                f"{self.config.name}: Task timed out after {self.config.timeout_s:.2f} seconds"
            )
        try:
            reply: dict[str, Any] = json.loads(self.parent.recv_bytes())
        except (EOFError, OSError):
            code = self.process.wait(5)
            raise InvocationFailed(
                f"{self.config.name}: Runtime exited with error: exit status {code}"
            ) from None
        return reply

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)
        self.parent.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.parent.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(2)
        self.kill()


class FunctionPool:
    """Up to ``max_environments`` environments of one function, reused while warm."""

    def __init__(
        self,
        config: FunctionConfig,
        *,
        max_environments: int = 10,
        on_invocation: Callable[[Invocation], None] | None = None,
        clock_offset_s: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.config = config
        self.clock_offset_s = clock_offset_s
        self.max_environments = max_environments
        self.on_invocation = on_invocation
        self._idle: deque[ExecutionEnvironment] = deque()
        self._all: set[ExecutionEnvironment] = set()
        self._slots = threading.Semaphore(max_environments)
        self._lock = threading.Lock()
        self.busy = 0
        self.peak_busy = 0

    def _acquire(self) -> ExecutionEnvironment:
        self._slots.acquire()
        with self._lock:
            self.busy += 1
            self.peak_busy = max(self.peak_busy, self.busy)
            while self._idle:
                env = self._idle.popleft()
                if env.alive:
                    return env
                self._all.discard(env)
        env = ExecutionEnvironment(self.config)
        with self._lock:
            self._all.add(env)
        return env

    def _release(self, env: ExecutionEnvironment, healthy: bool) -> None:
        with self._lock:
            self.busy -= 1
            if healthy and env.alive:
                self._idle.append(env)
            else:
                self._all.discard(env)
        if not healthy:
            env.kill()
        self._slots.release()

    def invoke(self, event: dict[str, Any], clock_offset_s: float | None = None) -> Any:
        """Invoke the function; raises :class:`InvocationFailed` if it errors.

        ``clock_offset_s`` overrides the emulator clock's offset for this invocation:
        a schedule tick passed by a jumped clock runs as if at its own time.
        """
        request_id = str(uuid.uuid4())
        offset_s = self.clock_offset_s() if clock_offset_s is None else clock_offset_s
        env = self._acquire()
        cold = env.invocations == 0
        started = time.perf_counter()
        healthy = True
        try:
            reply = env.invoke(event, request_id, offset_s)
        except InvocationFailed as exc:
            healthy = False
            self._log(request_id, cold, started, event, None, str(exc))
            raise
        finally:
            self._release(env, healthy)
        if not reply["ok"]:
            error = reply["error"]
            message = f"{error['errorType']}: {error['errorMessage']}"
            self._log(request_id, cold, started, event, None, message)
            raise InvocationFailed(message)
        self._log(request_id, cold, started, event, reply["response"], None)
        return reply["response"]

    def _log(
        self,
        request_id: str,
        cold: bool,
        started: float,
        event: dict[str, Any],
        response: Any,
        error: str | None,
    ) -> None:
        if self.on_invocation is None:
            return
        records = event.get("Records") if isinstance(event, dict) else None
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        self.on_invocation(
            Invocation(
                function=self.config.name,
                request_id=request_id,
                cold=cold,
                duration_ms=(time.perf_counter() - started) * 1000,
                ok=error is None,
                records_in=len(records) if isinstance(records, list) else 0,
                failures_out=len(failures) if isinstance(failures, list) else 0,
                error=error,
            )
        )

    def stop(self) -> None:
        with self._lock:
            envs = list(self._all)
            self._all.clear()
            self._idle.clear()
        for env in envs:
            env.stop()


if __name__ == "__main__":  # pragma: no cover - the child process
    _environment_main(Connection(int(sys.argv[1])))

"""Lambda execution environments as child processes.

Each environment is one process of the function's own interpreter (its template's
runtime, with only what its build installs: :mod:`offpath.local.function_runtime`),
running :mod:`offpath.local.shims.lambda_runtime`. As on Lambda
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html):

- the first invocation of an environment starts with its init phase, the handler's
  import, which has its own 10 s; if init runs out of them, the environment is
  replaced and init runs again inside the invocation, on the function's Timeout
  (a "suppressed init");
- the invocation has the function's ``Timeout`` from its own start (the context's
  deadline too); past it the process is killed;
- the process may use ``MemorySize``: past it, it is killed (``Runtime.OutOfMemory``);
- module state survives between invocations (warm); a crash, even ``os._exit``,
  fails only that invocation, and the environment is replaced.

It speaks JSON over a socket pair, never pickle, and starts no ``multiprocessing``
child, so the user's ``__main__`` is never imported again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from offpath.local.esm import InvocationFailed

RUNTIME_SHIM = Path(__file__).resolve().parent / "shims" / "lambda_runtime.py"
INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit (on-demand functions)
MEMORY_POLL_S = 0.05


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
    python: str = ""  # the interpreter; "" for the one running offpath
    paths: tuple[str, ...] = ()  # sys.path entries before its packages; () for code_root
    read_only: tuple[str, ...] = ()  # Lambda's /var/task: the code; () for code_root
    writable: tuple[str, ...] = ()  # within it, files the emulator gives the function
    runtime: str = "python3.12"
    init_timeout_s: float = INIT_TIMEOUT_S
    enforce_memory: bool = True


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
    init_ms: float | None = None  # the init phase, on a cold start
    max_memory_mb: float | None = None


def process_environment(config: FunctionConfig) -> dict[str, str]:
    """The variables a Lambda execution environment has, then the function's own.

    Nothing else of the shell's comes through: on Lambda nothing would.
    """
    base = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": config.code_root,
        "LAMBDA_RUNTIME_DIR": str(RUNTIME_SHIM.parent),
        "_HANDLER": config.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(config.timeout_s)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        # Line by line into the log, as Lambda ships lines to CloudWatch Logs.
        "PYTHONUNBUFFERED": "1",
    }
    return {**base, **config.environment}


def resident_mb(pid: int) -> float | None:
    """The process's resident memory (Linux /proc), or None where it cannot be read."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


class ExecutionEnvironment:
    """One process for one function: init on its first invocation, warm after."""

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        self.invocations = 0
        self.initialized = False
        self.init_ms: float | None = None
        self.max_memory_mb = 0.0
        self._start()

    def _start(self) -> None:
        config = self.config
        parent, child = socket.socketpair()
        log = open(config.log_file, "ab") if config.log_file else None  # noqa: SIM115
        try:
            self.process = subprocess.Popen(  # noqa: S603 -- our own runtime, fixed arguments
                [config.python or _own_python(), str(RUNTIME_SHIM), str(child.fileno())],
                pass_fds=[child.fileno()],
                cwd=config.code_root,
                stdout=log,
                stderr=subprocess.STDOUT if log else None,
                env=process_environment(config),
            )
        finally:
            if log is not None:
                log.close()  # the child has its own descriptor
        child.close()
        self.parent = Connection(parent.detach())
        setup = {
            **dataclasses.asdict(config),
            "paths": list(config.paths or (config.code_root,)),
            "read_only": list(config.read_only or (config.code_root,)),
        }
        self.parent.send_bytes(json.dumps(setup).encode())

    def invoke(
        self, event: dict[str, Any], request_id: str, clock_offset_s: float = 0.0
    ) -> dict[str, Any]:
        """Run one invocation (after init, on a cold start); raises
        :class:`InvocationFailed` on timeout, crash or memory exhaustion."""
        self.invocations += 1
        budget_s = self.config.timeout_s
        if not self.initialized:
            reply, budget_s = self._init()
            if not reply["ok"]:
                return reply
        request = {
            "type": "invoke",
            "event": event,
            "request_id": request_id,
            "clock_offset_s": clock_offset_s,
            "timeout_s": budget_s,
        }
        return self._call(request, budget_s, "Task timed out after {:.2f} seconds")

    def _init(self) -> tuple[dict[str, Any], float]:
        """The init phase: its own 10 s; past them, once more inside the invocation."""
        started = time.monotonic()
        try:
            reply = self._call({"type": "init"}, self.config.init_timeout_s, "init timed out")
        except InvocationFailed as exc:
            if "init timed out" not in str(exc):
                raise
            # Suppressed init: a fresh environment, init on the invocation's Timeout.
            self._start()
            started = time.monotonic()
            reply = self._call(
                {"type": "init"}, self.config.timeout_s, "Task timed out after {:.2f} seconds"
            )
        elapsed_s = time.monotonic() - started
        self.initialized = bool(reply["ok"])
        self.init_ms = reply.get("init_ms", elapsed_s * 1000)
        budget_s = self.config.timeout_s
        if self.config.init_timeout_s < elapsed_s:  # a suppressed init spent the Timeout
            budget_s = max(0.0, budget_s - elapsed_s)
        return reply, budget_s

    def _call(self, request: dict[str, Any], timeout_s: float, on_timeout: str) -> dict[str, Any]:
        try:
            self.parent.send_bytes(json.dumps(request).encode())
            ready = self._wait(timeout_s)
        except OSError:
            ready = True  # the process is gone: recv below reports it
        if ready == "memory":
            self.kill()
            raise InvocationFailed(
                f"{self.config.name}: Runtime.OutOfMemory: Runtime exited with error: "
                f"signal: killed (Max Memory Used: {self.max_memory_mb:.0f} MB of "
                f"{self.config.memory_mb} MB)"
            )
        if not ready:
            self.kill()
            raise InvocationFailed(f"{self.config.name}: {on_timeout.format(timeout_s)}")
        try:
            reply: dict[str, Any] = json.loads(self.parent.recv_bytes())
        except (EOFError, OSError):
            code = self.process.wait(5)
            raise InvocationFailed(
                f"{self.config.name}: Runtime exited with error: exit status {code}"
            ) from None
        return reply

    def _wait(self, timeout_s: float) -> bool | str:
        """True when a reply is there, False at the deadline, "memory" past MemorySize."""
        deadline = time.monotonic() + timeout_s
        limit_mb = self.config.memory_mb if self.config.enforce_memory else None
        while True:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                return False
            if self.parent.poll(min(MEMORY_POLL_S, left_s)):
                return True
            used = resident_mb(self.process.pid)
            if used is not None:
                self.max_memory_mb = max(self.max_memory_mb, used)
                if limit_mb is not None and used > limit_mb:
                    return "memory"

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


def _own_python() -> str:
    import sys

    return sys.executable


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
            self._log(request_id, cold, started, event, None, str(exc), env)
            raise
        finally:
            self._release(env, healthy)
        if not reply["ok"]:
            error = reply["error"]
            message = f"{error['errorType']}: {error['errorMessage']}"
            self._log(request_id, cold, started, event, None, message, env)
            if not env.initialized:
                self._discard(env)  # an init error: the next invocation starts afresh
            raise InvocationFailed(message)
        self._log(request_id, cold, started, event, reply["response"], None, env)
        return reply["response"]

    def _discard(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            if env in self._idle:
                self._idle.remove(env)
            self._all.discard(env)
        env.kill()

    def _log(
        self,
        request_id: str,
        cold: bool,
        started: float,
        event: dict[str, Any],
        response: Any,
        error: str | None,
        env: ExecutionEnvironment | None = None,
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
                init_ms=env.init_ms if env is not None and cold else None,
                max_memory_mb=env.max_memory_mb or None if env is not None else None,
            )
        )

    def stop(self) -> None:
        with self._lock:
            envs = list(self._all)
            self._all.clear()
            self._idle.clear()
        for env in envs:
            env.stop()

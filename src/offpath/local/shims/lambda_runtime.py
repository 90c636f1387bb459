"""One Lambda execution environment's runtime, run by the function's own interpreter.

    <python3.12> src/offpath/local/shims/lambda_runtime.py <fd>

Standard library only: the function's environment holds what its build installs and
nothing of offpath's tooling. It speaks JSON over the socket ``fd`` with
:mod:`offpath.local.lambda_env` and behaves as Lambda's Python runtime
(awslambdaric) does:

- an ``init`` message imports the handler: the init phase, apart from any
  invocation (Lambda gives it its own 10 s). An import error is reported as
  ``Runtime.ImportModuleError``, "Unable to import module 'M': <error>", a syntax
  error as ``Runtime.UserCodeSyntaxError``, a missing function as
  ``Runtime.HandlerNotFound``: awslambdaric's own types and messages;
- an ``invoke`` message runs the handler with a context whose deadline starts now,
  and answers its JSON-serialised response, or the error as Lambda reports it (and
  logs it, ``[ERROR] Type: message`` and the traceback, to the function's log);
- the code (Lambda's ``/var/task``) is read-only: writing under it fails with
  ``[Errno 30] Read-only file system``, as it does on Lambda; ``/tmp`` is writable.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

# sys.path[0] is this file's directory: the function must not see offpath's launchers.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WRITING_EVENTS = {
    "os.mkdir",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.symlink",
    "os.link",
    "os.truncate",
    "os.chmod",
    "os.utime",
    "shutil.rmtree",
    "shutil.copyfile",
}


class LambdaContext:
    """What Lambda passes as ``context``: names, limits and the time left."""

    def __init__(self, config: dict[str, Any], request_id: str, timeout_s: float) -> None:
        self.function_name: str = config["name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(config["memory_mb"])
        region = config["environment"].get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{config.get('account_id', '123456789012')}"
            f":function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = config.get("log_stream", "local")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FaultError(Exception):
    """An init failure awslambdaric reports with a type of its own."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _read_only(roots: list[str], writable: list[str]) -> Callable[[str, tuple[Any, ...]], None]:
    """An audit hook that refuses writes under ``roots``, except to ``writable`` (files
    the emulator hands the function) and byte-code caches (the Lambda artifact ships
    them; Python writes them here only when it lacks them)."""
    prefixes = tuple(os.path.join(os.path.realpath(r), "") for r in roots)
    allowed = {os.path.realpath(w) for w in writable}

    def under(path: Any) -> bool:
        if isinstance(path, int) or path is None:
            return False
        real = os.path.realpath(os.fsdecode(path))
        if real in allowed or os.path.dirname(real) in allowed:
            return False
        if "__pycache__" in real.split(os.sep) and real.endswith((".pyc", ".tmp")):
            return False
        return real.startswith(prefixes) or real + os.sep in prefixes

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = (mode and any(c in str(mode) for c in "wax+")) or (flags & _WRITE_FLAGS)
            if writing and under(path):
                raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))
        elif event in _WRITING_EVENTS and args and under(args[0]):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(args[0]))

    return hook


def _load_handler(spec: str) -> Callable[[Any, Any], Any]:
    """awslambdaric's ``_get_handler``: the same failures, the same words."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from exc
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise FaultError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise FaultError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise FaultError("Runtime.HandlerNotFound", message)
    return handler  # type: ignore[no-any-return]


def _error(exc: BaseException) -> dict[str, Any]:
    error_type = exc.error_type if isinstance(exc, FaultError) else type(exc).__name__
    stack = [] if isinstance(exc, FaultError) else traceback.format_tb(exc.__traceback__)
    return {"errorType": error_type, "errorMessage": str(exc), "stackTrace": stack}


def _log_error(error: dict[str, Any], request_id: str | None) -> None:
    """What the runtime writes to the function's log for an unhandled error."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines += [line.rstrip("\n") for line in error["stackTrace"]]
    if request_id:
        lines[0] += f" (RequestId: {request_id})"
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def _offpath_clock() -> Callable[[float], contextlib.AbstractContextManager[None]] | None:
    """``offpath.invocation.clock_offset`` of the function's own offpath, if it has one."""
    try:
        if importlib.util.find_spec("offpath") is None:
            return None
        module = importlib.import_module("offpath.invocation")
    except ImportError:
        return None
    return getattr(module, "clock_offset", None)


@contextlib.contextmanager
def _clock_offset(seconds: float) -> Iterator[None]:
    """The emulator's clock for this invocation, where the function reads offpath's."""
    clock_offset = _offpath_clock() if seconds else None
    if clock_offset is None:
        yield
        return
    with clock_offset(seconds):
        yield


class Runtime:
    def __init__(self, conn: Connection, config: dict[str, Any]) -> None:
        self.conn = conn
        self.config = config
        self.handler: Callable[[Any, Any], Any] | None = None
        self.init_error: dict[str, Any] | None = None

    def init(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            self.handler = _load_handler(self.config["handler"])
        except Exception as exc:  # noqa: BLE001 -- every init failure is reported, as Lambda does
            self.init_error = _error(exc)
            _log_error(self.init_error, None)
            return {"ok": False, "error": self.init_error}
        return {"ok": True, "init_ms": (time.perf_counter() - started) * 1000}

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.handler is None:
            # Lambda reports the init error on the invocation that needed it.
            return {"ok": False, "error": self.init_error or {"errorType": "Runtime.Unknown"}}
        context = LambdaContext(self.config, request["request_id"], request["timeout_s"])
        try:
            with _clock_offset(request.get("clock_offset_s", 0.0)):
                response = self.handler(request["event"], context)
            # Lambda serialises the response as JSON; so do we, and fail as it does.
            return {"ok": True, "response": json.loads(json.dumps(response))}
        except Exception as exc:  # noqa: BLE001 -- every error is the invocation's, as on Lambda
            error = _error(exc)
            _log_error(error, request["request_id"])
            return {"ok": False, "error": error}

    def serve(self) -> None:
        while True:
            try:
                request = json.loads(self.conn.recv_bytes())
            except (EOFError, OSError, KeyboardInterrupt):
                return
            try:
                reply = self.init() if request["type"] == "init" else self.invoke(request)
                payload = json.dumps(reply)
            except (TypeError, ValueError) as exc:  # a response JSON cannot carry
                payload = json.dumps({"ok": False, "error": _error(exc)})
            except KeyboardInterrupt:
                return
            self.conn.send_bytes(payload.encode())


def main() -> None:
    conn = Connection(int(sys.argv[1]))
    config: dict[str, Any] = json.loads(conn.recv_bytes())
    for path in reversed(config["paths"]):
        sys.path.insert(0, path)
    if config.get("read_only"):
        sys.addaudithook(_read_only(config["read_only"], config.get("writable", [])))
    Runtime(conn, config).serve()


if __name__ == "__main__":
    main()

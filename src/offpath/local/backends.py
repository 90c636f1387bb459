"""The AWS backends ``offpath dev`` runs a template on: MiniStack, moto, LocalStack, or yours.

Every backend the emulator starts is a child process on a loopback port that also
answers offpath's two control routes, served from inside the backend's own process:

- ``POST /_offpath/clock {"advance_s": N}`` moves the clock the backend's services
  read (SQS visibility timeouts, delays, receive times; DynamoDB TTL);
  ``GET /_offpath/clock`` returns it;
- ``GET /_offpath/calls`` returns every AWS request served, by ``service:Operation``
  (``DELETE`` also resets it): the emulator's own count of the user's bill.

moto gets them from WSGI middleware (:mod:`offpath.local.motoserver`), MiniStack and
LocalStack from a launcher run by their own interpreters (:mod:`offpath.local.shims`),
since each pins its own botocore and lives in a virtual environment of its own
(:mod:`offpath.local.toolenv`). A backend given by URL (``--endpoint``) has neither:
the emulator then says its clock does not move SQS time and it counts no calls.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from offpath.errors import ConfigurationError
from offpath.local.endpoints import Endpoints
from offpath.local.pythons import find_python
from offpath.local.toolenv import (
    EnvironmentBuildError,
    cached_venv,
    ensure_venv,
    read_requirements,
)

SHIMS = Path(__file__).resolve().parent / "shims"
BACKENDS = ("ministack", "moto", "localstack")
DEFAULT_BACKEND = "ministack"
LOCALSTACK_PYTHON = "3.13"  # localstack-core 2026.3's runtime needs it


class BackendError(ConfigurationError):
    """A backend could not be installed or started."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One backend child process that serves AWS APIs and offpath's control routes.

    Example:
        >>> with MotoBackend() as backend:  # doctest: +SKIP
        ...     boto3.client("sqs", endpoint_url=backend.endpoint)
    """

    name = "server"
    services: tuple[str, ...] | None = None  # None: every service the emulator uses

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    # ------------------------------------------------------------------ to override
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return {}

    def _address(self) -> list[str]:
        return ["--host", self.host, "--port", str(self.port)]

    # ------------------------------------------------------------------ lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoints(self) -> Endpoints:
        if self.services is None:
            return Endpoints(self.endpoint)
        return Endpoints(None, dict.fromkeys(self.services, self.endpoint))

    def start(self, timeout_s: float = 60) -> Self:
        # Its output goes to a file: a backend that fails to start says why there.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- closed in stop()
            prefix=f"offpath-{self.name}-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(  # noqa: S603 -- our own launcher, fixed arguments
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.environment()},
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BackendError(
                    f"{self.name} exited with {self.process.returncode}: {self._tail()}"
                )
            try:
                self._request("GET", "/_offpath/clock")
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BackendError(f"{self.name} did not start on {self.endpoint}: {self._tail()}")

    def _tail(self) -> str:
        if self._log is None:
            return ""
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> Self:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ control routes
    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 -- loopback http only
            self.endpoint + path, data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def advance(self, seconds: float) -> None:
        """Move the backend's clock forward."""
        self._request("POST", "/_offpath/clock", {"advance_s": seconds})

    def calls(self) -> dict[str, int]:
        """Requests served so far, by ``service:Operation``."""
        result: dict[str, int] = self._request("GET", "/_offpath/calls")
        return result

    def reset_calls(self) -> dict[str, int]:
        result: dict[str, int] = self._request("DELETE", "/_offpath/calls")
        return result


class MotoBackend(ServerProcess):
    """moto's server, in the development environment's own interpreter."""

    name = "moto"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "offpath.local.motoserver",
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]


class MiniStackBackend(ServerProcess):
    """MiniStack, in its own pinned virtual environment, with offpath's launcher."""

    name = "ministack"

    def __init__(self, python: str, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host, port)
        self.python = python
        self._tmp = tempfile.mkdtemp(prefix="offpath-ministack-")

    def command(self) -> list[str]:
        return [
            self.python,
            str(SHIMS / "ministack_main.py"),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    def environment(self) -> dict[str, str]:
        return {"TMPDIR": self._tmp, "LOG_LEVEL": "ERROR"}


class LocalStackBackend(ServerProcess):
    """LocalStack in host mode (no Docker) for SQS and EventBridge; the emulator takes
    DynamoDB and Scheduler from another backend (LocalStack's DynamoDB needs Java)."""

    name = "localstack"
    services = ("sqs", "events")

    def __init__(self, python: str, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host, port)
        self.python = python
        self._tmp = tempfile.mkdtemp(prefix="offpath-localstack-")

    def command(self) -> list[str]:
        return [self.python, str(SHIMS / "localstack_main.py")]

    def environment(self) -> dict[str, str]:
        return {
            "GATEWAY_LISTEN": f"{self.host}:{self.port}",
            "LOCALSTACK_HOST": f"{self.host}:{self.port}",  # the host in its queue URLs
            "LOCALSTACK_VOLUME_DIR": self._tmp,
            "TMPDIR": self._tmp,
        }

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(
            None, {s: localstack_endpoint(s, f"{self.host}:{self.port}") for s in self.services}
        )


def localstack_endpoint(service: str, localstack_host: str) -> str:
    """The URL localstack-client gives for ``service`` of the LocalStack at ``localstack_host``.

    localstack-client answers ``AWS_ENDPOINT_URL`` for every service when it is set,
    which would point LocalStack's services at whatever else the shell names: it is
    left out of this one question.
    """
    from localstack_client import config

    saved = os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        url = config.get_service_endpoint(service, localstack_host=localstack_host)
    finally:
        if saved is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved
    if url is None:
        raise BackendError(f"localstack-client knows no endpoint for {service}")
    return str(url)


class CompositeBackend:
    """Several backends seen as one: per-service endpoints, one clock, summed calls."""

    def __init__(self, *parts: ServerProcess) -> None:
        self.parts = list(parts)
        self.name = "+".join(p.name for p in parts)

    def start(self) -> CompositeBackend:
        started: list[ServerProcess] = []
        try:
            for part in self.parts:
                started.append(part.start())
        except BaseException:
            for part in started:
                part.stop()
            raise
        return self

    def stop(self) -> None:
        for part in self.parts:
            part.stop()

    @property
    def endpoints(self) -> Endpoints:
        merged = Endpoints()
        for part in self.parts:
            merged = merged.overlay(part.endpoints)
        return merged

    def advance(self, seconds: float) -> None:
        for part in self.parts:
            part.advance(seconds)

    def calls(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for part in self.parts:
            total.update(part.calls())
        return dict(total)

    def reset_calls(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for part in self.parts:
            total.update(part.reset_calls())
        return dict(total)


Backend = ServerProcess | CompositeBackend


def tool_python(name: str, python: str | None, log: Callable[[str], None] = print) -> str:
    """The interpreter of backend ``name``'s pinned environment, made once.

    ``OFFPATH_<NAME>_VENV`` names where it lives; by default it is cached per user
    (:func:`offpath.local.toolenv.cache_dir`), keyed by its pinned requirements.
    """
    if python is None:
        raise BackendError(
            f"{name} needs Python {LOCALSTACK_PYTHON}, and none was found "
            f"(pyenv install {LOCALSTACK_PYTHON}, or set OFFPATH_{name.upper()}_PYTHON)"
        )
    requirements = read_requirements(SHIMS / f"requirements-{name}.txt")
    configured = os.environ.get(f"OFFPATH_{name.upper()}_VENV")
    venv = Path(configured) if configured else cached_venv(name, python, requirements)
    return str(ensure_venv(venv, python, requirements, log=log))


def make_backend(name: str, host: str = "127.0.0.1", log: Callable[[str], None] = print) -> Backend:
    """The backend called ``name``, not started yet; its environment made if needed.

    Raises:
        BackendError: an unknown name, or an environment that could not be made.
    """
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r} (choose one of {', '.join(BACKENDS)})")
    try:
        alone = _alone(name, host, None, log)
    except EnvironmentBuildError as exc:
        raise BackendError(f"{name}: {exc}") from exc
    if name == "localstack":
        # DynamoDB and Scheduler from moto (LocalStack's DynamoDB runs on Java).
        return CompositeBackend(MotoBackend(host), alone)
    return alone


def main(argv: list[str] | None = None) -> int:
    """``python -m offpath.local.backends prepare|serve NAME``: for the scripts in infra/.

    ``prepare`` makes the backend's pinned environment (once; CI runs it before the
    tests); ``serve`` runs the backend alone on ``--port`` until interrupted and
    prints the variables that point boto3 (and ``offpath dev``) at it.
    """
    import argparse
    import signal
    import threading

    parser = argparse.ArgumentParser(prog="python -m offpath.local.backends")
    parser.add_argument("action", choices=("prepare", "serve"))
    parser.add_argument("name", choices=BACKENDS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        backend = _alone(
            args.name, args.host, args.port, log=lambda line: print(line, file=sys.stderr)
        )
    except (BackendError, EnvironmentBuildError) as exc:
        print(f"{args.name}: {exc}", file=sys.stderr)
        return 1
    if args.action == "prepare":
        print(f"{args.name}: ready")
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    backend.start()
    try:
        for name, value in backend.endpoints.environment().items():
            print(f"export {name}={value}", flush=True)
        stop.wait()
    finally:
        backend.stop()
    return 0


def _alone(
    name: str, host: str, port: int | None, log: Callable[[str], None] = print
) -> ServerProcess:
    """One backend's own server (LocalStack without the moto beside it)."""
    if name == "moto":
        return MotoBackend(host, port)
    if name == "ministack":
        # Any CPython 3.10+ runs it: the one running offpath (its base, not a venv).
        python = os.environ.get("OFFPATH_MINISTACK_PYTHON") or getattr(
            sys, "_base_executable", sys.executable
        )
        return MiniStackBackend(tool_python(name, python, log), host, port)
    python = os.environ.get("OFFPATH_LOCALSTACK_PYTHON") or find_python(LOCALSTACK_PYTHON)
    return LocalStackBackend(tool_python(name, python, log), host, port)


if __name__ == "__main__":
    sys.exit(main())

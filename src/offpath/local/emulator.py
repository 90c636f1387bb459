"""``offpath dev``: the whole template running locally on an embedded AWS backend.

:class:`Emulator` provisions the template's resources on a backend it starts
(MiniStack by default, moto or LocalStack: :mod:`offpath.local.backends`) or on
endpoints you name, runs each function in Lambda-like child processes, serves the
HttpApi, polls SQS like Lambda's event source mapping, and fires schedules. With
``background=False`` nothing runs by itself: tests call :meth:`drain`,
:meth:`advance` and :meth:`fire_due` for a deterministic run with no sleeps.
"""

from __future__ import annotations

import functools
import os
import random
import threading
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from offpath.aws import Clients
from offpath.local.async_invoke import AsyncInvoker
from offpath.local.backends import DEFAULT_BACKEND, Backend, make_backend
from offpath.local.clock import EmulatorClock
from offpath.local.endpoints import Endpoints
from offpath.local.esm import BatchResult, EventSourceMapping
from offpath.local.firing import Firing
from offpath.local.function_env import ignored_names, resolve_environment
from offpath.local.function_runtime import Runtime, resolve_runtime
from offpath.local.http_api import HttpApi
from offpath.local.lambda_env import FunctionConfig, FunctionPool, Invocation
from offpath.local.provision import LOCAL_ENVIRONMENT, Provisioned, provision
from offpath.local.schedules import LocalSchedule
from offpath.local.topology import FunctionSpec, SqsEventSpec

# Any backend accepts any key; LocalStack and MiniStack take a 12-digit access key
# as the account, so every backend names the account the template's ARNs name.
ACCOUNT_ID = "123456789012"
LOCAL_CREDENTIALS = (ACCOUNT_ID, "offpath-local")
DEFAULT_CONCURRENCY = 10  # Lambda's is 1000; a laptop's is lower
POLL_WAIT_S = 2  # long-poll; short enough for a prompt Ctrl-C


@dataclass
class EmulatorOptions:
    template: Path
    host: str = "127.0.0.1"
    api_port: int = 3000
    backend: str = DEFAULT_BACKEND  # started unless endpoint (or use_env_endpoints) is given
    endpoint: str | None = None  # an AWS endpoint already running, for every service
    use_env_endpoints: bool = False  # no backend: AWS_ENDPOINT_URL* as the shell sets them
    # Per service, over the backend's or the endpoint's (a shell's AWS_ENDPOINT_URL_SQS...).
    service_endpoints: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    stack_name: str = "offpath"
    parameters: dict[str, Any] = field(default_factory=dict)
    background: bool = True
    extra_environment: dict[str, str] = field(default_factory=dict)
    function_logs: Path | None = None  # a directory: <LogicalId>.log per function
    seed: int | None = None  # of the random firing delays in flexible time windows
    fast: bool = False  # every function on the shared development environment
    env_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # SAM's --env-vars
    # The shell whose variables override the template's declared ones, as sam local
    # does; the CLI passes its own. None: none (the emulator never reads os.environ
    # for a function by itself, so a test's leftovers cannot reach one).
    shell_environment: dict[str, str] | None = None


@dataclass
class _Mapping:
    function: str
    spec: SqsEventSpec
    esm: EventSourceMapping
    slots: threading.Semaphore


class Emulator:
    """The template, running."""

    def __init__(self, options: EmulatorOptions, log: Callable[[str], None] = print) -> None:
        self.options = options
        self.log = log
        self.clock = EmulatorClock()
        self.backend: Backend | None = None
        self.endpoints = Endpoints(options.endpoint)
        self.clients: Clients | None = None
        self.provisioned: Provisioned | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.runtimes: dict[str, Runtime] = {}
        self.mappings: list[_Mapping] = []
        self.http: HttpApi | None = None
        self.invocations: deque[Invocation] = deque(maxlen=1000)
        self.rng = random.Random(options.seed)  # noqa: S311 -- firing delays, not secrets
        self.firing: Firing | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._executor: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Emulator:
        self.endpoints = self._endpoints()
        # Emulators accept any credentials; never pick up the user's real ones.
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS[0],
            aws_secret_access_key=LOCAL_CREDENTIALS[1],
            region_name=self.options.region,
        )
        self.clients = Clients(
            self.options.region,
            endpoint_url=self.endpoints.default,
            session=session,
            service_endpoints=dict(self.endpoints.services),
        )
        self.provisioned = provision(
            self.options.template,
            self.clients,
            stack_name=self.options.stack_name,
            parameters=self.options.parameters,
        )
        topology = self.provisioned.topology
        if self.options.function_logs is not None:
            self.options.function_logs.mkdir(parents=True, exist_ok=True)
        self.firing = Firing(
            self.clients,
            self.provisioned,
            lambda fn, event, offset_s: self.pools[fn].invoke(event, clock_offset_s=offset_s),
            self.clock,
            region=self.options.region,
            rng=self.rng,
            log=self.log,
        )
        for name in ignored_names(
            {f.logical_id: f.environment for f in topology.functions.values()},
            self.options.env_vars,
        ):
            self.log(f"--env-vars: {name} is not declared in the template; ignored (as by SAM)")
        for spec in topology.functions.values():
            runtime = resolve_runtime(
                spec, self.options.template.parent, fast=self.options.fast, log=self.log
            )
            self.runtimes[spec.logical_id] = runtime
            self.pools[spec.logical_id] = FunctionPool(
                self._config(spec, runtime),
                max_environments=self._concurrency(spec),
                on_invocation=self._record,
                clock_offset_s=lambda: self.clock.offset_s,
            )
            for event in spec.sqs_events:
                if event.enabled:
                    self.mappings.append(self._mapping(spec.logical_id, event))
        api = next((f for f in topology.functions.values() if f.routes), None)
        if api is not None:
            self.http = HttpApi(
                api.routes,
                self.pools[api.logical_id].invoke,
                host=self.options.host,
                port=self.options.api_port,
                on_request=self._log_request,
            ).start()
        if self.options.background:
            self._start_background()
        return self

    def stop(self) -> None:
        """Stop everything this emulator started; leaves no process behind."""
        self._stop.set()
        if self.http is not None:
            self.http.stop()
        for thread in self._threads:
            thread.join(POLL_WAIT_S + 3)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        for pool in self.pools.values():
            pool.stop()
        if self.backend is not None:
            self.backend.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ wiring
    def _endpoints(self) -> Endpoints:
        """Start the backend (unless endpoints are given); the per-service map over it."""
        if self.options.endpoint:
            base = Endpoints(self.options.endpoint)
        elif self.options.use_env_endpoints:
            base = Endpoints.from_environment(os.environ) or Endpoints()
        else:
            self.backend = make_backend(self.options.backend, self.options.host, self.log).start()
            base = self.backend.endpoints
        return base.overlay(Endpoints(None, self.options.service_endpoints))

    @property
    def endpoint(self) -> str:
        """The one URL of every service, or SQS's when they differ (for the console)."""
        return self.endpoints.default or self.endpoints.url("sqs") or ""

    @property
    def server(self) -> Backend | None:
        """The started backend: its clock and its count of requests (``calls()``)."""
        return self.backend

    @property
    def topology_not_emulated(self) -> list[str]:
        return self.provisioned.topology.not_emulated if self.provisioned else []

    @property
    def api_url(self) -> str | None:
        return self.http.url if self.http else None

    def _config(self, spec: FunctionSpec, runtime: Runtime) -> FunctionConfig:
        declared = resolve_environment(
            spec.logical_id,
            spec.environment,
            self.options.shell_environment or {},
            self.options.env_vars,
        )
        environment = {
            **declared,
            # The same endpoints the emulator provisioned on, service by service.
            **self.endpoints.environment(),
            "AWS_REGION": self.options.region,
            "AWS_DEFAULT_REGION": self.options.region,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS[0],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS[1],
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            # No X-Ray daemon locally: Powertools Tracer would only warn.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": spec.environment.get(
                "POWERTOOLS_SERVICE_NAME", spec.logical_id
            ),
            **LOCAL_ENVIRONMENT,
            **self.options.extra_environment,
        }
        return FunctionConfig(
            name=spec.logical_id,
            handler=spec.handler,
            code_root=runtime.paths[0],
            timeout_s=spec.timeout_s,
            memory_mb=spec.memory_mb,
            environment=environment,
            python=runtime.python,
            paths=runtime.paths,
            read_only=runtime.paths,
            writable=tuple(str(p) for p in self._emulator_files()),
            runtime=spec.runtime,
            log_file=(
                str(self.options.function_logs / f"{spec.logical_id}.log")
                if self.options.function_logs
                else None
            ),
        )

    def function_environments(self) -> dict[str, dict[str, dict[str, str]]]:
        """Per function: its declared variables as resolved here, and the endpoints."""
        assert self.provisioned is not None
        return {
            logical_id: {
                "declared": {
                    name: pool.config.environment[name]
                    for name in self.provisioned.topology.functions[logical_id].environment
                    if name in pool.config.environment
                },
                "endpoints": self.endpoints.environment(),
            }
            for logical_id, pool in self.pools.items()
        }

    def _emulator_files(self) -> list[Path]:
        """What the emulator gives functions to write, even inside their code."""
        return [self.options.function_logs] if self.options.function_logs else []

    @staticmethod
    def _concurrency(spec: FunctionSpec) -> int:
        limits = [e.max_concurrency for e in spec.sqs_events if e.max_concurrency]
        if spec.reserved_concurrency is not None:
            limits.append(spec.reserved_concurrency)
        return min(limits) if limits else DEFAULT_CONCURRENCY

    def _concurrency_of(self, function: str, event: SqsEventSpec) -> int:
        assert self.provisioned is not None
        reserved = self.provisioned.topology.functions[function].reserved_concurrency
        limits = [n for n in (event.max_concurrency, reserved) if n]
        return min(limits) if limits else DEFAULT_CONCURRENCY

    def _mapping(self, function: str, event: SqsEventSpec) -> _Mapping:
        assert self.clients is not None and self.provisioned is not None
        queue_url = self.provisioned.queue_url(event.queue)
        esm = EventSourceMapping(
            sqs=self.clients.sqs,
            queue_url=queue_url,
            queue_arn=self.provisioned.topology.resolver.attrs[(event.queue, "Arn")],
            region=self.options.region,
            batch_size=event.batch_size,
            batching_window_s=event.batching_window_s,
            report_batch_item_failures=event.report_batch_item_failures,
            wait_time_s=POLL_WAIT_S,
        )
        # A function's reserved concurrency bounds its event sources too, as on AWS
        # (there, the pollers are throttled; here, they wait for a slot).
        slots = threading.Semaphore(self._concurrency_of(function, event))
        return _Mapping(function, event, esm, slots)

    # ------------------------------------------------------------------ running
    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function once, like ``sam local invoke``; raises if it errors."""
        return self.pools[function].invoke(event)

    def drain(
        self, max_batches: int = 10_000, *, functions: Collection[str] | None = None
    ) -> list[BatchResult]:
        """Run every event source (or those of ``functions``, by logical id) until no
        message is visible. Deterministic: no threads."""
        results: list[BatchResult] = []
        progress = True
        mappings = [m for m in self.mappings if functions is None or m.function in functions]
        while progress and len(results) < max_batches:
            progress = False
            for mapping in mappings:
                result = mapping.esm.process(
                    self._receive_now(mapping), self.pools[mapping.function].invoke
                )
                if result.received:
                    results.append(result)
                    progress = True
        return results

    def _receive_now(self, mapping: _Mapping) -> list[Any]:
        return mapping.esm.receive(frozen=True)

    def advance(self, seconds: float) -> datetime:
        """Move the clock of the backend (visibility, delays) and of the schedules forward."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        if self.backend is not None:
            self.backend.advance(seconds)
        return self.clock.advance(seconds)

    def fire_due(self) -> list[tuple[str, datetime]]:
        """Fire every schedule tick and one-off schedule due by the emulator clock, retry
        the deliveries and asynchronous invocations now due, and run them all here."""
        assert self.firing is not None, "start the emulator first"
        return self.firing.fire_due()

    def fire(self, name: str) -> Any:
        """Fire one schedule now (``offpath schedules fire NAME``)."""
        assert self.firing is not None, "start the emulator first"
        return self.firing.fire(name)

    @property
    def schedules(self) -> dict[str, LocalSchedule]:
        return self.firing.schedules if self.firing is not None else {}

    @property
    def async_invoker(self) -> AsyncInvoker:
        assert self.firing is not None, "start the emulator first"
        return self.firing.async_invoker

    # ------------------------------------------------------------------ background
    def _start_background(self) -> None:
        workers = sum(m.spec.max_concurrency or DEFAULT_CONCURRENCY for m in self.mappings)
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="esm")
        for mapping in self.mappings:
            self._spawn(f"poller-{mapping.spec.name}", functools.partial(self._poll, mapping))
        self._spawn("schedules", self._tick_schedules)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _poll(self, mapping: _Mapping) -> None:
        """One poller: a batch is received only when an invocation slot is free."""
        invoke = self.pools[mapping.function].invoke
        assert self._executor is not None
        while not self._stop.is_set():
            mapping.slots.acquire()
            try:
                messages = mapping.esm.receive() if not self._stop.is_set() else []
            except Exception as exc:  # noqa: BLE001 -- keep polling, as Lambda does
                self.log(f"poller {mapping.spec.name}: {exc}")
                messages = []
                self._stop.wait(1)
            if not messages:
                mapping.slots.release()
                continue

            def run(batch: list[Any] = messages) -> None:
                try:
                    mapping.esm.process(batch, invoke)
                except Exception as exc:  # noqa: BLE001 -- a background batch has no caller
                    # The messages stay in flight and come back after their visibility
                    # timeout, as after any failed batch; say why, once.
                    self.log(f"poller {mapping.spec.name}: batch of {len(batch)}: {exc!r}")
                finally:
                    mapping.slots.release()

            self._executor.submit(run)

    def _tick_schedules(self) -> None:
        # Asynchronous invocations run beside the loop, so a slow function never
        # delays another schedule's tick.
        pool = ThreadPoolExecutor(max_workers=DEFAULT_CONCURRENCY, thread_name_prefix="async")
        try:
            while not self._stop.wait(0.5):
                try:
                    if self.firing is not None:
                        self.firing.run(submit=pool.submit)
                except Exception as exc:  # noqa: BLE001 -- a failed tick must not stop the rest
                    self.log(f"schedule failed: {exc!r}")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ logging
    def _record(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        temperature = "cold" if invocation.cold else "warm"
        line = f"{invocation.function} {temperature} {invocation.duration_ms:.0f} ms"
        if invocation.records_in:
            line += f" records {invocation.records_in} failures {invocation.failures_out}"
        if invocation.error:
            line += f" ERROR {invocation.error}"
        self.log(line)

    def _log_request(self, method: str, path: str, status: int, seconds: float) -> None:
        self.log(f"{method} {path} -> {status} ({seconds * 1000:.0f} ms)")

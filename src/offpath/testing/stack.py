"""OffpathStack: the user's template.yaml on in-process moto, driven by the test.

What ``offpath dev`` runs, without servers, threads or sleeps: the template's queues,
tables and schedule groups created in moto (``mock_aws``); its functions' handlers
imported into the test's process and invoked as Lambda would (their environment,
a context, SQS events from the event source mappings); time moved by the test.

Example:
    >>> with OffpathStack("template.yaml") as stack:  # doctest: +SKIP
    ...     job = stack.enqueue(resize_image, "img-1", width=640)
    ...     stack.drain()                     # every visible message, run by its worker
    ...     assert stack.job(job.job_id).status == "succeeded"
    ...     stack.advance(3600)               # delays, backoffs and schedules come due
    ...     stack.request("POST", "/images", json={"image_id": "img-2", "width": 320})
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

from offpath import runtime
from offpath.aws import Clients
from offpath.deadletters import DeadLetterQueue
from offpath.local.clock import EmulatorClock
from offpath.local.context import LocalContext
from offpath.local.esm import BatchResult, EventSourceMapping, InvocationFailed
from offpath.local.http_api import Route, build_event, match_route
from offpath.local.metering import CallLog
from offpath.local.provision import Provisioned, provision
from offpath.local.schedules import LocalSchedule, list_one_offs, load_schedules
from offpath.location import Location
from offpath.oneoff import OneOffScheduler
from offpath.ops.dlq import DeadLetters
from offpath.ops.messages import DeadMessage
from offpath.producer import Enqueued, JobRequest, Producer
from offpath.settings import Settings
from offpath.store import DynamoDBJobStore, Job
from offpath.tasks import Task, TaskRegistry
from offpath.testing.functions import FunctionRunner, InvocationError, patched_environ
from offpath.worker import Worker

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from offpath.webhooks import WebhookDelivery

ACCOUNT_ID = "123456789012"
# Never the user's own: moto accepts any, and nothing may reach a real account.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class ApiResponse:
    """What the API function answered, as API Gateway would send it."""

    status_code: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    @classmethod
    def from_lambda(cls, response: Any) -> ApiResponse:
        """A payload format 2.0 response (or its plain-JSON shorthand)."""
        if not isinstance(response, dict) or "statusCode" not in response:
            text = response if isinstance(response, str) else json.dumps(response)
            return cls(200, {"content-type": "application/json"}, text.encode())
        headers = {k.lower(): str(v) for k, v in (response.get("headers") or {}).items()}
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ", ".join(str(v) for v in values)
        raw = response.get("body") or ""
        body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
        return cls(int(response["statusCode"]), headers, body)


@dataclass
class _Mapping:
    function: str
    pool: str | None
    esm: EventSourceMapping


@dataclass
class OffpathStack:
    """The template's resources on in-process moto, and its functions, run on demand.

    Args:
        template: the SAM template (``template.yaml``).
        stack_name: the prefix of the local resource names.
        region: the region of the local resources.
        parameters: template parameter values (defaults otherwise).
        environment: variables every function sees on top of the template's.
    """

    template: Path
    stack_name: str = "offpath"
    region: str = "us-east-1"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    clock: EmulatorClock = field(default_factory=EmulatorClock)
    calls: CallLog = field(default_factory=CallLog)

    def __post_init__(self) -> None:
        self.template = Path(self.template).resolve()
        self._mock: Any = None
        self._restore_clock: Any = None
        self._saved_environ: dict[str, str | None] = {}
        self._provisioned: Provisioned | None = None
        self._clients: Clients | None = None
        self.functions: dict[str, FunctionRunner] = {}
        self.schedules: dict[str, LocalSchedule] = {}
        self._mappings: list[_Mapping] = []
        self._routes: list[Route] = []
        self._api: str | None = None
        self._one_offs_fired: set[tuple[str, str, datetime]] = set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> OffpathStack:
        """Start moto, create the template's resources, and ready its functions."""
        self._export(self._ambient())
        self._mock = mock_aws()
        self._mock.start()
        self._restore_clock = self.clock.install_in_moto()
        runtime.new_container()  # every function starts cold, as in a new deployment
        session = boto3.session.Session(region_name=self.region)
        self._clients = Clients(self.region, session=session)
        self._provisioned = provision(
            self.template,
            self._clients,
            stack_name=self.stack_name,
            parameters=dict(self.parameters),
        )
        self._export(self._shared_environment())
        self._ready_functions()
        for client in (self._clients.sqs, self._clients.dynamodb, self._clients.scheduler):
            self.calls.attach(client)
        self.calls.clear()
        return self

    def stop(self) -> None:
        """Stop moto and put the test's environment back as it was."""
        runtime.new_container()
        for function in self.functions.values():
            function.stop()
        if self._restore_clock is not None:
            self._restore_clock()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()

    def __enter__(self) -> OffpathStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ where
    @property
    def provisioned(self) -> Provisioned:
        if self._provisioned is None:
            raise RuntimeError("start the stack first (with OffpathStack(...) as stack)")
        return self._provisioned

    @property
    def clients(self) -> Clients:
        """The test's own clients (their calls are counted in :attr:`calls`)."""
        if self._clients is None:
            raise RuntimeError("start the stack first (with OffpathStack(...) as stack)")
        return self._clients

    @property
    def location(self) -> Location:
        """Where the template's jobs live, by their local names."""
        return self.provisioned.location

    @property
    def queue_url(self) -> str:
        return self.location.pool().queue_url

    @property
    def queue_arn(self) -> str:
        return self.location.pool().queue_arn

    @property
    def dlq_url(self) -> str:
        return self.location.pool().dlq_url

    @property
    def table_name(self) -> str:
        return self.location.table_name

    @cached_property
    def settings(self) -> Settings:
        """The settings the default pool's worker reads."""
        with patched_environ(self.provisioned.environment(self.location.pool().function)):
            return Settings()

    @cached_property
    def store(self) -> DynamoDBJobStore:
        """The job table, on the test's clock."""
        return DynamoDBJobStore(self.clients.dynamodb, self.table_name, clock=self.clock.now)

    @cached_property
    def producer(self) -> Producer:
        """A producer as the API builds one, on the test's clock (retries do not sleep)."""
        location = self.location
        pool = location.pool()
        scheduler = None
        if location.scheduler_role_arn:
            scheduler = OneOffScheduler(
                self.clients.scheduler,
                location.schedule_group,
                location.scheduler_role_arn,
                pool.queue_arn,
                location.scheduler_dlq_arn or pool.queue_arn,
            )
        return Producer(
            self.clients.sqs,
            pool.queue_url,
            self.store,
            pools=location.pools,
            scheduler=scheduler,
            clock=self.clock.now,
            sleep=lambda _: None,
            callback_policy=self.settings.callback_policy(),
        )

    @cached_property
    def webhooks(self) -> WebhookDelivery | None:
        """Completion webhooks as the worker builds them (None: the template has no secret)."""
        from offpath.callbacks import Sender
        from offpath.webhooks import WebhookDelivery, secret_reader

        settings = self.settings
        if not settings.webhook_secret_arn:
            return None
        return WebhookDelivery(
            store=self.store,
            sender=Sender(settings.callback_policy()),
            secret=secret_reader(self.clients.secretsmanager, settings.webhook_secret_arn),
            enqueue=self.producer.enqueue,
            clock=self.clock.now,
        )

    def webhook_secret(self) -> str:
        """The stack's webhook signing secret as receivers hold it: ``whsec_<value>``.

        Raises:
            KeyError: the template has no webhook secret.
        """
        arn = self.settings.webhook_secret_arn
        if not arn:
            raise KeyError("the template sets no OFFPATH_WEBHOOK_SECRET_ARN")
        value = self.clients.secretsmanager.get_secret_value(SecretId=arn)["SecretString"]
        return "whsec_" + value.removeprefix("whsec_")

    # ------------------------------------------------------------------ jobs
    def enqueue(self, task: Task[Any, Any], *args: Any, **kwargs: Any) -> Enqueued:
        """Enqueue a call of ``task`` (checked as any sender's); its handle."""
        return self.producer.enqueue(JobRequest(task=task, args=task.bind(*args, **kwargs)))

    def submit(self, job: JobRequest | Sequence[JobRequest]) -> Enqueued | list[Enqueued]:
        """Enqueue prepared requests (with delays, ``run_at``, idempotency keys...)."""
        if isinstance(job, JobRequest):
            return self.producer.enqueue(job)
        return self.producer.enqueue_many(list(job))

    def drain(self, worker: Worker | None = None, *, max_batches: int = 1000) -> list[BatchResult]:
        """Run batches until no message is visible in any pool's queue. Deterministic.

        Every SQS event source of the template delivers to its function's handler,
        as Lambda's event source mapping would; with ``worker``, the default pool's
        messages go to that :class:`~offpath.worker.Worker` instead (a registry of
        the test's own). Messages hidden by a backoff or a delay wait for
        :meth:`advance`.

        Raises:
            InvocationError: a handler raised (its batch went back to the queue).
        """
        results: list[BatchResult] = []
        progress = True
        while progress and len(results) < max_batches:
            progress = False
            for mapping in self._mappings_for(worker):
                failures: list[InvocationError] = []
                messages = self._receive_now(mapping.esm)
                result = mapping.esm.process(messages, self._invoker(mapping, worker, failures))
                if failures:
                    raise failures[0]  # after the mapping returned the batch, as Lambda
                if result.received:
                    results.append(result)
                    progress = True
        return results

    def advance(self, seconds: float) -> list[tuple[str, datetime]]:
        """Move time forward: delays and backoffs end, schedules and one-offs come due.

        SQS (moto) and the functions read this clock. Every schedule tick passed is
        fired (its function invoked as at that tick), and every one-off schedule due
        delivers its job to the queue. Returns what fired: ``(name, due)``.
        """
        self.clock.advance(seconds)
        return self.fire_due()

    def fire_due(self) -> list[tuple[str, datetime]]:
        """Fire whatever is due by the stack's clock (see :meth:`advance`)."""
        fired = []
        for name, schedule in self.schedules.items():
            for tick in schedule.due(self.clock.now()):
                self._fire(schedule, tick)
                fired.append((name, tick))
        return fired + self._deliver_one_offs()

    def fire(self, name: str) -> Any:
        """Fire one of the template's schedules now; the function's response.

        Raises:
            KeyError: the template has no schedule of that name.
        """
        if name not in self.schedules:
            known = ", ".join(sorted(self.schedules)) or "none"
            raise KeyError(f"no schedule named {name!r} (the template has: {known})")
        return self._fire(self.schedules[name], self.clock.now().replace(microsecond=0))

    def job(self, job_id: str) -> Job:
        """A durable job's record.

        Raises:
            JobNotFound: no such job (fire-and-forget jobs keep none).
        """
        return self.store.get(job_id)

    def dead_letters(self, pool: str | None = None) -> list[DeadMessage]:
        """The messages of a pool's dead-letter queue (left there), with their reasons."""
        dlq_url = self.location.pool(pool).dlq_url
        letters = DeadLetters(self.clients.sqs, dlq_url, self.store, wait_time_s=0)
        return letters.peek(1000)

    # ------------------------------------------------------------------ functions
    def invoke(self, function: str, event: Any) -> Any:
        """Invoke one of the template's functions with an event; its response.

        Raises:
            KeyError: no such function; InvocationError: it raised.
        """
        return self.functions[function].invoke(event)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """One HTTP request to the template's HttpApi, through the API function's handler.

        The request becomes the API Gateway HTTP API (payload 2.0) event that routes
        it; a path no route serves is API Gateway's own 404.
        """
        raw = _body(json, body)
        names = {k.lower(): v for k, v in (headers or {}).items()}
        if json is not None:
            names.setdefault("content-type", "application/json")
        names.setdefault("host", "localhost")
        split = path.split("?", 1)
        found = match_route(self._routes, method.upper(), split[0])
        if found is None or self._api is None:
            return ApiResponse(
                404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
            )
        route, params = found
        event = build_event(
            route, params, method.upper(), path, names, raw, names["host"], "127.0.0.1"
        )
        return ApiResponse.from_lambda(self.invoke(self._api, event))

    # ------------------------------------------------------------------ lower level
    def worker(self, registry: TaskRegistry, *, async_concurrency: int = 1) -> Worker:
        """A fresh worker for the default pool, on the test's clock, with ``registry``
        (``async_concurrency``: a batch's async jobs at once, as OFFPATH_ASYNC_CONCURRENCY)."""
        return Worker(
            registry=registry,
            store=self.store,
            sqs=self.clients.sqs,
            dead_letters=DeadLetterQueue(self.clients.sqs, self.dlq_url, clock=self.clock.now),
            clock=self.clock.now,
            webhooks=self.webhooks,
            pool=self.location.default_pool,
            pools=self.location.pools,
            async_concurrency=async_concurrency,
        )

    def esm(self, batch_size: int = 10, pool: str | None = None) -> EventSourceMapping:
        """An event source mapping on a pool's queue (the default pool's)."""
        chosen = self.location.pool(pool)
        return EventSourceMapping(
            sqs=self.clients.sqs,
            queue_url=chosen.queue_url,
            queue_arn=chosen.queue_arn,
            region=self.region,
            batch_size=batch_size,
        )

    def send_raw(self, body: str, queue_url: str | None = None) -> str:
        """Send a message body as is (no checks): its message id."""
        return self.clients.sqs.send_message(
            QueueUrl=queue_url or self.queue_url, MessageBody=body
        )["MessageId"]

    def receive_all(self, queue_url: str) -> list[MessageTypeDef]:
        """Every visible message (left in flight for the queue's visibility timeout)."""
        messages: list[MessageTypeDef] = []
        while True:
            got = self.clients.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                return messages
            messages.extend(got)

    def depth(self, queue_url: str) -> dict[str, int]:
        """A queue's visible, in-flight and delayed messages."""
        attrs = self.clients.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attrs["ApproximateNumberOfMessages"]),
            "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
            "delayed": int(attrs["ApproximateNumberOfMessagesDelayed"]),
        }

    def environment_of(self, function: str) -> dict[str, str]:
        """The variables a function sees (the template's, resolved locally, and ours)."""
        return {**self.provisioned.environment(function), **self.environment}

    # ------------------------------------------------------------------ inside
    def _ambient(self) -> dict[str, str | None]:
        """The test's process as moto needs it: fake credentials, no endpoint of its own."""
        unset: dict[str, str | None] = {
            name: None
            for name in os.environ
            if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN")
        }
        return {
            **unset,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def _shared_environment(self) -> dict[str, str | None]:
        """What every function's environment has in common (the template's Globals):
        exported for the test's own code, e.g. a FastAPI TestClient on the app."""
        environments = [self.environment_of(f) for f in self.provisioned.topology.functions]
        if not environments:
            return {}
        shared = dict(environments[0])
        for other in environments[1:]:
            shared = {k: v for k, v in shared.items() if other.get(k) == v}
        return {**shared, "POWERTOOLS_TRACE_DISABLED": "true"}

    def _export(self, variables: Mapping[str, str | None]) -> None:
        for name, value in variables.items():
            self._saved_environ.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _ready_functions(self) -> None:
        provisioned = self.provisioned
        topology = provisioned.topology
        pools = (
            {p.function: p.name for p in provisioned.location.pools.values()}
            if provisioned.has_jobs
            else {}
        )
        for spec in topology.functions.values():
            self.functions[spec.logical_id] = FunctionRunner(
                spec=spec,
                code_root=str((self.template.parent / spec.code_uri).resolve()),
                environment={
                    **self.environment_of(spec.logical_id),
                    "POWERTOOLS_TRACE_DISABLED": "true",
                },
                clock_offset_s=lambda: self.clock.offset_s,
                region=self.region,
            )
            for event in spec.sqs_events:
                if not event.enabled:
                    continue
                esm = EventSourceMapping(
                    sqs=self.clients.sqs,
                    queue_url=provisioned.queue_url(event.queue),
                    queue_arn=topology.resolver.attrs[(event.queue, "Arn")],
                    region=self.region,
                    batch_size=event.batch_size,
                    report_batch_item_failures=event.report_batch_item_failures,
                )
                self._mappings.append(_Mapping(spec.logical_id, pools.get(spec.logical_id), esm))
            if spec.routes and self._api is None:
                self._api = spec.logical_id
                self._routes = [Route.compile(route) for route in spec.routes]
        self.schedules = load_schedules(topology, self.clock.now())

    def _mappings_for(self, worker: Worker | None) -> list[_Mapping]:
        if worker is None:
            return self._mappings
        pool = self.location.pool()
        return [_Mapping(pool.function, pool.name, self.esm())]

    def _invoker(
        self, mapping: _Mapping, worker: Worker | None, failures: list[InvocationError]
    ) -> Callable[[dict[str, Any]], Any]:
        if worker is not None:
            context = LocalContext(function_name=mapping.function)
            return lambda event: worker.handle(event, context)
        runner = self.functions[mapping.function]

        def invoke(event: dict[str, Any]) -> Any:
            try:
                return runner.invoke(event)
            except InvocationError as exc:
                # As on Lambda, the whole batch goes back to the queue.
                failures.append(exc)
                raise InvocationFailed(str(exc)) from exc

        return invoke

    @staticmethod
    def _receive_now(esm: EventSourceMapping) -> list[MessageTypeDef]:
        """One batch of what is visible now: no long poll, no batching window."""
        saved = (esm.wait_time_s, esm.batching_window_s)
        esm.wait_time_s, esm.batching_window_s = 0, 0
        try:
            return esm.receive()
        finally:
            esm.wait_time_s, esm.batching_window_s = saved

    def _fire(self, schedule: LocalSchedule, tick: datetime) -> Any:
        schedule.fired.append(tick)
        event = schedule.event(tick, self.region, ACCOUNT_ID)
        # The function runs as if at the tick, even when the clock jumped past several.
        offset_s = (tick - datetime.now(UTC)).total_seconds()
        return self.functions[schedule.spec.function].invoke(event, clock_offset_s=offset_s)

    def _deliver_one_offs(self) -> list[tuple[str, datetime]]:
        """Due one-time schedules to their queue, once each, as EventBridge Scheduler would."""
        topology = self.provisioned.topology
        queues = {
            topology.resolver.attrs[(logical, "Arn")]: url
            for logical, url in self.provisioned.queue_urls.items()
        }
        groups = list(topology.schedule_groups.values())
        fired = []
        for one_off in list_one_offs(self.clients.scheduler, groups):
            key = (one_off.group, one_off.name, one_off.due_at)
            if one_off.due_at > self.clock.now() or key in self._one_offs_fired:
                continue
            if one_off.target_arn not in queues:
                continue  # not a queue of this template: nothing local to deliver to
            self.clients.sqs.send_message(
                QueueUrl=queues[one_off.target_arn], MessageBody=one_off.input
            )
            self._one_offs_fired.add(key)
            if one_off.delete_after:
                self.clients.scheduler.delete_schedule(Name=one_off.name, GroupName=one_off.group)
            fired.append((one_off.name, one_off.due_at))
        return fired


def _body(json_body: Any, body: bytes | str | None) -> bytes:
    if json_body is not None:
        return json.dumps(json_body).encode()
    if isinstance(body, str):
        return body.encode()
    return body or b""

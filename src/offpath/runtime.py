"""Wiring for the Lambda handlers: settings and clients in, ready objects out.

The handlers call these once per container (cold start) and reuse the result.
Where the jobs live comes from :meth:`Settings.location`, which tasks from
``OFFPATH_TASK_MODULES``: the same settings every entry point reads.
"""

from __future__ import annotations

import importlib
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from offpath import invocation, snapstart
from offpath.aws import Clients, deferred
from offpath.errors import ConfigurationError
from offpath.location import DEFAULT_POOL
from offpath.settings import TASK_MODULES, Settings
from offpath.store import DynamoDBJobStore
from offpath.tasks import TaskRegistry, registry

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from offpath.events import JobEvents
    from offpath.location import Location
    from offpath.metrics import MetricsSink, TaskMetricsSink
    from offpath.producer import Producer
    from offpath.tracing import JobTracer
    from offpath.webhooks import WebhookDelivery
    from offpath.worker import Worker


T = TypeVar("T")
_MISSING = object()


class PerContainer(Generic[T]):
    """A builder's result, made on first use and kept while the container is warm.

    Our own rather than ``functools.cache``: every one is registered, so that
    :func:`new_container` forgets them all at once, which is what a test harness needs
    to run each test as a fresh Lambda execution environment would (new settings,
    new clients against the test's endpoint).
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: object = _MISSING
        self._lock = threading.Lock()
        self.__doc__ = build.__doc__
        self.__wrapped__ = build
        _containers.add(self)

    def __call__(self) -> T:
        value = self._value
        if value is _MISSING:
            with self._lock:
                if self._value is _MISSING:
                    self._value = self._build()
                value = self._value
        return value  # type: ignore[return-value]

    @property
    def built(self) -> bool:
        """Whether this container built it already."""
        return self._value is not _MISSING

    def cache_clear(self) -> None:
        self._value = _MISSING


_containers: weakref.WeakSet[PerContainer[Any]] = weakref.WeakSet()


def per_container(build: Callable[[], T]) -> PerContainer[T]:
    """Decorate a handler's wiring: built on the first invocation, reused while warm.

    Example:
        >>> @per_container
        ... def worker() -> Worker:  # doctest: +SKIP
        ...     settings = Settings()
        ...     return build_worker(settings, Clients(settings.region))
    """
    return PerContainer(build)


def new_container() -> None:
    """Forget everything built :func:`per_container`, as a cold start would (and as a
    SnapStart restore needs: :mod:`offpath.snapstart`)."""
    for cached in list(_containers):
        cached.cache_clear()


# With SnapStart, each restored environment forgets what the snapshot's INIT built
# here; otherwise this does nothing.
snapstart.install()


def load_tasks(settings: Settings, target: TaskRegistry = registry) -> TaskRegistry:
    """Import the modules named in ``OFFPATH_TASK_MODULES`` so their tasks register.

    Raises:
        ConfigurationError: the setting is missing, or names a module that does not
            import; the message names the setting and the module.
    """
    return import_task_modules(settings.task_module_names(), target)


def import_task_modules(
    modules: Sequence[str],
    target: TaskRegistry = registry,
    *,
    source: str = TASK_MODULES,
    hint: str = "",
) -> TaskRegistry:
    """Import task modules (each registers its tasks); ``source`` names the setting.

    Raises:
        ConfigurationError: a module cannot be imported (its own error is the cause).
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(
                f"{source} names {module}, which cannot be imported: {exc}"
                + (f" ({hint})" if hint else "")
            ) from exc
    return target


def build_store(
    settings: Settings, clients: Clients, location: Location | None = None
) -> DynamoDBJobStore:
    table = (location or settings.location()).table_name
    return DynamoDBJobStore(clients.dynamodb, table, ttl_s=settings.job_ttl_s, clock=invocation.now)


def build_producer(
    settings: Settings, clients: Clients, *, metrics: TaskMetricsSink | None = None
) -> Producer:
    """The producer; with the Scheduler settings, it also takes delays over 15 minutes.

    The Scheduler client is built on the first delay that needs it.
    """
    # Imported here: a worker builds no producer and need not load it.
    from offpath.oneoff import OneOffScheduler
    from offpath.producer import Producer
    from offpath.tracing import trace_carrier

    location = settings.location()
    pool = location.pool()
    scheduler = None
    if location.scheduler_role_arn and pool.queue_arn:
        scheduler = OneOffScheduler(
            deferred(lambda: clients.scheduler),
            location.schedule_group,
            location.scheduler_role_arn,
            pool.queue_arn,
            location.scheduler_dlq_arn or pool.queue_arn,
        )
    return Producer(
        clients.sqs,
        pool.queue_url,
        build_store(settings, clients, location),
        pools=location.pools,
        scheduler=scheduler,
        metrics=metrics,
        clock=invocation.now,
        callback_policy=settings.callback_policy(),
        trace_context=trace_carrier(),
        events=build_events(settings, clients),
    )


def build_worker(
    settings: Settings,
    clients: Clients,
    *,
    logger: Logger | None = None,
    metrics: MetricsSink | None = None,
    tracer: JobTracer | None = None,
) -> Worker:
    """The worker; its SQS client (retries, hand-backs, dead letters) is built on first use.

    ``tracer`` None: this process's tracing (:func:`offpath.tracing.job_tracer`).
    """
    # Imported here: the API builds producers and must not load the worker runtime.
    from offpath.deadletters import DeadLetterQueue
    from offpath.tracing import job_tracer
    from offpath.worker import Worker

    location = settings.location()
    own = location.pool(settings.pool)
    dlq_url = own.dlq_url
    if not dlq_url:
        raise ConfigurationError(
            f"pool {own.name} has no dead-letter queue: the worker sends jobs that can never "
            "run to its queue's dead-letter queue (template.yaml: OFFPATH_DLQ_URL: !Ref "
            "<DeadLetterQueue> for the default pool, dlq_url in OFFPATH_POOLS for the others)"
        )
    tasks = load_tasks(settings)
    check_own_pool_fits(tasks, own.name, os.environ)
    sqs = deferred(lambda: clients.sqs)
    return Worker(
        registry=tasks,
        store=build_store(settings, clients, location),
        sqs=sqs,
        dead_letters=DeadLetterQueue(sqs, dlq_url, clock=invocation.now),
        logger=logger,
        metrics=metrics,
        tracer=tracer or job_tracer(),
        clock=invocation.now,
        pool=own.name,
        pools=location.pools,
        async_concurrency=settings.async_concurrency,
        webhooks=build_webhooks(settings, clients),
        events=build_events(settings, clients, logger),
    )


def build_events(
    settings: Settings, clients: Clients, logger: Logger | None = None
) -> JobEvents | None:
    """EventBridge job events if the template turned them on (JobEvents); else None."""
    if not settings.events_bus:
        return None
    from offpath.events import JobEvents

    return JobEvents(deferred(lambda: clients.events), settings.events_bus, logger)


def build_webhooks(settings: Settings, clients: Clients) -> WebhookDelivery | None:
    """Completion webhooks, if the stack has a signing secret; None otherwise.

    Nothing is built or read until a job with a callback URL ends: the producer
    that enqueues deliveries on the first, the secret on the first delivery.
    """
    if not settings.webhook_secret_arn:
        return None
    from offpath.callbacks import Sender
    from offpath.webhooks import WebhookDelivery, secret_reader

    producer = PerContainer(lambda: build_producer(settings, clients))
    secret = settings.webhook_secret_arn
    return WebhookDelivery(
        store=build_store(settings, clients),
        sender=Sender(settings.callback_policy()),
        secret=secret_reader(deferred(lambda: clients.secretsmanager), secret),
        enqueue=lambda job: producer().enqueue(job),
        clock=invocation.now,
    )


def check_own_pool_fits(tasks: TaskRegistry, pool: str, environ: Mapping[str, str]) -> None:
    """At a worker's init: its pool's tasks fit its function's timeout, when the
    environment says it (``AWS_LAMBDA_FUNCTION_TIMEOUT``: ``offpath dev`` and ``sam
    local`` set it; Lambda does not, and the tests over the template check it there).

    Raises:
        Misfit: a task of this pool cannot finish within the function's timeout.
    """
    timeout = environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "")
    if not timeout.isdigit():
        return
    from offpath.fit import PoolLimits, check

    function = environ.get("AWS_LAMBDA_FUNCTION_NAME", "the worker function")
    own = [t for t in tasks if (t.options.pool or DEFAULT_POOL) == pool]
    check(own, {pool: PoolLimits(pool, function, float(timeout))})

"""The app's offpath wiring, and the routes' dependencies as ``Annotated`` aliases.

:class:`Offpath` holds what a container builds once (settings, clients, the
producer), built on the first request that needs it: never at import, since tests
and ``offpath dev`` point boto3 at their endpoint after importing the app. The
aliases find it on ``request.app.state``, where :meth:`Offpath.install` puts it, so
routes in any module can use them without importing the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request

from offpath.aws import Clients
from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.errors import ConfigurationError
from offpath.fastapi.errors import install_error_handlers
from offpath.fastapi.jobqueue import JobQueue
from offpath.fastapi.middleware import (
    ApiGatewayStage,
    BodyLimit,
    CorrelationId,
    JsonByDefault,
    correlation_id_for,
)
from offpath.fastapi.openapi import build_openapi
from offpath.producer import Producer
from offpath.runtime import build_producer, per_container
from offpath.settings import Settings
from offpath.store import JobStore
from offpath.tasks import TaskRegistry, registry

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from offpath.metrics import TaskMetricsSink


class Offpath:
    """offpath in one FastAPI app: its producer, its tasks, and what it installs.

    Args:
        settings: where the jobs live; ``None`` reads the ``OFFPATH_*`` environment
            (:class:`~offpath.settings.Settings`) on the first request.
        registry: the tasks routes may enqueue (default: ``offpath.tasks.registry``).
        producer: a ready producer instead of one built from the settings (tests).
        logger: Powertools' ``Logger`` (or a standard one): correlation ids, one line
            per enqueued job, and the 5xx it answers.
        metrics: where ``JobsEnqueued`` goes, under a ``task`` dimension.
        max_body_bytes: bodies over this are refused with a 413 before they are read.

    Example:
        >>> offpath = Offpath()
        >>> app = FastAPI()
        >>> offpath.install(app)
        >>> app.include_router(jobs_router(), prefix="/jobs")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        registry: TaskRegistry = registry,
        producer: Producer | None = None,
        logger: Logger | None = None,
        metrics: TaskMetricsSink | None = None,
        max_body_bytes: int = SQS_MAX_MESSAGE_BYTES,
    ) -> None:
        self.registry = registry
        self.logger = logger
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self._settings = settings
        self._producer = producer
        # Once per container, and forgotten by offpath.runtime.new_container().
        self.producer = per_container(self._build_producer)

    def _build_producer(self) -> Producer:
        """The producer, with EventBridge Scheduler for delays over 15 minutes."""
        if self._producer is not None:
            return self._producer
        settings = self._settings or Settings()
        return build_producer(settings, Clients(settings.region), metrics=self.metrics)

    def store(self) -> JobStore:
        return self.producer().store

    def reset(self) -> None:
        """Forget what was built, as a new container would."""
        self.producer.cache_clear()

    def install(self, app: FastAPI, *, middleware: bool = True) -> FastAPI:
        """Error handlers, the per-task OpenAPI, and (unless told not to) the middlewares.

        The middlewares run, outermost first: API Gateway's stage into ``root_path``;
        the correlation id; the body limit (so a 413 carries the correlation id); an
        untyped body read as JSON.
        """
        app.state.offpath = self
        install_error_handlers(app, self.logger)
        if middleware:
            # The last added runs first.
            app.add_middleware(JsonByDefault)
            app.add_middleware(BodyLimit, max_bytes=self.max_body_bytes)
            app.add_middleware(CorrelationId, logger=self.logger)
            app.add_middleware(ApiGatewayStage)

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                app.openapi_schema = build_openapi(app, self.registry)
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]
        return app


def offpath_of(request: Request) -> Offpath:
    """The :class:`Offpath` installed on the request's app.

    Raises:
        ConfigurationError: nothing was installed (``Offpath().install(app)``).
    """
    found = getattr(request.app.state, "offpath", None)
    if not isinstance(found, Offpath):
        raise ConfigurationError(
            "no offpath on this app: call Offpath().install(app) before serving requests"
        )
    return found


# Async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a
# thread hop per request for what is an attribute lookup after the first call.
async def _offpath(request: Request) -> Offpath:
    return offpath_of(request)


OffpathDep = Annotated[Offpath, Depends(_offpath)]


async def _producer(offpath: OffpathDep) -> Producer:
    return offpath.producer()


async def _store(offpath: OffpathDep) -> JobStore:
    return offpath.store()


async def _registry(offpath: OffpathDep) -> TaskRegistry:
    return offpath.registry


async def request_correlation_id(request: Request) -> str:
    """The request's correlation id, as the CorrelationId middleware chose it."""
    chosen = getattr(request.state, "correlation_id", None)
    return chosen if isinstance(chosen, str) else correlation_id_for(request.scope)


ProducerDep = Annotated[Producer, Depends(_producer)]
StoreDep = Annotated[JobStore, Depends(_store)]
RegistryDep = Annotated[TaskRegistry, Depends(_registry)]
CorrelationIdDep = Annotated[str, Depends(request_correlation_id)]


async def _job_queue(
    offpath: OffpathDep, correlation_id: CorrelationIdDep
) -> AsyncIterator[JobQueue]:
    queue = JobQueue(
        offpath.producer(),
        offpath.registry,
        correlation_id=correlation_id,
        logger=offpath.logger,
    )
    # If the route raises, the exception arrives at this `yield` and leaves: the
    # jobs it added are dropped unsent, so a failed request enqueues nothing.
    yield queue
    await queue.flush()


JobQueueDep = Annotated[JobQueue, Depends(_job_queue, scope="function")]
"""The request's :class:`JobQueue`.

``scope="function"`` is what makes the teardown's flush safe: FastAPI (0.121+)
runs the code after ``yield`` when the route returns and *before* the response is
sent. With the default ``"request"`` scope it runs after the response has gone, so
a client could get a 2xx for jobs that then failed to enqueue.
"""

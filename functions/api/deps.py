"""The routes' dependencies, as ``Annotated`` aliases.

Settings and clients are built on the first request that needs them and kept for
the container's life (``functools.cache``): never per request, and never at
import, since tests (and ``offpath dev``) point boto3 at moto after importing.

The wiring is two lines of :mod:`offpath.runtime` repeated here because that
module imports the worker runtime, which the API must not load.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request

from functions.api.jobqueue import JobQueue
from functions.api.middleware import CORRELATION_HEADER, correlation_id_for
from functions.api.telemetry import job_metrics, logger
from offpath.aws import Clients
from offpath.producer import Producer
from offpath.runtime import build_producer
from offpath.settings import Settings
from offpath.store import JobStore
from offpath.tasks import TaskRegistry, registry


@functools.cache
def settings() -> Settings:
    return Settings()


@functools.cache
def clients() -> Clients:
    return Clients(settings().region)


@functools.cache
def producer() -> Producer:
    """The producer, with EventBridge Scheduler for delays over 15 minutes."""
    return build_producer(settings(), clients(), metrics=job_metrics)


def job_store() -> JobStore:
    return producer().store


def reset() -> None:
    """Forget what was built, as a new container would (tests)."""
    for built in (producer, clients, settings):
        built.cache_clear()


# Async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a
# thread hop per request for what is a dictionary lookup after the first call.
async def _producer() -> Producer:
    return producer()


async def _store() -> JobStore:
    return job_store()


async def _registry() -> TaskRegistry:
    return registry


async def request_correlation_id(
    request: Request,
    _header: Annotated[
        str | None,
        Header(
            alias=CORRELATION_HEADER,
            description="Correlation id for logs and the jobs this request enqueues "
            "(1-128 of `A-Za-z0-9._:=+/@-`). Anything else is ignored and replaced by "
            "API Gateway's request id. Sent back in the response's X-Correlation-Id.",
        ),
    ] = None,
) -> str:
    # The CorrelationId middleware already chose it; the header parameter is here
    # so that OpenAPI documents it.
    chosen = getattr(request.state, "correlation_id", None)
    return chosen if isinstance(chosen, str) else correlation_id_for(request.scope)


ProducerDep = Annotated[Producer, Depends(_producer)]
StoreDep = Annotated[JobStore, Depends(_store)]
RegistryDep = Annotated[TaskRegistry, Depends(_registry)]
CorrelationIdDep = Annotated[str, Depends(request_correlation_id)]


async def _job_queue(
    sender: ProducerDep, tasks: RegistryDep, correlation_id: CorrelationIdDep
) -> AsyncIterator[JobQueue]:
    queue = JobQueue(sender, tasks, correlation_id=correlation_id, logger=logger)
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

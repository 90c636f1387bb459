"""JobQueue: ``BackgroundTasks``' shape, but the jobs go to SQS, in one batch.

A route adds jobs as it would add background tasks; each call is checked on the
spot (:class:`~offpath.producer.JobRequest`), so a mistake fails the request that made
it instead of a worker later. The jobs of one request are sent together, with one
``SendMessageBatch`` (up to ten), and always before the response leaves: either
when the route awaits :meth:`JobQueue.flush` for the job ids, or in the
dependency's teardown (:data:`offpath.fastapi.JobQueueDep`).

Example:
    >>> @app.post("/orders", status_code=201)  # doctest: +SKIP
    ... async def order(body: OrderRequest, jobs: JobQueueDep) -> Order:
    ...     jobs.add_task(send_receipt, body.email)
    ...     return Order(...)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ParamSpec, Protocol

from starlette.concurrency import run_in_threadpool

from offpath.producer import Enqueued, JobRequest, Producer
from offpath.tasks import Task, TaskRegistry

P = ParamSpec("P")


class InfoLog(Protocol):
    """A logger's ``info`` (the standard library's, or Powertools')."""

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None: ...


class JobQueue:
    """The jobs one request enqueues."""

    def __init__(
        self,
        producer: Producer,
        registry: TaskRegistry,
        *,
        correlation_id: str | None = None,
        logger: InfoLog | None = None,
    ) -> None:
        self.producer = producer
        self.registry = registry
        self.correlation_id = correlation_id
        self.logger = logger
        self.enqueued: list[Enqueued] = []
        self._pending: list[JobRequest] = []

    def add_task(self, func: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Check a call to a registered task now; it is sent with the request's others.

        Raises:
            UnknownTask: ``func`` is not a registered task (a bug in the route).
            InvalidArguments: the call does not fit the task's signature or types, or an
                argument cannot travel in the envelope.
        """
        task = self.registry.resolve(func)
        self._append(task, task.bind(*args, **kwargs))

    def with_callback(self, callback_url: str) -> CallbackJobs:
        """``add_task`` for jobs that POST a signed webhook to ``callback_url`` when done.

        A typed ``add_task`` cannot take an option of its own beside the task's
        arguments, so the URL comes first::

            jobs.with_callback("https://example.com/hooks/report").add_task(report, 42)

        The URL is checked when the jobs are sent (:mod:`offpath.callbacks`).
        """
        return CallbackJobs(self, callback_url)

    def add(
        self,
        func: Callable[..., Any],
        args: Mapping[str, Any],
        *,
        delay_s: int = 0,
        run_at: datetime | None = None,
        idempotency_key: str | None = None,
        job_id: str | None = None,
        callback_url: str | None = None,
    ) -> None:
        """Like :meth:`add_task`, with arguments as a mapping (JSON) and delivery options.

        A delay (or ``run_at``) up to 15 minutes is an SQS delay; beyond, the producer
        hands the job to a one-off EventBridge Scheduler schedule (durable tasks only).

        Raises:
            UnknownTask: ``func`` is not a registered task.
            InvalidArguments: ``args`` do not fit the task.
            InvalidJobRequest: a delivery option the job cannot have (its ``field``
                names which: ``DelayNotSupported``, ``IdempotencyNotSupported``...).
        """
        task = self.registry.resolve(func)
        self._append(
            task,
            task.validate(args),
            delay_s=delay_s,
            run_at=run_at,
            idempotency_key=idempotency_key,
            job_id=job_id,
            callback_url=callback_url,
        )

    @property
    def pending(self) -> int:
        """Jobs added and not sent yet."""
        return len(self._pending)

    async def flush(self) -> list[Enqueued]:
        """Send the pending jobs (one SendMessageBatch per ten); their handles, in order.

        Raises:
            PayloadTooLarge: a job's message is over the SQS limit; nothing is sent.
            IdempotencyConflict: a key was reused for another call; nothing new is sent.
            EnqueueError: SQS kept refusing the messages.
        """
        if not self._pending:
            return []
        jobs, self._pending = self._pending, []
        # boto3 blocks: keep the event loop free for other requests (uvicorn locally).
        enqueued = await run_in_threadpool(self.producer.enqueue_many, jobs)
        self.enqueued.extend(enqueued)
        if self.logger is not None:
            # One line per job, ids and names only (arguments can hold personal data):
            # a Logs Insights `filter job_id = ...` finds the API's side of a job.
            for job, handle in zip(jobs, enqueued, strict=True):
                self.logger.info(
                    "job enqueued",
                    extra={
                        "job_id": handle.job_id,
                        "task": job.task.name,
                        "status": handle.status,
                        "duplicate": handle.duplicate,
                    },
                )
        return enqueued

    def _append(
        self,
        task: Task[Any, Any],
        args: dict[str, Any],
        *,
        delay_s: int = 0,
        run_at: datetime | None = None,
        idempotency_key: str | None = None,
        job_id: str | None = None,
        callback_url: str | None = None,
    ) -> None:
        # JobRequest checks everything the worker would refuse, as for every sender.
        self._pending.append(
            JobRequest(
                task=task,
                args=args,
                delay_s=delay_s,
                run_at=run_at,
                job_id=job_id,
                idempotency_key=idempotency_key,
                correlation_id=self.correlation_id,
                callback_url=callback_url,
            )
        )


class CallbackJobs:
    """:meth:`JobQueue.with_callback`'s ``add_task``."""

    def __init__(self, jobs: JobQueue, callback_url: str) -> None:
        self._jobs = jobs
        self._url = callback_url

    def add_task(self, func: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """:meth:`JobQueue.add_task`, with the webhook."""
        task = self._jobs.registry.resolve(func)
        self._jobs._append(task, task.bind(*args, **kwargs), callback_url=self._url)

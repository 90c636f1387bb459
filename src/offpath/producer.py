"""Enqueue jobs to SQS, creating durable jobs' records first.

Example:
    >>> producer = Producer(sqs=clients.sqs, queue_url=url, store=store)  # doctest: +SKIP
    >>> producer.enqueue(request(resize_image, "img-1", width=640))  # doctest: +SKIP
    Enqueued(job_id='...', status='queued', duplicate=False)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from offpath.envelope import (
    SQS_MAX_MESSAGE_BYTES,
    Envelope,
    check_args,
    check_correlation_id,
    check_job_id,
)
from offpath.errors import (
    ConfigurationError,
    DelayNotSupported,
    EnqueueError,
    IdempotencyNotSupported,
    InvalidJobRequest,
    OffpathError,
)
from offpath.invocation import now as platform_now
from offpath.location import DEFAULT_POOL, PoolLocation
from offpath.metrics import TaskMetricsSink
from offpath.oneoff import OneOffScheduler, ScheduleError, schedule_name_for
from offpath.store import Job, JobStatus, JobStore, NewJob
from offpath.tasks import Task

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

    from offpath.callbacks import CallbackPolicy
    from offpath.events import JobEvents

MAX_DELAY_S = 900  # SQS DelaySeconds ceiling; longer delays go through EventBridge Scheduler
MAX_SCHEDULE_S = 365 * 24 * 3600
BATCH_SIZE = 10  # SendMessageBatch ceiling
SEND_ATTEMPTS = 4


class IdempotencyConflict(OffpathError):
    """An idempotency key was reused for a different task or different arguments."""


@dataclass(frozen=True)
class JobRequest:
    """One job to enqueue: a task, its validated JSON arguments and delivery options."""

    task: Task[Any, Any]
    args: dict[str, Any]
    delay_s: int = 0
    job_id: str | None = None
    idempotency_key: str | None = None
    correlation_id: str | None = None
    run_at: datetime | None = None  # aware; a ZoneInfo zone is kept for the schedule
    callback_url: str | None = None  # a webhook when it ends (offpath.webhooks)

    def __post_init__(self) -> None:
        """The one set of sending-side checks: what the worker would refuse, refused here.

        Raises:
            InvalidJobRequest: a delay out of range, a naive ``run_at``, a bad job id
                or correlation id (``field`` names which).
            DelayNotSupported: over 15 minutes away for a fire-and-forget task.
            IdempotencyNotSupported: an idempotency key on a fire-and-forget task.
            InvalidArguments: an argument nests too deep or is not valid Unicode.
            CallbackRefused: a callback URL on a fire-and-forget task or over 2048
                characters (the producer checks the rest: offpath.callbacks).
        """
        check_request(self)


@dataclass(frozen=True)
class Enqueued:
    """What the caller gets back: a handle to poll."""

    job_id: str
    status: JobStatus
    duplicate: bool = False
    durable: bool = True


def check_request(job: JobRequest) -> None:
    """See :meth:`JobRequest.__post_init__`."""
    name = job.task.name
    durable = job.task.options.durable
    if type(job.delay_s) is not int or not 0 <= job.delay_s <= MAX_SCHEDULE_S:
        raise InvalidJobRequest(
            f"{name}: delay_s must be a whole number of seconds within 0..{MAX_SCHEDULE_S}",
            field="delay_s",
        )
    if job.run_at is not None and (job.run_at.tzinfo is None or job.delay_s):
        raise InvalidJobRequest(
            f"{name}: run_at must be timezone-aware, and excludes delay_s", field="run_at"
        )
    if not durable:
        _check_fire_and_forget(job)
    check_job_id(job.job_id)
    check_correlation_id(job.correlation_id)
    check_args(name, job.args)


def _check_fire_and_forget(job: JobRequest) -> None:
    name = job.task.name
    if job.callback_url is not None:
        from offpath.callbacks import CallbackRefused

        raise CallbackRefused(
            f"{name} is fire-and-forget and keeps no record to say when it ends; "
            "callback_url needs a durable task"
        )
    if job.idempotency_key:
        raise IdempotencyNotSupported(
            f"{name} is fire-and-forget and keeps no record to deduplicate on; "
            "idempotency keys need a durable task",
            field="idempotency_key",
        )
    # The platform's clock (the emulator's, under `offpath dev`), as the producer's.
    wait_s = (job.run_at - platform_now()).total_seconds() if job.run_at else job.delay_s
    if wait_s > MAX_DELAY_S:
        raise DelayNotSupported(
            f"{name} is fire-and-forget; delays over {MAX_DELAY_S} s need a durable task "
            "(the schedule is tracked in its job record)",
            field="run_at" if job.run_at else "delay_s",
        )


def request(task: Task[Any, Any], *args: Any, **kwargs: Any) -> JobRequest:
    """Validate a call to ``task`` and wrap it as a :class:`JobRequest`."""
    return JobRequest(task=task, args=task.bind(*args, **kwargs))


def job_id_for_key(task_name: str, key: str) -> str:
    """The job id an idempotency key maps to: the same key always names the same job."""
    return "k" + hashlib.sha256(f"{task_name}\x00{key}".encode()).hexdigest()[:39]


def args_digest(args: dict[str, Any]) -> str:
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Pending:
    request: JobRequest
    envelope: Envelope
    body: str
    queue_url: str  # the queue of the task's pool
    queue_arn: str  # the same, for a one-off schedule's target
    delay_s: int = 0  # SQS DelaySeconds
    due_at: datetime | None = None  # set when EventBridge Scheduler delivers it
    # The trace context it carries (OpenTelemetry), set just before it is sent.
    attributes: dict[str, MessageAttributeValueTypeDef] = field(default_factory=dict)

    @property
    def durable(self) -> bool:
        return self.request.task.options.durable


class Producer:
    """Sends each job to its task's pool's queue; durable jobs get their record first.

    ``queue_url`` is the default pool's queue; ``pools`` (a
    :class:`~offpath.location.Location`'s) names every pool's, for tasks declared
    with ``pool=``. A task whose pool is not among them is refused before anything
    is written.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        store: JobStore,
        *,
        pools: Mapping[str, PoolLocation] | None = None,
        scheduler: OneOffScheduler | None = None,
        metrics: TaskMetricsSink | None = None,
        clock: Callable[[], datetime] = platform_now,
        sleep: Callable[[float], None] = time.sleep,
        callback_policy: CallbackPolicy | None = None,
        trace_context: Callable[[], Mapping[str, str]] | None = None,
        events: JobEvents | None = None,
    ) -> None:
        self.sqs = sqs
        # None: the messages carry no trace context (X-Ray's travels as AWSTraceHeader).
        self.trace_context = trace_context
        self.queue_url = queue_url
        self.pools = dict(pools or {})
        self.store = store
        self.scheduler = scheduler
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self.callback_policy = callback_policy  # None: offpath.callbacks' strict default
        self.events = events  # None: no EventBridge events (the template's default)

    def enqueue(self, job: JobRequest) -> Enqueued:
        """Enqueue one job (one SendMessage)."""
        return self.enqueue_many([job])[0]

    def enqueue_many(self, jobs: Sequence[JobRequest]) -> list[Enqueued]:
        """Enqueue jobs with as few SendMessageBatch calls as SQS allows.

        Every envelope is built and size-checked before anything is written, and
        every record is written before anything is sent: a bad job (a conflict, a
        store error) fails the whole call and removes the records it made, so
        nothing is left ``queued`` without a message.

        A repeat of a job id whose record still waits (``queued``, or ``scheduled``)
        sends it again: the first call may have died, or timed out, between the
        record and the message. The worker's claim makes the copies harmless.

        Raises:
            PayloadTooLarge: one job's message is over the SQS limit.
            IdempotencyConflict: a key was reused for another task or other arguments.
            EnqueueError: SQS kept refusing messages. Records of messages that were
                surely not sent are removed; a record whose message may have gone
                (a timeout, a dropped connection) is kept, for the worker or a
                retry of the call to finish.
        """
        pending = [self._prepare(job) for job in jobs]
        existing = self._create_records(pending)
        handles: list[Enqueued] = []
        to_send: list[_Pending] = []
        to_schedule: list[_Pending] = []
        for item, found in zip(pending, existing, strict=True):
            handle, action = self._decide(item, found)
            handles.append(handle)
            if action == "send":
                to_send.append(item)
            elif action == "schedule":
                to_schedule.append(item)
        new = {id(item) for item, found in zip(pending, existing, strict=True) if found is None}
        self._deliver(to_send, to_schedule, new)
        self._count(pending, handles)
        return handles

    def _create_records(self, pending: list[_Pending]) -> list[Job | None]:
        """Each durable job's record (None: made now); undone if any one fails."""
        made: list[_Pending] = []
        found: list[Job | None] = []
        try:
            for item in pending:
                existing = self._create_record(item)
                if existing is None and item.durable:
                    made.append(item)
                found.append(existing)
        except Exception:
            # Nothing was sent yet: the records made so far would wait for ever.
            self._forget(made)
            raise
        return found

    def _decide(self, item: _Pending, found: Job | None) -> tuple[Enqueued, str]:
        """The caller's handle, and what to do: ``send``, ``schedule`` or nothing."""
        job_id, durable = item.envelope.job_id, item.durable
        if found is None:
            if item.due_at is not None:
                return Enqueued(job_id, JobStatus.SCHEDULED), "schedule"
            return Enqueued(job_id, JobStatus.QUEUED, durable=durable), "send"
        handle = Enqueued(found.job_id, found.status, duplicate=True)
        if found.status is JobStatus.QUEUED:
            return handle, "send"
        if found.status is JobStatus.SCHEDULED:
            # Its schedule may never have been made: make it again (a schedule that
            # exists is left alone), or send now if its time has come.
            due_at = found.due_at or item.due_at or self.clock()
            wait_s = max(0, math.ceil((due_at - self.clock()).total_seconds()))
            if wait_s > MAX_DELAY_S and self.scheduler is not None:
                item.due_at = due_at
                return handle, "schedule"
            item.due_at, item.delay_s = None, min(wait_s, MAX_DELAY_S)
            return handle, "send"
        return handle, ""

    def _deliver(self, to_send: list[_Pending], to_schedule: list[_Pending], new: set[int]) -> None:
        """Send and schedule; on failure remove the new records surely not delivered."""
        try:
            self._send(to_send)
        except _NotDelivered as exc:
            self._forget([i for i in exc.surely_not + to_schedule if id(i) in new])
            raise EnqueueError(exc.message) from exc.__cause__
        for n, item in enumerate(to_schedule):
            try:
                self._schedule(item)
            except ScheduleError as exc:
                unsent = to_schedule[n + 1 :] + ([] if _maybe_took_effect(exc) else [item])
                self._forget([i for i in unsent if id(i) in new])
                raise

    def _count(self, pending: list[_Pending], handles: list[Enqueued]) -> None:
        """``JobsEnqueued`` per task: new jobs only, not repeats of an idempotency key."""
        if self.metrics is None:
            return
        for item, handle in zip(pending, handles, strict=True):
            if not handle.duplicate:
                self.metrics.add_task_metric(item.envelope.task, "JobsEnqueued", "Count", 1)
        self.metrics.flush()

    def cancel(self, job_id: str) -> Job:
        """Cancel a job; its one-off schedule, if any, is deleted.

        A waiting job is ``cancelled`` at once; a running one comes back still
        ``running`` with ``cancel_requested_at`` set, and ends ``cancelled`` when its
        task stops (:meth:`offpath.context.JobContext.cancelled`).

        Raises:
            JobNotFound: no such job.
            JobNotCancellable: it already finished (the job is attached).
        """
        job = self.store.cancel(job_id)
        if job.status is JobStatus.CANCELLED and self.events is not None:
            self.events.publish(job.job_id, job.task, job.status)
        if job.status is JobStatus.CANCELLED and job.callback_url:
            from offpath.webhooks import delivery_request

            # It never reaches a worker now: its webhook is sent from here.
            self.enqueue(delivery_request(job.job_id, job.status, job.callback_url))
        if job.status is JobStatus.CANCELLED and job.schedule_name and self.scheduler is not None:
            self.scheduler.delete(job.schedule_name)
        return job

    def route(self, task: Task[Any, Any]) -> tuple[str, str]:
        """The queue (URL, ARN) of a task's pool.

        Raises:
            ConfigurationError: the task names a pool this producer has no queue for.
        """
        pool = task.options.pool
        if pool is None or (pool == DEFAULT_POOL and pool not in self.pools):
            default_arn = self.scheduler.queue_arn if self.scheduler is not None else ""
            return self.queue_url, default_arn
        found = self.pools.get(pool)
        if found is None:
            known = ", ".join(sorted(self.pools)) or "only the default"
            raise ConfigurationError(
                f"task {task.name} runs in pool {pool!r}, which has no queue here (pools: "
                f"{known}): declare the pool in template.yaml (a worker with OFFPATH_POOL: "
                f"{pool}) and list it in OFFPATH_POOLS"
            )
        return found.queue_url, found.queue_arn

    def _prepare(self, job: JobRequest) -> _Pending:
        job_id = job.job_id
        if job.idempotency_key and not job_id:
            job_id = job_id_for_key(job.task.name, job.idempotency_key)
        envelope = Envelope.new(
            job.task.name,
            job.args,
            job_id=job_id,
            correlation_id=job.correlation_id,
            enqueued_at=self.clock(),
            callback_url=self._checked_callback(job.callback_url),
        )
        item = _Pending(job, envelope, envelope.to_body(), *self.route(job.task))
        delay_s = job.delay_s
        if job.run_at is not None:
            delay_s = max(0, math.ceil((job.run_at - self.clock()).total_seconds()))
        if delay_s <= MAX_DELAY_S:
            item.delay_s = delay_s
            return item
        if not item.durable:
            raise ValueError(
                f"{job.task.name} is fire-and-forget; delays over {MAX_DELAY_S} s need a "
                "durable task (the schedule is tracked in its job record)"
            )
        if self.scheduler is None:
            raise ConfigurationError(
                f"a delay of {delay_s} s needs EventBridge Scheduler (OFFPATH_SCHEDULER_*)"
            )
        item.due_at = job.run_at or self.clock() + timedelta(seconds=delay_s)
        return item

    def _checked_callback(self, url: str | None) -> str | None:
        """The URL if the callback policy allows it (checked with DNS, before any write).

        Raises:
            CallbackRefused: it names a host or address the policy refuses.
        """
        if url is None:
            return None
        from offpath.callbacks import CallbackPolicy

        (self.callback_policy or CallbackPolicy()).check(url)
        return url

    def _schedule(self, item: _Pending) -> None:
        """Hand a long-delayed job to EventBridge Scheduler (one that exists is kept)."""
        assert self.scheduler is not None and item.due_at is not None
        self.scheduler.create(
            schedule_name_for(item.envelope.job_id),
            item.due_at,
            item.body,
            item.queue_arn or None,
        )

    def _create_record(self, item: _Pending) -> Job | None:
        """Create a durable job's record; return the existing job when the id is taken."""
        if not item.durable:
            return None
        digest = args_digest(item.envelope.args)
        scheduled = item.due_at is not None
        existing = self.store.create(
            NewJob(
                job_id=item.envelope.job_id,
                task=item.envelope.task,
                correlation_id=item.envelope.correlation_id,
                args_sha256=digest,
                idempotency_key=item.request.idempotency_key,
                status=JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED,
                due_at=item.due_at,
                schedule_name=schedule_name_for(item.envelope.job_id) if scheduled else None,
                callback_url=item.envelope.callback_url,
            )
        )
        if existing is not None:
            _check_same_job(existing, item.envelope.task, digest)
        return existing

    def _send(self, items: list[_Pending]) -> None:
        self._carry_trace(items)
        chunks = list(_chunks(items))
        for n, chunk in enumerate(chunks):
            try:
                self._send_chunk(chunk)
            except _NotDelivered as exc:
                exc.surely_not += [item for later in chunks[n + 1 :] for item in later]
                raise

    def _carry_trace(self, items: list[_Pending]) -> None:
        """The current trace context (OpenTelemetry) in each message's attributes."""
        carried = _trace_attributes(self.trace_context() if self.trace_context else {})
        for item in items:
            if len(item.body.encode()) + _attributes_size(carried) <= SQS_MAX_MESSAGE_BYTES:
                item.attributes = carried  # a body at the limit goes without it

    def _send_chunk(self, chunk: list[_Pending]) -> None:
        if len(chunk) == 1:
            self._send_one(chunk[0])
            return
        entries: dict[str, SendMessageBatchRequestEntryTypeDef] = {
            str(i): _entry(str(i), item) for i, item in enumerate(chunk)
        }
        maybe: set[str] = set()  # entries a failed or retried call may have sent

        def not_delivered(message: str, ids: Iterable[str]) -> _NotDelivered:
            return _NotDelivered(message, [chunk[int(i)] for i in ids if i not in maybe])

        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                response = self.sqs.send_message_batch(
                    QueueUrl=chunk[0].queue_url, Entries=list(entries.values())
                )
            except (ClientError, BotoCoreError) as exc:
                if _maybe_took_effect(exc):
                    maybe.update(entries)
                raise not_delivered(f"SendMessageBatch failed: {exc}", entries) from exc
            if response["ResponseMetadata"].get("RetryAttempts", 0):
                maybe.update(entries)  # an earlier try of this call may have sent them
            failed = response.get("Failed", [])
            permanent = [f for f in failed if f.get("SenderFault")]
            if permanent:
                reasons = "; ".join(f"{f['Code']}: {f.get('Message', '')}" for f in permanent)
                message = f"SQS refused {len(permanent)} message(s): {reasons}"
                raise not_delivered(message, [f["Id"] for f in failed])
            # Only the entries SQS failed on its side are sent again.
            entries = {f["Id"]: entries[f["Id"]] for f in failed}
            if not entries:
                return
            self.sleep(min(2.0, 0.1 * 2**attempt))
        raise not_delivered(f"SQS kept failing {len(entries)} message(s) after retries", entries)

    def _send_one(self, item: _Pending) -> None:
        kwargs: dict[str, Any] = {}
        if item.delay_s:
            kwargs["DelaySeconds"] = item.delay_s
        if item.attributes:
            kwargs["MessageAttributes"] = item.attributes
        try:
            self.sqs.send_message(QueueUrl=item.queue_url, MessageBody=item.body, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            surely_not = [] if _maybe_took_effect(exc) else [item]
            raise _NotDelivered(f"SendMessage failed: {exc}", surely_not) from exc

    def _forget(self, items: list[_Pending]) -> None:
        """Remove the records of jobs surely never delivered (best effort: the caller
        gets the error that brought us here; a record left behind only waits)."""
        for item in items:
            if item.durable:
                with contextlib.suppress(OffpathError):
                    self.store.delete(item.envelope.job_id)


class _NotDelivered(Exception):
    """A send failed; ``surely_not`` are the jobs that certainly did not reach SQS."""

    def __init__(self, message: str, surely_not: list[_Pending]) -> None:
        super().__init__(message)
        self.message = message
        self.surely_not = surely_not


def _maybe_took_effect(exc: BaseException) -> bool:
    """Whether a failed AWS call may have done its work all the same.

    Only a refusal on the call's first try is sure: a timeout or dropped connection
    may come after the request was served, and botocore's own retries may follow a
    try that was served but whose answer was lost.
    """
    cause = exc.__cause__ if isinstance(exc, OffpathError) else exc
    if isinstance(cause, ClientError):
        meta = cause.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode", 500))
        return bool(meta.get("RetryAttempts", 0)) or status >= 500
    return True


def _entry(entry_id: str, item: _Pending) -> SendMessageBatchRequestEntryTypeDef:
    entry: SendMessageBatchRequestEntryTypeDef = {"Id": entry_id, "MessageBody": item.body}
    if item.delay_s:
        entry["DelaySeconds"] = item.delay_s
    if item.attributes:
        entry["MessageAttributes"] = item.attributes
    return entry


def _trace_attributes(carrier: Mapping[str, str]) -> dict[str, MessageAttributeValueTypeDef]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in carrier.items()}


def _attributes_size(attributes: Mapping[str, MessageAttributeValueTypeDef]) -> int:
    """What SQS counts of message attributes toward its size limit: name, type, value."""
    return sum(
        len(name.encode()) + len(value["DataType"]) + len(value.get("StringValue", "").encode())
        for name, value in attributes.items()
    )


def _chunks(items: list[_Pending]) -> Iterator[list[_Pending]]:
    """Per queue, groups of at most 10 messages and 1 MiB in all (both SQS batch limits)."""
    by_queue: dict[str, list[_Pending]] = {}
    for item in items:
        by_queue.setdefault(item.queue_url, []).append(item)
    for same_queue in by_queue.values():
        yield from _sized_chunks(same_queue)


def _sized_chunks(items: list[_Pending]) -> Iterator[list[_Pending]]:
    chunk: list[_Pending] = []
    size = 0
    for item in items:
        item_size = len(item.body.encode()) + _attributes_size(item.attributes)
        if chunk and (len(chunk) == BATCH_SIZE or size + item_size > SQS_MAX_MESSAGE_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def _check_same_job(existing: Job, task: str, digest: str) -> None:
    if existing.task != task or (existing.args_sha256 and existing.args_sha256 != digest):
        raise IdempotencyConflict(
            f"job {existing.job_id} already exists for {existing.task} with other arguments; "
            "an idempotency key names one call"
        )

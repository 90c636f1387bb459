"""The SQS worker runtime: one record at a time, outcomes recorded, failures isolated.

The Lambda handler builds a :class:`Worker` once per container and hands each event
to :meth:`Worker.handle`, which answers with ``batchItemFailures`` so that Lambda
deletes only the records that are done (``ReportBatchItemFailures``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import re
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from offpath.context import JobCancelled, JobContext
from offpath.deadletters import (
    MAX_ATTRIBUTE_CHARS,
    REASON_ATTRIBUTE,
    DeadLetter,
    DeadLetterQueue,
    DeadReason,
)
from offpath.envelope import JOB_ID_PATTERN, Envelope
from offpath.errors import (
    InvalidArguments,
    MalformedMessage,
    OffpathError,
    PermanentError,
    TaskTimeout,
    UnknownTask,
)
from offpath.invocation import current_context, invocation
from offpath.invocation import now as platform_now
from offpath.joblog import logs_info, success_line, write_line
from offpath.location import DEFAULT_POOL, PoolLocation
from offpath.metrics import UNKNOWN_TASK, MetricsSink, TaskMetricsSink
from offpath.records import SQSRecord
from offpath.store import Claim, ClaimKind, Job, JobError, JobStatus, JobStore
from offpath.tasks import Task, TaskRegistry
from offpath.tracing import parent_from

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    from offpath.events import JobEvents
    from offpath.tracing import JobTracer
    from offpath.webhooks import WebhookDelivery

# Leave this much of the Lambda's time for recording the outcome of the last record.
SAFETY_MARGIN_MS = 2_000


class HandBack(OffpathError):
    """Report the record failed without running it; it returns after its visibility."""


class RetryLater(OffpathError):
    """The attempt failed and will be retried after its backoff."""


class AttemptLost(OffpathError):
    """The job's last attempt never finished (the function timed out or crashed)."""


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FORWARDED = "forwarded"  # another pool's task: sent on to that pool's queue
    SKIPPED = "skipped"  # already done: acknowledged without running
    DEAD = "dead"
    DROPPED = "dropped"  # fire-and-forget failure: logged, not retried
    CANCELLED = "cancelled"  # stopped on request (or never run: cancelled while waiting)


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@contextmanager
def deadline(timeout_s: float) -> Iterator[None]:
    """Raise :class:`TaskTimeout` in the main thread once ``timeout_s`` has passed.

    Our own instead of a library: SIGALRM is the only way to interrupt a running
    synchronous function in CPython, and the Lambda handler runs on the main thread.
    Off the main thread (a threaded test runner) the timeout is not enforced here;
    the Lambda timeout still is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TaskTimeout(f"task ran longer than {timeout_s:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Worker:
    """Processes SQS batches of offpath envelopes."""

    def __init__(
        self,
        *,
        registry: TaskRegistry,
        store: JobStore,
        sqs: SQSClient,
        dead_letters: DeadLetterQueue,
        logger: Logger | None = None,
        metrics: MetricsSink | None = None,
        tracer: JobTracer | None = None,
        rand: Callable[[], float] | None = None,
        clock: Callable[[], datetime] = platform_now,
        webhooks: WebhookDelivery | None = None,
        events: JobEvents | None = None,
        pool: str = DEFAULT_POOL,
        pools: Mapping[str, PoolLocation] | None = None,
        async_concurrency: int = 1,
    ) -> None:
        """``pool`` is the pool this worker consumes; ``pools`` every pool's queues (a
        :class:`~offpath.location.Location`'s), to forward another pool's task to its
        own. Without ``pools``, every task is run here, whatever its pool.

        ``async_concurrency`` above 1: a batch's async tasks run together on one event
        loop, that many at most (sync tasks one at a time, after them)."""
        if async_concurrency < 1:
            raise ValueError("async_concurrency must be at least 1")
        self.async_concurrency = async_concurrency
        self.peak_concurrency = 0  # most async jobs at once in the last batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = 0
        self.registry = registry
        self.webhooks = webhooks  # None: no completion webhooks (none are configured)
        self.events = events  # None: no EventBridge events (the template's default)
        self.pool = pool
        self.pools = dict(pools) if pools is not None else None
        self.clock = clock
        self.store = store
        self.sqs = sqs
        self.dead_letters = dead_letters
        self.logger = logger or Logger(service="offpath-worker")
        self.metrics = metrics  # a TaskMetricsSink adds the task dimension
        # Decided once: a runtime-checkable Protocol check costs more than the metric.
        self._task_metrics = metrics if isinstance(metrics, TaskMetricsSink) else None
        self.tracer = tracer  # None: no subsegment per job
        self.rand = rand
        self._started_in_invocation = 0

    def handle(self, event: Mapping[str, Any], context: RemainingTime | None) -> dict[str, Any]:
        """Process one SQS event; return the partial batch response.

        A batch whose every record is being retried is normal here, not an error:
        the response lists them all and the invocation succeeds.
        """
        records = [SQSRecord(raw) for raw in event.get("Records", [])]
        self._started_in_invocation = 0
        self.peak_concurrency = 0
        failures: list[dict[str, str]] = []
        together = self._async_records(records)
        try:
            with invocation(context):
                settled = self._settle_together([records[i] for i in together], context)
                for index, record in enumerate(records):
                    if index in together:
                        done = settled[together.index(index)]
                    else:
                        done = self._settle(record, context)
                    if not done:
                        failures.append({"itemIdentifier": record.message_id})
        finally:
            if self._task_metrics is not None:
                self._task_metrics.flush()
        return {"batchItemFailures": failures}

    def _async_records(self, records: list[SQSRecord]) -> list[int]:
        """Which records (by index) hold an async task this worker runs together."""
        if self.async_concurrency <= 1:
            return []
        found = []
        for index, record in enumerate(records):
            try:
                task = self.registry.get(Envelope.from_body(record.body).task)
            except (MalformedMessage, UnknownTask):
                continue  # dead-lettered by the one-at-a-time path, with its reason
            if task.is_async:
                found.append(index)
        return found if len(found) > 1 else []

    def _settle_together(
        self, records: list[SQSRecord], context: RemainingTime | None
    ) -> list[bool]:
        """Settle records of async tasks together: their coroutines on one event loop.

        Each record goes through the same steps as one settled alone (claim, record,
        retry, dead letter, hand back: each its own outcome), on a helper thread of
        its own, up to ``async_concurrency`` at once; only the task's coroutine runs on
        the shared loop, under its own ``asyncio.timeout``. Threads for the steps
        because they are blocking AWS calls; one loop for the tasks, which is what
        lets ten jobs waiting on IO wait at the same time.
        """
        if not records:
            return []
        loop = asyncio.new_event_loop()
        runner = threading.Thread(target=loop.run_forever, name="offpath-jobs", daemon=True)
        runner.start()
        self._loop = loop
        try:
            with ThreadPoolExecutor(self.async_concurrency, "offpath-job") as pool:
                futures = [
                    pool.submit(contextvars.copy_context().run, self._settle, record, context)
                    for record in records
                ]
                return [future.result() for future in futures]
        finally:
            self._loop = None
            loop.call_soon_threadsafe(loop.stop)
            runner.join()
            loop.close()

    def _call(
        self,
        task: Task[Any, Any],
        kwargs: dict[str, Any],
        job: JobContext | None,
        timeout_s: float,
    ) -> Any:
        """Call the task: on the batch's shared loop when it runs async tasks together
        (under ``asyncio.timeout``), else here, under :func:`deadline` (SIGALRM)."""
        loop = self._loop
        if loop is None or not task.is_async:
            with deadline(timeout_s):
                return task.run(kwargs, job)
        future = asyncio.run_coroutine_threadsafe(
            self._bounded(task.coroutine(kwargs, job), timeout_s), loop
        )
        return future.result()

    async def _bounded(self, coroutine: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
        """One job's coroutine, with its own timeout; counts how many run at once."""
        self._running += 1
        self.peak_concurrency = max(self.peak_concurrency, self._running)
        try:
            async with asyncio.timeout(timeout_s):
                return await coroutine
        except TimeoutError:
            raise TaskTimeout(f"task ran longer than {timeout_s:g} s") from None
        finally:
            self._running -= 1

    def _settle(self, record: SQSRecord, context: RemainingTime | None) -> bool:
        """Process one record; False: report it failed, so SQS delivers it again."""
        try:
            self.process(record, context)
        except (HandBack, RetryLater):
            return False
        except Exception as exc:  # noqa: BLE001 -- per-record boundary: the neighbours go on
            # An AWS call that failed outside the task (claim, record, DLQ): the
            # message comes back after its visibility timeout and is tried again.
            self.logger.warning(
                "record not settled; SQS delivers it again",
                extra={"message_id": record.message_id, **_error_fields(exc)},
            )
            return False
        return True

    def process(self, record: SQSRecord, context: RemainingTime | None = None) -> Outcome:
        """Process one record; raise to have it reported as a batch item failure."""
        try:
            envelope = Envelope.from_body(record.body)
            task = self._task_named(envelope.task)
        except (MalformedMessage, UnknownTask) as exc:
            return self._bury(record, exc, _envelope_ids(record.body))
        with self._log_context(envelope, record), self._traced(envelope, record):
            elsewhere = self._other_pool(task)
            if elsewhere is not None:
                return self._forward(record, envelope, task, elsewhere)
            try:
                kwargs = task.load(envelope.args)
            except InvalidArguments as exc:
                ids = (envelope.job_id, task.name)
                return self._bury(record, exc, ids, callback_url=envelope.callback_url)
            if not task.options.durable:
                return self._fire_and_forget(task, kwargs, envelope)
            return self._run_durable(record, envelope, task, kwargs, context)

    def _task_named(self, name: str) -> Task[Any, Any]:
        if self.webhooks is not None and name == self.webhooks.task.name:
            return self.webhooks.task  # built in: a completion webhook's delivery
        return self.registry.get(name)

    def _ended(
        self,
        job_id: str,
        status: JobStatus | None,
        callback_url: str | None,
        task: str | None = None,
    ) -> None:
        """The record says the job is final: its event (``task``: this write made it
        final), then its webhook, if it asked for one."""
        if self.events is not None and task is not None and status is not None:
            self.events.publish(job_id, task, status)
        if callback_url is None or status is None:
            return
        if self.webhooks is None:
            self.logger.warning("job has a callback_url but no webhooks are configured")
            return
        self.webhooks.notify(job_id, status, callback_url)

    def _other_pool(self, task: Task[Any, Any]) -> str | None:
        """The task's pool when it is not this worker's (None: run it here)."""
        if self.pools is None:
            return None
        wanted = task.options.pool or DEFAULT_POOL
        return None if wanted == self.pool else wanted

    def _forward(
        self, record: SQSRecord, envelope: Envelope, task: Task[Any, Any], pool: str
    ) -> Outcome:
        """Send a task of another pool (queued before it moved) on to that pool's queue.

        The body goes unchanged, with its attributes (a redrive mark stays). Repeat-safe:
        a second copy (this record delivered again before its delete) is run once, by
        the job's claim; a fire-and-forget job may run twice, as any duplicate of one.
        A pool with no queue here, or a copy forwarded already and still misplaced (two
        deployments disagreeing on the task's pool), is dead-lettered with its reason.
        """
        assert self.pools is not None
        target = self.pools.get(pool)
        ids = (envelope.job_id, task.name)
        if target is None:
            known = ", ".join(sorted(self.pools))
            problem = f"task {task.name} runs in pool {pool!r}, unknown here (pools: {known})"
            return self._bury(
                record,
                UnknownPool(problem),
                ids,
                reason=DeadReason.UNKNOWN_POOL,
                callback_url=envelope.callback_url,
            )
        attributes = _forwardable(record)
        if FORWARDED_ATTRIBUTE in attributes:
            problem = (
                f"task {task.name} was forwarded to pool {self.pool!r} already, which sends "
                f"it on to {pool!r}: the pools' deployments disagree on where it runs"
            )
            return self._bury(
                record,
                UnknownPool(problem),
                ids,
                reason=DeadReason.UNKNOWN_POOL,
                callback_url=envelope.callback_url,
            )
        attributes[FORWARDED_ATTRIBUTE] = {"DataType": "String", "StringValue": self.pool}
        self.sqs.send_message(
            QueueUrl=target.queue_url, MessageBody=record.body, MessageAttributes=attributes
        )
        self.logger.info("job of another pool forwarded", extra={"pool": pool})
        self._metric("JobsForwarded", task.name)
        return Outcome.FORWARDED

    @contextmanager
    def _log_context(self, envelope: Envelope, record: SQSRecord) -> Iterator[None]:
        if self._loop is not None:
            # Records settled together, each on its own thread: keys of this thread only.
            keys = {"correlation_id": envelope.correlation_id, "job_id": envelope.job_id}
            self.logger.thread_safe_append_keys(**keys, task=envelope.task)
            try:
                yield
            finally:
                self.logger.thread_safe_remove_keys(["correlation_id", "job_id", "task"])
            return
        self.logger.set_correlation_id(envelope.correlation_id)
        self.logger.append_keys(job_id=envelope.job_id, task=envelope.task)
        try:
            yield
        finally:
            self.logger.remove_keys(["job_id", "task"])
            self.logger.set_correlation_id(None)

    @contextmanager
    def _traced(self, envelope: Envelope, record: SQSRecord) -> Iterator[None]:
        """A span per job (an X-Ray subsegment), searchable by job id and task."""
        if self.tracer is None:
            yield
            return
        parent = parent_from(record.message_attributes)  # OpenTelemetry's, if it carried one
        with self.tracer.job(envelope.job_id, envelope.task, parent):
            yield

    def _fire_and_forget(
        self, task: Task[Any, Any], kwargs: dict[str, Any], envelope: Envelope
    ) -> Outcome:
        job = self._job_context(task, envelope, 1, task.options.timeout_s, durable=False)
        try:
            self._call(task, kwargs, job, task.options.timeout_s)
        except Exception as exc:  # noqa: BLE001 -- per-record boundary: best effort, dropped
            self.logger.warning("fire-and-forget task failed", extra=_error_fields(exc))
            self._metric("JobsFailed", task.name)
            return Outcome.DROPPED
        self._metric("JobsSucceeded", task.name)
        return Outcome.SUCCEEDED

    def _run_durable(
        self,
        record: SQSRecord,
        envelope: Envelope,
        task: Task[Any, Any],
        kwargs: dict[str, Any],
        context: RemainingTime | None,
    ) -> Outcome:
        timeout_s = self._time_budget_s(record, task, context)
        max_attempts = task.options.max_attempts

        def claim_it() -> Claim:
            lease_s = timeout_s + 5
            return self.store.claim(envelope.job_id, task.name, lease_s, max_attempts=max_attempts)

        claim = claim_it()
        if self._redriven(record, claim):
            # A dead letter moved back by the console or StartMessageMoveTask: those
            # cannot reset the record, so the message's own mark does it here.
            self.store.requeue(envelope.job_id)
            claim = claim_it()
        if claim.kind is ClaimKind.DONE and claim.held and claim.held.dead_letter_pending:
            # Buried by an invocation that died, or whose DLQ send failed, before its
            # dead letter was known to be sent: this copy sends it.
            return self._send_pending_letter(record, envelope, claim.held)
        if claim.kind is ClaimKind.DONE:
            self.logger.info("job already finished; acknowledging", extra={"status": claim.status})
            # Again, in case the attempt that finished it died before enqueueing its
            # webhook; the delivery's fixed id makes a repeat a no-op.
            self._ended(envelope.job_id, claim.status, envelope.callback_url)
            return Outcome.SKIPPED
        if claim.kind is ClaimKind.EXHAUSTED:
            # Its last attempt died unfinished (a Lambda timeout, a crash, a lost record
            # write after its dead letter): bury it by its own count, never run it again.
            lost = AttemptLost(f"attempt {claim.attempts} of {max_attempts} never finished")
            ids = (envelope.job_id, task.name)
            return self._bury(record, lost, ids, claim.attempts, DeadReason.MAX_ATTEMPTS)
        if claim.kind is ClaimKind.BUSY:
            wait_s = _seconds_between(self.clock(), claim.lease_until) + 1
            self._change_visibility(record, wait_s)
            why = "waits for its backoff" if claim.status is JobStatus.FAILED else "runs elsewhere"
            raise HandBack(f"job {why}; back in {wait_s} s")
        if claim.cancel_requested:
            # Asked to cancel while it ran, and that attempt died: never run again.
            return self._end_cancelled(envelope, task, claim.attempts)
        return self._attempt(record, envelope, task, kwargs, claim.attempts, timeout_s)

    @staticmethod
    def _redriven(record: SQSRecord, claim: Claim) -> bool:
        """A dead job's message that carries our DLQ mark: an operator redrove it."""
        dead = claim.kind is ClaimKind.DONE and claim.status is JobStatus.DEAD
        return (dead or claim.kind is ClaimKind.EXHAUSTED) and REASON_ATTRIBUTE in (
            record.message_attributes or {}
        )

    def _time_budget_s(
        self, record: SQSRecord, task: Task[Any, Any], context: RemainingTime | None
    ) -> float:
        """The task's timeout, if this invocation has that much time left.

        A record that cannot finish before the Lambda timeout is handed back, visible
        again at once for a fresh invocation, unless it is the first this invocation
        starts: no invocation would have more time, so it runs with what is left.
        """
        timeout_s = task.options.timeout_s
        if context is None:
            return timeout_s
        left_s = (context.get_remaining_time_in_millis() - SAFETY_MARGIN_MS) / 1000
        if left_s >= timeout_s:
            return timeout_s
        if self._started_in_invocation == 0 and left_s > 0:
            return left_s
        self.logger.info("not enough time left in this invocation; handing back")
        self._change_visibility(record, 0)
        raise HandBack("not enough time left in this invocation")

    def _attempt(
        self,
        record: SQSRecord,
        envelope: Envelope,
        task: Task[Any, Any],
        kwargs: dict[str, Any],
        attempt: int,
        timeout_s: float,
    ) -> Outcome:
        self._started_in_invocation += 1
        self._metric("JobsStarted", task.name)
        latency_ms = (self.clock() - envelope.enqueued_at).total_seconds() * 1000
        self._metric("QueueLatency", task.name, MetricUnit.Milliseconds, latency_ms)
        started = time.perf_counter()
        job = self._job_context(task, envelope, attempt, timeout_s, durable=True)
        try:
            result = self._call(task, kwargs, job, timeout_s)
        except Exception as exc:  # noqa: BLE001 -- per-record boundary: every error recorded
            self._metric("JobDuration", task.name, MetricUnit.Milliseconds, _ms_since(started))
            if isinstance(exc, JobCancelled) or (job is not None and job.cancel_seen):
                return self._end_cancelled(envelope, task, attempt)
            return self._after_failure(record, envelope, task, attempt, exc)
        duration_ms = _ms_since(started)
        self._metric("JobDuration", task.name, MetricUnit.Milliseconds, duration_ms)
        if job is not None and job.cancel_seen:
            return self._end_cancelled(envelope, task, attempt)
        if self.store.succeed(envelope.job_id, attempt, result):
            self._ended(envelope.job_id, JobStatus.SUCCEEDED, envelope.callback_url, task.name)
        else:
            self.logger.warning("lost the claim before finishing; result not recorded")
        self._log_success(envelope, attempt, duration_ms)
        self._metric("JobsSucceeded", task.name)
        return Outcome.SUCCEEDED

    def _job_context(
        self,
        task: Task[Any, Any],
        envelope: Envelope,
        attempt: int,
        timeout_s: float,
        *,
        durable: bool,
    ) -> JobContext | None:
        """The task's JobContext, only for a task that declares one (others pay nothing)."""
        if task.context_param is None:
            return None
        return JobContext(
            job_id=envelope.job_id,
            task=task.name,
            attempt=attempt,
            correlation_id=envelope.correlation_id,
            durable=durable,
            deadline=time.monotonic() + timeout_s,
            store=self.store if durable else None,
        )

    def _end_cancelled(self, envelope: Envelope, task: Task[Any, Any], attempt: int) -> Outcome:
        if self.store.finish_cancelled(envelope.job_id, attempt):
            self._ended(envelope.job_id, JobStatus.CANCELLED, envelope.callback_url, task.name)
        else:
            self.logger.warning("lost the claim before finishing; cancellation not recorded")
        self.logger.info("job cancelled", extra={"attempt": attempt})
        self._metric("JobsCancelled", task.name)
        return Outcome.CANCELLED

    def _log_success(self, envelope: Envelope, attempt: int, duration_ms: float) -> None:
        """The small per-job line (:mod:`offpath.joblog`), at INFO."""
        if not logs_info(self.logger):
            return
        context = current_context()
        line = success_line(
            service=self.logger.service,
            when=self.clock(),
            job_id=envelope.job_id,
            task=envelope.task,
            attempt=attempt,
            duration_ms=duration_ms,
            request_id=getattr(context, "aws_request_id", None),
            correlation_id=envelope.correlation_id,
        )
        write_line(self.logger, line)

    def _after_failure(
        self,
        record: SQSRecord,
        envelope: Envelope,
        task: Task[Any, Any],
        attempt: int,
        exc: Exception,
    ) -> Outcome:
        ids = (envelope.job_id, task.name)
        url = envelope.callback_url
        if isinstance(exc, PermanentError):
            return self._bury(record, exc, ids, attempt, DeadReason.PERMANENT_ERROR, url)
        if attempt >= task.options.max_attempts:
            return self._bury(record, exc, ids, attempt, DeadReason.MAX_ATTEMPTS, url)
        delay_s = task.options.backoff.delay_s(attempt, *([self.rand] if self.rand else []))
        self.store.fail(envelope.job_id, attempt, JobError.from_exception(exc), delay_s)
        self._change_visibility(record, delay_s)
        self.logger.warning(
            "job failed; will retry", extra={"attempt": attempt, "retry_in_s": delay_s}
        )
        self._metric("JobsFailed", task.name)
        raise RetryLater(f"attempt {attempt} failed; retry in {delay_s} s") from exc

    def _bury(
        self,
        record: SQSRecord,
        exc: Exception,
        ids: tuple[str | None, str | None],
        attempt: int | None = None,
        reason: DeadReason | None = None,
        callback_url: str | None = None,
    ) -> Outcome:
        """The record (dead, its letter pending), the DLQ, then the letter marked sent.

        Each step may fail before or after it took effect, and the message is
        acknowledged only after the last: a record write that fails leaves the
        message to come back and bury again (the write is idempotent); a DLQ send
        that fails leaves it to come back to a dead record whose letter is pending,
        and that copy sends the letter (:meth:`_send_pending_letter`). So a dead job
        never stays ``running``, is never run again, and reaches its DLQ once (twice
        only if the send's answer is lost, or the process dies between the send and
        the mark: SQS has no deduplication for standard queues). Then the webhook.
        """
        error = JobError.from_exception(exc)
        letter = DeadLetter(reason or _reason_for(exc), error, ids[0], ids[1], attempt or 0)
        marked = ids[0] is not None and self._record_dead(ids[0], letter, attempt)
        return self._dead_letter(record, letter, marked, callback_url, _error_fields(exc))

    def _send_pending_letter(self, record: SQSRecord, envelope: Envelope, held: Job) -> Outcome:
        """Send the dead letter a dead record says may not have been sent."""
        reason = DeadReason.MAX_ATTEMPTS
        with contextlib.suppress(ValueError):
            reason = DeadReason(held.dead_reason or reason)
        error = held.last_error or JobError("Unknown", "-")
        letter = DeadLetter(reason, error, envelope.job_id, held.task, held.attempts)
        fields = {"error_type": error.type}
        return self._dead_letter(record, letter, True, envelope.callback_url, fields)

    def _dead_letter(
        self,
        record: SQSRecord,
        letter: DeadLetter,
        marked: bool,
        callback_url: str | None,
        fields: dict[str, str],
    ) -> Outcome:
        """Send ``letter``; ``marked``: the record says dead, its letter pending, so
        mark the letter sent and end the job (its event, its webhook)."""
        if not self.dead_letters.send(record, letter):
            # A body at the SQS limit leaves no room for attributes: the message is in
            # the DLQ all the same, and its reason is in this log line.
            self.logger.error(
                "dead letter sent without its attributes (body at the SQS limit)",
                extra={"reason": letter.reason, "message_id": record.message_id},
            )
        if marked and letter.job_id is not None:
            self._letter_sent(letter.job_id)
            self._ended(letter.job_id, JobStatus.DEAD, callback_url, letter.task or UNKNOWN_TASK)
        self.logger.error(
            "job sent to the dead-letter queue",
            extra={"reason": letter.reason, **fields, "job_id": letter.job_id},
        )
        registered = letter.task if letter.task in self.registry else None
        self._metric("JobsDead", registered or UNKNOWN_TASK)
        # Reported as success: Lambda then deletes it from its queue.
        return Outcome.DEAD

    def _record_dead(self, job_id: str, letter: DeadLetter, attempt: int | None) -> bool:
        """Mark the record dead, its letter pending, before the letter is sent.

        Tried twice; a second failure raises, and the message, not acknowledged,
        comes back to bury again. False: the record is not this attempt's to close
        (missing, or another attempt holds it); the letter is sent all the same.
        """
        try:
            return self.store.bury(job_id, letter.error, attempt, letter.reason)
        except (OffpathError, BotoCoreError) as exc:
            self.logger.warning("dead job's record not written; again", extra=_error_fields(exc))
        return self.store.bury(job_id, letter.error, attempt, letter.reason)

    def _letter_sent(self, job_id: str) -> None:
        try:
            self.store.dead_letter_sent(job_id)
        except (OffpathError, BotoCoreError) as exc:
            # The job is dead and its letter in the DLQ; only a later copy of its
            # message would send a second letter.
            self.logger.warning("dead letter not marked sent", extra=_error_fields(exc))

    def _change_visibility(self, record: SQSRecord, timeout_s: int) -> None:
        queue_url = _queue_url(record.event_source_arn)
        try:
            self.sqs.change_message_visibility(
                QueueUrl=queue_url,
                ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=timeout_s,
            )
        except (ClientError, BotoCoreError) as exc:
            # The message still returns after the queue's own visibility timeout.
            self.logger.warning("could not change visibility", extra=_error_fields(exc))

    def _metric(
        self, name: str, task: str, unit: MetricUnit = MetricUnit.Count, value: float = 1
    ) -> None:
        if unit is MetricUnit.Milliseconds:
            # 0.1 ms is finer than CloudWatch's percentiles need; a float's full repr
            # (2.0140000000000002) is 20 bytes of log per value.
            value = round(value, 1)
        if self._task_metrics is not None:
            self._task_metrics.add_task_metric(task, name, unit, value)
        elif self.metrics is not None:  # e.g. Powertools Metrics: no task dimension
            self.metrics.add_metric(name=name, unit=unit, value=value)


FORWARDED_ATTRIBUTE = "offpath.forwarded_from"  # the pool that forwarded the message


class UnknownPool(PermanentError):
    """The task's pool cannot be reached from this worker."""


def _forwardable(record: SQSRecord) -> dict[str, MessageAttributeValueTypeDef]:
    """The record's text and number attributes, as SendMessage takes them."""
    found: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in record.message_attributes.items():
        if not isinstance(value, Mapping):
            continue
        data_type = value.get("dataType") or value.get("DataType")
        text = value.get("stringValue") or value.get("StringValue")
        if isinstance(data_type, str) and isinstance(text, str) and "Binary" not in data_type:
            found[name] = {"DataType": data_type, "StringValue": text}
    return found


def _reason_for(exc: Exception) -> DeadReason:
    if isinstance(exc, MalformedMessage):
        return DeadReason.MALFORMED
    if isinstance(exc, UnknownTask):
        return DeadReason.UNKNOWN_TASK
    if isinstance(exc, InvalidArguments):
        return DeadReason.INVALID_ARGUMENTS
    return DeadReason.PERMANENT_ERROR


def _envelope_ids(body: str) -> tuple[str | None, str | None]:
    """Best-effort ids from a body that failed validation, for the DLQ attributes."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    job_id, task = data.get("job_id"), data.get("task")
    return (
        # Only a well-formed id names a record the store may touch.
        job_id if isinstance(job_id, str) and re.match(JOB_ID_PATTERN, job_id) else None,
        task if isinstance(task, str) and len(task) <= 256 else None,
    )


def _queue_url(arn: str) -> str:
    """``arn:aws:sqs:region:account:name`` to the queue URL SQS accepts.

    Lambda gives the ARN, not the URL. The request goes to the client's endpoint
    (AWS, or ``AWS_ENDPOINT_URL``); SQS reads only the account and name from the URL,
    and accepts this legacy form on AWS.
    """
    _, partition, _, region, account, name = arn.split(":", 5)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"


def _seconds_between(now: datetime, moment: datetime | None) -> int:
    if moment is None:
        return 0
    return max(0, int((moment - now).total_seconds()))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _error_fields(exc: BaseException) -> dict[str, str]:
    return {"error_type": type(exc).__name__, "error": str(exc)[:MAX_ATTRIBUTE_CHARS]}

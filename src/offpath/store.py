"""Job records in one DynamoDB table, every transition a conditional write.

A durable job's record moves ``queued -> running -> succeeded | failed | dead``
(``scheduled`` before ``queued`` for one-off schedules; ``cancelled`` on request).
The happy path costs three writes: create, claim, finish. The worker never reads:
a failed condition returns the old item (``ReturnValuesOnConditionCheckFailure``),
which tells it why it lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from offpath.errors import JobNotCancellable, JobNotFound, OffpathError, StoreError
from offpath.invocation import now as platform_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Clock = Callable[[], datetime]

# A result is for a status page, not a data store: keep the item far below
# DynamoDB's 400 KB item limit and the write at a single 1 KB unit where possible.
MAX_RESULT_BYTES = 16 * 1024
MAX_ERROR_CHARS = 1024


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


# The ``dead_letter`` attribute while a dead job's letter may not be in its DLQ yet.
DEAD_LETTER_PENDING = "pending"
FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED})


def utcnow() -> datetime:
    """The platform's clock (:func:`offpath.invocation.now`), kept under its old name."""
    return platform_now()


def job_key(job_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"job#{job_id}"}}


@dataclass(frozen=True)
class JobError:
    type: str
    message: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> JobError:
        return cls(type(exc).__name__, str(exc)[:MAX_ERROR_CHARS])


@dataclass(frozen=True)
class Job:
    """A job record as the status API shows it."""

    job_id: str
    task: str
    status: JobStatus
    attempts: int
    created_at: datetime
    updated_at: datetime
    correlation_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    due_at: datetime | None = None
    lease_until: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: JobError | None = None
    result: Any = None
    idempotency_key: str | None = None
    args_sha256: str | None = None
    schedule_name: str | None = None
    progress: float | None = None
    progress_note: str | None = None
    progress_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    callback_url: str | None = None
    dead_reason: str | None = None  # why it died (a DeadReason's value)
    # Dead, and its dead letter not known to be sent: the next delivery sends it.
    dead_letter_pending: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Job:
        s = _Item(item)
        error = None
        if s.text("last_error_type"):
            error = JobError(s.text("last_error_type") or "", s.text("last_error_message") or "")
        raw_result = s.text("result")
        return cls(
            job_id=s.text("job_id") or (s.text("pk") or "").removeprefix("job#"),
            task=s.text("task", "") or "",
            status=JobStatus(s.text("status") or JobStatus.QUEUED),
            attempts=s.number("attempts"),
            created_at=s.moment("created_at") or datetime.fromtimestamp(0, UTC),
            updated_at=s.moment("updated_at") or datetime.fromtimestamp(0, UTC),
            correlation_id=s.text("correlation_id"),
            started_at=s.moment("started_at"),
            finished_at=s.moment("finished_at"),
            due_at=s.moment("due_at"),
            lease_until=s.moment("lease_until"),
            next_attempt_at=s.moment("next_attempt_at"),
            last_error=error,
            result=json.loads(raw_result) if raw_result else None,
            idempotency_key=s.text("idempotency_key"),
            args_sha256=s.text("args_sha256"),
            schedule_name=s.text("schedule_name"),
            progress=s.fraction("progress"),
            progress_note=s.text("progress_note"),
            progress_at=s.moment("progress_at"),
            cancel_requested_at=s.moment("cancel_requested_at"),
            callback_url=s.text("callback_url"),
            dead_reason=s.text("dead_reason"),
            dead_letter_pending=s.text("dead_letter") == DEAD_LETTER_PENDING,
        )


class _Item:
    """Reads plain DynamoDB attribute maps (we store only S and N)."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.item.get(name)
        return value["S"] if value and "S" in value else default

    def number(self, name: str) -> int:
        value = self.item.get(name)
        return int(value["N"]) if value and "N" in value else 0

    def fraction(self, name: str) -> float | None:
        value = self.item.get(name)
        return float(value["N"]) if value and "N" in value else None

    def moment(self, name: str) -> datetime | None:
        value = self.item.get(name)
        return datetime.fromtimestamp(float(value["N"]), UTC) if value and "N" in value else None


class ClaimKind(StrEnum):
    CLAIMED = "claimed"  # run it
    DONE = "done"  # already finished (succeeded, dead, cancelled): acknowledge
    BUSY = "busy"  # another attempt holds a live lease, or a backoff runs: hand it back
    EXHAUSTED = "exhausted"  # the last attempt died unfinished: no attempt is left


@dataclass(frozen=True)
class Claim:
    """What a claim found. ``lease_until``: when a BUSY job may be claimed again (the
    holder's lease, or a failed job's ``next_attempt_at``)."""

    kind: ClaimKind
    attempts: int = 0
    status: JobStatus | None = None
    lease_until: datetime | None = None
    cancel_requested: bool = False  # claimed, but someone asked to cancel it: do not run
    held: Job | None = None  # a refused claim: the record as it was


@dataclass(frozen=True)
class NewJob:
    job_id: str
    task: str
    correlation_id: str
    args_sha256: str
    status: JobStatus = JobStatus.QUEUED
    idempotency_key: str | None = None
    due_at: datetime | None = None
    schedule_name: str | None = None
    callback_url: str | None = None


class JobStore(Protocol):
    """Where durable jobs keep their state."""

    def create(self, job: NewJob) -> Job | None:
        """Create the record; return the existing job instead if the id is taken."""
        ...

    def claim(
        self, job_id: str, task: str, lease_s: float, *, max_attempts: int | None = None
    ) -> Claim: ...

    def succeed(self, job_id: str, attempt: int, result: Any) -> bool: ...

    def fail(self, job_id: str, attempt: int, error: JobError, retry_in_s: int) -> bool: ...

    def bury(
        self, job_id: str, error: JobError, attempt: int | None = None, reason: str = ""
    ) -> bool:
        """Mark the job dead, its dead letter pending (:meth:`dead_letter_sent` clears it).

        A repeat for the same attempt while the letter is pending is True again.
        """
        ...

    def dead_letter_sent(self, job_id: str) -> bool: ...

    def get(self, job_id: str) -> Job: ...

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting job; for a running one, record the request."""
        ...

    def finish_cancelled(self, job_id: str, attempt: int) -> bool: ...

    def record_progress(
        self, job_id: str, attempt: int, fraction: float, note: str
    ) -> bool | None: ...

    def cancel_requested(self, job_id: str) -> bool: ...

    def requeue(self, job_id: str) -> bool:
        """Make a dead or failed job wait again; False if it is missing or in another state."""
        ...

    def delete(self, job_id: str) -> None: ...


def _n(value: float) -> AttributeValueTypeDef:
    return {"N": repr(round(value, 3))}


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


class DynamoDBJobStore:
    """:class:`JobStore` on one DynamoDB table keyed by ``pk`` (``job#<id>``)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        ttl_s: int = 14 * 24 * 3600,
        clock: Clock = platform_now,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.ttl_s = ttl_s
        self.clock = clock

    def _now(self) -> float:
        return self.clock().timestamp()

    def create(self, job: NewJob) -> Job | None:
        now = self._now()
        due_s = job.due_at.timestamp() if job.due_at else now
        item: dict[str, AttributeValueTypeDef] = {
            **job_key(job.job_id),
            "job_id": _s(job.job_id),
            "task": _s(job.task),
            "status": _s(job.status),
            "attempts": _n(0),
            "created_at": _n(now),
            "updated_at": _n(now),
            "correlation_id": _s(job.correlation_id),
            "args_sha256": _s(job.args_sha256),
            # Why from the due time: a job scheduled beyond the TTL must keep its
            # record until it has run (GET and cancel answer for it meanwhile).
            "expires_at": {"N": str(int(max(now, due_s) + self.ttl_s))},
        }
        if job.idempotency_key:
            item["idempotency_key"] = _s(job.idempotency_key)
        if job.due_at:
            item["due_at"] = _n(job.due_at.timestamp())
        if job.schedule_name:
            item["schedule_name"] = _s(job.schedule_name)
        if job.callback_url:
            item["callback_url"] = _s(job.callback_url)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                # Why: one id, one job. A second enqueue with the same id (an
                # idempotency key, a duplicated schedule tick) must not reset it.
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            old = _conditional_old_item(exc)
            if old is None:
                raise StoreError(f"cannot create job {job.job_id}: {exc}") from exc
            return Job.from_item(old)
        return None

    def claim(
        self, job_id: str, task: str, lease_s: float, *, max_attempts: int | None = None
    ) -> Claim:
        """Take the job for one attempt (``attempts`` + 1), or say why not.

        ``max_attempts``: a dead holder's job is taken over only while attempts are
        left; otherwise the claim answers EXHAUSTED (bury it, never run it again).
        """
        now = self._now()
        takeover = "(#status = :running AND lease_until < :now)"
        limits: dict[str, AttributeValueTypeDef] = {}
        if max_attempts is not None:
            takeover = "(#status = :running AND lease_until < :now AND attempts < :max)"
            limits[":max"] = _n(max_attempts)
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                UpdateExpression=(
                    "SET #status = :running, attempts = if_not_exists(attempts, :zero) + :one, "
                    "started_at = :now, updated_at = :now, lease_until = :lease, "
                    "job_id = if_not_exists(job_id, :id), task = if_not_exists(task, :task), "
                    "created_at = if_not_exists(created_at, :now), expires_at = :expires "
                    "REMOVE next_attempt_at"
                ),
                # Why: only one attempt may hold a job. It can be taken when it waits
                # (queued, scheduled; failed once its backoff has passed, so a second
                # copy of the message cannot start the next attempt early), when its
                # record is gone (expired by TTL while the message lived), or when the
                # holder died: running with a lease in the past, attempts left.
                ConditionExpression=(
                    "attribute_not_exists(pk) OR #status IN (:queued, :scheduled) "
                    "OR (#status = :failed AND (attribute_not_exists(next_attempt_at) "
                    "OR next_attempt_at <= :now)) OR " + takeover
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": _s(JobStatus.RUNNING),
                    ":queued": _s(JobStatus.QUEUED),
                    ":scheduled": _s(JobStatus.SCHEDULED),
                    ":failed": _s(JobStatus.FAILED),
                    ":zero": _n(0),
                    ":one": _n(1),
                    ":now": _n(now),
                    ":lease": _n(now + lease_s),
                    ":id": _s(job_id),
                    ":task": _s(task),
                    ":expires": {"N": str(int(now + self.ttl_s))},
                    **limits,
                },
                # ALL_NEW, not UPDATED_NEW: a cancel request on the record is seen here
                # (the same write, no read).
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            old = _conditional_old_item(exc)
            if old is None:
                raise StoreError(f"cannot claim job {job_id}: {exc}") from exc
            return _refused(Job.from_item(old), now)
        attributes = response["Attributes"]
        attempts = int(attributes["attempts"]["N"])
        requested = "cancel_requested_at" in attributes
        return Claim(ClaimKind.CLAIMED, attempts, JobStatus.RUNNING, cancel_requested=requested)

    def succeed(self, job_id: str, attempt: int, result: Any) -> bool:
        encoded = json.dumps(result, default=str, separators=(",", ":"))
        if len(encoded.encode()) > MAX_RESULT_BYTES:
            encoded = json.dumps({"truncated": True, "size_bytes": len(encoded.encode())})
        return self._finish(
            job_id,
            attempt,
            "SET #status = :status, finished_at = :now, updated_at = :now, #result = :result "
            "REMOVE lease_until",
            {":status": _s(JobStatus.SUCCEEDED), ":result": _s(encoded)},
            {"#result": "result"},
        )

    def fail(self, job_id: str, attempt: int, error: JobError, retry_in_s: int) -> bool:
        return self._finish(
            job_id,
            attempt,
            "SET #status = :status, updated_at = :now, last_error_type = :etype, "
            "last_error_message = :emsg, next_attempt_at = :next REMOVE lease_until",
            {
                ":status": _s(JobStatus.FAILED),
                ":etype": _s(error.type),
                ":emsg": _s(error.message or "-"),
                ":next": _n(self._now() + retry_in_s),
            },
        )

    def bury(
        self, job_id: str, error: JobError, attempt: int | None = None, reason: str = ""
    ) -> bool:
        return self._finish(
            job_id,
            attempt,
            "SET #status = :status, finished_at = :now, updated_at = :now, "
            "last_error_type = :etype, last_error_message = :emsg, "
            "dead_reason = :reason, dead_letter = :pending REMOVE lease_until",
            {
                ":status": _s(JobStatus.DEAD),
                ":etype": _s(error.type),
                ":emsg": _s(error.message or "-"),
                ":reason": _s(reason or "-"),
                ":pending": _s(DEAD_LETTER_PENDING),
            },
            # Why: a write whose answer was lost (it took effect) is repeated; the
            # record it left, dead with its letter pending, is this same bury.
            again="(#status = :status AND dead_letter = :pending)",
        )

    def dead_letter_sent(self, job_id: str) -> bool:
        """The dead job's letter is in its DLQ: a later copy of its message is only
        acknowledged. False if the record is not dead (a redrive got there first)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                UpdateExpression="REMOVE dead_letter",
                ConditionExpression="#status = :dead",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":dead": _s(JobStatus.DEAD)},
            )
        except (ClientError, BotoCoreError) as exc:
            if _is_conditional_failure(exc):
                return False
            raise StoreError(f"cannot update job {job_id}: {exc}") from exc
        return True

    def _finish(
        self,
        job_id: str,
        attempt: int | None,
        update: str,
        values: dict[str, AttributeValueTypeDef],
        names: dict[str, str] | None = None,
        again: str | None = None,
    ) -> bool:
        values = {**values, ":now": _n(self._now())}
        if attempt is None:
            # A job that never ran (bad arguments): only a waiting record changes. Never
            # invent one for garbage, and never touch a job that ran or runs: a bad
            # message may reuse a real job's id.
            condition = "#status IN (:queued, :scheduled, :failed)"
            values[":queued"] = _s(JobStatus.QUEUED)
            values[":scheduled"] = _s(JobStatus.SCHEDULED)
            values[":failed"] = _s(JobStatus.FAILED)
        else:
            # Why: only the attempt that holds the claim may close it; a stale worker
            # whose lease expired and was re-claimed must not overwrite the new one.
            condition = "#status = :running AND attempts = :attempt"
            values[":attempt"] = _n(attempt)
            values[":running"] = _s(JobStatus.RUNNING)
        if again is not None:
            condition = f"({condition}) OR {again}"
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status", **(names or {})},
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as exc:
            if _is_conditional_failure(exc):
                return False
            raise StoreError(f"cannot update job {job_id}: {exc}") from exc
        return True

    def cancel(self, job_id: str) -> Job:
        """Cancel a job: a waiting one at once, a running one by recording the request.

        A queued, scheduled or failed (awaiting its retry) job becomes ``cancelled``;
        a message that still arrives is acknowledged without running. A running job
        keeps running with ``cancel_requested_at`` set: its task sees it through
        ``JobContext.cancelled()``, and its worker ends it ``cancelled``.

        Raises:
            JobNotFound: no such job.
            JobNotCancellable: it already finished (the job is attached).
        """
        try:
            return self._cancel_waiting(job_id)
        except JobNotCancellable as exc:
            if _status_of(exc) is not JobStatus.RUNNING:
                raise
        return self._request_cancel(job_id)

    def _cancel_waiting(self, job_id: str) -> Job:
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                UpdateExpression=(
                    "SET #status = :cancelled, updated_at = :now, finished_at = :now "
                    "REMOVE next_attempt_at"
                ),
                # Why: only a job that is not running ends here; a running one only
                # records the request (_request_cancel) and its worker ends it.
                ConditionExpression="#status IN (:queued, :scheduled, :failed)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":cancelled": _s(JobStatus.CANCELLED),
                    ":queued": _s(JobStatus.QUEUED),
                    ":scheduled": _s(JobStatus.SCHEDULED),
                    ":failed": _s(JobStatus.FAILED),
                    ":now": _n(self._now()),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _cancel_refused(job_id, exc) from None
        return Job.from_item(dict(response["Attributes"]))

    def _request_cancel(self, job_id: str) -> Job:
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                # if_not_exists: asking twice keeps the first request's time.
                UpdateExpression=(
                    "SET cancel_requested_at = if_not_exists(cancel_requested_at, :now), "
                    "updated_at = :now"
                ),
                # Why: only while it runs; if it finished in between, that is final.
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": _s(JobStatus.RUNNING),
                    ":now": _n(self._now()),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            refused = _cancel_refused(job_id, exc)
            if isinstance(refused, JobNotCancellable) and _status_of(refused) is JobStatus.FAILED:
                # Its attempt failed between our two writes: now it waits, so it ends here.
                return self._cancel_waiting(job_id)
            raise refused from None
        return Job.from_item(dict(response["Attributes"]))

    def finish_cancelled(self, job_id: str, attempt: int) -> bool:
        """End the attempt holding the claim as ``cancelled`` (its task stopped)."""
        return self._finish(
            job_id,
            attempt,
            "SET #status = :status, finished_at = :now, updated_at = :now REMOVE lease_until",
            {":status": _s(JobStatus.CANCELLED)},
        )

    def record_progress(self, job_id: str, attempt: int, fraction: float, note: str) -> bool | None:
        """Store progress for the attempt holding the claim (rate-limited by its caller).

        Returns:
            Whether a cancel was requested; None if the attempt no longer holds the job.
        """
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                UpdateExpression=(
                    "SET progress = :fraction, progress_note = :note, progress_at = :now"
                ),
                # Why: only the attempt that holds the claim reports; a stale one must
                # not write over a newer attempt's progress or a finished record.
                ConditionExpression="#status = :running AND attempts = :attempt",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":fraction": _n(fraction),
                    ":note": _s(note),
                    ":now": _n(self._now()),
                    ":running": _s(JobStatus.RUNNING),
                    ":attempt": _n(attempt),
                },
                # The write answers `cancelled()` too: no read of its own.
                ReturnValues="ALL_NEW",
            )
        except (ClientError, BotoCoreError) as exc:
            if _is_conditional_failure(exc):
                return None
            raise StoreError(f"cannot record progress of job {job_id}: {exc}") from exc
        return "cancel_requested_at" in response["Attributes"]

    def cancel_requested(self, job_id: str) -> bool:
        """Whether the job was asked to cancel (or is cancelled): one small read."""
        try:
            response = self.client.get_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                ProjectionExpression="cancel_requested_at, #status",
                ExpressionAttributeNames={"#status": "status"},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot read job {job_id}: {exc}") from exc
        item = response.get("Item", {})
        status = item.get("status", {}).get("S")
        return "cancel_requested_at" in item or status == JobStatus.CANCELLED

    def requeue(self, job_id: str) -> bool:
        """Make a dead (or failed) job ``queued`` again, for its redriven message to run it.

        Run before the message goes back to its queue: a worker finding the record
        still dead would acknowledge the message without running it. ``attempts``
        starts again from zero, so the job gets its whole retry budget back (kept, a
        job dead after its last attempt would get one more try and no retries);
        ``redrives`` counts how often this happened and ``last_error`` stays as the
        record of what went wrong.

        Returns:
            True if reset; False if the record is missing or in another state
            (read it to learn which).
        """
        now = self._now()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=job_key(job_id),
                UpdateExpression=(
                    "SET #status = :queued, attempts = :zero, updated_at = :now, "
                    "redrives = if_not_exists(redrives, :zero) + :one "
                    "REMOVE finished_at, next_attempt_at, lease_until, dead_reason, dead_letter"
                ),
                # Why: only a job that gave up (dead), or whose message SQS moved to the
                # DLQ between attempts (failed, then maxReceiveCount), may run again. A
                # running job holds a lease a second copy must not break, and a
                # succeeded or cancelled job must never run twice.
                # A running job whose lease has passed died unfinished (its dead letter
                # was sent, its record write was lost): it too may run again.
                ConditionExpression=(
                    "#status IN (:dead, :failed) OR (#status = :running AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":queued": _s(JobStatus.QUEUED),
                    ":dead": _s(JobStatus.DEAD),
                    ":failed": _s(JobStatus.FAILED),
                    ":running": _s(JobStatus.RUNNING),
                    ":zero": _n(0),
                    ":one": _n(1),
                    ":now": _n(now),
                },
            )
        except (ClientError, BotoCoreError) as exc:
            if _is_conditional_failure(exc):
                return False
            raise StoreError(f"cannot requeue job {job_id}: {exc}") from exc
        return True

    def get(self, job_id: str) -> Job:
        try:
            response = self.client.get_item(
                TableName=self.table_name, Key=job_key(job_id), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot read job {job_id}: {exc}") from exc
        if "Item" not in response:
            raise JobNotFound(job_id)
        return Job.from_item(dict(response["Item"]))

    def delete(self, job_id: str) -> None:
        try:
            self.client.delete_item(TableName=self.table_name, Key=job_key(job_id))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot delete job {job_id}: {exc}") from exc


def _cancel_refused(job_id: str, exc: ClientError | BotoCoreError) -> OffpathError:
    old = _conditional_old_item(exc)
    if old is None:
        return StoreError(f"cannot cancel job {job_id}: {exc}")
    if not old:
        return JobNotFound(job_id)
    return JobNotCancellable(Job.from_item(old))


def _status_of(exc: JobNotCancellable) -> JobStatus | None:
    return exc.job.status if isinstance(exc.job, Job) else None


def _refused(held: Job, now_s: float) -> Claim:
    """Why a claim was refused, from the record as it was."""
    if held.status in FINAL_STATUSES:
        return Claim(ClaimKind.DONE, held.attempts, held.status, held=held)
    if held.status is JobStatus.FAILED:
        return Claim(ClaimKind.BUSY, held.attempts, held.status, held.next_attempt_at)
    lease = held.lease_until
    if held.status is JobStatus.RUNNING and lease is not None and lease.timestamp() < now_s:
        return Claim(ClaimKind.EXHAUSTED, held.attempts, held.status, lease)
    return Claim(ClaimKind.BUSY, held.attempts, held.status, lease)


def _is_conditional_failure(exc: ClientError | BotoCoreError) -> bool:
    if not isinstance(exc, ClientError):
        return False
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _conditional_old_item(exc: ClientError | BotoCoreError) -> dict[str, Any] | None:
    """The item a failed condition returned, or None if it was another error."""
    if not isinstance(exc, ClientError) or not _is_conditional_failure(exc):
        return None
    item: dict[str, Any] = exc.response.get("Item", {})  # type: ignore[assignment]
    return item

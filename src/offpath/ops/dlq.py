"""The dead-letter queue, for operators: peek, find, redrive, purge (no CLI code here).

Two kinds of message reach a pool's dead-letter queue; both are handled:

- sent by the worker (:class:`offpath.worker.DeadLetterQueue`): the body is the
  original envelope, and ``offpath.*`` message attributes say why and when;
- moved by SQS itself after ``maxReceiveCount`` receives (the worker crashed, timed
  out, or never answered): the body alone; what else is known comes from the job
  record.

**Peeking is receiving.** SQS has no read-only view of a queue. :meth:`DeadLetters.peek`
receives every message with a short visibility timeout (``PEEK_VISIBILITY_S``) and
makes each visible again as soon as the listing is done (ChangeMessageVisibility 0,
even on error). While a peek runs, those messages are hidden from anyone else; if
the process dies mid-peek they reappear by themselves after ``PEEK_VISIBILITY_S``.
Each peek also counts as a receive (``ApproximateReceiveCount``), which is harmless
only because the DLQ has no redrive policy of its own.

Example:
    >>> letters = DeadLetters(sqs, dlq_url, store)  # doctest: +SKIP
    >>> letters.redrive(to_url=queue_url, on_progress=print).moved  # doctest: +SKIP
    250
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from offpath.errors import JobNotFound
from offpath.ops.errors import DeadLetterNotFound, OpsError, QueueError
from offpath.ops.messages import (
    BATCH_SIZE,
    DeadMessage,
    RedriveMethod,
    RedriveResult,
    copy_attributes,
    failure_order,
    size_chunks,
)
from offpath.ops.status import queue_counts
from offpath.store import JobStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# Long enough to list a few thousand messages in one pass; short enough that a
# killed listing hides nothing for long.
PEEK_VISIBILITY_S = 30
# One batch's requeue + send + delete takes well under a second; the margin covers
# a slow network. A message still held when it runs out is simply visible again.
MOVE_VISIBILITY_S = 120
# Long polling asks every SQS server, so an empty answer means an empty queue (a
# short poll samples some servers and can answer empty while messages remain).
WAIT_TIME_S = 1
MOVE_TASK_POLL_S = 2.0

# (moved so far, total if known): called after each batch, or each move-task poll.
Progress = Callable[[int, int | None], None]


class DeadLetters:
    """Operations on one dead-letter queue and the job records of its messages."""

    def __init__(
        self,
        sqs: SQSClient,
        dlq_url: str,
        store: JobStore,
        *,
        sleep: Callable[[float], None] = time.sleep,
        wait_time_s: int = WAIT_TIME_S,
        poll_s: float = MOVE_TASK_POLL_S,
    ) -> None:
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.store = store
        self.sleep = sleep
        self.wait_time_s = wait_time_s
        self.poll_s = poll_s

    # ------------------------------------------------------------------ reading
    def peek(self, limit: int | None = None) -> list[DeadMessage]:
        """Up to ``limit`` messages, oldest failure first; all visible again on return.

        Cost: one ReceiveMessage and one ChangeMessageVisibilityBatch per ten messages,
        and one GetItem per message SQS moved itself (its only source of details).
        """
        with self._holding() as held:
            messages = self._receive_all(held, PEEK_VISIBILITY_S, limit)
        described = [self._describe(message) for message in messages]
        return sorted(described, key=failure_order)

    def find(self, ident: str) -> list[DeadMessage]:
        """The messages whose job id or message id is ``ident``.

        Raises:
            DeadLetterNotFound: none has it.
        """
        found = [m for m in self.peek() if ident in (m.message_id, m.job_id)]
        if not found:
            raise DeadLetterNotFound(f"no message in the dead-letter queue has the id {ident}")
        return found

    # ------------------------------------------------------------------ redrive
    def redrive(
        self,
        ids: Collection[str] | None = None,
        *,
        to_url: str,
        on_progress: Progress | None = None,
    ) -> RedriveResult:
        """Move messages (``ids``: job or message ids; None: all) to ``to_url`` to run again.

        Each job's record is reset to ``queued`` (:meth:`JobStore.requeue`) *before*
        its message leaves: a worker finding it still dead would acknowledge the
        message without running it. A whole-queue redrive uses SQS's own
        StartMessageMoveTask where the backend has it; otherwise, and for chosen ids
        (a move task cannot choose), messages move here by receive, send, delete.
        """
        if to_url == self.dlq_url:
            raise OpsError("the destination is the dead-letter queue itself")
        if ids is None:
            result = self._redrive_with_move_task(to_url, on_progress)
            if result is not None:
                return result
        return self._redrive_by_hand(None if ids is None else set(ids), to_url, on_progress)

    def _redrive_by_hand(
        self, wanted: set[str] | None, to_url: str, on_progress: Progress | None
    ) -> RedriveResult:
        result = RedriveResult(RedriveMethod.RECEIVE_SEND_DELETE, to_url)
        total = queue_counts(self.sqs, self.dlq_url).visible if wanted is None else len(wanted)
        matched: set[str] = set()
        seen: set[str] = set()
        sent: set[str] = set()  # message ids already in the destination: never sent twice
        _report(on_progress, 0, total)
        with self._holding() as held:
            while True:
                got = self._receive(MOVE_VISIBILITY_S)
                held.update((m["MessageId"], m["ReceiptHandle"]) for m in got)
                if all(m["MessageId"] in seen for m in got):
                    break  # empty, or only messages this pass has handled already
                seen.update(m["MessageId"] for m in got)
                chosen = [m for m in got if _chosen(m, wanted, matched)]
                for message_id in self._move(chosen, to_url, result, sent):
                    del held[message_id]
                    result.moved += 1
                if chosen:
                    _report(on_progress, result.moved, max(total, result.moved))
        result.not_found = sorted((wanted or set()) - matched)
        return result

    def _move(
        self, chosen: list[MessageTypeDef], to_url: str, result: RedriveResult, sent: set[str]
    ) -> list[str]:
        """Requeue, send, then delete: the ids of the messages that left the DLQ.

        At least once, never at most once: a message is deleted only after SQS has
        taken its copy, so a failure between the two leaves it in both queues. That
        is safe because the worker's claim dedups by job id: the second copy finds
        the job running or finished and is acknowledged without running it again.
        (A fire-and-forget job keeps no record, so its copy would run twice.)
        """
        fresh = [m for m in chosen if m["MessageId"] not in sent]
        for message in fresh:
            self._reset_record(DeadMessage.from_message(message).job_id, result)
        for chunk in size_chunks(fresh):
            sent.update(self._send(chunk, to_url, result))
        return self._delete([m for m in chosen if m["MessageId"] in sent], result)

    def _reset_record(self, job_id: str | None, result: RedriveResult) -> None:
        if job_id is None or job_id in result.records:
            return
        if self.store.requeue(job_id):
            result.records[job_id] = "requeued"
            return
        try:
            result.records[job_id] = str(self.store.get(job_id).status)
        except JobNotFound:
            result.records[job_id] = "missing"

    def _send(self, chunk: list[MessageTypeDef], to_url: str, result: RedriveResult) -> set[str]:
        by_entry = {str(i): m for i, m in enumerate(chunk)}
        try:
            response = self.sqs.send_message_batch(
                QueueUrl=to_url,
                Entries=[
                    # The body and attributes unchanged, as StartMessageMoveTask moves them.
                    {
                        "Id": entry_id,
                        "MessageBody": m["Body"],
                        "MessageAttributes": copy_attributes(m),
                    }
                    for entry_id, m in by_entry.items()
                ],
            )
        except ClientError as exc:
            raise QueueError(f"SendMessageBatch to {to_url} failed: {exc}") from exc
        result.not_sent += len(response.get("Failed", []))
        return {by_entry[ok["Id"]]["MessageId"] for ok in response.get("Successful", [])}

    def _delete(self, messages: list[MessageTypeDef], result: RedriveResult) -> list[str]:
        if not messages:
            return []
        by_entry = {str(i): m for i, m in enumerate(messages)}
        try:
            response = self.sqs.delete_message_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {"Id": entry_id, "ReceiptHandle": m["ReceiptHandle"]}
                    for entry_id, m in by_entry.items()
                ],
            )
        except ClientError as exc:
            raise QueueError(f"DeleteMessageBatch on the DLQ failed: {exc}") from exc
        result.not_deleted += len(response.get("Failed", []))
        return [by_entry[ok["Id"]]["MessageId"] for ok in response.get("Successful", [])]

    def _redrive_with_move_task(
        self, to_url: str, on_progress: Progress | None
    ) -> RedriveResult | None:
        """The whole queue by StartMessageMoveTask; None where the backend lacks it."""
        source_arn = self._arn(self.dlq_url)
        try:
            tasks = self.sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1)
        except (ClientError, NotImplementedError) as exc:
            if _move_tasks_unsupported(exc):
                return None
            raise QueueError(f"ListMessageMoveTasks failed: {exc}") from exc
        running = [t for t in tasks.get("Results", []) if t.get("Status") == "RUNNING"]
        if running:
            raise QueueError(
                "a message move task is already running on the DLQ "
                f"(task handle {running[0].get('TaskHandle')}): wait for it or cancel it"
            )
        result = RedriveResult(RedriveMethod.MOVE_TASK, to_url)
        # The task cannot say which messages it moves, and each record must be queued
        # again before its message can reach a worker: reset those we can see first.
        peeked = self.peek()
        for message in peeked:
            self._reset_record(message.job_id, result)
        try:
            started = self.sqs.start_message_move_task(
                SourceArn=source_arn, DestinationArn=self._arn(to_url)
            )
        except ClientError as exc:
            raise QueueError(f"StartMessageMoveTask failed: {exc}") from exc
        result.task_handle = started["TaskHandle"]
        status = self._follow_move_task(source_arn, result, on_progress)
        # Jobs dead-lettered between the peek and the start moved with a dead record:
        # the worker acknowledges those without running them. Say how many.
        result.moved_without_reset = max(0, result.moved - len(peeked))
        if status != "COMPLETED":
            raise QueueError(
                f"the move task ended {status} after moving {result.moved} message(s); "
                "the rest are still in the DLQ"
            )
        return result

    def _follow_move_task(
        self, source_arn: str, result: RedriveResult, on_progress: Progress | None
    ) -> str:
        while True:
            self.sleep(self.poll_s)
            try:
                found = self.sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1)
            except ClientError as exc:
                raise QueueError(f"ListMessageMoveTasks failed: {exc}") from exc
            if not found.get("Results"):
                raise QueueError("the move task is no longer listed; check the DLQ")
            task = found["Results"][0]  # the most recent task comes first
            result.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            total = task.get("ApproximateNumberOfMessagesToMove")
            _report(on_progress, result.moved, None if total is None else int(total))
            status = str(task.get("Status", ""))
            if status != "RUNNING":
                return status

    # ------------------------------------------------------------------ purge
    def purge(self) -> int:
        """Delete every message of the DLQ; returns about how many there were.

        The job records stay ``dead``. SQS may take up to 60 s to finish, and allows
        one purge per queue every 60 s.
        """
        count = queue_counts(self.sqs, self.dlq_url).total
        try:
            self.sqs.purge_queue(QueueUrl=self.dlq_url)
        except ClientError as exc:
            raise QueueError(f"PurgeQueue failed: {exc}") from exc
        return count

    # ------------------------------------------------------------------ plumbing
    def _describe(self, message: MessageTypeDef) -> DeadMessage:
        dead = DeadMessage.from_message(message)
        if dead.from_worker or dead.job_id is None:
            return dead
        try:
            return dead.with_record(self.store.get(dead.job_id))
        except JobNotFound:
            return dead

    def _receive(self, visibility_s: int) -> list[MessageTypeDef]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=BATCH_SIZE,
                VisibilityTimeout=visibility_s,
                WaitTimeSeconds=self.wait_time_s,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
        except ClientError as exc:
            raise QueueError(f"ReceiveMessage on the DLQ failed: {exc}") from exc
        return response.get("Messages", [])

    def _receive_all(
        self, held: dict[str, str], visibility_s: int, limit: int | None
    ) -> list[MessageTypeDef]:
        seen: dict[str, MessageTypeDef] = {}
        while limit is None or len(seen) < limit:
            got = self._receive(visibility_s)
            held.update((m["MessageId"], m["ReceiptHandle"]) for m in got)
            fresh = [m for m in got if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
        return list(seen.values())[:limit]

    @contextmanager
    def _holding(self) -> Iterator[dict[str, str]]:
        """Message id -> receipt handle of what we hide; all made visible again on exit."""
        held: dict[str, str] = {}
        try:
            yield held
        finally:
            self._release(held)

    def _release(self, held: dict[str, str]) -> None:
        handles = list(held.values())
        for start in range(0, len(handles), BATCH_SIZE):
            chunk = handles[start : start + BATCH_SIZE]
            try:
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.dlq_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                        for i, handle in enumerate(chunk)
                    ],
                )
            except ClientError:
                # Not fatal: the messages reappear by themselves when their visibility
                # timeout (PEEK_VISIBILITY_S or MOVE_VISIBILITY_S) runs out.
                continue

    def _arn(self, url: str) -> str:
        try:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        except ClientError as exc:
            raise QueueError(f"cannot read the ARN of {url}: {exc}") from exc
        return attributes["Attributes"]["QueueArn"]


# Where StartMessageMoveTask is missing: moto raises NotImplementedError in process and
# answers 500 over HTTP; other emulators name the operation unknown.
_UNSUPPORTED_CODES = frozenset(
    {"InvalidAction", "UnknownOperationException", "NotImplemented", "InternalFailure"}
)


def _move_tasks_unsupported(exc: Exception) -> bool:
    if isinstance(exc, NotImplementedError):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _UNSUPPORTED_CODES or status in (500, 501)


def _chosen(message: MessageTypeDef, wanted: set[str] | None, matched: set[str]) -> bool:
    if wanted is None:
        return True
    dead = DeadMessage.from_message(message)
    # An id is moved once per call: with a worker running, a redriven job that fails
    # again is back in the DLQ under a new message id while the pass still receives,
    # and would otherwise be moved (and run) again and again.
    hits = (wanted - matched) & {dead.message_id, dead.job_id or ""}
    matched.update(hits)
    return bool(hits)


def _report(on_progress: Progress | None, done: int, total: int | None) -> None:
    if on_progress is not None:
        on_progress(done, total)

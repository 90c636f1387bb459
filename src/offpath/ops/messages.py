"""What a dead letter says, and what a redrive did: the shapes of :mod:`offpath.ops.dlq`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from offpath.envelope import SQS_MAX_MESSAGE_BYTES, Envelope
from offpath.errors import MalformedMessage
from offpath.store import Job

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueOutputTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
    )

BATCH_SIZE = 10  # the ceiling of every SQS batch call
MAX_RECEIVE_COUNT = "max_receive_count"  # the reason of a message moved by SQS itself


class RedriveMethod(StrEnum):
    MOVE_TASK = "move_task"  # SQS StartMessageMoveTask (AWS, LocalStack)
    RECEIVE_SEND_DELETE = "receive_send_delete"  # the same move, done here (moto)


@dataclass(frozen=True)
class DeadMessage:
    """One message of the DLQ, as an operator reads it."""

    message_id: str
    reason: str
    job_id: str | None = None
    task: str | None = None
    attempts: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    correlation_id: str | None = None
    enqueued_at: datetime | None = None
    first_attempt_at: datetime | None = None  # when the first attempt received it
    failed_at: datetime | None = None  # when it was dead-lettered (or the record's last update)
    body: str = ""

    @classmethod
    def from_message(cls, message: MessageTypeDef) -> DeadMessage:
        attributes = {
            name.removeprefix("offpath."): value.get("StringValue")
            for name, value in message.get("MessageAttributes", {}).items()
            if name.startswith("offpath.")
        }
        envelope = _envelope(message.get("Body", ""))
        attempts = attributes.get("attempts")
        return cls(
            message_id=message["MessageId"],
            reason=attributes.get("reason") or MAX_RECEIVE_COUNT,
            job_id=_known(attributes.get("job_id")) or (envelope.job_id if envelope else None),
            task=_known(attributes.get("task")) or (envelope.task if envelope else None),
            attempts=int(attempts) if attempts and attempts.isdigit() else None,
            error_type=_known(attributes.get("error_type")),
            error_message=_known(attributes.get("error_message")),
            correlation_id=envelope.correlation_id if envelope else None,
            enqueued_at=envelope.enqueued_at if envelope else None,
            first_attempt_at=_moment(attributes.get("first_received_at")),
            failed_at=_moment(attributes.get("failed_at")),
            body=message.get("Body", ""),
        )

    @property
    def from_worker(self) -> bool:
        return self.reason != MAX_RECEIVE_COUNT

    def with_record(self, job: Job) -> DeadMessage:
        """Fill what SQS's own redrive leaves out from the job record."""
        error = job.last_error
        return replace(
            self,
            attempts=job.attempts,
            error_type=error.type if error else self.error_type,
            error_message=error.message if error else self.error_message,
            failed_at=job.updated_at,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.astimezone(UTC).isoformat()
        return data


@dataclass
class RedriveResult:
    """What a redrive did; nothing it could not move has left the DLQ."""

    method: RedriveMethod
    destination_url: str
    moved: int = 0
    # job id -> "requeued" (dead|failed -> queued), or what the record was instead:
    # "queued" (waiting already), "missing" (no record: the claim creates it), "running",
    # "succeeded", "cancelled" (the worker acknowledges the message without running it).
    records: dict[str, str] = field(default_factory=dict)
    not_sent: int = 0  # SQS refused them: still in the DLQ
    not_deleted: int = 0  # sent, but still in the DLQ too: a later redrive sends a copy
    not_found: list[str] = field(default_factory=list)  # asked for, not in the DLQ
    task_handle: str | None = None
    moved_without_reset: int = 0  # move task only: arrived after the records were reset

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "method": str(self.method)}


def size_chunks(messages: list[MessageTypeDef]) -> Iterator[list[MessageTypeDef]]:
    """At most ten messages and 1 MiB per SendMessageBatch (both SQS limits)."""
    chunk: list[MessageTypeDef] = []
    size = 0
    for message in messages:
        message_size = _size(message)
        if chunk and (len(chunk) == BATCH_SIZE or size + message_size > SQS_MAX_MESSAGE_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += message_size
    if chunk:
        yield chunk


def _size(message: MessageTypeDef) -> int:
    size = len(message.get("Body", "").encode())
    for name, value in message.get("MessageAttributes", {}).items():
        size += len(name) + len(value.get("DataType", "")) + len(value.get("StringValue", ""))
        size += len(value.get("BinaryValue", b""))
    return size


def copy_attributes(message: MessageTypeDef) -> dict[str, MessageAttributeValueTypeDef]:
    copied: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        copied[name] = _attribute(value)
    return copied


def _attribute(value: MessageAttributeValueOutputTypeDef) -> MessageAttributeValueTypeDef:
    attribute: MessageAttributeValueTypeDef = {"DataType": value["DataType"]}
    if "StringValue" in value:
        attribute["StringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["BinaryValue"] = value["BinaryValue"]
    return attribute


def _envelope(body: str) -> Envelope | None:
    try:
        return Envelope.from_body(body)
    except MalformedMessage:
        return None


def _known(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value


def _moment(value: str | None) -> datetime | None:
    if not _known(value):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def failure_order(message: DeadMessage) -> datetime:
    return message.failed_at or message.enqueued_at or datetime.max.replace(tzinfo=UTC)

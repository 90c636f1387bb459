"""Dead letters: a job that cannot succeed goes to the DLQ at once, with its reason.

The body goes unchanged, so a redrive replays exactly what was sent; the reason and
the job's ids travel as message attributes (``offpath.*``), which SQS keeps when it
moves the message back (console redrive, ``StartMessageMoveTask``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from offpath.store import JobError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

MAX_ATTRIBUTE_CHARS = 1_024
REASON_ATTRIBUTE = "offpath.reason"


class DeadReason(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_TASK = "unknown_task"
    INVALID_ARGUMENTS = "invalid_arguments"
    PERMANENT_ERROR = "permanent_error"
    MAX_ATTEMPTS = "max_attempts"


@dataclass(frozen=True)
class DeadLetter:
    reason: DeadReason
    error: JobError
    job_id: str | None = None
    task: str | None = None
    attempts: int = 0


class DeadLetterQueue:
    """Sends a message to the DLQ at once, its reason in the message attributes."""

    def __init__(self, sqs: SQSClient, dlq_url: str) -> None:
        self.sqs = sqs
        self.dlq_url = dlq_url

    def send(self, record: SQSRecord, letter: DeadLetter) -> None:
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            REASON_ATTRIBUTE: _text(letter.reason),
            "offpath.error_type": _text(letter.error.type),
            "offpath.error_message": _text(letter.error.message or "-"),
            "offpath.source_message_id": _text(record.message_id),
            "offpath.attempts": {"DataType": "Number", "StringValue": str(letter.attempts)},
            "offpath.failed_at": _text(datetime.now(UTC).isoformat()),
            "offpath.first_received_at": _text(_first_received(record)),
        }
        if letter.job_id:
            attributes["offpath.job_id"] = _text(letter.job_id)
        if letter.task:
            attributes["offpath.task"] = _text(letter.task)
        # The body goes unchanged, so a redrive replays exactly what was sent.
        self.sqs.send_message(
            QueueUrl=self.dlq_url, MessageBody=record.body, MessageAttributes=attributes
        )


def _text(value: str) -> MessageAttributeValueTypeDef:
    return {"DataType": "String", "StringValue": value[:MAX_ATTRIBUTE_CHARS] or "-"}


def _first_received(record: SQSRecord) -> str:
    raw = record.attributes.approximate_first_receive_timestamp
    if not raw:
        return "-"
    return datetime.fromtimestamp(int(raw) / 1000, UTC).isoformat()

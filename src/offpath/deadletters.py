"""Dead letters: a job that cannot succeed goes to the DLQ at once, with its reason.

The body goes unchanged, so a redrive replays exactly what was sent; the reason and
the job's ids travel as message attributes (``offpath.*``), which SQS keeps when it
moves the message back (console redrive, ``StartMessageMoveTask``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.invocation import now as platform_now
from offpath.store import JobError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    from offpath.records import SQSRecord

MAX_ATTRIBUTE_CHARS = 1_024
REASON_ATTRIBUTE = "offpath.reason"


class DeadReason(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_TASK = "unknown_task"
    INVALID_ARGUMENTS = "invalid_arguments"
    PERMANENT_ERROR = "permanent_error"
    MAX_ATTEMPTS = "max_attempts"
    UNKNOWN_POOL = "unknown_pool"  # the task's pool has no queue this worker knows


@dataclass(frozen=True)
class DeadLetter:
    reason: DeadReason
    error: JobError
    job_id: str | None = None
    task: str | None = None
    attempts: int = 0


class DeadLetterQueue:
    """Sends a message to the DLQ at once, its reason in the message attributes."""

    def __init__(
        self, sqs: SQSClient, dlq_url: str, *, clock: Callable[[], datetime] = platform_now
    ) -> None:
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.clock = clock

    def send(self, record: SQSRecord, letter: DeadLetter) -> bool:
        """Send ``record``'s body unchanged, so a redrive replays exactly what was sent.

        SQS counts attributes toward the message limit: a body near 1 MiB keeps only
        the attributes that fit, the reason first.

        Returns:
            False when not even the reason fits beside the body: the message went to
            the DLQ without attributes, and the caller must log the reason.
        """
        ordered: list[tuple[str, MessageAttributeValueTypeDef]] = [
            (REASON_ATTRIBUTE, _text(letter.reason)),
            ("offpath.source_message_id", _text(record.message_id)),
            *([("offpath.job_id", _text(letter.job_id))] if letter.job_id else []),
            *([("offpath.task", _text(letter.task))] if letter.task else []),
            ("offpath.attempts", {"DataType": "Number", "StringValue": str(letter.attempts)}),
            ("offpath.error_type", _text(letter.error.type)),
            ("offpath.failed_at", _text(self.clock().isoformat())),
            ("offpath.first_received_at", _text(_first_received(record))),
            ("offpath.error_message", _text(letter.error.message or "-")),
        ]
        room = SQS_MAX_MESSAGE_BYTES - len(record.body.encode("utf-8"))
        attributes: dict[str, MessageAttributeValueTypeDef] = {}
        for name, value in ordered:
            size = _size(name, value)
            if size > room:
                break
            attributes[name] = value
            room -= size
        self.sqs.send_message(
            QueueUrl=self.dlq_url, MessageBody=record.body, MessageAttributes=attributes
        )
        return REASON_ATTRIBUTE in attributes


def _size(name: str, value: MessageAttributeValueTypeDef) -> int:
    """What SQS counts for one attribute: name, type and value, in UTF-8."""
    return sum(
        len(part.encode("utf-8")) for part in (name, value["DataType"], value["StringValue"])
    )


# The characters SQS accepts in a message (and attribute values): #x9, #xA, #xD,
# #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF. Anything else is refused with
# InvalidParameterValue, and text from a hostile body must never make the DLQ send fail.
# Compiled on the first dead letter (re caches it), not at import: the class spans most
# of Unicode and its compilation cost every worker's cold start about 3 ms.
_NOT_SQS = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def _text(value: str) -> MessageAttributeValueTypeDef:
    clean = re.sub(_NOT_SQS, "\ufffd", value[:MAX_ATTRIBUTE_CHARS])
    return {"DataType": "String", "StringValue": clean or "-"}


def _first_received(record: SQSRecord) -> str:
    raw = record.attributes.approximate_first_receive_timestamp
    if not raw:
        return "-"
    return datetime.fromtimestamp(int(raw) / 1000, UTC).isoformat()

"""The error tree.

Every error offpath raises derives from :class:`OffpathError`. The worker's routing
depends on one split: a :class:`PermanentError` sends the message to the DLQ at once,
anything else is retried with backoff until the task's ``max_attempts``.
"""

from __future__ import annotations


class OffpathError(Exception):
    """Base class of every offpath error."""


class ConfigurationError(OffpathError):
    """Settings or wiring are missing or inconsistent."""


class PermanentError(OffpathError):
    """An error that no retry can fix: the job goes to the DLQ at once.

    Tasks raise it themselves for inputs they can never process.
    """


class MalformedMessage(PermanentError):
    """The message body is not a valid offpath envelope."""


class UnknownTask(PermanentError):
    """The envelope names a task that is not registered."""


class InvalidArguments(PermanentError):
    """The arguments do not fit the task's signature."""


class InvalidJobRequest(OffpathError, ValueError):
    """The job cannot be sent as asked: refused at enqueue, before anything is written.

    Whatever the worker would refuse, the sender refuses first, wherever the enqueue
    comes from (a route, the CLI, a schedule, the user's own code). A ``ValueError``
    too, as a bad value given to a constructor is.

    Attributes:
        field: the :class:`~offpath.producer.JobRequest` field at fault (``delay_s``,
            ``run_at``, ``idempotency_key``, ``job_id``, ``correlation_id``), so that
            an API can point at the part of its request that carried it.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class DelayNotSupported(InvalidJobRequest):
    """The delay needs what the task does not have (a durable record, for over 15 min)."""


class IdempotencyNotSupported(InvalidJobRequest):
    """An idempotency key on a fire-and-forget task, which keeps no record to dedupe on."""


class PayloadTooLarge(OffpathError):
    """The message would exceed the SQS message size limit."""

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"message of {size_bytes} bytes exceeds the SQS limit of {limit_bytes} bytes; "
            "store large inputs in S3 and pass a reference"
        )
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class TaskTimeout(OffpathError):
    """The task ran longer than its ``timeout_s`` (retryable)."""


class EnqueueError(OffpathError):
    """SQS refused messages even after retries."""


class StoreError(OffpathError):
    """DynamoDB failed in a way the job store cannot handle."""


class JobNotFound(OffpathError):
    """No job record has this id."""


class JobNotCancellable(OffpathError):
    """The job already started or finished."""

    def __init__(self, job: object) -> None:
        status = getattr(job, "status", "?")
        super().__init__(f"job {getattr(job, 'job_id', '?')} is {status}; it cannot be cancelled")
        self.job = job

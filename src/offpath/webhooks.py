"""Completion webhooks: one signed POST when a job with a ``callback_url`` ends.

When a job's record says it is final (``succeeded``, ``dead``, ``cancelled``), the
worker (or, for a job cancelled before it ran, the API) enqueues a *delivery job*:
an ordinary durable offpath job of the built-in task :data:`DELIVERY_TASK`, on the
same queue. So the call is retried with backoff and dead-lettered like any job, and a
receiver that fails never re-runs the job it reports on.

- **One per outcome.** The delivery job's id is derived from the job's id and its
  final status (:func:`delivery_job_id`), so a job that is finished twice (a
  redelivered message, a worker that died after the write) enqueues the same id,
  which the job table refuses to create again: one webhook.
- **After the record.** The delivery reads the record when it sends, so the body is
  what ``GET /jobs/{id}`` answers by then, never ahead of it.
- **Signed** with the stack's secret (Secrets Manager, ``OFFPATH_WEBHOOK_SECRET_ARN``;
  read once per container), as Standard Webhooks: see :mod:`offpath.callbacks`.
  ``webhook-id`` is the delivery job's id, the same on every retry, for receivers to
  deduplicate on.

The body::

    {"type": "offpath.job.succeeded", "timestamp": "2026-06-01T08:00:00+00:00",
     "data": {"job_id": "...", "task": "...", "status": "succeeded", "attempts": 1,
              "finished_at": "...", "result": ..., "error": null}}
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from offpath.callbacks import Sender, signature, signing_key
from offpath.errors import OffpathError
from offpath.invocation import now as platform_now
from offpath.retry import Backoff
from offpath.store import Job, JobStatus, JobStore
from offpath.tasks import Task, TaskOptions

if TYPE_CHECKING:
    from offpath.producer import JobRequest

DELIVERY_TASK = "offpath.webhook"
# Up to 8 attempts over about 40 minutes (5-10 s, 10-20 s, ... capped at 15 min), then the
# DLQ. Equal jitter: spread out, but never a hot retry against a struggling receiver.
DELIVERY_OPTIONS = TaskOptions(
    durable=True,
    max_attempts=8,
    backoff=Backoff(base_s=10, cap_s=900, jitter="equal"),
    timeout_s=15,
)
EVENT_PREFIX = "offpath.job."


class ReceiverFailed(OffpathError):
    """The receiver answered something other than 2xx (retried)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"receiver answered HTTP {status}")
        self.status = status


def delivery_job_id(job_id: str, status: str) -> str:
    """The delivery job of ``job_id`` ending ``status``: always the same id."""
    return "w" + hashlib.sha256(f"webhook\x00{job_id}\x00{status}".encode()).hexdigest()[:39]


def _deliver(job_id: str, status: str, url: str) -> dict[str, int]:
    raise OffpathError("offpath.webhook runs only in a worker with webhooks set up")


# What producers enqueue: the name, options and arguments of the built-in task. The
# worker runs it with its own WebhookDelivery.task (same name, same signature).
DELIVERY = Task(_deliver, DELIVERY_TASK, DELIVERY_OPTIONS)


def delivery_request(job_id: str, status: str, url: str) -> JobRequest:
    """The delivery job for ``job_id``'s end (``status``) to ``url``."""
    from offpath.producer import JobRequest

    return JobRequest(
        task=DELIVERY,
        args={"job_id": job_id, "status": str(status), "url": url},
        job_id=delivery_job_id(job_id, status),
        correlation_id=job_id,
    )


def event_body(job: Job, at: datetime) -> dict[str, Any]:
    """The webhook's JSON body (and an EventBridge event's detail)."""
    return {
        "type": EVENT_PREFIX + str(job.status),
        "timestamp": at.isoformat(),
        "data": {
            "job_id": job.job_id,
            "task": job.task,
            "status": str(job.status),
            "attempts": job.attempts,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "result": job.result if job.status is JobStatus.SUCCEEDED else None,
            "error": (
                {"type": job.last_error.type, "message": job.last_error.message}
                if job.last_error and job.status is JobStatus.DEAD
                else None
            ),
        },
    }


class WebhookDelivery:
    """The worker's side: runs delivery jobs, and enqueues them when jobs end.

    Args:
        store: the job table (read at send time).
        sender: the SSRF-checked HTTP sender.
        secret: returns the ``whsec_`` secret; called once, on the first delivery.
        enqueue: sends a delivery job (the producer's ``enqueue``), called only for
            jobs that have a callback URL.
    """

    def __init__(
        self,
        *,
        store: JobStore,
        sender: Sender,
        secret: Callable[[], str],
        enqueue: Callable[[JobRequest], object],
        clock: Callable[[], datetime] = platform_now,
    ) -> None:
        self.store = store
        self.sender = sender
        self._secret = secret
        self._key: bytes | None = None
        self._lock = threading.Lock()
        self.enqueue = enqueue
        self.clock = clock
        self.task: Task[Any, Any] = Task(self.deliver, DELIVERY_TASK, DELIVERY_OPTIONS)

    def notify(self, job_id: str, status: JobStatus, url: str | None) -> None:
        """Enqueue the delivery job of a job that ended (nothing without a URL).

        Raises:
            EnqueueError, StoreError: the delivery job could not be enqueued; the
                caller fails its message, whose redelivery comes back here.
        """
        if url:
            self.enqueue(delivery_request(job_id, status, url))

    def deliver(self, job_id: str, status: str, url: str) -> dict[str, int]:
        """POST the signed notification; the receiver's status code.

        Raises:
            ReceiverFailed: a non-2xx answer (retried with the task's backoff).
            ReceiverRefused: the URL no longer passes the policy (dead at once).
        """
        job = self.store.get(job_id)
        now = self.clock()
        body = json.dumps(event_body(job, now), separators=(",", ":"), default=str)
        msg_id = delivery_job_id(job_id, status)
        # The receiver checks this against its own clock (Standard Webhooks allows five
        # minutes): the wall clock, as SigV4 signs with, never the platform clock that
        # offpath dev and the test harness move ahead.
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "offpath-webhooks",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._signing_key(), msg_id, timestamp, body),
        }
        answer = self.sender.post(url, headers, body)
        if not 200 <= answer.status < 300:
            raise ReceiverFailed(answer.status)
        return {"status_code": answer.status}

    def _signing_key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = signing_key(self._secret())
            return self._key


def secret_reader(client: Any, secret_id: str) -> Callable[[], str]:
    """Reads the signing secret from Secrets Manager (one GetSecretValue per container)."""

    def read() -> str:
        value: str = client.get_secret_value(SecretId=secret_id)["SecretString"]
        return value

    return read

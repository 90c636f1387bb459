"""Lambda's SQS event source mapping, with its documented semantics.

- long-polls the queue, gathering up to ``batch_size`` messages for at most the
  batching window;
- invokes the function with the SQS event;
- with ``ReportBatchItemFailures``, deletes every record not listed in
  ``batchItemFailures``; a response naming an unknown or empty id fails the whole
  batch, as on AWS;
- a raised error (or a crashed or timed-out invocation) deletes nothing: the
  messages come back after their visibility timeout, and the queue's own
  ``maxReceiveCount`` moves them to the DLQ.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from offpath.local.events import sqs_event

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Invoke = Callable[[dict[str, Any]], Any]


class InvocationFailed(Exception):
    """The function raised, crashed or timed out: the whole batch returns to the queue."""


@dataclass
class BatchResult:
    received: int = 0
    deleted: int = 0
    failed: int = 0
    error: str | None = None


@dataclass
class EventSourceMapping:
    """One SQS event source of one function."""

    sqs: SQSClient
    queue_url: str
    queue_arn: str
    region: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = True
    wait_time_s: int = 0
    monotonic: Callable[[], float] = field(default=time.monotonic)

    def receive(self) -> list[MessageTypeDef]:
        """Gather one batch, as Lambda does: until ``batch_size`` messages, or until the
        batching window closes once a first message is in hand."""
        messages: list[MessageTypeDef] = []
        window_ends = 0.0
        while len(messages) < self.batch_size:
            if not messages:
                wait_s = self.wait_time_s
            else:
                left_s = window_ends - self.monotonic()
                if left_s <= 0:
                    break
                wait_s = min(20, math.ceil(left_s))  # long-poll within the window
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=wait_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = response.get("Messages", [])
            if got and not messages:
                window_ends = self.monotonic() + self.batching_window_s
            messages.extend(got)
            if not got and (not messages or not self.batching_window_s):
                break
        return messages

    def run_once(self, invoke: Invoke) -> BatchResult:
        """Receive one batch, invoke, and delete what the response says is done."""
        return self.process(self.receive(), invoke)

    def process(self, messages: list[MessageTypeDef], invoke: Invoke) -> BatchResult:
        """Invoke with a received batch, and delete what the response says is done."""
        if not messages:
            return BatchResult()
        try:
            response = invoke(sqs_event(messages, self.queue_arn, self.region))
        except InvocationFailed as exc:
            return BatchResult(len(messages), 0, len(messages), str(exc))
        done = self._done(messages, response)
        if done is None:
            return BatchResult(len(messages), 0, len(messages), "invalid batchItemFailures")
        self._delete(done)
        return BatchResult(len(messages), len(done), len(messages) - len(done))

    def _done(self, messages: list[MessageTypeDef], response: Any) -> list[MessageTypeDef] | None:
        if not self.report_batch_item_failures:
            return messages
        failures = (
            (response or {}).get("batchItemFailures", []) if isinstance(response, dict) else []
        )
        ids = {m["MessageId"] for m in messages}
        failed = set()
        for item in failures:
            item_id = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not item_id or item_id not in ids:
                return None  # AWS treats the whole batch as failed
            failed.add(item_id)
        return [m for m in messages if m["MessageId"] not in failed]

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )

    def drain(self, invoke: Invoke, *, max_batches: int = 1000) -> list[BatchResult]:
        """Run batches until a receive finds nothing visible (deterministic tests)."""
        results = []
        for _ in range(max_batches):
            result = self.run_once(invoke)
            if not result.received:
                break
            results.append(result)
        return results

"""Lambda's SQS event source mapping, with its documented semantics.

- long-polls the queue, gathering up to ``batch_size`` messages for at most the
  batching window;
- invokes the function with the SQS event;
- keeps each batch under Lambda's 6 MB synchronous payload limit: what a receive
  brought beyond it waits, in flight, for the next batch;
- with ``ReportBatchItemFailures``, deletes every record not listed in
  ``batchItemFailures``. As AWS documents it, an empty or null list (or an empty or
  null response) is a complete success; an item with a missing, null, empty or
  unknown ``itemIdentifier`` fails the whole batch
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html);
- a raised error (or a crashed or timed-out invocation) deletes nothing: the
  messages come back after their visibility timeout, and the queue's own
  ``maxReceiveCount`` moves them to the DLQ.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from offpath.local.events import sqs_event, sqs_record

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Invoke = Callable[[dict[str, Any]], Any]
# Lambda's synchronous invocation payload limit, which caps an SQS batch: "Lambda
# ... up to 10,000 records ... or until the payload limit for synchronous
# invocation (6 MB)" (services-sqs-configure.html, Batching behavior).
MAX_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024
_EVENT_OVERHEAD_BYTES = len('{"Records": []}')


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
    max_payload_bytes: int = MAX_BATCH_PAYLOAD_BYTES
    # Received beyond the payload limit: the next batch starts with them.
    _carried: list[MessageTypeDef] = field(default_factory=list, repr=False)

    def receive(self, *, frozen: bool = False) -> list[MessageTypeDef]:
        """Gather one batch, as Lambda does: until ``batch_size`` messages, the 6 MB
        payload limit, or until the batching window closes once a first message is in hand.

        ``frozen`` (deterministic runs): no time passes, so nothing waits; a window
        gathers what is visible now, until a receive comes back empty.
        """
        if frozen:
            return self._receive_frozen()
        messages: list[MessageTypeDef] = []
        size = _EVENT_OVERHEAD_BYTES
        if self._carried:
            messages, self._carried, size = self._fit([], self._carried, size)
            if self._carried or len(messages) >= self.batch_size:
                return messages
        window_ends = self.monotonic() + self.batching_window_s if messages else 0.0
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
            messages, self._carried, size = self._fit(messages, got, size)
            if self._carried:
                break  # full: the rest waits for the next batch
            if not got and (not messages or not self.batching_window_s):
                break
        return messages

    def _receive_frozen(self) -> list[MessageTypeDef]:
        messages, self._carried, size = self._fit([], self._carried, _EVENT_OVERHEAD_BYTES)
        while not self._carried and len(messages) < self.batch_size:
            asked = min(10, self.batch_size - len(messages))
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=asked,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages, self._carried, size = self._fit(messages, got, size)
            # Fewer than asked: nothing more is visible now (no need to ask again).
            if len(got) < asked or not self.batching_window_s:
                break
        return messages

    def _fit(
        self, batch: list[MessageTypeDef], more: list[MessageTypeDef], size: int
    ) -> tuple[list[MessageTypeDef], list[MessageTypeDef], int]:
        """``batch`` plus as many of ``more`` as the payload limit (and batch size) allow."""
        batch = list(batch)
        for index, message in enumerate(more):
            record_bytes = len(json.dumps(sqs_record(message, self.queue_arn, self.region))) + 2
            if batch and (
                size + record_bytes > self.max_payload_bytes or len(batch) >= self.batch_size
            ):
                return batch, list(more[index:]), size
            batch.append(message)
            size += record_bytes
        return batch, [], size

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
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if failures is None:
            return messages  # no response, an empty one, or a null list: all succeeded
        if not isinstance(failures, list):
            return None
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

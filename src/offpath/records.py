"""One record of Lambda's SQS event, read where the worker needs it.

Our own view rather than Powertools' ``SQSRecord`` and ``BatchProcessor``: importing
either loads every event source's data class, and, with pydantic present (it always
is here), Powertools' parser models of SQS, DynamoDB, Kinesis and Kafka; together
about 100 ms of each cold start for six fields and a loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SQSRecordAttributes:
    """The system attributes SQS sets on a message (``record["attributes"]``)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    @property
    def approximate_receive_count(self) -> str:
        return str(self.raw.get("ApproximateReceiveCount", ""))

    @property
    def approximate_first_receive_timestamp(self) -> str:
        return str(self.raw.get("ApproximateFirstReceiveTimestamp", ""))

    @property
    def sent_timestamp(self) -> str:
        return str(self.raw.get("SentTimestamp", ""))

    @property
    def aws_trace_header(self) -> str | None:
        value = self.raw.get("AWSTraceHeader")
        return str(value) if value is not None else None


class SQSRecord:
    """A record as Lambda delivers it, with the accessors Powertools' record has."""

    __slots__ = ("raw_event",)

    def __init__(self, raw_event: Mapping[str, Any]) -> None:
        self.raw_event = raw_event

    @property
    def message_id(self) -> str:
        return str(self.raw_event["messageId"])

    @property
    def receipt_handle(self) -> str:
        return str(self.raw_event["receiptHandle"])

    @property
    def body(self) -> str:
        return str(self.raw_event["body"])

    @property
    def event_source_arn(self) -> str:
        return str(self.raw_event["eventSourceARN"])

    @property
    def message_attributes(self) -> Mapping[str, Any]:
        """User attributes by name: ``{"DataType": ..., "stringValue": ...}`` each."""
        attributes: Mapping[str, Any] = self.raw_event.get("messageAttributes") or {}
        return attributes

    @property
    def attributes(self) -> SQSRecordAttributes:
        return SQSRecordAttributes(self.raw_event.get("attributes") or {})

"""Test helpers: a provisioned stack and ways to drive it deterministically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offpath.aws import Clients
from offpath.deadletters import DeadLetterQueue
from offpath.local.clock import EmulatorClock
from offpath.local.context import LocalContext
from offpath.local.esm import EventSourceMapping
from offpath.local.metering import CallLog
from offpath.local.provision import Provisioned
from offpath.producer import Producer
from offpath.settings import Settings
from offpath.store import DynamoDBJobStore
from offpath.tasks import TaskRegistry
from offpath.worker import Worker

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"


@dataclass
class Stack:
    """The template's resources on moto, and the core objects wired to them."""

    clients: Clients
    provisioned: Provisioned
    clock: EmulatorClock
    calls: CallLog

    @cached_property
    def settings(self) -> Settings:
        return Settings()

    @property
    def queue_url(self) -> str:
        return self.provisioned.queue_url("JobsQueue")

    @property
    def dlq_url(self) -> str:
        return self.provisioned.queue_url("JobsDeadLetterQueue")

    @property
    def queue_arn(self) -> str:
        arn: str = self.provisioned.topology.resolver.attrs[("JobsQueue", "Arn")]
        return arn

    @cached_property
    def store(self) -> DynamoDBJobStore:
        return DynamoDBJobStore(
            self.clients.dynamodb, self.settings.table_name, clock=self.clock.now
        )

    @cached_property
    def producer(self) -> Producer:
        return Producer(
            self.clients.sqs,
            self.queue_url,
            self.store,
            sleep=lambda _: None,
            clock=self.clock.now,
        )

    def worker(self, registry: TaskRegistry) -> Worker:
        """A fresh worker, as a new Lambda execution environment would build it."""
        return Worker(
            registry=registry,
            store=self.store,
            sqs=self.clients.sqs,
            dead_letters=DeadLetterQueue(self.clients.sqs, self.dlq_url, clock=self.clock.now),
            clock=self.clock.now,
        )

    def esm(self, batch_size: int = 10) -> EventSourceMapping:
        return EventSourceMapping(
            sqs=self.clients.sqs,
            queue_url=self.queue_url,
            queue_arn=self.queue_arn,
            region="us-east-1",
            batch_size=batch_size,
        )

    def drain(self, worker: Worker, batch_size: int = 10) -> int:
        """Deliver every visible message to ``worker``; returns the batches run."""
        return len(self.esm(batch_size).drain(lambda event: worker.handle(event, LocalContext())))

    def send_raw(self, body: str) -> str:
        return self.clients.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"]

    def receive_all(self, queue_url: str) -> list[MessageTypeDef]:
        """Every visible message (and leaves them in flight for the queue's timeout)."""
        messages: list[MessageTypeDef] = []
        while True:
            got = self.clients.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                return messages
            messages.extend(got)

    def dead_letters(self) -> list[dict[str, Any]]:
        """The DLQ's messages as ``{"body": ..., "<attribute>": value}``."""
        return [
            {
                "body": _json_or_text(m["Body"]),
                **{
                    k.removeprefix("offpath."): v.get("StringValue")
                    for k, v in m.get("MessageAttributes", {}).items()
                },
            }
            for m in self.receive_all(self.dlq_url)
        ]

    def depth(self, queue_url: str) -> dict[str, int]:
        attrs = self.clients.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attrs["ApproximateNumberOfMessages"]),
            "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
            "delayed": int(attrs["ApproximateNumberOfMessagesDelayed"]),
        }


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body
